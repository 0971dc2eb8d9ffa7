"""The fleet: hubs, bikes and collectors, added and changed by operators.

A change takes effect at the next plan, except a bike's new collector: the
bike's rounds from today on go to them at once (the old rider's page no longer
takes weighings for them) and they are texted each round's link. A round keeps
the hub it was planned from. Deactivating a bike keeps the rounds already
planned for it; ``POST /api/v1/rounds/replan`` moves a day's stops to the other
bikes. A deactivated collector can no longer sign in, log or miss.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service.clock import Clock
from service.domain.commands import (
    AddBike,
    AddHub,
    UpdateBike,
    UpdateCollector,
    UpdateHub,
)
from service.domain.errors import AlreadyExists, InvalidInput, NotFound, Refused
from service.persistence.tables import bikes, collectors, hubs, pickups, rounds
from service.planning import round_link_sms
from service.settings import Settings
from service.unit_of_work import UnitOfWork

NAME_MAX = 80


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise InvalidInput("the name must not be empty")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"the name must be at most {NAME_MAX} characters")
    return name


def _check_place(lat: float, lon: float) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("lat must be within ±90 and lon within ±180")


def _check_bike(values: dict[str, Any]) -> None:
    if values["capacity_kg"] <= 0 or values["speed_kmh"] <= 0:
        raise InvalidInput("capacity_kg and speed_kmh must be positive")
    if not 0 <= values["shift_start_min"] < values["shift_end_min"] <= 24 * 60:
        raise InvalidInput("the shift must start before it ends, within the day")


async def _name_free(
    conn: AsyncConnection, table: sa.Table, name: str, what: str, own_id: int = 0
) -> None:
    taken = await conn.execute(
        sa.select(table.c.id).where(table.c.name == name, table.c.id != own_id)
    )
    if taken.first() is not None:
        raise AlreadyExists(f"a {what} named {name!r} already exists")


async def _exists(
    conn: AsyncConnection, table: sa.Table, row_id: int, what: str
) -> None:
    found = await conn.execute(sa.select(table.c.id).where(table.c.id == row_id))
    if found.first() is None:
        raise NotFound(f"no {what} {row_id}")


async def _row(conn: AsyncConnection, table: sa.Table, row_id: int, what: str) -> Any:
    # Locked (PostgreSQL) so that two changes at once apply one after the other.
    stmt = table.select().where(table.c.id == row_id).with_for_update()
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row


async def add_hub(cmd: AddHub, uow: UnitOfWork, *, clock: Clock) -> int:
    """A new hub; its id."""
    _check_place(cmd.lat, cmd.lon)
    name = _name(cmd.name)
    async with uow:
        await _name_free(uow.conn, hubs, name, "hub")
        hub_id = (
            await uow.conn.execute(
                hubs.insert()
                .values(name=name, lat=cmd.lat, lon=cmd.lon, created_at=clock.now())
                .returning(hubs.c.id)
            )
        ).scalar_one()
        await uow.commit()
    return int(hub_id)


async def add_bike(cmd: AddBike, uow: UnitOfWork, *, clock: Clock) -> int:
    """A new bike, active; its id."""
    values: dict[str, Any] = {
        "name": _name(cmd.name),
        "hub_id": cmd.hub_id,
        "capacity_kg": cmd.capacity_kg,
        "shift_start_min": cmd.shift_start_min,
        "shift_end_min": cmd.shift_end_min,
        "speed_kmh": cmd.speed_kmh,
        "collector_id": cmd.collector_id,
    }
    _check_bike(values)
    async with uow:
        await _exists(uow.conn, hubs, cmd.hub_id, "hub")
        await _name_free(uow.conn, bikes, values["name"], "bike")
        if cmd.collector_id is not None:
            await _exists(uow.conn, collectors, cmd.collector_id, "collector")
        bike_id = (
            await uow.conn.execute(
                bikes.insert()
                .values(**values, active=True, created_at=clock.now())
                .returning(bikes.c.id)
            )
        ).scalar_one()
        await uow.commit()
    return int(bike_id)


async def update_hub(cmd: UpdateHub, uow: UnitOfWork, *, clock: Clock) -> None:
    async with uow:
        row = await _row(uow.conn, hubs, cmd.hub_id, "hub")
        changes: dict[str, Any] = {}
        if cmd.name is not None:
            changes["name"] = _name(cmd.name)
            await _name_free(uow.conn, hubs, changes["name"], "hub", cmd.hub_id)
        if cmd.lat is not None:
            changes["lat"] = cmd.lat
        if cmd.lon is not None:
            changes["lon"] = cmd.lon
        _check_place(changes.get("lat", row.lat), changes.get("lon", row.lon))
        if changes:
            await uow.conn.execute(
                hubs.update().where(hubs.c.id == cmd.hub_id).values(**changes)
            )
        await uow.commit()


async def update_bike(
    cmd: UpdateBike, uow: UnitOfWork, *, clock: Clock, settings: Settings
) -> None:
    async with uow:
        row = await _row(uow.conn, bikes, cmd.bike_id, "bike")
        given: dict[str, Any] = {
            "hub_id": cmd.hub_id,
            "capacity_kg": cmd.capacity_kg,
            "shift_start_min": cmd.shift_start_min,
            "shift_end_min": cmd.shift_end_min,
            "speed_kmh": cmd.speed_kmh,
            "active": cmd.active,
        }
        changes = {k: v for k, v in given.items() if v is not None}
        if cmd.name is not None:
            changes["name"] = _name(cmd.name)
        if cmd.set_collector:
            changes["collector_id"] = cmd.collector_id
        _check_bike({**row._asdict(), **changes})
        if "name" in changes:
            await _name_free(uow.conn, bikes, changes["name"], "bike", cmd.bike_id)
        if cmd.hub_id is not None:
            await _exists(uow.conn, hubs, cmd.hub_id, "hub")
        rider = None
        if cmd.set_collector and cmd.collector_id is not None:
            rider = await _row(uow.conn, collectors, cmd.collector_id, "collector")
            if not rider.active and cmd.collector_id != row.collector_id:
                raise Refused(
                    f"collector {cmd.collector_id} is stopped: restore them first"
                )
        if changes:
            await uow.conn.execute(
                bikes.update().where(bikes.c.id == cmd.bike_id).values(**changes)
            )
        if cmd.set_collector and cmd.collector_id != row.collector_id:
            await _hand_over_rounds(uow, row, rider, clock, settings)
        await uow.commit()


async def _hand_over_rounds(
    uow: UnitOfWork, bike: Any, rider: Any, clock: Clock, settings: Settings
) -> None:
    """Give the bike's rounds from today on to its new collector (None: nobody)
    and text them each round's link with the stops still to visit."""
    current = sa.and_(
        rounds.c.bike_id == bike.id,
        rounds.c.status == "planned",
        rounds.c.day >= clock.today(),
    )
    await uow.conn.execute(
        rounds.update()
        .where(current)
        .values(collector_id=None if rider is None else rider.id)
    )
    if rider is None:
        return
    left = (
        sa.select(sa.func.count())
        .where(pickups.c.round_id == rounds.c.id, pickups.c.status == "scheduled")
        .scalar_subquery()
    )
    handed = await uow.conn.execute(
        sa.select(rounds.c.id, rounds.c.day, left.label("left"))
        .where(current)
        .order_by(rounds.c.day, rounds.c.id)
    )
    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    for r in handed.all():
        if r.left:
            uow.emit(
                round_link_sms(
                    settings,
                    clock,
                    rider.phone,
                    round_id=r.id,
                    day=r.day,
                    stops=r.left,
                    until_min=bike.shift_end_min,
                    # Each hand-over texts its rider once; a repeated PATCH is
                    # no hand-over (the collector is already theirs).
                    key=f"round:{r.id}:to:{rider.id}:{stamp}",
                )
            )


async def update_collector(
    cmd: UpdateCollector, uow: UnitOfWork, *, clock: Clock
) -> None:
    async with uow:
        changes: dict[str, Any] = {}
        if cmd.name is not None:
            changes["name"] = _name(cmd.name)
        if cmd.active is not None:
            changes["active"] = cmd.active
        await _exists(uow.conn, collectors, cmd.collector_id, "collector")
        if changes:
            await uow.conn.execute(
                collectors.update()
                .where(collectors.c.id == cmd.collector_id)
                .values(**changes)
            )
        await uow.commit()

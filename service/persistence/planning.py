"""SQL for planning: hubs, bikes, open pickups with locations and history, rounds."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service.persistence.tables import (
    bikes,
    collectors,
    geocode_cache,
    households,
    hubs,
    pickups,
    round_stops,
    rounds,
    weighings,
)


async def all_hubs(conn: AsyncConnection) -> list[Any]:
    return list((await conn.execute(sa.select(hubs).order_by(hubs.c.id))).all())


async def active_bikes(conn: AsyncConnection) -> list[Any]:
    stmt = (
        sa.select(bikes, collectors.c.phone.label("collector_phone"))
        .outerjoin(collectors, collectors.c.id == bikes.c.collector_id)
        # A bike whose collector was stopped has nobody to ride it.
        .where(
            bikes.c.active.is_(True),
            sa.or_(bikes.c.collector_id.is_(None), collectors.c.active.is_(True)),
        )
        .order_by(bikes.c.id)
    )
    return list((await conn.execute(stmt)).all())


async def plannable_pickups(conn: AsyncConnection, day: date) -> list[Any]:
    """Open pickups, and those already scheduled for `day`, of located households."""
    stmt = (
        sa.select(
            pickups.c.id,
            pickups.c.code,
            pickups.c.status,
            pickups.c.created_at,
            pickups.c.window_start_min,
            pickups.c.scheduled_day,
            households.c.id.label("household_id"),
            households.c.phone,
            households.c.language,
            households.c.lat,
            households.c.lon,
        )
        .join(households, households.c.id == pickups.c.household_id)
        .where(
            sa.or_(
                sa.and_(pickups.c.status == "open", usable_location()),
                # Promised for the day: kept even if its place stopped being
                # usable (a hub moved), so that it is re-planned or postponed.
                sa.and_(
                    pickups.c.status == "scheduled",
                    pickups.c.scheduled_day == day,
                    households.c.lat.is_not(None),
                    households.c.lon.is_not(None),
                ),
            ),
            households.c.status == "active",
        )
        .order_by(pickups.c.id)
    )
    return list((await conn.execute(stmt)).all())


async def unlocated_open_pickups(conn: AsyncConnection) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(
            pickups.join(households, households.c.id == pickups.c.household_id)
        )
        .where(pickups.c.status == "open", ~usable_location())
    )
    return int((await conn.execute(stmt)).scalar_one())


async def average_grams(
    conn: AsyncConnection, household_ids: list[int]
) -> dict[int, float]:
    """Each household's average weighing, from its own history."""
    if not household_ids:
        return {}
    stmt = (
        sa.select(weighings.c.household_id, sa.func.avg(weighings.c.total_grams))
        .where(weighings.c.household_id.in_(household_ids))
        .group_by(weighings.c.household_id)
    )
    return {int(h): float(g) for h, g in (await conn.execute(stmt)).all()}


@dataclass(frozen=True, slots=True)
class BikeOut:
    """Where a bike was last seen today (its latest weighing) and what it carries."""

    lat: float
    lon: float
    at: datetime
    load_kg: float


async def bikes_out(conn: AsyncConnection, day: date) -> dict[int, BikeOut]:
    """The bikes still out on `day`'s rounds: where each was last seen and the kg on
    board (it unloads only at the hub, between trips).

    A bike is seen at its latest weighing: the phone's GPS fix, or the household's
    location when the phone sent none (and at the last weighing that had either
    when neither is known). On board is what was weighed on that trip, plus what
    the bike carried when a re-plan started the round where it was. A bike whose
    trip has no stop left to visit is riding back to unload, so it is not out:
    it is planned from its hub, empty.
    """
    stmt = (
        sa.select(
            rounds.c.bike_id,
            round_stops.c.round_id,
            round_stops.c.trip,
            weighings.c.collected_at,
            weighings.c.lat,
            weighings.c.lon,
            households.c.lat,
            households.c.lon,
            weighings.c.total_grams,
            rounds.c.start_load_kg,
            rounds.c.status,
        )
        .join(pickups, pickups.c.id == weighings.c.pickup_id)
        .join(households, households.c.id == pickups.c.household_id)
        .join(
            round_stops,
            sa.and_(
                round_stops.c.pickup_id == pickups.c.id,
                round_stops.c.round_id == pickups.c.round_id,
            ),
        )
        .join(rounds, rounds.c.id == round_stops.c.round_id)
        .where(rounds.c.day == day)
        .order_by(weighings.c.collected_at, weighings.c.id)
    )
    last: dict[int, Any] = {}
    seen_at: dict[int, tuple[float, float]] = {}
    grams: dict[tuple[int, int, int], int] = {}
    for row in (await conn.execute(stmt)).all():
        bike_id = int(row[0])
        last[bike_id] = row
        if row[4] is not None and row[5] is not None:  # the phone's fix
            seen_at[bike_id] = (float(row[4]), float(row[5]))
        elif row[6] is not None and row[7] is not None:  # the household's place
            seen_at[bike_id] = (float(row[6]), float(row[7]))
        trip = (bike_id, row[1], row[2])
        grams[trip] = grams.get(trip, 0) + int(row[8])

    # Trips of current rounds that still have a stop to visit.
    ongoing = set(
        (
            await conn.execute(
                sa.select(round_stops.c.round_id, round_stops.c.trip)
                .join(pickups, pickups.c.id == round_stops.c.pickup_id)
                .join(rounds, rounds.c.id == round_stops.c.round_id)
                .where(
                    rounds.c.day == day,
                    rounds.c.status == "planned",
                    pickups.c.status == "scheduled",
                    pickups.c.round_id == round_stops.c.round_id,
                )
                .distinct()
            )
        ).all()
    )
    out = {}
    for bike_id, row in last.items():
        round_id, trip, carried, status = row[1], row[2], row[9], row[10]
        if status == "planned" and (round_id, trip) not in ongoing:
            continue  # its trip is done: back to the hub to unload
        if bike_id not in seen_at:
            continue  # never seen anywhere: planned from its hub
        kg = grams[bike_id, round_id, trip] / 1000
        if trip == 1 and carried is not None:
            kg += float(carried)
        lat, lon = seen_at[bike_id]
        out[bike_id] = BikeOut(lat, lon, row[3], kg)
    return out


async def weekly_households_without_pickup(
    conn: AsyncConnection, weekday: int
) -> list[int]:
    has_open = (
        sa.select(pickups.c.id)
        .where(
            pickups.c.household_id == households.c.id,
            pickups.c.status.in_(("open", "scheduled")),
        )
        .exists()
    )
    stmt = sa.select(households.c.id).where(
        households.c.weekly_day == weekday, households.c.status == "active", ~has_open
    )
    return list((await conn.execute(stmt)).scalars())


async def supersede_rounds(
    conn: AsyncConnection, day: date, *, dropped: Collection[int] = (), now: datetime
) -> None:
    """End the day's planned rounds: those of the ``dropped`` bikes as dropped,
    the others as superseded. A dropped bike with no round gets an empty dropped
    one, so that the day's later re-plans leave it out too. Without ``dropped``
    (a plan of the whole day) the drop-outs end too: every active bike is back."""
    planned = sa.and_(rounds.c.day == day, rounds.c.status == "planned")
    if dropped:
        ended = await conn.execute(
            rounds.update()
            .where(planned, rounds.c.bike_id.in_(list(dropped)))
            .values(status="dropped")
            .returning(rounds.c.bike_id)
        )
        idle = set(dropped) - {int(b) for b in ended.scalars()}
        for bike in (
            await conn.execute(sa.select(bikes).where(bikes.c.id.in_(idle)))
        ).all():
            await conn.execute(
                rounds.insert().values(
                    day=day,
                    bike_id=bike.id,
                    hub_id=bike.hub_id,
                    collector_id=bike.collector_id,
                    status="dropped",
                    stops=0,
                    trips=0,
                    distance_m=0,
                    load_kg=0.0,
                    start_min=bike.shift_start_min,
                    end_min=bike.shift_start_min,
                    planned_at=now,
                )
            )
    else:
        # A plan of the whole day takes every active bike again.
        planned = sa.and_(
            rounds.c.day == day, rounds.c.status.in_(("planned", "dropped"))
        )
    await conn.execute(rounds.update().where(planned).values(status="superseded"))


async def round_bikes(conn: AsyncConnection, day: date) -> dict[int, str]:
    """Each bike's latest round on ``day``: bike id -> its status (planned,
    superseded, or dropped when a re-plan took the bike out)."""
    rows = await conn.execute(
        sa.select(rounds.c.bike_id, rounds.c.status)
        .where(rounds.c.day == day)
        .order_by(rounds.c.id)
    )
    # A full plan of the day after a drop-out gives the bike a newer round.
    return {int(bike_id): str(status) for bike_id, status in rows.all()}


async def existing_bikes(conn: AsyncConnection, ids: Collection[int]) -> set[int]:
    rows = await conn.execute(sa.select(bikes.c.id).where(bikes.c.id.in_(list(ids))))
    return {int(i) for i in rows.scalars()}


async def add_round(conn: AsyncConnection, **values: Any) -> int:
    return int(
        (
            await conn.execute(rounds.insert().values(**values).returning(rounds.c.id))
        ).scalar_one()
    )


async def add_round_stops(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(round_stops.insert(), rows)


async def schedule_pickup(
    conn: AsyncConnection,
    pickup_id: int,
    *,
    day: date,
    start: int,
    end: int,
    round_id: int,
    now: datetime,
) -> None:
    await conn.execute(
        pickups.update()
        .where(pickups.c.id == pickup_id, pickups.c.status.in_(("open", "scheduled")))
        .values(
            status="scheduled",
            scheduled_day=day,
            window_start_min=start,
            window_end_min=end,
            round_id=round_id,
            updated_at=now,
        )
    )


async def unschedule_pickup(
    conn: AsyncConnection, pickup_id: int, now: datetime
) -> None:
    await conn.execute(
        pickups.update()
        .where(pickups.c.id == pickup_id, pickups.c.status == "scheduled")
        .values(
            status="open",
            scheduled_day=None,
            window_start_min=None,
            window_end_min=None,
            round_id=None,
            updated_at=now,
        )
    )


async def scheduled_for(conn: AsyncConnection, day: date) -> list[Any]:
    stmt = (
        sa.select(
            pickups.c.id,
            pickups.c.code,
            pickups.c.window_start_min,
            pickups.c.window_end_min,
            households.c.phone,
            households.c.language,
        )
        .join(households, households.c.id == pickups.c.household_id)
        .where(pickups.c.status == "scheduled", pickups.c.scheduled_day == day)
    )
    return list((await conn.execute(stmt)).all())


def stops_query() -> sa.Select[Any]:
    """A round's stops with their pickup, household and weighing (if weighed); the
    caller adds the round filter and the order."""
    return (
        sa.select(
            round_stops.c.round_id,
            round_stops.c.seq,
            round_stops.c.trip,
            round_stops.c.arrival_min,
            round_stops.c.expected_kg,
            pickups.c.id.label("pickup_id"),
            pickups.c.code,
            pickups.c.status,
            pickups.c.round_id.label("pickup_round_id"),
            pickups.c.missed_reason,
            pickups.c.window_start_min,
            pickups.c.window_end_min,
            households.c.id.label("household_id"),
            households.c.name,
            households.c.address,
            households.c.phone,
            households.c.lat,
            households.c.lon,
            weighings.c.total_grams,
        )
        .join(pickups, pickups.c.id == round_stops.c.pickup_id)
        .join(households, households.c.id == pickups.c.household_id)
        .outerjoin(weighings, weighings.c.pickup_id == pickups.c.id)
    )


async def rounds_for(conn: AsyncConnection, day: date) -> list[dict[str, Any]]:
    """The day's current rounds, each with its stops in order."""
    head = (
        await conn.execute(
            sa.select(rounds, bikes.c.name.label("bike"))
            .join(bikes, bikes.c.id == rounds.c.bike_id)
            .where(rounds.c.day == day, rounds.c.status == "planned")
            .order_by(rounds.c.id)
        )
    ).all()
    out = []
    for r in head:
        stops = (
            await conn.execute(
                stops_query()
                .where(round_stops.c.round_id == r.id)
                .order_by(round_stops.c.seq)
            )
        ).all()
        out.append(
            {
                "id": r.id,
                "day": r.day.isoformat(),
                "bike_id": r.bike_id,
                "bike": r.bike,
                "hub_id": r.hub_id,
                "collector_id": r.collector_id,
                "stops": r.stops,
                "trips": r.trips,
                "distance_m": r.distance_m,
                "load_kg": r.load_kg,
                "start": _hhmm(r.start_min),
                "end": _hhmm(r.end_min),
                "visits": [
                    {
                        "seq": s.seq,
                        "trip": s.trip,
                        "arrival": _hhmm(s.arrival_min),
                        "window": f"{_hhmm(s.window_start_min)}-{_hhmm(s.window_end_min)}"
                        if s.window_start_min is not None
                        else None,
                        "pickup_id": s.pickup_id,
                        "code": s.code,
                        "status": s.status,
                        "name": s.name,
                        "address": s.address,
                        "lat": s.lat,
                        "lon": s.lon,
                        "expected_kg": s.expected_kg,
                    }
                    for s in stops
                ],
            }
        )
    return out


def _hhmm(minutes: int | None) -> str | None:
    if minutes is None:
        return None
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


async def households_to_locate(conn: AsyncConnection, limit: int = 100) -> list[Any]:
    stmt = (
        sa.select(households.c.id, households.c.address)
        .where(households.c.lat.is_(None), households.c.location_source.is_(None))
        .order_by(households.c.id)
        .limit(limit)
    )
    return list((await conn.execute(stmt)).all())


async def cached_geocode(conn: AsyncConnection, query: str) -> tuple[bool, Any]:
    row = (
        await conn.execute(
            sa.select(geocode_cache).where(geocode_cache.c.query == query)
        )
    ).first()
    return (row is not None, row)


# Locations a weighing's GPS fix replaces: none yet, a failed lookup, or a
# geocoded address (a street or an area, often hundreds of metres out). Plus
# codes (a 14 m square the household gave) and earlier GPS fixes stay.
ROUGH_SOURCES = (None, "failed", "geocoded")
# A fix further than this from a geocoded location (degrees; 0.027 is 3 km of
# latitude, and less than 3 km of longitude near the equator) is more likely a
# weighing typed in elsewhere than the household's door: it is not used.
PIN_REACH_DEG = 0.027
# With nothing to compare it with (no location yet, or a failed lookup), a fix
# must fall within this of a hub (0.2 degrees: about 22 km, further than a cargo
# bike rides out in a shift): a phone's stale or zero fix is not used.
HUB_REACH_DEG = 0.2


def usable_location() -> sa.ColumnElement[bool]:
    """A household's location the planner can use: set, and within HUB_REACH_DEG
    of a hub (any location while there is no hub). A plus code from the wrong
    country or a pin at 0, 0 would otherwise sit in no round, forever."""
    near_hub = sa.exists().where(
        sa.func.abs(hubs.c.lat - households.c.lat) <= HUB_REACH_DEG,
        sa.func.abs(hubs.c.lon - households.c.lon) <= HUB_REACH_DEG,
    )
    return sa.and_(
        households.c.lat.is_not(None),
        households.c.lon.is_not(None),
        sa.or_(near_hub, ~sa.exists().where(hubs.c.id.is_not(None))),
    )


async def far_from_hubs(conn: AsyncConnection, lat: float, lon: float) -> bool:
    """Whether hubs exist and none is within HUB_REACH_DEG of ``lat, lon``."""
    stmt = sa.select(
        sa.exists().where(hubs.c.id.is_not(None)),
        sa.exists().where(
            sa.func.abs(hubs.c.lat - lat) <= HUB_REACH_DEG,
            sa.func.abs(hubs.c.lon - lon) <= HUB_REACH_DEG,
        ),
    )
    any_hub, near = (await conn.execute(stmt)).one()
    return bool(any_hub) and not near


def _near(lat: sa.ColumnElement[Any], lon: sa.ColumnElement[Any], reach: float) -> Any:
    return sa.and_(
        sa.func.abs(lat - sa.bindparam("fix_lat")) <= reach,
        sa.func.abs(lon - sa.bindparam("fix_lon")) <= reach,
    )


_PIN_FIRST_VISIT = (
    households.update()
    .where(
        households.c.id == sa.bindparam("hid"),
        sa.or_(
            *(
                households.c.location_source.is_(None)
                if source is None
                else households.c.location_source == source
                for source in ROUGH_SOURCES
            )
        ),
        sa.or_(
            sa.and_(
                households.c.lat.is_not(None),
                households.c.lon.is_not(None),
                _near(households.c.lat, households.c.lon, PIN_REACH_DEG),
            ),
            sa.and_(
                sa.or_(households.c.lat.is_(None), households.c.lon.is_(None)),
                sa.or_(
                    sa.exists().where(_near(hubs.c.lat, hubs.c.lon, HUB_REACH_DEG)),
                    ~sa.exists().where(hubs.c.id.is_not(None)),
                ),
            ),
        ),
    )
    .values(
        lat=sa.bindparam("fix_lat"),
        lon=sa.bindparam("fix_lon"),
        location_source="gps",
        updated_at=sa.bindparam("now"),
    )
)


async def pin_first_visits(
    conn: AsyncConnection,
    fixes: list[tuple[int, float | None, float | None]],
    now: datetime,
) -> None:
    """A weighing's GPS fix replaces its household's rough location (see
    ROUGH_SOURCES): the first visit pins the door. A fix is used only near
    what it replaces (PIN_REACH_DEG), or near a hub when there is nothing to
    compare with (HUB_REACH_DEG). ``fixes`` holds (household id, lat, lon);
    fixes without coordinates are skipped."""
    rows = [
        {"hid": hid, "fix_lat": lat, "fix_lon": lon, "now": now}
        for hid, lat, lon in fixes
        if lat is not None and lon is not None
    ]
    if rows:
        await conn.execute(_PIN_FIRST_VISIT, rows[0] if len(rows) == 1 else rows)


async def set_looked_up_location(
    conn: AsyncConnection,
    household_id: int,
    lat: float | None,
    lon: float | None,
    source: str,
    now: datetime,
) -> None:
    """A geocoder's answer (or ``failed``) for a household not yet located; a pin
    or plus code that arrived during the lookup stays."""
    await conn.execute(
        households.update()
        .where(
            households.c.id == household_id,
            households.c.lat.is_(None),
            households.c.location_source.is_(None),
        )
        .values(lat=lat, lon=lon, location_source=source, updated_at=now)
    )

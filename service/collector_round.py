"""A collector's own round: what the phone page reads, and the writes it may make there.

A stop is the collector's when its pickup's current round (``pickups.round_id``, which
every plan and re-plan rewrites) runs on a bike assigned to them. That one rule
decides what the round view shows (a household's phone only for the collector's own
stops) and which weighings, misses and GPS pins are accepted. The check runs in the
write's own transaction, so a re-plan cannot slip between the check and the write.

Each write carries the phone's idempotency key, kept per collector and per kind
(``weigh:<id>``, ``miss:<id>``, ``pin:<id>``): a replay after a lost response gets
the first answer, even if the stop has since moved to another bike.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service import money
from service.clock import Clock
from service.domain.commands import ActOnOwnStop, LogWeights, MissStop, PinStop
from service.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from service.domain.sms_parser import MATERIALS
from service.ledger.postings import IdempotencyConflict, fingerprint
from service.persistence import money as money_db
from service.persistence.db import READONLY, Database
from service.persistence.planning import stops_query
from service.persistence.tables import (
    bikes,
    households,
    hubs,
    pickups,
    round_stops,
    rounds,
)
from service.settings import Settings
from service.unit_of_work import UnitOfWork

MATERIAL_ORDER = ("PET", "HDPE", "ALU", "SACHET", "GLASS")
# Without a planned window, the page shows the planned arrival give or take this.
ARRIVAL_SLACK_MIN = 30


class NotYourStop(DomainError):
    """The round or pickup belongs to another collector's bike."""


class StopClosed(DomainError):
    """The pickup can no longer be acted on (weighed already, or cancelled)."""


@dataclass(frozen=True, slots=True)
class StopAnswer:
    """The JSON answer to a write from the page; a replay repeats the first one."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


# --- reads -------------------------------------------------------------------------


class CollectorRounds:
    """Read-side queries for the collector page (no mutations)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def todays_round(self, collector_id: int, day: date) -> dict[str, Any] | None:
        """The day's planned round on the collector's bike, stops in visiting order."""
        stmt = _round_head().where(
            rounds.c.day == day,
            rounds.c.status == "planned",
            rounds.c.collector_id == collector_id,
        )
        async with self._connect() as conn:
            head = (await conn.execute(stmt.order_by(rounds.c.id).limit(1))).first()
            return None if head is None else await _round_json(conn, head)

    async def round(self, collector_id: int, round_id: int) -> dict[str, Any]:
        """One round by id; NotFound, or NotYourStop when it is another's bike.

        A round a re-plan replaced gives the collector's round on the same bike
        that day instead, if there is one: the link texted earlier still works
        (a re-plan that leaves a rider's stops as they were sends no new one).
        """
        async with self._connect() as conn:
            head = (
                await conn.execute(_round_head().where(rounds.c.id == round_id))
            ).first()
            if head is None:
                raise NotFound(f"no round {round_id}")
            if head.collector_id != collector_id:
                raise NotYourStop("this round is on another collector's bike")
            if head.status == "superseded":
                stmt = _round_head().where(
                    rounds.c.day == head.day,
                    rounds.c.bike_id == head.bike_id,
                    rounds.c.status == "planned",
                    rounds.c.collector_id == collector_id,
                )
                current = (await conn.execute(stmt)).first()
                head = head if current is None else current
            return await _round_json(conn, head)

    async def rates(self, day: date) -> dict[str, int]:
        """Kobo per kg in force on `day`, for each material that has a rate."""
        async with self._connect() as conn:
            in_force = await money_db.rates_in_force(conn, set(MATERIALS), day)
        return {m: in_force[m] for m in MATERIAL_ORDER if m in in_force}

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.db.reader.connect() as conn:
            yield await conn.execution_options(**{READONLY: True})


def _round_head() -> sa.Select[Any]:
    return (
        sa.select(
            rounds.c.id,
            rounds.c.day,
            rounds.c.status,
            rounds.c.distance_m,
            rounds.c.start_min,
            rounds.c.end_min,
            bikes.c.name.label("bike"),
            rounds.c.collector_id,
            rounds.c.bike_id,
            hubs.c.name.label("hub"),
            hubs.c.lat.label("hub_lat"),
            hubs.c.lon.label("hub_lon"),
        )
        .join(bikes, bikes.c.id == rounds.c.bike_id)
        .join(hubs, hubs.c.id == rounds.c.hub_id)
    )


async def _round_json(conn: AsyncConnection, head: Any) -> dict[str, Any]:
    stops = (
        await conn.execute(
            stops_query()
            .where(round_stops.c.round_id == head.id)
            .order_by(round_stops.c.seq)
        )
    ).all()
    return {
        "id": head.id,
        "day": head.day.isoformat(),
        "status": head.status,
        "bike": head.bike,
        "hub": {"name": head.hub, "lat": head.hub_lat, "lon": head.hub_lon},
        "start": hhmm(head.start_min),
        "end": hhmm(head.end_min),
        "distance_km": round(head.distance_m / 1000, 1),
        "stops": [_stop_json(head.id, s) for s in stops],
    }


def _stop_json(round_id: int, s: Any) -> dict[str, Any]:
    ours = s.pickup_round_id == round_id
    if s.window_start_min is not None and s.window_end_min is not None:
        window = (s.window_start_min, s.window_end_min)
    else:
        window = (
            max(0, s.arrival_min - ARRIVAL_SLACK_MIN),
            min(24 * 60 - 1, s.arrival_min + ARRIVAL_SLACK_MIN),
        )
    return {
        "seq": s.seq,
        "trip": s.trip,
        "pickup_code": s.code,
        "household_id": s.household_id,
        "name": s.name,
        "landmark": s.address,
        # Only for a stop that is still on this round (the collector's own).
        "phone": s.phone if ours else None,
        "expected_kg": s.expected_kg,
        "arrival": hhmm(s.arrival_min),
        "window": {"start": hhmm(window[0]), "end": hhmm(window[1])},
        "lat": s.lat,
        "lon": s.lon,
        "status": stop_status(s.status, s.missed_reason, ours),
        "missed_reason": s.missed_reason if s.status == "open" else None,
        "weighed_kg": None if s.total_grams is None else s.total_grams / 1000,
    }


def stop_status(pickup_status: str, missed_reason: str | None, ours: bool) -> str:
    """What the collector sees: todo | done | missed | cancelled | moved."""
    if pickup_status == "done":
        return "done"
    if pickup_status == "cancelled":
        return "cancelled"
    if not ours:
        return "moved"
    if pickup_status == "open" and missed_reason:
        return "missed"
    return "todo"


def hhmm(minutes: float) -> str:
    whole = round(minutes)
    return f"{whole // 60:02d}:{whole % 60:02d}"


# --- writes ------------------------------------------------------------------------


async def act_on_own_stop(
    cmd: ActOnOwnStop, uow: UnitOfWork, *, clock: Clock, settings: Settings
) -> StopAnswer:
    """Weigh, miss or pin a stop, only if it is on the collector's own round."""
    action = cmd.action
    async with uow:
        if isinstance(action, LogWeights):
            answer = await _weigh(uow, cmd.collector_id, action, clock, settings)
        elif isinstance(action, MissStop):
            answer = await _miss(uow, cmd.collector_id, action, clock.now())
        else:
            answer = await _pin(uow, cmd.collector_id, action, clock.now())
        await uow.commit()
    return answer


def scope(kind: str, collector_id: int) -> str:
    """The idempotency-key space of one collector's writes of one kind."""
    return f"{kind}:{collector_id}"


async def _weigh(
    uow: UnitOfWork,
    collector_id: int,
    action: LogWeights,
    clock: Clock,
    settings: Settings,
) -> StopAnswer:
    weighing = replace(action, scope=scope("weigh", collector_id))
    seen = await money_db.seen_keys(
        uow.conn, scope=weighing.scope, keys=[weighing.idempotency_key]
    )
    if not seen:  # a replay of the collector's own key needs no second check
        pickup = await own_pickup(uow.conn, collector_id, weighing.pickup_code)
        if pickup.status == "cancelled":
            raise StopClosed(f"the household cancelled pickup {weighing.pickup_code}")
    answer = await money.weigh(uow, weighing, clock=clock, settings=settings)
    return StopAnswer(answer.status_code, answer.body, answer.replayed)


async def _miss(
    uow: UnitOfWork, collector_id: int, action: MissStop, now: datetime
) -> StopAnswer:
    reason = " ".join(action.reason.split())[:160]
    if not reason:
        raise InvalidInput("say why the pickup was missed")
    key_scope = scope("miss", collector_id)
    fp = fingerprint({"pickup_code": action.pickup_code, "reason": reason})
    seen = await money_db.claim_key(
        uow.conn, scope=key_scope, key=action.idempotency_key, fingerprint=fp, now=now
    )
    if seen is not None:
        return _replay(seen, fp)
    pickup = await own_pickup(uow.conn, collector_id, action.pickup_code)
    if pickup.status == "done":
        raise StopClosed(f"pickup {action.pickup_code} was already weighed")
    if pickup.status == "cancelled":
        raise StopClosed(f"the household cancelled pickup {action.pickup_code}")
    await uow.pickups.mark_missed(pickup.id, reason, now)
    body = {"pickup_code": action.pickup_code, "status": "missed", "reason": reason}
    return await _answer(uow.conn, key_scope, action.idempotency_key, body)


async def _pin(
    uow: UnitOfWork, collector_id: int, action: PinStop, now: datetime
) -> StopAnswer:
    if not (-90 <= action.lat <= 90 and -180 <= action.lon <= 180):
        raise InvalidInput("lat must be within ±90 and lon within ±180")
    key_scope = scope("pin", collector_id)
    fp = fingerprint(
        {
            "pickup_code": action.pickup_code,
            "household_id": action.household_id,
            "lat": action.lat,
            "lon": action.lon,
        }
    )
    seen = await money_db.claim_key(
        uow.conn, scope=key_scope, key=action.idempotency_key, fingerprint=fp, now=now
    )
    if seen is not None:
        return _replay(seen, fp)
    if action.pickup_code is not None:
        pickup = await own_pickup(uow.conn, collector_id, action.pickup_code)
        household_id = int(pickup.household_id)
    elif action.household_id is not None:
        household_id = await own_household(uow.conn, collector_id, action.household_id)
    else:
        raise InvalidInput("name the stop by pickup_code or household")
    await uow.conn.execute(
        households.update()
        .where(households.c.id == household_id)
        .values(lat=action.lat, lon=action.lon, location_source="gps", updated_at=now)
    )
    body = {
        "household_id": household_id,
        "lat": action.lat,
        "lon": action.lon,
        "source": "gps",
    }
    return await _answer(uow.conn, key_scope, action.idempotency_key, body)


async def own_pickup(conn: AsyncConnection, collector_id: int, code: str) -> Any:
    """The pickup with `code` if it is on the collector's round; else refuse."""
    row = (
        await conn.execute(
            sa.select(
                pickups.c.id,
                pickups.c.status,
                pickups.c.household_id,
                rounds.c.collector_id,
            )
            .outerjoin(rounds, rounds.c.id == pickups.c.round_id)
            .where(pickups.c.code == code)
        )
    ).first()
    if row is None:
        raise NotFound(f"no pickup has the code {code}")
    if row.collector_id != collector_id:
        raise NotYourStop(f"pickup {code} is not on your round")
    return row


async def own_household(
    conn: AsyncConnection, collector_id: int, household_id: int
) -> int:
    """`household_id` if one of its pickups is on the collector's round; else refuse."""
    found = (
        await conn.execute(
            sa.select(pickups.c.id)
            .join(rounds, rounds.c.id == pickups.c.round_id)
            .where(
                pickups.c.household_id == household_id,
                rounds.c.collector_id == collector_id,
            )
            .limit(1)
        )
    ).first()
    if found is None:
        raise NotYourStop(f"household {household_id} is not on your round")
    return household_id


def _replay(seen: money_db.Seen, fp: str) -> StopAnswer:
    if seen.fingerprint != fp:
        raise IdempotencyConflict(
            "this idempotency_key was already used for a different request"
        )
    if seen.response is None or seen.status_code is None:
        # Only between another transaction's claim and its commit: the bus retries.
        raise Conflict("the first request with this key has no answer yet")
    return StopAnswer(seen.status_code, json.loads(seen.response), replayed=True)


async def _answer(
    conn: AsyncConnection, key_scope: str, key: str, body: dict[str, Any]
) -> StopAnswer:
    await money_db.save_answer(
        conn, scope=key_scope, key=key, status_code=200, response=json.dumps(body)
    )
    return StopAnswer(200, body)

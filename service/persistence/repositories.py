"""Rows <-> domain values for households, pickups, the inbox and opt-outs.

Each statement is a `Query`: Core, built once, with bind parameters for every value,
so it runs on SQLAlchemy's connection or straight on the driver (the hot path, see
`service.persistence.driver`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from service.domain.errors import Conflict
from service.domain.model import Household, OpenPickup
from service.persistence.driver import Executor, Query, as_executor
from service.persistence.planning import HUB_REACH_DEG
from service.persistence.tables import (
    UtcDateTime,
    households,
    inbound_messages,
    opt_outs,
    pickups,
)

OPEN_STATUSES = ("open", "scheduled")


def insert_for(conn: AsyncConnection, table: sa.Table) -> Any:
    """A dialect insert that supports ON CONFLICT (SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _bound(*names: str) -> dict[str, Any]:
    return {name: sa.bindparam(name) for name in names}


_HOUSEHOLD_COLUMNS = (
    "phone",
    "name",
    "address",
    "language",
    "status",
    "lat",
    "lon",
    "location_source",
    "weekly_day",
    "created_at",
    "updated_at",
)
_ADD_HOUSEHOLD = Query(
    households.insert().values(_bound(*_HOUSEHOLD_COLUMNS)).returning(households.c.id)
)
_SET_LANGUAGE = Query(
    households.update()
    .where(households.c.id == sa.bindparam("household_id"))
    .values(language=sa.bindparam("new_language"), updated_at=sa.bindparam("now"))
)
_SET_WEEKLY = Query(
    households.update()
    .where(households.c.id == sa.bindparam("household_id"))
    .values(weekly_day=sa.bindparam("new_weekday"), updated_at=sa.bindparam("now"))
)
_SET_ADDRESS = Query(
    households.update()
    .where(households.c.id == sa.bindparam("household_id"))
    .values(
        address=sa.bindparam("new_address"),
        lat=sa.bindparam("new_lat"),
        lon=sa.bindparam("new_lon"),
        location_source=sa.bindparam("new_source"),
        updated_at=sa.bindparam("now"),
    )
)
_SET_STATUS_BY_PHONE = Query(
    households.update()
    .where(households.c.phone == sa.bindparam("by_phone"))
    .values(status=sa.bindparam("new_status"), updated_at=sa.bindparam("now"))
)
_ADD_PICKUP = Query(
    pickups.insert()
    .values(
        _bound(
            "household_id",
            "code",
            "status",
            "source_message_id",
            "created_at",
            "updated_at",
        )
    )
    .returning(pickups.c.id)
)
_CANCEL_PICKUP = Query(
    pickups.update()
    .where(
        pickups.c.id == sa.bindparam("pickup_id"),
        sa.text("status IN ('open', 'scheduled')"),  # OPEN_STATUSES
    )
    .values(status="cancelled", updated_at=sa.bindparam("now"))
)
_MARK_MISSED = Query(
    pickups.update()
    .where(pickups.c.id == sa.bindparam("pickup_id"))
    .values(
        status="open",
        missed_reason=sa.bindparam("reason"),
        updated_at=sa.bindparam("now"),
    )
)
_INBOX_COLUMNS = (
    "provider",
    "provider_message_id",
    "phone",
    "body",
    "intent",
    "household_id",
    "reply",
    "reviewed",
    "received_at",
)
_INBOX_CLAIM = Query(
    {
        name: dialect.insert(inbound_messages)
        .values(_bound(*_INBOX_COLUMNS))
        .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
        .returning(inbound_messages.c.id)
        for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
    }
)
_STORED_REPLY = Query(
    sa.select(inbound_messages.c.reply).where(
        inbound_messages.c.provider == sa.bindparam("provider"),
        inbound_messages.c.provider_message_id == sa.bindparam("sid"),
    )
)
_OPT_OUT = Query(
    {
        name: dialect.insert(opt_outs)
        .values(_bound("phone", "word", "opted_out_at"))
        .on_conflict_do_nothing(index_elements=["phone"])
        for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
    }
)
_OPT_IN = Query(opt_outs.delete().where(opt_outs.c.phone == sa.bindparam("by_phone")))
_IS_OPTED_OUT = Query(
    sa.select(opt_outs.c.phone).where(opt_outs.c.phone == sa.bindparam("by_phone"))
)


@dataclass(frozen=True, slots=True)
class SenderState:
    """What one inbound SMS needs to know about its sender, read in one query."""

    household: Household | None
    open_pickup: OpenPickup | None
    opted_out: bool
    recent_inbound: int
    seen: bool  # this provider message id was already processed
    seen_reply: str | None
    available_kobo: int = 0
    code_taken: bool = False  # the candidate pickup code is already in use


_SENDER_STATE = Query(
    sa.text(
        """
    SELECT h.id, h.phone, h.name, h.language, h.status, p.id AS pickup_id, p.code,
           a.credits_posted - a.debits_posted - a.debits_pending AS available,
           (SELECT 1 FROM opt_outs o WHERE o.phone = :phone) AS opted_out,
           (SELECT count(*) FROM (SELECT 1 FROM inbound_messages i
             WHERE i.phone = :phone AND i.received_at > :since LIMIT :cap) AS r
           ) AS recent,
           (SELECT 1 FROM inbound_messages s
             WHERE s.provider = :provider AND s.provider_message_id = :sid) AS seen,
           (SELECT s.reply FROM inbound_messages s
             WHERE s.provider = :provider AND s.provider_message_id = :sid) AS seen_reply,
           (SELECT 1 FROM pickups c WHERE c.code = :candidate) AS code_taken,
           CASE WHEN h.id IS NULL THEN 0
                -- 1: no place yet, the geocoder still to look; 2: none found.
                WHEN h.lat IS NULL OR h.lon IS NULL THEN
                    CASE WHEN h.location_source IS NULL THEN 1 ELSE 2 END
                -- A place more than HUB_REACH_DEG from every hub is no place.
                WHEN EXISTS (SELECT 1 FROM hubs) AND NOT EXISTS (
                    SELECT 1 FROM hubs x WHERE abs(x.lat - h.lat) <= :reach
                                           AND abs(x.lon - h.lon) <= :reach) THEN 2
                ELSE 0 END AS place
      FROM (SELECT 1 AS one) AS q
      LEFT JOIN households h ON h.phone = :phone
      LEFT JOIN pickups p ON p.household_id = h.id AND p.status IN ('open', 'scheduled')
      LEFT JOIN accounts a ON a.name = 'household:' || h.id
    """
    ).bindparams(sa.bindparam("since", type_=UtcDateTime))
)


class Households:
    def __init__(self, conn: AsyncConnection | Executor) -> None:
        self.db = as_executor(conn)

    async def sender_state(
        self,
        phone: str,
        since: datetime,
        *,
        provider: str = "",
        message_id: str = "",
        candidate_code: str = "",
        count_up_to: int = 1_000_000,
    ) -> SenderState:
        """The sender's household, open pickup, opt-out, recent volume, whether
        this exact message was seen before, and whether `candidate_code` is taken:
        one round trip on the hot path. Recent messages are counted up to
        `count_up_to` only, so a flood from one number costs no more to read."""
        params = {
            "phone": phone,
            "since": since,
            "provider": provider,
            "sid": message_id,
            "candidate": candidate_code,
            "cap": count_up_to,
            "reach": HUB_REACH_DEG,
        }
        row = await self.db.fetchrow(_SENDER_STATE, params)
        assert row is not None  # the query always returns its one row
        (hid, hphone, name, language, status, pickup_id, code) = row[:7]
        available, opted_out, recent, seen, seen_reply, code_taken = row[7:13]
        household = (
            Household(hid, hphone, name, language, status, row[13] > 0, row[13] == 2)
            if hid is not None
            else None
        )
        pickup = OpenPickup(pickup_id, code) if pickup_id is not None else None
        return SenderState(
            household,
            pickup,
            bool(opted_out),
            int(recent or 0),
            bool(seen),
            seen_reply,
            int(available or 0),
            bool(code_taken),
        )

    async def add(
        self,
        *,
        phone: str,
        name: str,
        address: str,
        language: str,
        now: datetime,
        location: tuple[float, float] | None = None,
    ) -> int:
        params = {
            "phone": phone,
            "name": name,
            "address": address,
            "language": language,
            "status": "active",
            "lat": location[0] if location else None,
            "lon": location[1] if location else None,
            "location_source": "pluscode" if location else None,
            "weekly_day": None,
            "created_at": now,
            "updated_at": now,
        }
        row = await self.db.fetchrow(_ADD_HOUSEHOLD, params)
        assert row is not None
        return int(row[0])

    async def set_language(
        self, household_id: int, language: str, now: datetime
    ) -> None:
        params = {"household_id": household_id, "new_language": language, "now": now}
        await self.db.execute(_SET_LANGUAGE, params)

    async def set_weekly(
        self, household_id: int, weekday: int | None, now: datetime
    ) -> None:
        params = {"household_id": household_id, "new_weekday": weekday, "now": now}
        await self.db.execute(_SET_WEEKLY, params)

    async def set_address(
        self,
        household_id: int,
        address: str,
        location: tuple[float, float] | None,
        now: datetime,
    ) -> None:
        """A new address: its plus code's place, or none (the geocoder looks again)."""
        params = {
            "household_id": household_id,
            "new_address": address,
            "new_lat": location[0] if location else None,
            "new_lon": location[1] if location else None,
            "new_source": "pluscode" if location else None,
            "now": now,
        }
        await self.db.execute(_SET_ADDRESS, params)

    async def set_status_by_phone(self, phone: str, status: str, now: datetime) -> None:
        params = {"by_phone": phone, "new_status": status, "now": now}
        await self.db.execute(_SET_STATUS_BY_PHONE, params)


class Pickups:
    def __init__(self, conn: AsyncConnection | Executor) -> None:
        self.db = as_executor(conn)

    async def add(
        self,
        *,
        household_id: int,
        code: str,
        now: datetime,
        source_message_id: int | None,
    ) -> int:
        params = {
            "household_id": household_id,
            "code": code,
            "status": "open",
            "source_message_id": source_message_id,
            "created_at": now,
            "updated_at": now,
        }
        row = await self.db.fetchrow(_ADD_PICKUP, params)
        assert row is not None
        return int(row[0])

    async def cancel(self, pickup_id: int, now: datetime) -> None:
        changed = await self.db.execute(
            _CANCEL_PICKUP, {"pickup_id": pickup_id, "now": now}
        )
        if changed != 1:
            raise Conflict(f"pickup {pickup_id} is no longer open")

    async def mark_missed(self, pickup_id: int, reason: str, now: datetime) -> None:
        """The collector could not collect: the request stays open for another day."""
        params = {"pickup_id": pickup_id, "reason": reason, "now": now}
        await self.db.execute(_MARK_MISSED, params)


class Inbox:
    """Processed inbound messages: the unique (provider, id) makes intake idempotent."""

    def __init__(self, conn: AsyncConnection | Executor) -> None:
        self.db = as_executor(conn)

    async def claim(
        self,
        *,
        provider: str,
        message_id: str,
        phone: str,
        body: str,
        intent: str,
        household_id: int | None,
        reply: str | None,
        received_at: datetime,
        final: bool = False,
    ) -> int | None:
        """Record the message; None when it was already recorded (a duplicate).

        On PostgreSQL a concurrent duplicate waits here until the first commits.
        `final`: the unit of work writes nothing more and commits next.
        """
        params = {
            "provider": provider,
            "provider_message_id": message_id,
            "phone": phone,
            "body": body[:1600],
            "intent": intent,
            "household_id": household_id,
            "reply": reply,
            "reviewed": False,
            "received_at": received_at,
        }
        row = await self.db.fetchrow(_INBOX_CLAIM, params, final=final)
        return None if row is None else int(row[0])

    async def stored_reply(
        self, provider: str, message_id: str
    ) -> tuple[bool, str | None]:
        """(found, reply) for a message already recorded."""
        row = await self.db.fetchrow(
            _STORED_REPLY, {"provider": provider, "sid": message_id}
        )
        return (False, None) if row is None else (True, row[0])


class OptOuts:
    def __init__(self, conn: AsyncConnection | Executor) -> None:
        self.db = as_executor(conn)

    async def add(self, phone: str, word: str, now: datetime) -> None:
        params = {"phone": phone, "word": word[:16], "opted_out_at": now}
        await self.db.execute(_OPT_OUT, params)

    async def remove(self, phone: str) -> None:
        await self.db.execute(_OPT_IN, {"by_phone": phone})

    async def contains(self, phone: str) -> bool:
        return await self.db.fetchrow(_IS_OPTED_OUT, {"by_phone": phone}) is not None

"""Rows <-> domain values for households, pickups, the inbox and opt-outs (Core statements)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from service.domain.errors import Conflict
from service.domain.model import Household, OpenPickup
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


# Hot statements are built once: values come as parameters, so SQLAlchemy's compiled
# cache is hit instead of rebuilding the statement on every message.
_INBOX_CLAIM = {
    name: dialect.insert(inbound_messages)
    .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
    .returning(inbound_messages.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_ADD_PICKUP = pickups.insert().returning(pickups.c.id)
_ADD_HOUSEHOLD = households.insert().returning(households.c.id)


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


_SENDER_STATE = sa.text(
    """
    SELECT h.id, h.phone, h.name, h.language, h.status, p.id AS pickup_id, p.code,
           a.credits_posted - a.debits_posted - a.debits_pending AS available,
           (SELECT 1 FROM opt_outs o WHERE o.phone = :phone) AS opted_out,
           (SELECT count(*) FROM inbound_messages i
             WHERE i.phone = :phone AND i.received_at > :since) AS recent,
           (SELECT 1 FROM inbound_messages s
             WHERE s.provider = :provider AND s.provider_message_id = :sid) AS seen,
           (SELECT s.reply FROM inbound_messages s
             WHERE s.provider = :provider AND s.provider_message_id = :sid) AS seen_reply
      FROM (SELECT 1 AS one) AS q
      LEFT JOIN households h ON h.phone = :phone
      LEFT JOIN pickups p ON p.household_id = h.id AND p.status IN ('open', 'scheduled')
      LEFT JOIN accounts a ON a.name = 'household:' || h.id
    """
).bindparams(sa.bindparam("since", type_=UtcDateTime))


class Households:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def sender_state(
        self, phone: str, since: datetime, *, provider: str = "", message_id: str = ""
    ) -> SenderState:
        """The sender's household, open pickup, opt-out, recent volume, and whether
        this exact message was seen before: one round trip on the hot path."""
        params = {
            "phone": phone,
            "since": since,
            "provider": provider,
            "sid": message_id,
        }
        row = (await self.conn.execute(_SENDER_STATE, params)).one()
        household = (
            Household(row.id, row.phone, row.name, row.language, row.status)
            if row.id is not None
            else None
        )
        pickup = (
            OpenPickup(row.pickup_id, row.code) if row.pickup_id is not None else None
        )
        return SenderState(
            household,
            pickup,
            bool(row.opted_out),
            int(row.recent or 0),
            bool(row.seen),
            row.seen_reply,
            int(row.available or 0),
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
        return int((await self.conn.execute(_ADD_HOUSEHOLD, params)).scalar_one())

    async def set_language(
        self, household_id: int, language: str, now: datetime
    ) -> None:
        await self.conn.execute(
            households.update()
            .where(households.c.id == household_id)
            .values(language=language, updated_at=now)
        )

    async def set_weekly(
        self, household_id: int, weekday: int | None, now: datetime
    ) -> None:
        await self.conn.execute(
            households.update()
            .where(households.c.id == household_id)
            .values(weekly_day=weekday, updated_at=now)
        )

    async def set_status_by_phone(self, phone: str, status: str, now: datetime) -> None:
        await self.conn.execute(
            households.update()
            .where(households.c.phone == phone)
            .values(status=status, updated_at=now)
        )


class Pickups:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

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
        return int((await self.conn.execute(_ADD_PICKUP, params)).scalar_one())

    async def cancel(self, pickup_id: int, now: datetime) -> None:
        result = await self.conn.execute(
            pickups.update()
            .where(pickups.c.id == pickup_id, pickups.c.status.in_(OPEN_STATUSES))
            .values(status="cancelled", updated_at=now)
        )
        if result.rowcount != 1:
            raise Conflict(f"pickup {pickup_id} is no longer open")

    async def mark_missed(self, pickup_id: int, reason: str, now: datetime) -> None:
        """The collector could not collect: the request stays open for another day."""
        await self.conn.execute(
            pickups.update()
            .where(pickups.c.id == pickup_id)
            .values(status="open", missed_reason=reason, updated_at=now)
        )


class Inbox:
    """Processed inbound messages: the unique (provider, id) makes intake idempotent."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

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
    ) -> int | None:
        """Record the message; None when it was already recorded (a duplicate).

        On PostgreSQL a concurrent duplicate waits here until the first commits.
        """
        stmt = _INBOX_CLAIM[self.conn.dialect.name]
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
        return (await self.conn.execute(stmt, params)).scalar_one_or_none()

    async def stored_reply(
        self, provider: str, message_id: str
    ) -> tuple[bool, str | None]:
        """(found, reply) for a message already recorded."""
        row = (
            await self.conn.execute(
                sa.select(inbound_messages.c.reply).where(
                    inbound_messages.c.provider == provider,
                    inbound_messages.c.provider_message_id == message_id,
                )
            )
        ).first()
        return (False, None) if row is None else (True, row.reply)


class OptOuts:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, phone: str, word: str, now: datetime) -> None:
        await self.conn.execute(
            insert_for(self.conn, opt_outs)
            .values(phone=phone, word=word[:16], opted_out_at=now)
            .on_conflict_do_nothing(index_elements=["phone"])
        )

    async def remove(self, phone: str) -> None:
        await self.conn.execute(opt_outs.delete().where(opt_outs.c.phone == phone))

    async def contains(self, phone: str) -> bool:
        row = await self.conn.execute(
            sa.select(opt_outs.c.phone).where(opt_outs.c.phone == phone)
        )
        return row.first() is not None

"""The outbox: enqueue in the caller's transaction; claim, mark sent or retry later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from service.logs import request_id
from service.persistence.driver import Executor, Query, as_executor
from service.persistence.repositories import insert_for
from service.persistence.tables import UtcDateTime, delivery_reports, outbox

# Twilio's statuses in the order a message moves through them; a callback that
# arrives late with a lower rank never moves a message backwards.
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "read": 4,
}


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    key: str
    to_phone: str
    body: str
    is_reply: bool
    attempts: int
    max_attempts: int
    expires_at: datetime
    request_id: str | None = None


OUTBOX_COLUMNS = (
    "key",
    "kind",
    "to_phone",
    "body",
    "is_reply",
    "status",
    "attempts",
    "max_attempts",
    "next_attempt_at",
    "expires_at",
    "created_at",
    "request_id",
)
_ENQUEUE = Query(
    {
        name: dialect.insert(outbox)
        .values({column: sa.bindparam(column) for column in OUTBOX_COLUMNS})
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(outbox.c.id)
        for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
    }
)


async def enqueue(
    conn: AsyncConnection | Executor,
    *,
    key: str,
    to_phone: str,
    body: str,
    now: datetime,
    expires_at: datetime,
    is_reply: bool = False,
    max_attempts: int = 8,
) -> bool:
    """Add one SMS to send; False when `key` was already queued (no second row)."""
    params = {
        "key": key,
        "kind": "sms",
        "to_phone": to_phone,
        "body": body,
        "is_reply": is_reply,
        "status": "pending",
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": now,
        "expires_at": expires_at,
        "created_at": now,
        "request_id": request_id.get(),
    }
    return await as_executor(conn).fetchrow(_ENQUEUE, params) is not None


async def claim(
    conn: AsyncConnection, *, now: datetime, lease: timedelta, limit: int = 50
) -> list[OutboxRow]:
    """Take due rows for this worker until `now + lease`.

    A row whose worker died mid-send comes back when its lease runs out, so a crash
    never loses a message. PostgreSQL skips rows another worker holds.
    """
    due = sa.or_(
        sa.and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
        sa.and_(outbox.c.status == "sending", outbox.c.lease_until <= now),
    )
    pick = sa.select(outbox.c.id).where(due).order_by(outbox.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        outbox.update()
        .where(outbox.c.id.in_(pick.scalar_subquery()))
        .values(
            status="sending", lease_until=now + lease, attempts=outbox.c.attempts + 1
        )
        .returning(
            outbox.c.id,
            outbox.c.key,
            outbox.c.to_phone,
            outbox.c.body,
            outbox.c.is_reply,
            outbox.c.attempts,
            outbox.c.max_attempts,
            outbox.c.expires_at,
            outbox.c.request_id,
        )
    )
    rows = (await conn.execute(stmt)).all()
    return sorted((OutboxRow(*row) for row in rows), key=lambda r: r.id)


def _to(phone: str, prefix: bool) -> sa.ColumnElement[bool]:
    """One number, or every number starting with `phone` (a range the index serves)."""
    if not prefix:
        same: sa.ColumnElement[bool] = outbox.c.to_phone == phone
        return same
    in_range: sa.ColumnElement[bool] = sa.and_(
        outbox.c.to_phone >= phone, outbox.c.to_phone < phone + "~"
    )
    return in_range


async def renew_lease(
    conn: AsyncConnection, row: OutboxRow, *, until: datetime
) -> bool:
    """Extend the lease on a row this worker claimed, just before sending it.

    False when the row is no longer this worker's: its lease ran out while earlier
    rows of the batch were being sent, and another worker claimed it (attempts
    moved on) or already finished it. Such a row must not be sent again.
    """
    result = await conn.execute(
        outbox.update()
        .where(
            outbox.c.id == row.id,
            outbox.c.status == "sending",
            outbox.c.attempts == row.attempts,
        )
        .values(lease_until=until)
    )
    return result.rowcount == 1


async def count_started_since(
    conn: AsyncConnection, phone: str, since: datetime, *, prefix: bool = False
) -> int:
    """Messages the service started (not replies) sent to `phone` (or to numbers
    starting with it, when `prefix`) since `since`."""
    stmt = sa.select(sa.func.count()).where(
        _to(phone, prefix),
        outbox.c.is_reply.is_(False),
        outbox.c.sent_at > since,
    )
    return int((await conn.execute(stmt)).scalar_one())


async def oldest_started_since(
    conn: AsyncConnection, phone: str, since: datetime, *, prefix: bool = False
) -> datetime | None:
    # type_= keeps the column's UTC conversion, which SQLite would otherwise lose.
    earliest = sa.func.min(outbox.c.sent_at, type_=UtcDateTime)
    stmt = sa.select(earliest).where(
        _to(phone, prefix),
        outbox.c.is_reply.is_(False),
        outbox.c.sent_at > since,
    )
    value: datetime | None = (await conn.execute(stmt)).scalar_one_or_none()
    return value


async def _finish(conn: AsyncConnection, row_id: int, **values: object) -> None:
    await conn.execute(
        outbox.update()
        .where(outbox.c.id == row_id, outbox.c.status == "sending")
        .values(lease_until=None, **values)
    )


async def mark_sent(
    conn: AsyncConnection,
    row_id: int,
    *,
    now: datetime,
    gateway: str,
    provider_id: str | None,
    provider_status: str,
) -> None:
    await _finish(
        conn,
        row_id,
        status="sent",
        sent_at=now,
        gateway=gateway,
        provider_id=provider_id,
    )
    if provider_id:
        await record_delivery(conn, provider_id, provider_status, now)


async def mark_retry(
    conn: AsyncConnection, row_id: int, *, at: datetime, error: str
) -> None:
    await _finish(
        conn, row_id, status="pending", next_attempt_at=at, last_error=error[:300]
    )


async def defer(
    conn: AsyncConnection, row_id: int, *, at: datetime, reason: str
) -> None:
    """Put a row back without spending an attempt (rate limit)."""
    await _finish(
        conn,
        row_id,
        status="pending",
        next_attempt_at=at,
        attempts=outbox.c.attempts - 1,
        last_error=reason[:300],
    )


async def mark_final(
    conn: AsyncConnection, row_id: int, *, status: str, error: str
) -> None:
    """failed | expired | suppressed: the row is never tried again."""
    await _finish(conn, row_id, status=status, last_error=error[:300])


async def record_delivery(
    conn: AsyncConnection,
    provider_id: str,
    status: str,
    now: datetime,
    error_code: str | None = None,
) -> None:
    """Upsert the delivery status unless a later status is already known."""
    rank = STATUS_RANK.get(status, 0)
    stmt = insert_for(conn, delivery_reports).values(
        provider_id=provider_id,
        status=status,
        rank=rank,
        error_code=error_code,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["provider_id"],
        set_={
            "status": stmt.excluded.status,
            "rank": stmt.excluded.rank,
            "error_code": stmt.excluded.error_code,
            "updated_at": stmt.excluded.updated_at,
        },
        where=delivery_reports.c.rank < stmt.excluded.rank,
    )
    await conn.execute(stmt)

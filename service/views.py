"""Read-side queries for the API, dashboard and demo (no mutations)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.persistence.db import READONLY, Database
from service.persistence.planning import usable_location
from service.persistence.tables import (
    api_tokens,
    delivery_reports,
    households,
    inbound_messages,
    outbox,
    pickups,
)

MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Page:
    """Up to `limit` items and the id to continue after, when more remain."""

    items: list[dict[str, Any]]
    next_after: int | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class Views:
    """Queries on the reader engine; every list is keyset-paginated by id."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _rows(self, stmt: sa.Select[Any]) -> list[Any]:
        async with self.db.reader.connect() as conn:
            conn = await conn.execution_options(**{READONLY: True})
            return list((await conn.execute(stmt)).all())

    async def _page(
        self, stmt: sa.Select[Any], id_col: Any, after: int, limit: int
    ) -> tuple[list[Any], int | None]:
        rows = await self._rows(
            stmt.where(id_col > after).order_by(id_col).limit(limit + 1)
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].id if more and rows else None)

    async def households(self, *, after: int = 0, limit: int = 100) -> Page:
        stmt = sa.select(
            households.c.id,
            households.c.phone,
            households.c.name,
            households.c.address,
            households.c.language,
            households.c.status,
            households.c.created_at,
            households.c.lat,
            households.c.lon,
            households.c.location_source,
        )
        rows, nxt = await self._page(stmt, households.c.id, after, limit)
        items = [
            {
                "id": r.id,
                "phone": r.phone,
                "name": r.name,
                "address": r.address,
                "language": r.language,
                "status": r.status,
                "created_at": _iso(r.created_at),
                "lat": r.lat,
                "lon": r.lon,
                "location_source": r.location_source,
            }
            for r in rows
        ]
        return Page(items, nxt)

    async def pickups(
        self, *, status: str | None = None, after: int = 0, limit: int = 100
    ) -> Page:
        stmt = sa.select(
            pickups.c.id,
            pickups.c.code,
            pickups.c.household_id,
            households.c.phone,
            households.c.name,
            households.c.address,
            pickups.c.status,
            pickups.c.created_at,
            pickups.c.updated_at,
        ).join(households, households.c.id == pickups.c.household_id)
        if status:
            stmt = stmt.where(pickups.c.status == status)
        rows, nxt = await self._page(stmt, pickups.c.id, after, limit)
        items = [
            {
                "id": r.id,
                "code": r.code,
                "household_id": r.household_id,
                "phone": r.phone,
                "name": r.name,
                "address": r.address,
                "status": r.status,
                "created_at": _iso(r.created_at),
                "updated_at": _iso(r.updated_at),
            }
            for r in rows
        ]
        return Page(items, nxt)

    async def unparsed_messages(
        self, *, after: int = 0, limit: int = 100, include_reviewed: bool = False
    ) -> Page:
        stmt = sa.select(
            inbound_messages.c.id,
            inbound_messages.c.provider,
            inbound_messages.c.phone,
            inbound_messages.c.body,
            inbound_messages.c.reply,
            inbound_messages.c.household_id,
            inbound_messages.c.reviewed,
            inbound_messages.c.received_at,
        ).where(inbound_messages.c.intent == "unknown")
        if not include_reviewed:
            stmt = stmt.where(inbound_messages.c.reviewed.is_(False))
        rows, nxt = await self._page(stmt, inbound_messages.c.id, after, limit)
        items = [
            {
                "id": r.id,
                "provider": r.provider,
                "phone": r.phone,
                "body": r.body,
                "reply": r.reply,
                "household_id": r.household_id,
                "reviewed": r.reviewed,
                "received_at": _iso(r.received_at),
            }
            for r in rows
        ]
        return Page(items, nxt)

    async def outbound_messages(
        self, *, status: str | None = None, after: int = 0, limit: int = 100
    ) -> Page:
        stmt = sa.select(
            outbox.c.id,
            outbox.c.key,
            outbox.c.to_phone,
            outbox.c.body,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.created_at,
            outbox.c.sent_at,
            outbox.c.provider_id,
            outbox.c.last_error,
            delivery_reports.c.status.label("delivery_status"),
        ).outerjoin(
            delivery_reports, delivery_reports.c.provider_id == outbox.c.provider_id
        )
        if status:
            stmt = stmt.where(outbox.c.status == status)
        rows, nxt = await self._page(stmt, outbox.c.id, after, limit)
        items = [
            {
                "id": r.id,
                "key": r.key,
                "phone": r.to_phone,
                "body": r.body,
                "status": r.status,
                "delivery_status": r.delivery_status,
                "attempts": r.attempts,
                "provider_id": r.provider_id,
                "last_error": r.last_error,
                "created_at": _iso(r.created_at),
                "sent_at": _iso(r.sent_at),
            }
            for r in rows
        ]
        return Page(items, nxt)

    async def token_role(self, token: str) -> tuple[str, str] | None:
        """(role, audit name) of a live API token, or None."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        rows = await self._rows(
            sa.select(api_tokens.c.id, api_tokens.c.role, api_tokens.c.name).where(
                api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None)
            )
        )
        if not rows:
            return None
        row = rows[0]
        return row.role, f"token:{row.id}:{row.name}"[:80]

    async def counts(self) -> dict[str, int]:
        """Headline numbers for the demo summary and the dashboard."""
        async with self.db.reader.connect() as conn:
            conn = await conn.execution_options(**{READONLY: True})

            async def count(stmt: sa.Select[Any]) -> int:
                return int((await conn.execute(stmt)).scalar_one())

            n = sa.func.count()
            return {
                "households": await count(sa.select(n).select_from(households)),
                "pickups_open": await count(
                    sa.select(n).select_from(pickups).where(pickups.c.status == "open")
                ),
                "pickups_cancelled": await count(
                    sa.select(n)
                    .select_from(pickups)
                    .where(pickups.c.status == "cancelled")
                ),
                "messages_in": await count(sa.select(n).select_from(inbound_messages)),
                "messages_unparsed": await count(
                    sa.select(n)
                    .select_from(inbound_messages)
                    .where(inbound_messages.c.intent == "unknown")
                ),
                "messages_out_sent": await count(
                    sa.select(n).select_from(outbox).where(outbox.c.status == "sent")
                ),
            }

    async def ping(self) -> None:
        """Raise unless the database answers."""
        await self._rows(sa.select(sa.literal(1)))

    async def gauges(self, now: datetime) -> dict[str, Any]:
        """Outbox rows by status, the oldest unsent row's age, payouts by state."""
        from service.persistence.tables import payouts

        by_status = await self._rows(
            sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
        )
        oldest = await self._rows(
            sa.select(outbox.c.created_at)
            .where(outbox.c.status.in_(("pending", "sending")))
            .order_by(outbox.c.id)
            .limit(1)
        )
        by_state = await self._rows(
            sa.select(payouts.c.status, sa.func.count()).group_by(payouts.c.status)
        )
        return {
            "outbox": {row[0]: int(row[1]) for row in by_status},
            "oldest_pending_s": (
                max(0.0, (now - oldest[0].created_at).total_seconds())
                if oldest
                else 0.0
            ),
            "payouts": {row[0]: int(row[1]) for row in by_state},
        }


class MoneyViews:
    """Read-side queries for balances, the trial balance, payouts, rates and disputes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def balance(self, household_id: int) -> dict[str, int] | None:
        from service.ledger import accounts as acc
        from service.persistence.ledger import Ledger

        async with self.db.reader.connect() as conn:
            exists = (
                await conn.execute(
                    sa.select(households.c.id).where(households.c.id == household_id)
                )
            ).first()
            if exists is None:
                return None
            b = await Ledger(conn).balance(acc.household(household_id))
        return {
            "household_id": household_id,
            "posted_kobo": b.posted,
            "held_kobo": b.held,
            "available_kobo": b.available,
        }

    async def trial_balance(self) -> dict[str, Any]:
        from service.persistence.ledger import trial_balance

        async with self.db.reader.connect() as conn:
            rows = await trial_balance(conn)
        by_type: dict[str, int] = {}
        for _, kind, balance in rows:
            by_type[kind] = by_type.get(kind, 0) + balance
        return {
            "total_kobo": sum(b for _, _, b in rows),
            "by_type": by_type,
            "accounts": [
                {"account": a, "type": t, "balance_kobo": b} for a, t, b in rows
            ],
        }

    async def payouts(
        self,
        *,
        status: str | None = None,
        after: int = 0,
        limit: int = 100,
        provider: str | None = None,
    ) -> Page:
        from service.persistence.tables import payouts

        stmt = sa.select(payouts)
        if status:
            stmt = stmt.where(payouts.c.status == status)
        if provider:
            stmt = stmt.where(payouts.c.provider == provider)
        async with self.db.reader.connect() as conn:
            rows = list(
                (
                    await conn.execute(
                        stmt.where(payouts.c.id > after)
                        .order_by(payouts.c.id)
                        .limit(limit + 1)
                    )
                ).all()
            )
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            {
                "id": r.id,
                "reference": r.reference,
                "household_id": r.household_id,
                "kind": r.kind,
                "provider": r.provider,
                "amount_kobo": r.amount_kobo,
                "status": r.status,
                "attempts": r.attempts,
                "failure_reason": r.failure_reason,
                "provider_txn": r.provider_txn,
                "created_at": _iso(r.created_at),
                "completed_at": _iso(r.completed_at),
            }
            for r in rows
        ]
        return Page(items, rows[-1].id if more and rows else None)

    async def all_payouts_for(self, provider: str) -> list[tuple[str, int, str]]:
        """(reference, amount, status) of every payout sent through `provider`."""
        from service.persistence.tables import payouts

        async with self.db.reader.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        payouts.c.reference, payouts.c.amount_kobo, payouts.c.status
                    ).where(payouts.c.provider == provider)
                )
            ).all()
        return [(r.reference, r.amount_kobo, r.status) for r in rows]

    async def payouts_with_txn(
        self, provider: str
    ) -> list[tuple[str, int, str, str | None]]:
        """(reference, amount, status, provider's id) of every payout via `provider`."""
        from service.persistence.tables import payouts

        async with self.db.reader.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        payouts.c.reference,
                        payouts.c.amount_kobo,
                        payouts.c.status,
                        payouts.c.provider_txn,
                    )
                    .where(payouts.c.provider == provider)
                    .order_by(payouts.c.id)
                )
            ).all()
        return [(r.reference, r.amount_kobo, r.status, r.provider_txn) for r in rows]

    async def rates(self) -> list[dict[str, Any]]:
        from service.persistence.money import list_rates

        async with self.db.reader.connect() as conn:
            return await list_rates(conn)

    async def disputes(
        self, *, status: str | None = "open", after: int = 0, limit: int = 100
    ) -> Page:
        from service.persistence.tables import disputes, weighings

        stmt = (
            sa.select(
                disputes,
                weighings.c.credited_kobo,
                weighings.c.total_grams,
                households.c.phone,
            )
            .join(households, households.c.id == disputes.c.household_id)
            .outerjoin(weighings, weighings.c.id == disputes.c.weighing_id)
        )
        if status:
            stmt = stmt.where(disputes.c.status == status)
        async with self.db.reader.connect() as conn:
            rows = list(
                (
                    await conn.execute(
                        stmt.where(disputes.c.id > after)
                        .order_by(disputes.c.id)
                        .limit(limit + 1)
                    )
                ).all()
            )
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            {
                "id": r.id,
                "household_id": r.household_id,
                "phone": r.phone,
                "weighing_id": r.weighing_id,
                "credited_kobo": r.credited_kobo,
                "total_grams": r.total_grams,
                "note": r.note,
                "status": r.status,
                "resolution": r.resolution,
                "created_at": _iso(r.created_at),
            }
            for r in rows
        ]
        return Page(items, rows[-1].id if more and rows else None)

    async def money_summary(self) -> dict[str, int]:
        """Headline money figures for the demo summary."""
        from service.persistence.tables import payouts, weighings

        async with self.db.reader.connect() as conn:

            async def one(stmt: Any) -> int:
                return int((await conn.execute(stmt)).scalar_one() or 0)

            summary = {
                "weighings": await one(
                    sa.select(sa.func.count()).select_from(weighings)
                ),
                "kg_grams": await one(sa.select(sa.func.sum(weighings.c.total_grams))),
                "credited_kobo": await one(
                    sa.select(sa.func.sum(weighings.c.credited_kobo))
                ),
            }
            for status in ("held", "submitted", "succeeded", "failed", "released"):
                summary[f"payouts_{status}"] = await one(
                    sa.select(sa.func.count())
                    .select_from(payouts)
                    .where(payouts.c.status == status)
                )
            summary["paid_kobo"] = await one(
                sa.select(sa.func.sum(payouts.c.amount_kobo)).where(
                    payouts.c.status == "succeeded"
                )
            )
        return summary


class PlanningViews:
    """Read-side queries for hubs, bikes, collectors, rounds and unlocated households."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def hubs(self) -> list[dict[str, Any]]:
        from service.persistence.tables import hubs

        rows = await Views(self.db)._rows(sa.select(hubs).order_by(hubs.c.id))
        return [{"id": r.id, "name": r.name, "lat": r.lat, "lon": r.lon} for r in rows]

    async def bikes(self) -> list[dict[str, Any]]:
        from service.persistence.tables import bikes

        rows = await Views(self.db)._rows(sa.select(bikes).order_by(bikes.c.id))
        return [
            {
                "id": r.id,
                "name": r.name,
                "hub_id": r.hub_id,
                "capacity_kg": r.capacity_kg,
                "shift_start_min": r.shift_start_min,
                "shift_end_min": r.shift_end_min,
                "speed_kmh": r.speed_kmh,
                "collector_id": r.collector_id,
                "active": r.active,
            }
            for r in rows
        ]

    async def collectors(self) -> list[dict[str, Any]]:
        from service.persistence.tables import bikes, collectors

        rows = await Views(self.db)._rows(
            sa.select(collectors).order_by(collectors.c.id)
        )
        ridden = await Views(self.db)._rows(
            sa.select(bikes.c.id, bikes.c.collector_id)
            .where(bikes.c.collector_id.is_not(None))
            .order_by(bikes.c.id)
        )
        return [
            {
                "id": r.id,
                "name": r.name,
                "phone": r.phone,
                "active": r.active,
                "bike_ids": [b.id for b in ridden if b.collector_id == r.id],
                "created_at": _iso(r.created_at),
            }
            for r in rows
        ]

    async def rounds(self, day: Any) -> list[dict[str, Any]]:
        from service.persistence.planning import rounds_for

        async with self.db.reader.connect() as conn:
            return await rounds_for(conn, day)

    async def unlocated(self) -> list[dict[str, Any]]:
        rows = await Views(self.db)._rows(
            sa.select(
                households.c.id,
                households.c.phone,
                households.c.name,
                households.c.address,
                households.c.location_source,
                households.c.lat,
            )
            .where(~usable_location())
            .order_by(households.c.id)
        )
        return [
            {
                "id": r.id,
                "phone": r.phone,
                "name": r.name,
                "address": r.address,
                "location_source": r.location_source,
                "reason": "no location" if r.lat is None else "too far from any hub",
            }
            for r in rows
        ]

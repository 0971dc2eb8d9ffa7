"""Read-side queries for the operator dashboard: the day, set-up lists, charts, exports.

The JSON API's views (service/views.py) stay as they are; what only /ops needs lives
here. Charts bucket by the service's local day and week: sums are grouped by UTC hour
in SQL and folded into local days in Python (a few thousand rows a year), and distinct
households per week are counted in SQL against week boundaries computed in Python, so
both work the same on SQLite and PostgreSQL and in any timezone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from service.domain.sms_parser import MATERIALS
from service.persistence.db import READONLY, Database
from service.persistence.planning import stops_query
from service.persistence.tables import (
    bikes,
    collectors,
    disputes,
    households,
    hubs,
    payouts,
    pickups,
    round_stops,
    rounds,
    vouchers,
    weighing_items,
    weighings,
)

PAYOUT_STATES = ("held", "submitted", "succeeded", "failed", "released")
CHART_MATERIALS = tuple(sorted(MATERIALS))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _hhmm(minutes: int | None) -> str | None:
    if minutes is None:
        return None
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


class OpsViews:
    """Queries on the reader engine for /ops; `tz` decides what a day and a week are."""

    def __init__(self, db: Database, tz: ZoneInfo) -> None:
        self.db = db
        self.tz = tz

    async def _rows(self, stmt: Any) -> list[Any]:
        async with self.db.reader.connect() as conn:
            conn = await conn.execution_options(**{READONLY: True})
            return list((await conn.execute(stmt)).all())

    def _utc(self, day: date) -> datetime:
        """Local midnight at the start of `day`, in UTC."""
        return datetime.combine(day, time.min, tzinfo=self.tz).astimezone(UTC)

    # the day ---------------------------------------------------------------------

    async def waiting_requests(self, limit: int = 2000) -> list[dict[str, Any]]:
        """Open pickup requests (not yet in a round), oldest first, with contact."""
        rows = await self._rows(
            sa.select(
                pickups.c.id,
                pickups.c.code,
                pickups.c.household_id,
                pickups.c.created_at,
                pickups.c.missed_reason,
                households.c.name,
                households.c.phone,
                households.c.address,
                households.c.lat,
                households.c.lon,
                households.c.location_source,
            )
            .join(households, households.c.id == pickups.c.household_id)
            .where(pickups.c.status == "open")
            .order_by(pickups.c.created_at, pickups.c.id)
            .limit(limit)
        )
        return [
            {
                "id": r.id,
                "code": r.code,
                "household_id": r.household_id,
                "name": r.name,
                "phone": r.phone,
                "address": r.address,
                "lat": r.lat,
                "lon": r.lon,
                "located": r.lat is not None,
                "location_source": r.location_source,
                "missed_reason": r.missed_reason,
                "created_at": _iso(r.created_at),
            }
            for r in rows
        ]

    async def rounds(self, day: date) -> list[dict[str, Any]]:
        """The day's current rounds with a summary per bike and every stop in order."""
        head = await self._rows(
            sa.select(
                rounds,
                bikes.c.name.label("bike"),
                collectors.c.name.label("collector"),
            )
            .join(bikes, bikes.c.id == rounds.c.bike_id)
            .outerjoin(collectors, collectors.c.id == rounds.c.collector_id)
            .where(rounds.c.day == day, rounds.c.status == "planned")
            .order_by(rounds.c.id)
        )
        if not head:
            return []
        stops = await self._rows(
            stops_query()
            .where(round_stops.c.round_id.in_([r.id for r in head]))
            .order_by(round_stops.c.round_id, round_stops.c.seq)
        )
        visits: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for s in stops:
            window = (
                f"{_hhmm(s.window_start_min)}-{_hhmm(s.window_end_min)}"
                if s.window_start_min is not None
                else None
            )
            visits[s.round_id].append(
                {
                    "seq": s.seq,
                    "trip": s.trip,
                    "arrival": _hhmm(s.arrival_min),
                    "window": window,
                    "pickup_id": s.pickup_id,
                    "code": s.code,
                    "status": s.status,
                    "missed_reason": s.missed_reason,
                    "name": s.name,
                    "phone": s.phone,
                    "address": s.address,
                    "lat": s.lat,
                    "lon": s.lon,
                    "expected_kg": round(float(s.expected_kg), 2),
                    "collected_kg": (
                        round(s.total_grams / 1000, 3)
                        if s.total_grams is not None
                        else None
                    ),
                }
            )
        out = []
        for r in head:
            stops_of = visits[r.id]
            out.append(
                {
                    "id": r.id,
                    "day": r.day.isoformat(),
                    "bike_id": r.bike_id,
                    "bike": r.bike,
                    "hub_id": r.hub_id,
                    "collector_id": r.collector_id,
                    "collector": r.collector,
                    "stops": r.stops,
                    "trips": r.trips,
                    "km": round(r.distance_m / 1000, 1),
                    "kg": round(float(r.load_kg), 1),
                    "hours": round((r.end_min - r.start_min) / 60, 1),
                    "start": _hhmm(r.start_min),
                    "end": _hhmm(r.end_min),
                    "done": sum(1 for v in stops_of if v["status"] == "done"),
                    "missed": sum(1 for v in stops_of if v["missed_reason"]),
                    "collected_kg": round(
                        sum(v["collected_kg"] or 0 for v in stops_of), 1
                    ),
                    "visits": stops_of,
                }
            )
        return out

    # set-up ------------------------------------------------------------------------

    async def hubs(self) -> list[dict[str, Any]]:
        rows = await self._rows(sa.select(hubs).order_by(hubs.c.id))
        return [{"id": r.id, "name": r.name, "lat": r.lat, "lon": r.lon} for r in rows]

    async def bikes(self) -> list[dict[str, Any]]:
        rows = await self._rows(
            sa.select(
                bikes,
                hubs.c.name.label("hub"),
                collectors.c.name.label("collector"),
            )
            .join(hubs, hubs.c.id == bikes.c.hub_id)
            .outerjoin(collectors, collectors.c.id == bikes.c.collector_id)
            .order_by(bikes.c.id)
        )
        return [
            {
                "id": r.id,
                "name": r.name,
                "hub_id": r.hub_id,
                "hub": r.hub,
                "capacity_kg": r.capacity_kg,
                "shift": f"{_hhmm(r.shift_start_min)}-{_hhmm(r.shift_end_min)}",
                "speed_kmh": r.speed_kmh,
                "collector_id": r.collector_id,
                "collector": r.collector,
                "active": r.active,
            }
            for r in rows
        ]

    async def collectors(self) -> list[dict[str, Any]]:
        rows = await self._rows(sa.select(collectors).order_by(collectors.c.id))
        return [
            {
                "id": r.id,
                "name": r.name,
                "phone": r.phone,
                "active": r.active,
                "created_at": _iso(r.created_at),
            }
            for r in rows
        ]

    async def dispute(self, dispute_id: int) -> dict[str, Any] | None:
        """One dispute's state and the weighing it is about."""
        rows = await self._rows(
            sa.select(disputes.c.id, disputes.c.status, disputes.c.weighing_id).where(
                disputes.c.id == dispute_id
            )
        )
        if not rows:
            return None
        r = rows[0]
        return {"id": r.id, "status": r.status, "weighing_id": r.weighing_id}

    # payouts -----------------------------------------------------------------------

    async def payouts(
        self, status: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Payouts newest first, with the destination number (operators only)."""
        stmt = sa.select(payouts).order_by(payouts.c.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(payouts.c.status == status)
        rows = await self._rows(stmt)
        return [
            {
                "id": r.id,
                "reference": r.reference,
                "household_id": r.household_id,
                "destination": r.destination,
                "kind": r.kind,
                "provider": r.provider,
                "amount_kobo": r.amount_kobo,
                "status": r.status,
                "attempts": r.attempts,
                "failure_reason": r.failure_reason,
                "created_at": _iso(r.created_at),
                "completed_at": _iso(r.completed_at),
            }
            for r in rows
        ]

    async def payout_states(self) -> list[dict[str, Any]]:
        """Count and kobo per payout state, every state listed (zero when none)."""
        rows = await self._rows(
            sa.select(
                payouts.c.status,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(payouts.c.amount_kobo), 0),
            ).group_by(payouts.c.status)
        )
        found = {r[0]: (int(r[1]), int(r[2])) for r in rows}
        return [
            {
                "status": s,
                "count": found.get(s, (0, 0))[0],
                "amount_kobo": found.get(s, (0, 0))[1],
            }
            for s in PAYOUT_STATES
        ]

    async def failure_reasons(self) -> list[dict[str, Any]]:
        """Failed payouts grouped by the provider's reason, most frequent first."""
        reason = sa.func.coalesce(payouts.c.failure_reason, "")
        rows = await self._rows(
            sa.select(
                reason.label("reason"),
                sa.func.count().label("n"),
                sa.func.sum(payouts.c.amount_kobo).label("kobo"),
            )
            .where(payouts.c.status == "failed")
            .group_by(reason)
            .order_by(sa.func.count().desc(), reason)
        )
        return [
            {
                "reason": r.reason or "(no reason given)",
                "count": int(r.n),
                "amount_kobo": int(r.kobo or 0),
            }
            for r in rows
        ]

    # charts ------------------------------------------------------------------------

    def _hour_bucket(self, column: Any) -> Any:
        """'YYYY-MM-DD HH' of a UTC timestamp column, in SQL."""
        if self.db.dialect == "sqlite":
            return sa.func.strftime("%Y-%m-%d %H", column)
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24")

    def _local_day(self, bucket: str) -> date:
        hour = datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC)
        return hour.astimezone(self.tz).date()

    async def _daily_sums(
        self,
        column: Any,
        value: Any,
        start: date,
        end: date,
        *where: Any,
        group: Any = None,
        joins: Any = None,
    ) -> dict[tuple[Any, date], int]:
        """sum(value) per (group, local day) for `column` within [start, end]."""
        bucket = self._hour_bucket(column).label("bucket")
        cols = [bucket, sa.func.sum(value).label("total")]
        groups: list[Any] = [bucket]
        if group is not None:
            cols.insert(0, group.label("grp"))
            groups.insert(0, group)
        stmt = sa.select(*cols)
        if joins is not None:
            stmt = stmt.select_from(joins)
        stmt = stmt.where(
            column >= self._utc(start),
            column < self._utc(end + timedelta(days=1)),
            *where,
        ).group_by(*groups)
        sums: dict[tuple[Any, date], int] = defaultdict(int)
        for r in await self._rows(stmt):
            key = r.grp if group is not None else None
            sums[(key, self._local_day(r.bucket))] += int(r.total or 0)
        return sums

    @staticmethod
    def _days(start: date, end: date) -> list[date]:
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]

    async def kg_per_material(self, start: date, end: date) -> dict[str, Any]:
        """kg weighed per material per local day, every day of the range listed."""
        sums = await self._daily_sums(
            weighings.c.collected_at,
            weighing_items.c.grams,
            start,
            end,
            group=weighing_items.c.material,
            joins=weighing_items.join(
                weighings, weighings.c.id == weighing_items.c.weighing_id
            ),
        )
        days = self._days(start, end)
        return {
            "days": [d.isoformat() for d in days],
            "materials": {
                m: [round(sums.get((m, d), 0) / 1000, 3) for d in days]
                for m in CHART_MATERIALS
            },
        }

    async def credit_flow(self, start: date, end: date) -> dict[str, Any]:
        """Credit issued for weighings vs credit redeemed (paid out or spent at a shop)."""
        issued = await self._daily_sums(
            weighings.c.collected_at,
            weighings.c.credited_kobo,
            start,
            end,
            weighings.c.credit_status == "credited",
        )
        paid = await self._daily_sums(
            payouts.c.completed_at,
            payouts.c.amount_kobo,
            start,
            end,
            payouts.c.status == "succeeded",
        )
        spent = await self._daily_sums(
            vouchers.c.claimed_at,
            vouchers.c.amount_kobo,
            start,
            end,
            vouchers.c.status == "claimed",
        )
        days = self._days(start, end)
        return {
            "days": [d.isoformat() for d in days],
            "issued_kobo": [issued.get((None, d), 0) for d in days],
            "redeemed_kobo": [
                paid.get((None, d), 0) + spent.get((None, d), 0) for d in days
            ],
        }

    async def active_households(self, start: date, end: date) -> dict[str, Any]:
        """Households with at least one weighing, per local week (Monday to Sunday)."""
        weeks = []
        monday = week_start(start)
        while monday <= end:
            weeks.append(monday)
            monday += timedelta(days=7)
        bounds = [self._utc(w) for w in weeks] + [
            self._utc(weeks[-1] + timedelta(days=7))
        ]
        at = weighings.c.collected_at
        week_no = sa.case(
            *((at < bounds[i + 1], i) for i in range(len(weeks))), else_=-1
        ).label("week_no")
        rows = await self._rows(
            sa.select(week_no, sa.func.count(sa.distinct(weighings.c.household_id)))
            .where(at >= bounds[0], at < bounds[-1])
            .group_by(week_no)
        )
        counts = {int(r[0]): int(r[1]) for r in rows}
        return {
            "weeks": [w.isoformat() for w in weeks],
            "households": [counts.get(i, 0) for i in range(len(weeks))],
        }

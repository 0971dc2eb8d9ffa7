"""Scheduled jobs (apscheduler 3): each job is one line that hands work to the service.

Only one process may run them (APScheduler's FAQ: job stores cannot be shared), so on
PostgreSQL the scheduler runs in whichever process holds an advisory lock; SQLite is
a single-process deployment. Cron times are converted to UTC (DST bugs in CronTrigger
are open upstream); jobs are idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncConnection

from service.domain.commands import (
    ExpireHolds,
    LocateHouseholds,
    PlanDay,
    SendReminders,
)

if TYPE_CHECKING:
    from service.bootstrap import Deps

log = logging.getLogger(__name__)
LEADER_LOCK_ID = 0x5245434F  # "RECO"
Job = Callable[[], Awaitable[object]]


def jobs(deps: Deps) -> list[tuple[str, float, Job]]:
    """(name, every seconds, job) for everything that runs on a timer."""
    return [
        ("poll-payouts", 5.0, lambda: deps.payout_dispatcher.poll_due()),
        (
            "expire-holds",
            60.0,
            lambda: deps.bus.handle(ExpireHolds(now=deps.clock.now())),
        ),
        ("locate-households", 60.0, lambda: deps.bus.handle(LocateHouseholds())),
    ]


def daily_jobs(deps: Deps) -> list[tuple[str, str, Job]]:
    """(name, local HH:MM, job): the evening plan for tomorrow and the morning reminder."""

    def tomorrow() -> PlanDay:
        return PlanDay(deps.clock.today() + timedelta(days=1))

    return [
        ("plan-tomorrow", deps.settings.plan_at, lambda: deps.bus.handle(tomorrow())),
        (
            "morning-reminder",
            deps.settings.reminder_at,
            lambda: deps.bus.handle(SendReminders(deps.clock.today())),
        ),
    ]


def utc_time_of(local_hhmm: str, deps: Deps) -> tuple[int, int]:
    """The UTC hour and minute of a local wall-clock time (cron runs in UTC)."""
    hour, minute = (int(x) for x in local_hhmm.split(":"))
    local = datetime.combine(
        deps.clock.today(), datetime.min.time(), tzinfo=deps.clock.tz
    )
    at = (local + timedelta(hours=hour, minutes=minute)).astimezone(UTC)
    return at.hour, at.minute


class Leader:
    """Holds the PostgreSQL advisory lock that makes this process the scheduler."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self.deps.db.dialect != "postgresql":
            return True
        self.conn = await self.deps.db.writer.connect()
        got = (
            await self.conn.exec_driver_sql(
                f"SELECT pg_try_advisory_lock({LEADER_LOCK_ID})"
            )
        ).scalar_one()
        if not got:
            await self.conn.close()
            self.conn = None
        return bool(got)

    async def release(self) -> None:
        if self.conn is not None:
            await self.conn.close()  # closing the session frees the lock
            self.conn = None


def build_scheduler(deps: Deps) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, every, job in jobs(deps):
        scheduler.add_job(
            _guarded(name, job),
            "interval",
            seconds=every,
            id=name,
            max_instances=1,
            coalesce=True,
        )
    for name, at, job in daily_jobs(deps):
        hour, minute = utc_time_of(at, deps)
        scheduler.add_job(
            _guarded(name, job),
            "cron",
            hour=hour,
            minute=minute,
            id=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    return scheduler


def _guarded(name: str, job: Job) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("scheduled job %s failed", name)

    run.__name__ = name
    return run

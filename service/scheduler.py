"""Scheduled jobs (apscheduler 3): each job is one line that hands work to the service.

Only one process may run them (APScheduler's FAQ: job stores cannot be shared), so on
PostgreSQL the scheduler runs in whichever process holds an advisory lock, and the
others stand by and take over when it dies; SQLite is a single-process deployment.
Even so, each run first claims its (job, due time) row in `job_runs`, so a job never
runs twice for one due time, whatever the processes believe. Cron times are converted
to UTC (DST bugs in CronTrigger are open upstream); jobs are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
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
from service.persistence import job_runs

if TYPE_CHECKING:
    from service.bootstrap import Deps

log = logging.getLogger(__name__)
OWNER = f"{socket.gethostname()}:{os.getpid()}"[:80]
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
        (
            "prune-job-runs",
            3600.0,
            lambda: job_runs.prune(deps.db, deps.clock.now() - timedelta(days=2)),
        ),
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
    """Holds the PostgreSQL advisory lock that makes this process the scheduler.

    The lock lives with one database session: when the process dies, PostgreSQL
    frees it and a standby's next `acquire` wins. `alive` notices a lost session
    (a restarted server, a cut network) so the holder steps down instead of
    scheduling without the lock.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self.deps.db.dialect != "postgresql":
            return True
        conn = await self.deps.db.writer.connect()
        try:
            got = (
                await conn.exec_driver_sql(
                    f"SELECT pg_try_advisory_lock({self.deps.settings.leader_lock_id:d})"
                )
            ).scalar_one()
        except BaseException:
            await _discard(conn)
            raise
        if not got:
            await conn.close()
            return False
        self.conn = conn
        return True

    async def alive(self) -> bool:
        if self.deps.db.dialect != "postgresql":
            return True
        if self.conn is None:
            return False
        try:
            await asyncio.wait_for(self.conn.exec_driver_sql("SELECT 1"), timeout=5)
        except Exception:
            return False
        return True

    async def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await _discard(conn)  # ending the session frees the lock


async def _discard(conn: AsyncConnection) -> None:
    """Close a connection and keep it out of the pool (its session held the lock)."""
    with suppress(Exception):
        await conn.invalidate()
    with suppress(Exception):
        await conn.close()


class Leadership:
    """Run the scheduler in exactly one process: stand by, take over, step down.

    Every `check_s` a standby tries the lock and the leader checks its session; a
    dead leader's lock is free as soon as PostgreSQL sees its session end, so a
    standby takes over within about `check_s` plus the server's detection time.
    """

    def __init__(self, deps: Deps, *, check_s: float = 2.0) -> None:
        self.deps = deps
        self.check_s = check_s
        self.leader = Leader(deps)
        self.scheduler: AsyncIOScheduler | None = None

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    async def step(self) -> None:
        """One check: gain or keep or lose the lead."""
        if self.scheduler is None:
            if await self.leader.acquire():
                self.scheduler = build_scheduler(self.deps)
                self.scheduler.start()
                self.deps.metrics.scheduler_leader.set(1)
                log.info("this process now runs the scheduled jobs (%s)", OWNER)
        elif not await self.leader.alive():
            log.warning("lost the scheduler lock's database session; standing by")
            await self.stop()

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        await self.leader.release()
        self.deps.metrics.scheduler_leader.set(0)

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("scheduler leadership check failed; retrying")
                    await self.stop()
                await asyncio.sleep(self.check_s)
        finally:
            await self.stop()


def build_scheduler(deps: Deps) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, every, job in jobs(deps):
        scheduler.add_job(
            _guarded(deps, name, job, every=every),
            "interval",
            seconds=every,
            id=name,
            max_instances=1,
            coalesce=True,
        )
    for name, at, job in daily_jobs(deps):
        hour, minute = utc_time_of(at, deps)
        scheduler.add_job(
            _guarded(deps, name, job, daily=(hour, minute)),
            "cron",
            hour=hour,
            minute=minute,
            id=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    return scheduler


def due_time(
    now: datetime, *, every: float | None = None, daily: tuple[int, int] | None = None
) -> datetime:
    """The due time a run at `now` belongs to: its interval slot or today's cron time."""
    if daily is not None:
        at = now.astimezone(UTC).replace(
            hour=daily[0], minute=daily[1], second=0, microsecond=0
        )
        return at if at <= now else at - timedelta(days=1)
    assert every is not None and every > 0
    epoch = now.astimezone(UTC).timestamp()
    return datetime.fromtimestamp(epoch - epoch % every, UTC)


def _guarded(
    deps: Deps,
    name: str,
    job: Job,
    *,
    every: float | None = None,
    daily: tuple[int, int] | None = None,
) -> Callable[[], Awaitable[None]]:
    """Run `job` once per due time across every process, and never let it raise."""

    async def run() -> None:
        due = due_time(deps.clock.now(), every=every, daily=daily)
        started = time.perf_counter()
        try:
            if not await job_runs.claim(deps.db, name, due, OWNER, deps.clock.now()):
                deps.metrics.scheduled_jobs.labels(name, "skipped").inc()
                log.info("job %s due %s already ran elsewhere", name, due.isoformat())
                return
            outcome = "ok"
            try:
                await job()
            except Exception as exc:
                outcome = f"failed: {type(exc).__name__}"
                log.exception("scheduled job %s failed", name)
            await job_runs.finish(deps.db, name, due, deps.clock.now(), outcome)
            deps.metrics.scheduled_jobs.labels(
                name, "ok" if outcome == "ok" else "failed"
            ).inc()
            deps.metrics.job_seconds.labels(name).observe(time.perf_counter() - started)
        except Exception:
            log.exception("could not record scheduled job %s", name)

    run.__name__ = name
    return run

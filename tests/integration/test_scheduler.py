"""Scheduled jobs run in one process at a time, and once per due time across all."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from service.bootstrap import Deps, build
from service.domain.commands import AddBike, AddHub, InboundSms
from service.domain.pluscodes import encode
from service.persistence.tables import job_runs
from service.scheduler import (
    Leadership,
    _guarded,
    build_scheduler,
    daily_jobs,
    due_time,
)
from tests.builders import random_phone
from tests.conftest import PG_URL


def test_due_time_of_interval_jobs_is_the_start_of_their_slot() -> None:
    at = datetime(2026, 11, 23, 8, 0, 7, 500_000, tzinfo=UTC)
    assert due_time(at, every=5) == datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)
    assert due_time(at, every=60) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_due_time_of_daily_jobs_is_the_latest_cron_time() -> None:
    before = datetime(2026, 11, 23, 16, 59, tzinfo=UTC)
    after = datetime(2026, 11, 23, 17, 0, 30, tzinfo=UTC)
    assert due_time(after, daily=(17, 0)) == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert due_time(before, daily=(17, 0)) == datetime(2026, 11, 22, 17, 0, tzinfo=UTC)


def _cron(deps: Deps) -> dict[str, tuple[str, str]]:
    """(hour, minute) in UTC of each daily job the scheduler would start."""
    scheduler = build_scheduler(deps)
    out = {}
    for name, _, _ in daily_jobs(deps):
        fields = {f.name: str(f) for f in scheduler.get_job(name).trigger.fields}
        out[name] = (fields["hour"], fields["minute"])
    return out


def test_evening_plan_and_morning_reminder_run_at_lagos_times(
    settings: Any, clock: Any, database: Any
) -> None:
    """18:00 and 07:00 in Lagos (UTC+1, no summer time) are 17:00 and 06:00 UTC;
    both times are settings."""
    deps = build(settings, clock=clock, db=database, background=[])
    assert _cron(deps) == {"plan-tomorrow": ("17", "0"), "morning-reminder": ("6", "0")}
    later = settings.model_copy(update={"plan_at": "20:30", "reminder_at": "06:45"})
    deps = build(later, clock=clock, db=database, background=[])
    assert _cron(deps) == {
        "plan-tomorrow": ("19", "30"),
        "morning-reminder": ("5", "45"),
    }


async def test_the_evening_job_plans_tomorrow(
    settings: Any, clock: Any, database: Any, fake_sms: Any
) -> None:
    """The plan-tomorrow job schedules today's open requests for tomorrow and texts
    the household, as `recoop plan --date <tomorrow>` would."""
    quick = settings.model_copy(update={"plan_seconds": 0.3})
    deps = build(quick, clock=clock, sms=fake_sms, db=database, background=[])
    hub = await deps.bus.handle(AddHub("Yaba hub", 6.5095, 3.3711))
    await deps.bus.handle(AddBike("bike-1", hub, capacity_kg=80))
    phone = random_phone()
    for n, body in enumerate([f"JOIN Ada, {encode(6.5063, 3.3726)}", "PICKUP"]):
        await deps.bus.handle(
            InboundSms("twilio", f"SMjob{n}", phone, body, deps.clock.now())
        )
    [job] = [job for name, _, job in daily_jobs(deps) if name == "plan-tomorrow"]
    summary: Any = await job()
    tomorrow = deps.clock.today() + timedelta(days=1)
    assert summary.day == tomorrow.isoformat() and summary.scheduled == 1
    [pickup] = (await deps.views.pickups(status="scheduled")).items
    assert pickup["phone"] == phone
    await deps.dispatcher.run_once()
    assert any(tomorrow.strftime("%a %d %b") in m for m in fake_sms.to(phone))


async def test_a_job_runs_once_per_due_time_even_from_two_processes(
    deps: Deps, settings: Any, clock: Any, database: Any
) -> None:
    """Two schedulers firing the same job for the same slot: one run, one skip."""
    other = build(settings, clock=clock, db=database, background=[])
    calls: list[str] = []

    async def job() -> None:
        calls.append("ran")
        await asyncio.sleep(0.01)

    first = _guarded(deps, "expire-holds", job, every=60)
    second = _guarded(other, "expire-holds", job, every=60)
    await asyncio.gather(first(), second(), first())
    assert calls == ["ran"]
    async with database.reader.connect() as conn:
        rows = (await conn.execute(sa.select(job_runs))).all()
    assert [(r.job, r.outcome) for r in rows] == [("expire-holds", "ok")]
    assert rows[0].finished_at is not None

    clock.advance(seconds=60)  # the next slot runs again
    await second()
    assert calls == ["ran", "ran"]
    skipped = deps.metrics.scheduled_jobs.labels("expire-holds", "skipped")
    assert (
        skipped._value.get()
        + other.metrics.scheduled_jobs.labels("expire-holds", "skipped")._value.get()
        == 2
    )


async def test_a_failing_job_is_recorded_and_does_not_raise(deps: Deps) -> None:
    async def job() -> None:
        raise RuntimeError("provider down")

    await _guarded(deps, "poll-payouts", job, every=5)()
    async with deps.db.reader.connect() as conn:
        row = (await conn.execute(sa.select(job_runs))).one()
    assert row.outcome == "failed: RuntimeError"
    assert (
        deps.metrics.scheduled_jobs.labels("poll-payouts", "failed")._value.get() == 1
    )


async def test_sqlite_process_always_leads(deps: Deps, db_kind: str) -> None:
    if db_kind != "sqlite":
        pytest.skip("PostgreSQL leadership is tested below")
    leadership = Leadership(deps)
    await leadership.step()
    assert leadership.is_leader
    await leadership.stop()


async def test_standby_takes_over_when_the_leaders_session_dies(
    settings: Any, clock: Any, database: Any, db_kind: str
) -> None:
    """One leader; kill its database session; the standby leads within a check."""
    if db_kind != "postgres":
        pytest.skip("advisory locks are a PostgreSQL feature")
    a = build(settings, clock=clock, db=database, background=[])
    b = build(settings, clock=clock, db=database, background=[])
    lead_a, lead_b = Leadership(a, check_s=0.05), Leadership(b, check_s=0.05)
    try:
        await lead_a.step()
        await lead_b.step()
        assert (lead_a.is_leader, lead_b.is_leader) == (True, False)
        assert a.metrics.scheduler_leader._value.get() == 1
        assert b.metrics.scheduler_leader._value.get() == 0

        # The leader's session is cut (a crash, a network cut, a server restart).
        assert lead_a.leader.conn is not None
        pid = (
            await lead_a.leader.conn.exec_driver_sql("SELECT pg_backend_pid()")
        ).scalar_one()
        admin = create_async_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        await admin.dispose()

        await lead_b.step()  # not yet noticed by anyone? PostgreSQL freed the lock
        if not lead_b.is_leader:
            await asyncio.sleep(0.2)
            await lead_b.step()
        assert lead_b.is_leader
        await lead_a.step()  # the old leader notices and stands down
        assert not lead_a.is_leader
        assert a.metrics.scheduler_leader._value.get() == 0
        await lead_a.step()  # and stays a standby while b leads
        assert not lead_a.is_leader
    finally:
        await lead_a.stop()
        await lead_b.stop()


async def test_leader_releases_the_lock_on_shutdown(
    settings: Any, clock: Any, database: Any, db_kind: str
) -> None:
    if db_kind != "postgres":
        pytest.skip("advisory locks are a PostgreSQL feature")
    a = build(settings, clock=clock, db=database, background=[])
    b = build(settings, clock=clock, db=database, background=[])
    lead_a, lead_b = Leadership(a), Leadership(b)
    await lead_a.step()
    await lead_a.stop()
    await lead_b.step()
    assert lead_b.is_leader
    await lead_b.stop()


async def test_a_plan_of_a_day_holds_other_processes_back(
    settings: Any, database: Any, db_target: Any, db_kind: str
) -> None:
    """While one process plans a day, another (its own event loop and engine: only
    the database's lock is shared: PostgreSQL's advisory lock, or the lock file
    beside the SQLite file) waits, gives up with a clear refusal, and gets the
    lock once the first is done. On PostgreSQL another day is not held back."""
    from service.domain.errors import Refused
    from service.persistence.db import create_database
    from service.planning import _day_lock

    url, connect_args = db_target
    day = date(2026, 11, 24)

    def elsewhere(on: date, wait_s: float) -> str:
        async def attempt() -> str:
            db = create_database(url, connect_args=connect_args)
            try:
                async with _day_lock(db, settings, on, wait_s=wait_s):
                    return "planned"
            except Refused as exc:
                return str(exc)
            finally:
                await db.dispose()

        return asyncio.run(attempt())

    async with _day_lock(database, settings, day, wait_s=1):
        held = await asyncio.to_thread(elsewhere, day, 0.6)
        other_day = await asyncio.to_thread(elsewhere, date(2026, 11, 25), 0.6)
    assert (
        held
        == "another plan of 2026-11-24 is still running; try again when it has finished"
    )
    # SQLite's one lock file serialises every day's plans.
    assert other_day == (
        "planned" if db_kind == "postgres" else held.replace("11-24", "11-25")
    )
    assert await asyncio.to_thread(elsewhere, day, 0.6) == "planned"

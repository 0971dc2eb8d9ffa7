"""Planning handlers: tomorrow's rounds, reminders, re-plans, and where households are."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import hashlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from typing import Any

from routes_planner import Bike, Hub, Problem, Stop, plan
from service.clock import Clock
from service.domain.commands import (
    LocateHouseholds,
    PinLocation,
    PlanDay,
    SendReminders,
    SetWeeklyDay,
)
from service.domain.errors import InvalidInput, NotFound, Refused
from service.domain.events import SmsQueued
from service.domain.model import new_pickup_code
from service.domain.replies import render
from service.gateways.geocoding import Geocoder
from service.metrics import Metrics
from service.persistence import planning as pdb
from service.persistence.db import READONLY, Database
from service.persistence.tables import (
    geocode_cache,
    households,
)
from service.settings import Settings
from service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
WINDOW_MIN = 120
DEFAULT_EXPECTED_KG = 5.0


@dataclass
class PlanSummary:
    """What a planning run did, for the operator."""

    day: str
    rounds: int = 0
    scheduled: int = 0
    unplanned: dict[str, str] = field(default_factory=dict)  # pickup code -> reason
    unlocated: int = 0
    weekly_created: int = 0
    notified: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "rounds": self.rounds,
            "scheduled": self.scheduled,
            "unplanned": [
                {"code": c, "reason": r} for c, r in sorted(self.unplanned.items())
            ],
            "unlocated": self.unlocated,
            "weekly_created": self.weekly_created,
            "notified": self.notified,
        }


def window_around(
    arrival_min: float,
    shift_start: int,
    shift_end: int,
    not_before: int | None = None,
) -> tuple[int, int]:
    """A two-hour window on the half hour that contains the planned arrival.

    ``not_before`` (a re-plan during the day: minutes after midnight) keeps the
    window from opening before the re-plan: it then opens on the half hour
    before it, which is still no later than the arrival.
    """
    start = int((arrival_min - WINDOW_MIN / 2) // 30 * 30)
    start = max(shift_start, min(start, shift_end - WINDOW_MIN))
    if not_before is not None:
        start = max(start, min(not_before // 30 * 30, int(arrival_min)))
    start = max(0, min(start, 24 * 60 - WINDOW_MIN))
    return start, start + WINDOW_MIN


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def local_instant(clock: Clock, day: date, minutes: int) -> datetime:
    local = datetime.combine(day, time.min, tzinfo=clock.tz) + timedelta(
        minutes=minutes
    )
    return local.astimezone(UTC)


async def plan_day(
    cmd: PlanDay,
    uow: UnitOfWork,
    *,
    clock: Clock,
    settings: Settings,
    db: Database,
    uow_factory: Callable[[], UnitOfWork],
    metrics: Metrics | None = None,
) -> PlanSummary:
    """Plan the day, schedule each pickup with a bike and a 2-hour window, and tell
    households and collectors by SMS (a changed window sends a new SMS; an unchanged
    one does not, because the outbox key carries the window).

    A day that has passed is refused; today is planned from now on. With
    ``without_bikes`` (a re-plan) each must be a bike still in the day's plans,
    and the bikes dropped by earlier re-plans of the day stay out too (a plan of
    the whole day, without ``without_bikes``, takes every active bike again). Plans of one
    day run one at a time: a second waits for the first, then re-plans.
    """
    now_local = clock.now().astimezone(clock.tz)
    today = now_local.date()
    if cmd.day < today:
        raise InvalidInput(
            f"{cmd.day.isoformat()} has passed: plan today or a day to come"
        )
    if cmd.day == today:
        # Nothing can be promised for a time already gone.
        minute = now_local.hour * 60 + now_local.minute
        cmd = dataclasses.replace(cmd, from_min=max(cmd.from_min or 0, minute))
    budget = cmd.seconds or settings.plan_seconds
    async with _day_lock(db, settings, cmd.day, wait_s=2 * budget + 30):
        return await _plan_day(
            cmd,
            uow,
            clock=clock,
            settings=settings,
            db=db,
            uow_factory=uow_factory,
            metrics=metrics,
        )


# One plan per database and day at a time in this process (by event loop, which
# an asyncio lock belongs to); the PostgreSQL lock covers the other processes.
_DAY_LOCKS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, date], asyncio.Lock]
] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _day_lock(
    db: Database, settings: Settings, day: date, *, wait_s: float
) -> AsyncIterator[None]:
    """Hold the lock on planning ``day``: in this process, and one the other
    processes see too (on PostgreSQL an advisory lock keyed by the deployment's
    lock id and the day; on SQLite a lock on a file beside the database).
    Refused after ``wait_s`` seconds of waiting."""
    busy = Refused(
        f"another plan of {day.isoformat()} is still running; "
        "try again when it has finished"
    )
    loop = asyncio.get_running_loop()
    give_up = loop.time() + wait_s
    locks = _DAY_LOCKS.setdefault(loop, {})
    lock = locks.setdefault((str(db.writer.url), day), asyncio.Lock())
    try:
        await asyncio.wait_for(lock.acquire(), timeout=wait_s)
    except TimeoutError:
        raise busy from None
    try:
        if db.dialect == "postgresql":
            key = (settings.leader_lock_id % 2**31, day.toordinal())
            async with _advisory_lock(db, key, give_up, busy):
                yield
        else:
            async with _file_lock(db, give_up, busy):
                yield
    finally:
        lock.release()


@asynccontextmanager
async def _advisory_lock(
    db: Database, key: tuple[int, int], give_up: float, busy: Exception
) -> AsyncIterator[None]:
    """A PostgreSQL session advisory lock on ``key``, on a connection of its own
    in autocommit (no transaction left open through the solve). A session that
    may still hold the lock never goes back to the pool."""
    conn = await db.writer.connect()
    held = False
    try:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        while not held:
            got = await conn.exec_driver_sql(
                f"SELECT pg_try_advisory_lock({key[0]}, {key[1]})"
            )
            held = bool(got.scalar_one())
            if not held:
                if asyncio.get_running_loop().time() >= give_up:
                    raise busy
                await asyncio.sleep(0.25)
        yield
    except BaseException:
        await _discard(conn)
        raise
    try:
        await conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key[0]}, {key[1]})")
    except Exception:
        # The plan is done and committed; a lost session freed the lock anyway.
        log.warning("planning lock: the unlock failed; dropping its connection")
        await _discard(conn)
        return
    await conn.close()


async def _discard(conn: Any) -> None:
    with suppress(Exception):
        await conn.invalidate()
    with suppress(Exception):
        await conn.close()


@asynccontextmanager
async def _file_lock(
    db: Database, give_up: float, busy: Exception
) -> AsyncIterator[None]:
    """An exclusive lock on ``<database file>.plan-lock`` (none for an in-memory
    database): a `recoop plan` beside `recoop serve` waits its turn."""
    path = db.writer.url.database
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.plan-lock", "a+b") as fh:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if asyncio.get_running_loop().time() >= give_up:
                    raise busy from None
                await asyncio.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


async def _plan_day(
    cmd: PlanDay,
    uow: UnitOfWork,
    *,
    clock: Clock,
    settings: Settings,
    db: Database,
    uow_factory: Callable[[], UnitOfWork],
    metrics: Metrics | None = None,
) -> PlanSummary:
    now = clock.now()
    summary = PlanSummary(day=cmd.day.isoformat())
    if not cmd.without_bikes:
        summary.weekly_created = await _weekly_pickups(uow_factory(), cmd.day, now)

    async with db.reader.connect() as conn:
        conn = await conn.execution_options(**{READONLY: True})
        hub_rows = await pdb.all_hubs(conn)
        left_out = set(cmd.without_bikes)
        if cmd.without_bikes:
            left_out |= await _dropped_out(conn, cmd)
        bike_rows = [b for b in await pdb.active_bikes(conn) if b.id not in left_out]
        pickup_rows = await pdb.plannable_pickups(conn, cmd.day)
        # A re-plan during the day starts each bike from where it was last seen.
        out = {} if cmd.from_min is None else await pdb.bikes_out(conn, cmd.day)
        history = await pdb.average_grams(conn, [p.household_id for p in pickup_rows])
        summary.unlocated = await pdb.unlocated_open_pickups(conn)

    by_id = {str(p.id): p for p in pickup_rows}
    bike_by_id = {str(b.id): b for b in bike_rows}
    routes: list[Any] = []
    carried: dict[str, float] = {}
    if hub_rows and bike_rows and pickup_rows:
        problem = _problem(cmd, hub_rows, bike_rows, pickup_rows, history, out, clock)
        carried = {b.id: b.load_kg for b in problem.bikes}
        params = settings.planner_params(cmd.seconds)
        started = perf_counter()
        result = await asyncio.to_thread(plan, problem, params)
        routes = list(result.rounds)
        if metrics is not None:
            metrics.planner_seconds.observe(perf_counter() - started)
            metrics.planner_last.labels("served").set(
                len(pickup_rows) - len(result.unplanned)
            )
            metrics.planner_last.labels("unplanned").set(len(result.unplanned))
            metrics.planner_last.labels("rounds").set(len(routes))
            metrics.planner_last.labels("km").set(
                sum(r.distance_m for r in routes) / 1000
            )
        for missing in result.unplanned:
            summary.unplanned[by_id[missing.stop_id].code] = missing.reason
    else:
        reason = "no hubs" if not hub_rows else "no bikes available"
        for p in pickup_rows:
            summary.unplanned[p.code] = reason

    day_text = cmd.day.strftime("%a %d %b")
    async with uow:
        conn = uow.conn
        await pdb.supersede_rounds(conn, cmd.day, dropped=cmd.without_bikes, now=now)
        scheduled: set[int] = set()
        for route in routes:
            bike = bike_by_id[route.bike_id]
            visits = [
                (trip_no, v)
                for trip_no, trip in enumerate(route.trips)
                for v in trip.visits
            ]
            if not visits:
                continue
            round_id = await pdb.add_round(
                conn,
                day=cmd.day,
                bike_id=bike.id,
                hub_id=bike.hub_id,
                collector_id=bike.collector_id,
                status="planned",
                stops=len(visits),
                trips=len(route.trips),
                distance_m=int(route.distance_m),
                load_kg=float(sum(t.load_kg for t in route.trips)),
                start_min=int(route.start_min),
                end_min=round(route.end_min),
                # Starting where the bike is, its first trip carries what it had.
                start_load_kg=None
                if route.start_at is None
                else carried[route.bike_id],
                planned_at=now,
            )
            summary.rounds += 1
            stop_rows = []
            for seq, (trip_no, visit) in enumerate(visits, start=1):
                pickup = by_id[visit.stop_id]
                start, end = window_around(
                    visit.arrival_min,
                    bike.shift_start_min,
                    bike.shift_end_min,
                    not_before=cmd.from_min,
                )
                promised = (
                    pickup.window_start_min
                    if pickup.status == "scheduled" and pickup.scheduled_day == cmd.day
                    else None
                )
                if (
                    promised is not None
                    and promised <= visit.arrival_min <= promised + WINDOW_MIN
                ):
                    # The window already texted still holds: keep it (no new text).
                    start, end = promised, promised + WINDOW_MIN
                stop_rows.append(
                    {
                        "round_id": round_id,
                        "pickup_id": pickup.id,
                        "seq": seq,
                        "trip": trip_no + 1,
                        "arrival_min": round(visit.arrival_min),
                        "expected_kg": _expected_kg(history, pickup.household_id),
                    }
                )
                await pdb.schedule_pickup(
                    conn,
                    pickup.id,
                    day=cmd.day,
                    start=start,
                    end=end,
                    round_id=round_id,
                    now=now,
                )
                scheduled.add(pickup.id)
                if start == promised:
                    continue  # the window already texted holds: no new text
                uow.emit(
                    SmsQueued(
                        pickup.phone,
                        render(
                            "pickup_scheduled",
                            pickup.language,
                            day=day_text,
                            window=f"{hhmm(start)}-{hhmm(end)}",
                            code=pickup.code,
                        ),
                        # A new window (of this plan's round) is a new text, also
                        # one going back to a window texted before (A, B, A).
                        key=f"sched:{pickup.id}:{cmd.day}:{start}:r{round_id}",
                        # Still worth sending while the window is open (a
                        # re-plan during the day texts windows already begun).
                        expires_at=local_instant(clock, cmd.day, end),
                    )
                )
                summary.notified += 1
            await pdb.add_round_stops(conn, stop_rows)
            if bike.collector_phone:
                # One text per rider and list of stops: a re-plan that leaves a
                # rider's stops as they were sends none (their link follows the
                # bike to its new round).
                stops_seen = ",".join(str(row["pickup_id"]) for row in stop_rows)
                digest = hashlib.sha256(stops_seen.encode()).hexdigest()[:16]
                uow.emit(
                    round_link_sms(
                        settings,
                        clock,
                        bike.collector_phone,
                        round_id=round_id,
                        day=cmd.day,
                        stops=len(visits),
                        until_min=bike.shift_end_min,
                        key=f"round:{cmd.day}:{bike.id}:{bike.collector_id}:{digest}",
                    )
                )
        summary.scheduled = len(scheduled)
        for p in pickup_rows:
            if p.status == "scheduled" and p.id not in scheduled:
                # Promised today, no longer possible: say so, and plan it another day.
                await pdb.unschedule_pickup(conn, p.id, now)
                uow.emit(
                    SmsQueued(
                        p.phone,
                        render("pickup_postponed", p.language, code=p.code),
                        # Per promise: one postponed again later is told again.
                        key=f"postponed:{p.id}:{cmd.day}:{p.window_start_min}",
                    )
                )
        await uow.commit()
    log.info(
        "planned %s: %d rounds, %d stops, %d left, %d without location",
        cmd.day,
        summary.rounds,
        summary.scheduled,
        len(summary.unplanned),
        summary.unlocated,
    )
    return summary


async def _dropped_out(conn: Any, cmd: PlanDay) -> set[int]:
    """Check the bikes of a re-plan (each exists and is still in the day) and
    return those earlier re-plans of the day took out."""
    missing = set(cmd.without_bikes) - await pdb.existing_bikes(conn, cmd.without_bikes)
    if missing:
        raise NotFound(f"no bike {min(missing)}")
    latest = await pdb.round_bikes(conn, cmd.day)
    day = cmd.day.isoformat()
    for bike_id in cmd.without_bikes:
        status = latest.get(bike_id)
        if status == "dropped":
            raise Refused(f"bike {bike_id} dropped out of {day} already")
    return {bike_id for bike_id, status in latest.items() if status == "dropped"}


def round_link_sms(
    settings: Settings,
    clock: Clock,
    phone: str,
    *,
    round_id: int,
    day: date,
    stops: int,
    until_min: int,
    key: str,
) -> SmsQueued:
    """The text that gives a collector the link to a round (worth sending until
    the shift ends)."""
    link = f"{settings.public_base_url.rstrip('/')}/collector?round={round_id}"
    return SmsQueued(
        phone,
        render(
            "collector_round" if stops != 1 else "collector_round_one",
            "en",
            day=day.strftime("%a %d %b"),
            count=str(stops),
            link=link,
        ),
        key=key,
        expires_at=local_instant(clock, day, until_min),
    )


def _expected_kg(history: dict[int, float], household_id: int) -> float:
    grams = history.get(household_id)
    return round(grams / 1000, 2) if grams else DEFAULT_EXPECTED_KG


def _problem(
    cmd: PlanDay,
    hub_rows: list[Any],
    bike_rows: list[Any],
    pickup_rows: list[Any],
    history: dict[int, float],
    out: dict[int, pdb.BikeOut],
    clock: Clock,
) -> Problem:
    stops = []
    for p in pickup_rows:
        created = p.created_at.astimezone(clock.tz).date()
        stops.append(
            Stop(
                id=str(p.id),
                lat=float(p.lat),
                lon=float(p.lon),
                expected_kg=_expected_kg(history, p.household_id),
                service_min=5.0,
                waiting_days=max(0, (cmd.day - created).days),
            )
        )
    fleet = []
    for b in bike_rows:
        start = (
            b.shift_start_min
            if cmd.from_min is None
            else max(b.shift_start_min, cmd.from_min)
        )
        if start + 30 > b.shift_end_min:
            continue
        seen = out.get(b.id)
        fleet.append(
            Bike(
                id=str(b.id),
                hub_id=str(b.hub_id),
                capacity_kg=float(b.capacity_kg),
                shift_start_min=start,
                shift_end_min=b.shift_end_min,
                speed_kmh=float(b.speed_kmh),
                start_at=None if seen is None else (seen.lat, seen.lon),
                # A collector may have squeezed in more than the plan said.
                load_kg=0.0 if seen is None else min(seen.load_kg, b.capacity_kg),
            )
        )
    depots = [Hub(id=str(h.id), lat=float(h.lat), lon=float(h.lon)) for h in hub_rows]
    return Problem(stops=stops, bikes=fleet, hubs=depots)


async def _weekly_pickups(uow: UnitOfWork, day: date, now: datetime) -> int:
    """Open a pickup for every weekly subscriber of this weekday that has none."""
    async with uow:
        ids = await pdb.weekly_households_without_pickup(uow.conn, day.weekday())
        for household_id in ids:
            await uow.pickups.add(
                household_id=household_id,
                code=new_pickup_code(),
                now=now,
                source_message_id=None,
            )
        await uow.commit()
    return len(ids)


async def send_reminders(cmd: SendReminders, uow: UnitOfWork, *, clock: Clock) -> int:
    """Remind each household scheduled today (once per pickup and window)."""
    async with uow:
        rows = await pdb.scheduled_for(uow.conn, cmd.day)
        for p in rows:
            window = f"{hhmm(p.window_start_min)}-{hhmm(p.window_end_min)}"
            uow.emit(
                SmsQueued(
                    p.phone,
                    render("pickup_reminder", p.language, window=window, code=p.code),
                    key=f"remind:{p.id}:{cmd.day}:{p.window_start_min}",
                    expires_at=local_instant(clock, cmd.day, p.window_end_min),
                )
            )
        await uow.commit()
    return len(rows)


async def locate_households(
    cmd: LocateHouseholds,
    uow: UnitOfWork,
    *,
    clock: Clock,
    settings: Settings,
    geocoder: Geocoder,
) -> int:
    """Geocode addresses without a location; a miss sends the household to operators."""
    now = clock.now()
    async with uow:
        todo = await pdb.households_to_locate(uow.conn, cmd.limit)
        located = 0
        for row in todo:
            query = " ".join(f"{row.address}{settings.geocode_suffix}".lower().split())[
                :240
            ]
            found, cached = await pdb.cached_geocode(uow.conn, query)
            if found:
                point = (cached.lat, cached.lon) if cached.lat is not None else None
            else:
                try:
                    point = await geocoder.geocode(query)
                except (
                    Exception
                ):  # the geocoder being down is not the household's fault
                    log.warning("geocoding unavailable; will try again later")
                    break
                await uow.conn.execute(
                    geocode_cache.insert().values(
                        query=query,
                        lat=point[0] if point else None,
                        lon=point[1] if point else None,
                        created_at=now,
                    )
                )
            if point is None:
                await pdb.set_looked_up_location(
                    uow.conn, row.id, None, None, "failed", now
                )
            else:
                await pdb.set_looked_up_location(
                    uow.conn, row.id, point[0], point[1], "geocoded", now
                )
                located += 1
        await uow.commit()
    return located


async def pin_location(cmd: PinLocation, uow: UnitOfWork, *, clock: Clock) -> None:
    """A GPS pin from the doorstep replaces a geocoded or typed location."""
    if not (-90 <= cmd.lat <= 90 and -180 <= cmd.lon <= 180):
        raise InvalidInput("lat must be within ±90 and lon within ±180")
    async with uow:
        if await pdb.far_from_hubs(uow.conn, cmd.lat, cmd.lon):
            raise InvalidInput(
                f"{cmd.lat:.5f}, {cmd.lon:.5f} is more than about 20 km from every hub: "
                "check the point (is it lat, lon?)"
            )
        result = await uow.conn.execute(
            households.update()
            .where(households.c.id == cmd.household_id)
            .values(
                lat=cmd.lat,
                lon=cmd.lon,
                location_source=cmd.source,
                updated_at=clock.now(),
            )
        )
        if result.rowcount != 1:
            raise NotFound(f"no household {cmd.household_id}")
        await uow.commit()


async def set_weekly_day(cmd: SetWeeklyDay, uow: UnitOfWork, *, clock: Clock) -> None:
    if cmd.weekday is not None and not 0 <= cmd.weekday <= 6:
        raise InvalidInput("weekday is 0 (Monday) to 6 (Sunday), or null")
    async with uow:
        result = await uow.conn.execute(
            households.update()
            .where(households.c.id == cmd.household_id)
            .values(weekly_day=cmd.weekday, updated_at=clock.now())
        )
        if result.rowcount != 1:
            raise NotFound(f"no household {cmd.household_id}")
        await uow.commit()

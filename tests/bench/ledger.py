"""Credited weighings per second through the real handler, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from service.bootstrap import Deps, build
from service.clock import SystemClock
from service.domain.commands import LogWeights, SetRate
from service.domain.sms_parser import MATERIALS, PICKUP_CODE_ALPHABET
from service.gateways import OutboundSms, SendResult
from service.money import WeighingAnswer
from service.money_batch import LogWeightsBatch, log_weights_batch
from service.persistence.db import Database, create_database
from service.persistence.ledger import cached_balances_agree, trial_balance
from service.persistence.tables import (
    accounts,
    households,
    metadata,
    outbox,
    pickups,
    transfers,
    weighings,
)
from service.settings import Settings

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
# Targets from issue 3 ("How it is checked"), on PostgreSQL.
TARGET_ONE, TARGET_BATCHED = 500.0, 3_000.0
RATES = {"PET": 5_000, "HDPE": 4_000, "ALU": 30_000, "SACHET": 2_500, "GLASS": 1_000}
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------


def wait_for_quiet(max_load: float, max_wait: float) -> float:
    """Poll the 1-minute load until it is at most `max_load` (or `max_wait` passes)."""
    deadline = time.monotonic() + max_wait
    while True:
        load1 = os.getloadavg()[0]
        if load1 <= max_load:
            return load1
        if time.monotonic() >= deadline:
            print(f"  ! still busy after {max_wait:.0f} s: 1-min load {load1:.2f}")
            return load1
        print(f"  waiting for a quieter machine: 1-min load {load1:.2f}", flush=True)
        time.sleep(15)


def _postgres_ticks() -> dict[int, int]:
    """CPU ticks used so far by each process named postgres (same machine only)."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name_end = stat.rfind(")")
        if stat[stat.find("(") + 1 : name_end] != "postgres":
            continue
        fields = stat[name_end + 2 :].split()
        ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def machine_cores(before: tuple[int, int]) -> float:
    """Cores busy on the whole machine since `before` (us, PostgreSQL and others)."""
    busy, total = _machine_ticks()
    return (busy - before[0]) / max(1, total - before[1]) * (os.cpu_count() or 1)


def postgres_cores(before: dict[int, int], seconds: float) -> float:
    """Cores PostgreSQL used since `before` (backends started since count from 0)."""
    after = _postgres_ticks()
    used = sum(max(0, t - before.get(pid, 0)) for pid, t in after.items())
    return used / TICKS / seconds


# ---------------------------------------------------------------------------
# Service wiring
# ---------------------------------------------------------------------------


class NullSms:
    """An SMS gateway that sends nothing (no background task runs anyway)."""

    name = "null"

    async def send(self, msg: OutboundSms) -> SendResult:
        return SendResult(provider_id=None, status="delivered")


@dataclass
class Target:
    """One empty database: where it lives and how to remove it."""

    name: str
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def sqlite_target() -> AsyncIterator[Target]:
    folder = tempfile.mkdtemp(prefix="recoop-bench-ledger-", dir="/tmp")
    try:
        yield Target("sqlite", f"sqlite+aiosqlite:///{folder}/bench.db")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def postgres_target(url: str) -> AsyncIterator[Target]:
    schema = "bench_ledger_" + uuid.uuid4().hex[:10]
    admin = create_async_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            yield Target("postgres", url, {"server_settings": {"search_path": schema}})
        finally:
            async with admin.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.dispose()


def pickup_code(index: int) -> str:
    """A unique 6-character code in the pickup alphabet for each index."""
    base = len(PICKUP_CODE_ALPHABET)
    chars = []
    for _ in range(6):
        index, digit = divmod(index, base)
        chars.append(PICKUP_CODE_ALPHABET[digit])
    return "".join(reversed(chars))


async def seed(db: Database, n: int, now: datetime) -> list[str]:
    """Schema, then n households with one open pickup each; returns the pickup codes."""
    async with db.writer.begin() as conn:
        await conn.run_sync(metadata.create_all)
    codes = [pickup_code(i + 1) for i in range(n)]
    async with db.writer.begin() as conn:
        await conn.execute(
            households.insert(),
            [
                {
                    "id": i + 1,
                    "phone": f"+23480{i + 1:08d}",
                    "name": f"Household {i + 1}",
                    "address": f"{i + 1} Bench Street, Yaba",
                    "language": "en",
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n)
            ],
        )
        await conn.execute(
            pickups.insert(),
            [
                {
                    "id": i + 1,
                    "code": code,
                    "household_id": i + 1,
                    "status": "open",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, code in enumerate(codes)
            ],
        )
        if db.dialect == "postgresql":
            # Explicit ids above: move the sequences past them.
            for table in ("households", "pickups"):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})"
                )
    return codes


def make_commands(codes: Sequence[str], now: datetime, seed_: int) -> list[LogWeights]:
    """One weighing per pickup: 1-3 materials, 0.1-6 kg each, a client key each."""
    rng = random.Random(seed_)
    materials = sorted(MATERIALS)
    commands = []
    for code in codes:
        chosen = rng.sample(materials, rng.randint(1, 3))
        commands.append(
            LogWeights(
                pickup_code=code,
                items=tuple((m, rng.randint(100, 6_000)) for m in chosen),
                collected_at=now,
                idempotency_key=uuid.UUID(int=rng.getrandbits(128)).hex,
                collector="bench-collector",
                lat=6.5 + rng.random() / 10,
                lon=3.35 + rng.random() / 10,
            )
        )
    return commands


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


@dataclass
class Result:
    database: str
    mode: str
    n: int
    seconds: float
    statements: int
    errors: int
    py_cpu: float  # cores used by this process
    pg_cpu: float | None  # cores used by PostgreSQL
    all_cpu: float  # cores busy on the whole machine
    invariants: list[str] | None = None  # None: not checked (raw reference)
    reference: Result | None = None

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else 0.0


async def pooled(jobs: Sequence[Callable[[], Awaitable[Any]]], concurrency: int) -> int:
    """Run jobs with `concurrency` workers (a busy API); returns the failures."""
    queue = iter(jobs)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for job in queue:
            try:
                await job()
            except Exception as exc:  # counted and shown, never hidden
                failures += 1
                if failures <= 3:
                    print(f"  ! {type(exc).__name__}: {exc}", flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


async def bursts(jobs: Sequence[Callable[[], Awaitable[Any]]], size: int) -> int:
    """Send `size` requests at once, wait for every answer, send the next burst."""
    failures = 0
    for start in range(0, len(jobs), size):
        outcomes = await asyncio.gather(
            *(job() for job in jobs[start : start + size]), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                failures += 1
                if failures <= 3:
                    print(f"  ! {type(outcome).__name__}: {outcome}", flush=True)
    return failures


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    return (items[i : i + size] for i in range(0, len(items), size))


async def check_invariants(db: Database, n: int) -> list[str]:
    """Every ledger invariant after a run; an empty list when all hold."""
    problems: list[str] = []

    async def scalar(conn: Any, stmt: Any) -> int:
        return int((await conn.execute(stmt)).scalar_one() or 0)

    async with db.writer.connect() as conn:
        total = sum(row[2] for row in await trial_balance(conn))
        if total != 0:
            problems.append(f"trial balance total {total}")
        problems.extend(await cached_balances_agree(conn))
        is_household = accounts.c.name.like("household:%")
        available = (
            accounts.c.credits_posted
            - accounts.c.debits_posted
            - accounts.c.debits_pending
        )
        below = await scalar(
            conn,
            sa.select(sa.func.count()).where(is_household, available < 0),
        )
        if below:
            problems.append(f"{below} households below zero")
        count = await scalar(conn, sa.select(sa.func.count()).select_from(weighings))
        if count != n:
            problems.append(f"{count} weighings, expected {n}")
        owed = await scalar(
            conn,
            sa.select(
                sa.func.sum(accounts.c.credits_posted - accounts.c.debits_posted)
            ).where(is_household),
        )
        credited = await scalar(conn, sa.select(sa.func.sum(weighings.c.credited_kobo)))
        if owed != credited:
            problems.append(
                f"households hold {owed} kobo, weighings credited {credited}"
            )
        capped = await scalar(
            conn,
            sa.select(sa.func.count()).where(weighings.c.credit_status != "credited"),
        )
        if capped:
            problems.append(f"{capped} weighings not credited (cap hit)")
        credits = await scalar(
            conn, sa.select(sa.func.count()).where(transfers.c.kind == "weighing")
        )
        if credits != n:
            problems.append(f"{credits} credit transfers, expected {n}")
        receipts = await scalar(conn, sa.select(sa.func.count()).select_from(outbox))
        if receipts != n:
            problems.append(f"{receipts} receipt SMS queued, expected {n}")
        still_open = await scalar(
            conn, sa.select(sa.func.count()).where(pickups.c.status != "done")
        )
        if still_open:
            problems.append(f"{still_open} pickups not done")
    return problems


async def measure(
    target: Target,
    mode: str,
    n: int,
    args: argparse.Namespace,
    runner: Callable[[Deps, list[LogWeights]], Awaitable[int]],
    *,
    real: bool,
) -> Result:
    """Seed a fresh database, time `runner` over n weighings, check the books."""
    settings = Settings.from_env({})
    clock = SystemClock(settings.timezone)
    db = create_database(target.url, connect_args=target.connect_args)
    deps = build(settings, clock=clock, sms=NullSms(), db=db, background=[])
    # Until bootstrap wires the batch command, wire it here.
    deps.bus.command_handlers.setdefault(
        LogWeightsBatch, partial(log_weights_batch, clock=clock, settings=settings)
    )
    try:
        now = clock.now()
        codes = await seed(db, n, now)
        if real:
            for material, kobo in RATES.items():
                await deps.bus.handle(
                    SetRate(material, kobo, date(2020, 1, 1), "bench")
                )
        commands = make_commands(codes, now, args.seed)
        counter = [0]

        def count(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
            if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
                counter[0] += 1

        event.listen(db.writer.sync_engine, "before_cursor_execute", count)
        is_pg = db.dialect == "postgresql"
        pg0 = _postgres_ticks() if is_pg else {}
        machine0 = _machine_ticks()
        cpu0, start = time.process_time(), time.perf_counter()
        errors = await runner(deps, commands)
        seconds = time.perf_counter() - start
        cpu = (time.process_time() - cpu0) / seconds
        pg_cpu = postgres_cores(pg0, seconds) if is_pg else None
        all_cpu = machine_cores(machine0)
        event.remove(db.writer.sync_engine, "before_cursor_execute", count)
        invariants = await check_invariants(db, n) if real else None
        if not real:
            async with db.writer.connect() as conn:
                rows = (
                    await conn.execute(
                        sa.select(sa.func.count()).select_from(weighings)
                    )
                ).scalar_one()
            if rows != n:
                errors += 1
                print(f"  ! raw reference wrote {rows} rows, expected {n}")
        return Result(
            target.name,
            mode,
            n,
            seconds,
            counter[0],
            errors,
            cpu,
            pg_cpu,
            all_cpu,
            invariants,
        )
    finally:
        await deps.close()


def raw_row(cmd: LogWeights, index: int) -> dict[str, Any]:
    """The weighing row the handler would write, without any of the work."""
    grams = sum(g for _, g in cmd.items)
    return {
        "pickup_id": index + 1,
        "household_id": index + 1,
        "collected_at": cmd.collected_at,
        "lat": cmd.lat,
        "lon": cmd.lon,
        "total_grams": grams,
        "credited_kobo": grams * 5,
        "credit_status": "credited",
        "source": "api",
        "collector": cmd.collector,
        "created_at": cmd.collected_at,
    }


def raw_jobs(deps: Deps, commands: list[LogWeights]) -> list[Callable[[], Any]]:
    """One transaction with one INSERT per weighing, on the service's writer engine."""

    async def insert(row: dict[str, Any]) -> None:
        async with deps.db.writer.begin() as conn:
            await conn.execute(weighings.insert(), row)

    return [partial(insert, raw_row(c, i)) for i, c in enumerate(commands)]


def real_jobs(deps: Deps, commands: list[LogWeights]) -> list[Callable[[], Any]]:
    return [partial(deps.bus.handle, c) for c in commands]


async def run_raw_batches(
    deps: Deps, commands: list[LogWeights], size: int, conc: int
) -> int:
    rows = [raw_row(c, i) for i, c in enumerate(commands)]

    async def insert_many(batch: Sequence[dict[str, Any]]) -> None:
        async with deps.db.writer.begin() as conn:
            for row in batch:
                await conn.execute(weighings.insert(), row)

    return await pooled([partial(insert_many, b) for b in chunks(rows, size)], conc)


async def run_real_batches(
    deps: Deps, commands: list[LogWeights], size: int, conc: int
) -> int:
    failures = 0

    async def one(batch: Sequence[LogWeights]) -> None:
        nonlocal failures
        answers = await deps.bus.handle(LogWeightsBatch(tuple(batch)))
        bad = [
            a
            for a in answers
            if not isinstance(a, WeighingAnswer) or a.status_code != 201
        ]
        failures += len(bad)
        if bad and failures <= 3:
            print(f"  ! batch item refused: {bad[0]!r}", flush=True)

    failures += await pooled([partial(one, b) for b in chunks(commands, size)], conc)
    return failures


async def bench_database(
    open_target: Callable[[], contextlib.AbstractAsyncContextManager[Target]],
    args: argparse.Namespace,
) -> list[Result]:
    """The three modes and their raw references on one kind of database."""
    n, conc, burst = args.n, args.concurrency, args.burst
    size, bconc = args.batch_size, args.batch_concurrency

    def pool_of(
        make: Callable[[Deps, list[LogWeights]], list[Callable[[], Any]]], width: int
    ) -> Callable[[Deps, list[LogWeights]], Awaitable[int]]:
        async def run(deps: Deps, commands: list[LogWeights]) -> int:
            return await pooled(make(deps, commands), width)

        return run

    def burst_of(
        make: Callable[[Deps, list[LogWeights]], list[Callable[[], Any]]],
    ) -> Callable[[Deps, list[LogWeights]], Awaitable[int]]:
        async def run(deps: Deps, commands: list[LogWeights]) -> int:
            return await bursts(make(deps, commands), burst)

        return run

    plan: list[tuple[str, Callable[[Deps, list[LogWeights]], Awaitable[int]], Any]] = [
        (
            f"one at a time, {conc} concurrent",
            pool_of(real_jobs, conc),
            pool_of(raw_jobs, conc),
        ),
        (
            f"bursts of {burst} concurrent requests",
            burst_of(real_jobs),
            burst_of(raw_jobs),
        ),
        (
            f"batch command x{size}/txn, {bconc} conc",
            partial(run_real_batches, size=size, conc=bconc),
            partial(run_raw_batches, size=size, conc=bconc),
        ),
    ]
    results = []
    for mode, real_run, raw_run in plan:
        async with open_target() as target:
            ref = await measure(
                target, "  raw INSERT, same concurrency", n, args, raw_run, real=False
            )
        async with open_target() as target:
            real = await measure(target, mode, n, args, real_run, real=True)
        real.reference = ref
        for result in (real, ref):
            print(
                f"  {result.database:8} {result.mode:34} {result.rate:8.0f}/s",
                flush=True,
            )
        results += [real, ref]
    return results


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def print_table(results: list[Result], load_before: float, load_after: float) -> None:
    header = (
        f"{'database':9}{'mode':36}{'N':>6}{'seconds':>9}{'weigh/s':>9}"
        f"{'ratio':>7}{'stmt/w':>7}{'err':>5}{'py cpu':>7}{'pg cpu':>7}{'all':>6}"
        "  invariants"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.rate / r.reference.rate:6.2f}" if r.reference else "   ref"
        pg = f"{r.pg_cpu:7.2f}" if r.pg_cpu is not None else "      -"
        if r.invariants is None:
            inv = "n/a (row count only)"
        else:
            inv = "OK" if not r.invariants else "FAIL: " + "; ".join(r.invariants[:3])
        print(
            f"{r.database:9}{r.mode:36}{r.n:6d}{r.seconds:9.2f}{r.rate:9.0f}{ratio:>7}"
            f"{r.statements / r.n:7.1f}{r.errors:5d}{r.py_cpu:7.2f}{pg}{r.all_cpu:6.2f}"
            f"  {inv}"
        )
    print(
        "ratio: the handler's rate / the raw-INSERT rate at the same concurrency; "
        "stmt/w: SQL statements per weighing (BEGIN/COMMIT not counted); "
        "py/pg/all cpu: cores used by this process / by PostgreSQL (backends that "
        "exit during a run, e.g. pool overflow, are missed) / by the whole machine "
        f"({os.cpu_count()} cores)."
    )
    print(f"1-min load: {load_before:.2f} before, {load_after:.2f} after")


def verdict(results: list[Result], batch_size: int) -> bool:
    """Print the issue 3 targets (PostgreSQL); True when every one is met."""
    pg = [r for r in results if r.database == "postgres" and r.invariants is not None]
    ok = all(
        not r.invariants and not r.errors for r in results if r.invariants is not None
    )
    print(f"invariants after every run: {'OK' if ok else 'FAILED'}")
    if not pg:
        print("targets: not judged (no PostgreSQL run)")
        return False
    one = next(r for r in pg if r.mode.startswith("one at a time"))
    batch = next(r for r in pg if r.mode.startswith("batch command"))
    one_ok, batch_ok = one.rate >= TARGET_ONE, batch.rate >= TARGET_BATCHED
    print(
        f"target one at a time on PostgreSQL >= {TARGET_ONE:,.0f}/s: "
        f"{one.rate:,.0f}/s -> {'MET' if one_ok else 'NOT MET'}"
    )
    print(
        f"target batched on PostgreSQL >= {TARGET_BATCHED:,.0f}/s: LogWeightsBatch "
        f"with {batch_size} weighings per transaction: {batch.rate:,.0f}/s -> "
        f"{'MET' if batch_ok else 'NOT MET'}"
    )
    return ok and one_ok and batch_ok


async def main_async(args: argparse.Namespace) -> int:
    load_before = wait_for_quiet(args.max_load, args.max_wait)
    print(f"1-min load {load_before:.2f}; N={args.n}", flush=True)
    results: list[Result] = []
    if "sqlite" in args.databases:
        results += await bench_database(sqlite_target, args)
    if args.postgres_url and "postgres" in args.databases:
        try:
            results += await bench_database(
                partial(postgres_target, args.postgres_url), args
            )
        except OSError as exc:
            print(f"  ! PostgreSQL skipped: cannot connect ({exc})")
    print_table(results, load_before, os.getloadavg()[0])
    return 0 if verdict(results, args.batch_size) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="weighings per run")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("RECOOP_TEST_POSTGRES_URL") or DEFAULT_PG,
        help="'' skips PostgreSQL",
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgres",
        help="comma-separated: sqlite, postgres (default both)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--burst", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--max-load", type=float, default=1.5)
    parser.add_argument("--max-wait", type=float, default=600.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()

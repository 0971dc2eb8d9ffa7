"""Fault tests (issue 6): PostgreSQL restarted under load; SMS gateway and payout
provider down with 500s and timeouts.

The restart runs against a private PostgreSQL cluster of the test's own (initdb
into a temporary directory as the `postgres` user): the shared server that other
tests use is never stopped. The outage runs the app in-process with real settings
against fake Twilio and MTN MoMo servers on loopback; its length is a parameter, a
few seconds here, a minute in tests/bench/faults_minute.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from service.bootstrap import build
from service.domain.commands import SendSms
from service.domain.replies import render
from service.settings import Settings
from tests.support.outage import run_outage
from tests.support.pg import PrivateCluster, free_port, scratch_database
from tests.support.procs import RecoopServer, clean_env, db_upgrade
from tests.support.sms_client import SmsClient

PG_URL = os.environ.get("RECOOP_TEST_POSTGRES_URL", "")
OUTAGE_S = float(os.environ.get("RECOOP_TEST_OUTAGE_S", "4"))


# --- PostgreSQL restarted under load ----------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    reason = PrivateCluster.available()
    if reason:
        pytest.skip(f"no private PostgreSQL cluster: {reason}")
    made = PrivateCluster()
    try:
        made.init()
        made.start()
    except BaseException:
        made.cleanup()
        raise
    yield made
    made.cleanup()


@pytest.mark.postgres
async def test_postgres_restart_under_load_loses_nothing_acknowledged(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    """Webhooks keep coming while PostgreSQL stops (pg_ctl -m fast) and starts again.

    The service recovers by itself: /readyz is 200 again, new messages are answered
    and the scheduler's leader takes its lock back. Every message answered with
    200 and a reply before, during or after the restart is in inbound_messages with
    that same reply.
    """
    token = "restart-token-" + uuid.uuid4().hex
    public = "https://recoop.example.org"
    settings = {
        "RECOOP_DATABASE_URL": cluster.url,
        "RECOOP_PUBLIC_BASE_URL": public,
        "RECOOP_TWILIO_AUTH_TOKEN": token,
        "RECOOP_LEADER_CHECK_S": "0.5",
        "RECOOP_DISPATCHER_INTERVAL_S": "0.1",
        "RECOOP_DB_POOL_SIZE": "8",
    }
    env = clean_env(settings)
    await asyncio.to_thread(db_upgrade, env, tmp_path)
    server = RecoopServer("restart", "all", free_port(), env, tmp_path)
    acknowledged: dict[str, tuple[str, str | None]] = {}
    refused: list[int] = []
    rng = random.Random(3)
    numbers = iter(range(10**6))

    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        server.start()
        stack.callback(server.stop)
        await server.wait_ready(session)
        client = SmsClient(session, [server.base], token, public, rng=rng)
        welcome = render("welcome", "en")

        async def one() -> bool:
            phone = f"+234806{next(numbers):07d}"
            form_sid = "SM" + uuid.uuid4().hex
            status, text = await _post_once(
                client, session, server.base, phone, form_sid
            )
            if status == 200:
                acknowledged[form_sid] = (phone, text)
                return text == welcome
            refused.append(status)
            return False

        stop = asyncio.Event()

        async def sender() -> None:
            while not stop.is_set():
                if not await one():
                    await asyncio.sleep(0.02)

        senders = [asyncio.create_task(sender()) for _ in range(8)]
        await asyncio.sleep(2.0)
        before = len(acknowledged)
        # pg_ctl stop -m fast (clients are disconnected), two seconds down, start.
        stopped = time.monotonic()
        await asyncio.to_thread(cluster.stop, "fast")
        while_down = await server.status(session, "/readyz")
        await asyncio.sleep(2.0)
        await asyncio.to_thread(cluster.start)
        restarted = time.monotonic()
        down_s = restarted - stopped
        assert while_down == 503, "readiness must say so while the database is down"
        while await server.status(session, "/readyz") != 200:
            assert time.monotonic() - restarted < 60, server.tail()
            await asyncio.sleep(0.1)
        ready_after = time.monotonic() - restarted
        await asyncio.sleep(2.0)  # load goes on after the recovery
        stop.set()
        await asyncio.gather(*senders)

        # New requests succeed, one try each, with the right reply.
        fresh = await asyncio.gather(*(one() for _ in range(50)))
        assert all(fresh), f"after recovery: {sum(fresh)}/50 answered; {server.tail()}"

        # The scheduler's leader lost its lock's session with the restart; it
        # must have stood down and taken the lock again by itself.
        leader = 0.0
        deadline = time.monotonic() + 30
        while leader != 1.0 and time.monotonic() < deadline:
            leader = (await server.metrics(session)).get("recoop_scheduler_leader", 0.0)
            await asyncio.sleep(0.25)
        assert leader == 1.0, server.tail()

        # The outbox dispatcher still runs: an SMS queued now is sent (console).
        deps = build(Settings.from_env(settings), background=[])
        try:
            await deps.bus.handle(
                SendSms("+2348060000001", "after the restart", "rs-1")
            )
        finally:
            await deps.close()

        conn = await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
        )
        stack.push_async_callback(conn.close)
        status = None
        deadline = time.monotonic() + 30
        while status != "sent" and time.monotonic() < deadline:
            status = await conn.fetchval("SELECT status FROM outbox WHERE key = 'rs-1'")
            await asyncio.sleep(0.2)
        assert status == "sent"

        stored = {
            r["provider_message_id"]: (r["phone"], r["reply"])
            for r in await conn.fetch(
                "SELECT provider_message_id, phone, reply FROM inbound_messages"
            )
        }
        lost = {sid for sid in acknowledged if stored.get(sid) != acknowledged[sid]}
        print(
            f"\n{len(acknowledged):,} acknowledged ({before:,} before the restart), "
            f"{len(refused):,} refused while PostgreSQL restarted ({down_s:.1f} s); "
            f"/readyz 200 again {ready_after:.1f} s after it was back; lost {len(lost)}"
        )
        assert not lost, f"acknowledged but not stored: {sorted(lost)[:5]}"
        assert len(acknowledged) > before, "nothing was acknowledged after the restart"
        households = await conn.fetchval("SELECT count(*) FROM households")
        assert households >= len(acknowledged)


async def _post_once(
    client: SmsClient,
    session: aiohttp.ClientSession,
    base: str,
    phone: str,
    sid: str,
) -> tuple[int, str | None]:
    """One try, no retry: (status, reply); status 0 when the connection failed."""
    from tests.support.sms_client import SMS_PATH, inbound_form, sign, twiml_message

    form = inbound_form(f"JOIN Restart {phone[-4:]}, Akoka Road", phone, sid)
    signature = sign(client.token, client.url, form)
    try:
        async with session.post(
            base + SMS_PATH,
            data=form,
            headers={"X-Twilio-Signature": signature},
            timeout=aiohttp.ClientTimeout(total=20),
        ) as resp:
            text = await resp.text()
            if resp.status == 200:
                return 200, twiml_message(text)
            return resp.status, None
    except (TimeoutError, aiohttp.ClientError):
        return 0, None


# --- SMS gateway and payout provider outage -------------------------------------------


@pytest.mark.parametrize(
    "db_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_gateway_and_payout_provider_outage(db_kind: str, tmp_path: Path) -> None:
    """Twilio and MoMo answer 500s and time out for OUTAGE_S seconds (default 4).

    Retries back off, nothing is lost, nothing is doubled (one SMS per outbox row,
    one MoMo transfer per payout, each hold settled once), nothing is sent after it
    expired. The minute-long variant: tests/bench/faults_minute.py.
    """
    if db_kind == "postgres" and not PG_URL:
        pytest.skip("RECOOP_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    async with AsyncExitStack() as stack:
        if db_kind == "postgres":
            db = await stack.enter_async_context(
                scratch_database(PG_URL, "recoop_e2e_outage")
            )
            url = db.url
        else:
            url = f"sqlite+aiosqlite:///{tmp_path}/outage.db"
        report = await run_outage(url, outage_s=OUTAGE_S)
    print("\n" + report.summary())
    assert not report.problems, "\n".join(report.problems[:30])


# --- a slow gateway and two workers ----------------------------------------------------


async def test_slow_gateway_never_lets_two_workers_send_one_row(
    settings: Settings, database: object
) -> None:
    """A batch is claimed under one lease and sent row by row; with a slow gateway
    (a Twilio timing out after 10 s, 50 rows a batch, a 60 s lease) the last rows'
    lease runs out and another worker takes them. Each row still goes once: the
    first worker renews the lease before each send and skips rows it lost. Here:
    a 1 s lease, 0.3 s sends, 8 rows, two workers, real time.
    """
    from service.clock import SystemClock
    from service.dispatcher import Dispatcher
    from service.metrics import Metrics
    from service.persistence import outbox
    from tests.fakes import FakeSms

    clock = SystemClock("Africa/Lagos")
    now = clock.now()
    async with database.writer.begin() as conn:  # type: ignore[attr-defined]
        for i in range(8):
            await outbox.enqueue(
                conn,
                key=f"slow-{i}",
                to_phone=f"+23480300000{i:02d}",
                body=f"message {i}",
                now=now,
                expires_at=now + timedelta(hours=1),
            )
    gateway = FakeSms()
    gateway.delay_s = 0.3  # each send takes 0.3 s: the batch of 8 takes 2.4 s
    workers = [
        Dispatcher(
            database,  # type: ignore[arg-type]
            gateway,
            clock,
            settings,
            Metrics(),
            lease=timedelta(seconds=1),
        )
        for _ in range(2)
    ]

    async def second_worker() -> None:
        await asyncio.sleep(1.2)  # the first worker's lease has run out
        await workers[1].run_once()

    await asyncio.gather(workers[0].run_once(), second_worker())
    sent = Counter(m.key for m in gateway.sent)
    assert sent == Counter(f"slow-{i}" for i in range(8)), sent


# --- shutdown ------------------------------------------------------------------------


async def test_background_loops_stop_before_the_database_closes(
    settings: Settings, tmp_path: Path
) -> None:
    from aiohttp import web

    from service.app import create_app
    from service.persistence.db import Database, create_database
    from service.persistence.migrate import upgrade

    loops = ("outbox-dispatcher", "payout-dispatcher", "sandbox-provider")
    running_at_close: list[str] = []

    class WatchedDatabase(Database):
        async def dispose(self) -> None:
            running_at_close.extend(
                t.get_name()
                for t in asyncio.all_tasks()
                if t.get_name() in loops and not t.done()
            )
            await super().dispose()

    made = create_database(f"sqlite+aiosqlite:///{tmp_path}/shutdown.db")
    await upgrade(made.writer)
    db = WatchedDatabase(made.writer, made.reader, made.dialect)
    fast = settings.model_copy(update={"dispatcher_interval_s": 0.05})
    runner = web.AppRunner(create_app(build(fast, db=db), role="all"))
    await runner.setup()
    try:
        await asyncio.sleep(0.3)  # the loops are running
        await runner.cleanup()
    finally:
        await made.dispose()  # what loops opened after the first close
    assert running_at_close == []

"""The inbound-SMS hot path straight on the driver, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from service.bootstrap import build
from service.domain.commands import InboundSms
from service.handlers import SmsReply
from service.persistence import repositories
from service.persistence.db import Database
from service.persistence.driver import DriverUnavailable, PgDriver, Query, SqliteDriver
from service.persistence.tables import households, inbound_messages, opt_outs, pickups
from tests.fakes import FakeSms

CONVERSATION = [
    "JOIN Ada Obi, 6FR5+2Q Lagos",
    "PICKUP",
    "LANG pcm",
    "BAL",
    "what is this",
    "CANCEL",
    "PICKUP",
    "STOP",
    "START",
    "weekly tuesday",
]


def without_codes(text: str | None) -> str:
    """Pickup codes are random: compare what is around them."""
    return re.sub(r"\b[2-9A-Z]{4}\b", "····", text or "")


async def converse(deps: Any, phone: str, tag: str) -> list[str]:
    replies = []
    for n, body in enumerate(CONVERSATION):
        reply = await deps.bus.handle(
            InboundSms("twilio", f"SM{tag}{n}", phone, body, deps.clock.now())
        )
        replies.append(without_codes(reply.text))
    return replies


async def rows_of(db: Database, phone: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything stored for `phone`, without ids or message ids."""
    async with db.reader.connect() as conn:
        house = (
            await conn.execute(sa.select(households).where(households.c.phone == phone))
        ).one()
        picks = await conn.execute(
            sa.select(pickups.c.status, pickups.c.created_at, pickups.c.updated_at)
            .where(pickups.c.household_id == house.id)
            .order_by(pickups.c.id)
        )
        inbox = await conn.execute(
            sa.select(
                inbound_messages.c.intent,
                inbound_messages.c.reply,
                inbound_messages.c.reviewed,
                inbound_messages.c.received_at,
                inbound_messages.c.household_id == house.id,
            )
            .where(inbound_messages.c.phone == phone)
            .order_by(inbound_messages.c.id)
        )
        opted = await conn.execute(sa.select(opt_outs).where(opt_outs.c.phone == phone))
        return {
            "household": [tuple(house)[2:]],  # without id and phone
            "pickups": [tuple(r) for r in picks],
            "inbox": [(r[0], without_codes(r[1]), *r[2:]) for r in inbox],
            "opt_outs": [tuple(r)[1:] for r in opted],
        }


async def test_lean_and_full_paths_store_the_same(
    settings: Any, clock: Any, database: Database
) -> None:
    """The same conversation through the driver and through SQLAlchemy: same
    replies, same rows, same types (aware UTC times, booleans, plus-code places)."""
    lean = build(settings, clock=clock, sms=FakeSms(), db=database, background=[])
    assert lean.bus.lean, "create_database gives PostgreSQL and SQLite files a driver"
    full_db = dataclasses.replace(database, driver=None)
    full = build(settings, clock=clock, sms=FakeSms(), db=full_db, background=[])
    assert not full.bus.lean

    lean_replies = await converse(lean, "+2348030000001", "lean")
    full_replies = await converse(full, "+2348030000002", "full")

    assert lean_replies == full_replies
    assert all(lean_replies)
    lean_rows = await rows_of(database, "+2348030000001")
    assert lean_rows == await rows_of(database, "+2348030000002")
    assert lean_rows["inbox"][0][3] == clock.now()  # received_at, aware UTC
    assert [status for status, *_ in lean_rows["pickups"]] == ["cancelled", "open"]
    assert lean_rows["household"][0][3] == "active"  # STOP then START
    assert lean_rows["household"][0][4] is not None  # lat from the plus code


async def test_intent_needing_the_ledger_runs_again_on_the_full_unit_of_work(
    deps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector's LOG by SMS needs SQLAlchemy: the lean attempt leaves nothing
    behind and the full one answers, once."""
    used: list[str] = []
    lean, full = deps.bus.lean[InboundSms], deps.bus.uow_factory
    monkeypatch.setitem(
        deps.bus.lean, InboundSms, lambda: used.append("lean") or lean()
    )
    monkeypatch.setattr(deps.bus, "uow_factory", lambda: used.append("full") or full())

    reply = await deps.bus.handle(
        InboundSms(
            "twilio", "SMlog1", "+2348030000009", "LOG KQ7X PET 2", deps.clock.now()
        )
    )

    assert used == ["lean", "full"]
    assert reply.text and "collector" in reply.text.lower()
    async with deps.db.reader.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).select_from(inbound_messages)
        )
    assert count == 1


@pytest.mark.parametrize("kind", ["lean", "full"])
async def test_duplicate_committed_meanwhile_gets_the_first_reply_and_changes_nothing(
    deps: Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A retry that read the sender's state before the first delivery committed:
    the inbox insert finds the first row, and the retry answers with its reply."""
    phone, now = "+2348030000003", deps.clock.now()
    first = await deps.bus.handle(
        InboundSms("twilio", "SMx", phone, "JOIN Ada, Yaba", now)
    )
    await deps.bus.handle(InboundSms("twilio", "SMy", phone, "PICKUP", now))
    if kind == "full":
        monkeypatch.setattr(deps.bus, "lean", {})

    original = repositories.Households.sender_state

    async def unseen(self: Any, *args: Any, **kwargs: Any) -> Any:
        state = await original(self, *args, **kwargs)
        return dataclasses.replace(state, seen=False, seen_reply=None)

    monkeypatch.setattr(repositories.Households, "sender_state", unseen)
    again: SmsReply = await deps.bus.handle(
        InboundSms("twilio", "SMx", phone, "JOIN Ada, Yaba", now)
    )

    assert (again.text, again.duplicate) == (first.text, True)
    async with deps.db.reader.connect() as conn:
        inbox = await conn.scalar(
            sa.select(sa.func.count()).select_from(inbound_messages)
        )
        picks = await conn.scalar(sa.select(sa.func.count()).select_from(pickups))
    assert (inbox, picks) == (2, 1)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_sqlite_hot_path_waits_for_another_writer_without_blocking(
    deps: Any,
) -> None:
    """While another connection holds SQLite's write lock, the hot path yields to the
    event loop and carries on when the lock is released."""
    await deps.bus.handle(
        InboundSms("twilio", "SMwarm", "+2348030000004", "HELP", deps.clock.now())
    )
    path = deps.db.writer.url.database
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    task = asyncio.create_task(
        deps.bus.handle(
            InboundSms("twilio", "SMwait", "+2348030000004", "BAL", deps.clock.now())
        )
    )
    ticks = 0
    for _ in range(20):
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 20 and not task.done()
    blocker.execute("COMMIT")
    blocker.close()
    reply = await asyncio.wait_for(task, 5)
    assert reply.text and not reply.duplicate


@pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)
async def test_postgres_refuses_a_write_after_the_final_one(database: Database) -> None:
    """A lone final write runs on its own; another write after it is a bug."""
    assert isinstance(database.driver, PgDriver)
    tx = await database.driver.begin()
    opt_in = Query(opt_outs.delete().where(opt_outs.c.phone == sa.bindparam("p")))
    try:
        assert await tx.execute(opt_in, {"p": "+2348030000005"}, final=True) == 0
        with pytest.raises(RuntimeError, match="after this transaction's final"):
            await tx.execute(opt_in, {"p": "+2348030000006"})
    finally:
        await tx.rollback()


def test_queries_with_expanding_in_lists_are_refused() -> None:
    """An IN list would be rebuilt per call: hot-path queries must not have one."""
    query = Query(sa.select(pickups.c.id).where(pickups.c.status.in_(["open"])))
    with pytest.raises(ValueError, match="IN lists"):
        query.compiled("sqlite")


async def test_sqlite_failed_commit_ends_the_transaction_and_frees_the_driver(
    tmp_path: Any,
) -> None:
    """A COMMIT that fails (busy, disk full) must not leave the write lock held."""
    driver = SqliteDriver(str(tmp_path / "x.db"))
    tx = await driver.begin()
    real = tx._conn  # type: ignore[attr-defined]

    class FailingCommit:
        in_transaction = True
        rolled_back = False

        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "COMMIT":
                raise sqlite3.OperationalError("disk I/O error")
            if sql == "ROLLBACK":
                self.rolled_back = True
                self.in_transaction = False
            return real.execute(sql, *args)

    failing = FailingCommit()
    tx._conn = failing  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        await tx.commit()
    assert failing.rolled_back and not real.in_transaction
    again = await asyncio.wait_for(driver.begin(), 2)  # the lock was released
    await again.rollback()
    await driver.close()


async def test_sqlite_checkpoints_the_wal_in_the_background(tmp_path: Any) -> None:
    """Commits go to the WAL; every so often a thread copies them into the database
    file itself (never inside a COMMIT on the event loop)."""
    path = tmp_path / "wal.db"
    with closing(sqlite3.connect(path)) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute(
            "CREATE TABLE opt_outs (phone TEXT PRIMARY KEY, word TEXT, opted_out_at TEXT)"
        )
    # Another connection stays open: closing the last one would checkpoint anyway.
    with closing(sqlite3.connect(path)) as other:
        other.execute("SELECT count(*) FROM sqlite_master").fetchall()
        driver = SqliteDriver(str(path), checkpoint_every=5)
        add = Query(
            opt_outs.insert().values(
                phone=sa.bindparam("phone"),
                word="STOP",
                opted_out_at=sa.bindparam("at"),
            )
        )
        for n in range(5):
            tx = await driver.begin()
            phone = f"+23480300000{n:02}"
            await tx.execute(add, {"phone": phone, "at": datetime.now(UTC)})
            await tx.commit()
        await driver.close()  # waits for the checkpoint in flight
        copy = tmp_path / "main-file-only.db"
        shutil.copy(path, copy)  # the database file without its -wal
    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("SELECT count(*) FROM opt_outs").fetchone() == (5,)


@pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)
async def test_postgres_driver_closes_after_the_last_transaction_ends(
    database: Database,
) -> None:
    """Closing waits for open transactions, which still return their connection;
    after that the driver refuses work (the bus then uses SQLAlchemy)."""
    assert isinstance(database.driver, PgDriver)
    tx = await database.driver.begin()
    closing_task = asyncio.create_task(database.driver.close())
    await asyncio.sleep(0.05)
    assert not closing_task.done()
    await tx.rollback()
    await asyncio.wait_for(closing_task, 5)
    with pytest.raises(DriverUnavailable):
        await database.driver.begin()


async def test_hot_path_and_dispatcher_write_side_by_side(deps: Any) -> None:
    """Africa's Talking replies are queued by the hot path (the driver's connection)
    while the dispatcher marks rows sent (SQLAlchemy's): on SQLite the two writers
    share one write lock. Every message is answered exactly once."""
    phones = [f"+2348031{n:06}" for n in range(40)]
    stop = asyncio.Event()

    async def dispatch() -> None:
        while not stop.is_set():
            await deps.dispatcher.run_once()
            await asyncio.sleep(0)

    async def household(phone: str) -> None:
        for n, body in enumerate(["JOIN Ada, Yaba", "PICKUP", "BAL", "HELP", "BAL"]):
            await deps.bus.handle(
                InboundSms(
                    "africastalking",
                    f"AT{phone}{n}",
                    phone,
                    body,
                    deps.clock.now(),
                    reply_by="outbox",
                )
            )

    dispatcher = asyncio.create_task(dispatch())
    await asyncio.gather(*(household(p) for p in phones))
    stop.set()
    await dispatcher
    while await deps.dispatcher.run_once():
        pass
    sent = deps.sms.sent
    assert len(sent) == 5 * len(phones)
    assert all(len(deps.sms.to(p)) == 5 for p in phones)

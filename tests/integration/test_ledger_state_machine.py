"""A hypothesis state machine drives the ledger and checks every invariant after every step."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy.ext.asyncio import create_async_engine

from service.ledger import accounts as acc
from service.ledger.postings import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransition,
    Kobo,
    Transfer,
)
from service.persistence.db import Database, create_database
from service.persistence.ledger import Ledger, cached_balances_agree, trial_balance
from service.persistence.tables import metadata

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HOUSEHOLDS = [acc.household(i) for i in (1, 2, 3)]
FLOAT = acc.provider_float("sandbox")


def make_machine(
    db: Database, loop: asyncio.AbstractEventLoop
) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        """Model: what each household should have, and which holds are open."""

        def __init__(self) -> None:
            super().__init__()
            self.run(self._reset())
            self.posted = dict.fromkeys(HOUSEHOLDS, 0)
            self.held = dict.fromkeys(HOUSEHOLDS, 0)
            self.pending: dict[
                int, tuple[str, int]
            ] = {}  # transfer id -> (household, amount)
            self.settled: dict[int, str] = {}
            self.credits: list[tuple[int, str, int]] = []  # (id, household, amount)
            self.done: list[tuple[Transfer, bool]] = []  # transfers recorded, pending?

        def run(self, coro: Any) -> Any:
            return loop.run_until_complete(coro)

        async def _reset(self) -> None:
            async with db.writer.begin() as conn:
                for table in reversed(metadata.sorted_tables):
                    await conn.execute(table.delete())

        async def _tx(self, fn: Any) -> Any:
            async with db.writer.begin() as conn:
                return await fn(Ledger(conn))

        def _record(self, t: Transfer, *, pending: bool = False) -> Any:
            return self.run(
                self._tx(lambda led: led.record(t, now=NOW, pending=pending))
            )

        @rule(h=st.sampled_from(HOUSEHOLDS), amount=st.integers(1, 5000))
        def credit(self, h: str, amount: int) -> None:
            t = Transfer(
                f"credit:{uuid.uuid4()}",
                acc.CREDIT_EXPENSE,
                h,
                Kobo(amount),
                "weighing",
            )
            rec = self._record(t)
            self.posted[h] += amount
            self.credits.append((rec.id, h, amount))
            self.done.append((t, False))

        @rule(h=st.sampled_from(HOUSEHOLDS), amount=st.integers(1, 6000))
        def hold(self, h: str, amount: int) -> None:
            t = Transfer(f"hold:{uuid.uuid4()}", h, FLOAT, Kobo(amount), "payout")
            if self.posted[h] - self.held[h] < amount:
                with pytest.raises(InsufficientFunds):
                    self._record(t, pending=True)
                return
            rec = self._record(t, pending=True)
            self.held[h] += amount
            self.pending[rec.id] = (h, amount)
            self.done.append((t, True))

        @precondition(lambda self: bool(self.pending))
        @rule(data=st.data(), outcome=st.sampled_from(["posted", "voided"]))
        def settle(self, data: st.DataObject, outcome: str) -> None:
            tid = data.draw(st.sampled_from(sorted(self.pending)))
            h, amount = self.pending.pop(tid)
            assert self.run(self._tx(lambda led: led.settle(tid, outcome, NOW))) is True
            self.held[h] -= amount
            if outcome == "posted":
                self.posted[h] -= amount
            self.settled[tid] = outcome

        @precondition(lambda self: bool(self.settled))
        @rule(data=st.data())
        def settle_again(self, data: st.DataObject) -> None:
            """The same outcome again is a no-op; the other one is refused (expiry racing a callback)."""
            tid = data.draw(st.sampled_from(sorted(self.settled)))
            outcome = self.settled[tid]
            assert (
                self.run(self._tx(lambda led: led.settle(tid, outcome, NOW))) is False
            )
            other = "voided" if outcome == "posted" else "posted"
            with pytest.raises(InvalidTransition):
                self.run(self._tx(lambda led: led.settle(tid, other, NOW)))

        @precondition(lambda self: bool(self.credits))
        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            tid, h, amount = data.draw(st.sampled_from(self.credits))
            t = Transfer(
                f"reverse:{tid}", h, acc.CREDIT_EXPENSE, Kobo(amount), "reversal"
            )
            if any(done.key == t.key for done, _ in self.done):
                rec = self._record(t)  # reversing twice is the same reversal
                assert rec.replayed
                return
            if self.posted[h] - self.held[h] < amount:
                with pytest.raises(InsufficientFunds):
                    self._record(t)
                return
            self._record(t)
            self.posted[h] -= amount
            self.done.append((t, False))

        @precondition(lambda self: bool(self.done))
        @rule(data=st.data(), change=st.booleans())
        def duplicate_key(self, data: st.DataObject, change: bool) -> None:
            t, pending = data.draw(st.sampled_from(self.done))
            if not change:
                assert self._record(t, pending=pending).replayed
                return
            other = Transfer(t.key, t.debit, t.credit, Kobo(t.amount + 1), t.kind)
            with pytest.raises(IdempotencyConflict):
                self._record(other, pending=pending)

        @invariant()
        def books_balance(self) -> None:
            async def check() -> None:
                async with db.reader.connect() as conn:
                    rows = await trial_balance(conn)
                    assert sum(balance for _, _, balance in rows) == 0
                    assert await cached_balances_agree(conn) == []
                    for h in HOUSEHOLDS:
                        b = await Ledger(conn).balance(h)
                        assert b.available >= 0
                        assert (b.posted, b.held) == (self.posted[h], self.held[h])

            self.run(check())

    return LedgerMachine


def test_ledger_invariants_hold_under_any_sequence(db_kind: str, tmp_path: Any) -> None:
    """Credits, holds, posts, voids, expiries, reversals and reused keys never break the books."""
    loop = asyncio.new_event_loop()
    schema = "t_" + uuid.uuid4().hex[:12]
    pg_url = os.environ.get("RECOOP_TEST_POSTGRES_URL", "")

    async def setup() -> Database:
        if db_kind == "sqlite":
            db = create_database(f"sqlite+aiosqlite:///{tmp_path}/ledger.db")
        else:
            admin = create_async_engine(pg_url)
            async with admin.begin() as conn:
                await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            await admin.dispose()
            db = create_database(
                pg_url, connect_args={"server_settings": {"search_path": schema}}
            )
        async with db.writer.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return db

    async def teardown(db: Database) -> None:
        await db.dispose()
        if db_kind == "postgres":
            admin = create_async_engine(pg_url)
            async with admin.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            await admin.dispose()

    db = loop.run_until_complete(setup())
    try:
        from hypothesis.stateful import run_state_machine_as_test

        run_state_machine_as_test(
            make_machine(db, loop),
            settings=settings(
                max_examples=20,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        loop.run_until_complete(teardown(db))
        loop.close()

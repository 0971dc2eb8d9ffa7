"""The households' total behind the outstanding-credit cap: built once, exact, race-free."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from service.domain.commands import InboundSms, LogWeights, SetRate
from service.ledger import accounts as acc
from service.ledger.postings import Kobo, Transfer
from service.persistence.db import Database
from service.persistence.ledger import (
    STRIPE_NAMES,
    Ledger,
    cached_balances_agree,
)
from service.persistence.tables import accounts, transfers
from tests.builders import message_sid, random_phone

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def total(db: Database) -> tuple[int, int] | None:
    async with db.writer.connect() as conn:
        return await Ledger(conn).households_total()


async def test_total_is_built_from_existing_households(database: Database) -> None:
    """On a ledger that predates the total, the first movement builds it from the rows."""
    async with database.writer.begin() as conn:
        ledger = Ledger(conn)
        for i in (1, 2):
            await ledger.record(
                Transfer(f"c{i}", acc.CREDIT_EXPENSE, acc.household(i), Kobo(700), "w"),
                now=NOW,
            )
        # Pretend the ledger is older than the total: drop the row.
        await conn.execute(accounts.delete().where(accounts.c.name.in_(STRIPE_NAMES)))
    async with database.writer.begin() as conn:
        ledger = Ledger(conn)
        await ledger.record(
            Transfer("c3", acc.CREDIT_EXPENSE, acc.household(3), Kobo(50), "w"), now=NOW
        )
        await ledger.record(
            Transfer("r1", acc.household(1), acc.CREDIT_EXPENSE, Kobo(200), "reversal"),
            now=NOW,
        )
    assert await total(database) == (1450, 200)
    async with database.writer.connect() as conn:
        assert await cached_balances_agree(conn) == []


async def test_posted_payout_lowers_the_total_and_void_does_not(
    database: Database,
) -> None:
    """Holds change nothing; a posted hold lowers the total, a voided one does not."""
    async with database.writer.begin() as conn:
        ledger = Ledger(conn)
        await ledger.record(
            Transfer("c", acc.CREDIT_EXPENSE, acc.household(1), Kobo(1000), "w"),
            now=NOW,
        )
        float_ = acc.provider_float("sandbox")
        a = await ledger.record(
            Transfer("h1", acc.household(1), float_, Kobo(300), "airtime"),
            now=NOW,
            pending=True,
        )
        b = await ledger.record(
            Transfer("h2", acc.household(1), float_, Kobo(200), "airtime"),
            now=NOW,
            pending=True,
        )
        await ledger.settle(a.id, "posted", NOW)
        await ledger.settle(b.id, "voided", NOW)
    assert await total(database) == (1000, 300)
    async with database.writer.connect() as conn:
        assert await cached_balances_agree(conn) == []


async def test_concurrent_weighings_never_pass_the_cap(
    deps: Any, clock: Any, settings: Any
) -> None:
    """Twenty weighings at once against a cap that fits five: five credited, the rest capped."""
    from service.bootstrap import build

    tight = settings.model_copy(update={"outstanding_credit_cap_kobo": 5 * 10000})
    deps = build(tight, clock=clock, sms=deps.sms, db=deps.db, background=[])
    await deps.bus.handle(SetRate("PET", 5000, clock.today()))
    codes = []
    for _ in range(20):
        phone = random_phone()
        for body in ("JOIN Ada, Yaba", "PICKUP"):
            await deps.bus.handle(
                InboundSms("twilio", message_sid(), phone, body, clock.now())
            )
        page = await deps.views.pickups(status="open", limit=1000)
        codes.append(next(p["code"] for p in page.items if p["phone"] == phone))
    answers = await asyncio.gather(
        *(
            deps.bus.handle(
                LogWeights(code, (("PET", 2000),), clock.now(), f"cap-{code}")
            )
            for code in codes
        )
    )
    statuses = sorted(a.body["status"] for a in answers)
    assert statuses == ["capped"] * 15 + ["credited"] * 5
    assert await total(deps.db) == (50000, 0)
    async with deps.db.writer.connect() as conn:
        assert await cached_balances_agree(conn) == []
        credits = (
            await conn.execute(
                sa.select(sa.func.count()).where(transfers.c.kind == "weighing")
            )
        ).scalar_one()
    assert credits == 5


async def test_lowering_the_cap_takes_effect_at_once(
    deps: Any, clock: Any, settings: Any
) -> None:
    """Allowances cut from an old cap are not trusted after the cap changes."""
    from service.bootstrap import build

    await deps.bus.handle(SetRate("PET", 5000, clock.today()))

    async def weigh(cap: int) -> str:
        tight = settings.model_copy(update={"outstanding_credit_cap_kobo": cap})
        bus = build(tight, clock=clock, sms=deps.sms, db=deps.db, background=[]).bus
        phone = random_phone()
        for body in ("JOIN Ada, Yaba", "PICKUP"):
            await bus.handle(
                InboundSms("twilio", message_sid(), phone, body, clock.now())
            )
        page = await deps.views.pickups(status="open", limit=1000)
        code = next(p["code"] for p in page.items if p["phone"] == phone)
        answer = await bus.handle(
            LogWeights(code, (("PET", 2000),), clock.now(), f"low-{code}")
        )
        return str(answer.body["status"])

    assert [await weigh(10**9) for _ in range(3)] == ["credited"] * 3
    assert await weigh(35000) == "capped"  # 30,000 owed + 10,000 > 35,000
    assert await weigh(40000) == "credited"
    assert await total(deps.db) == (40000, 0)
    async with deps.db.writer.connect() as conn:
        assert await cached_balances_agree(conn) == []

"""Batched weighings through the bus: per-item answers, retries, races and the books."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from service.domain.commands import InboundSms, LogWeights, SetRate
from service.domain.errors import InvalidInput
from service.ledger.postings import IdempotencyConflict
from service.money import WeighingAnswer
from service.money_batch import (
    MAX_BATCH,
    LogWeightsBatch,
    answer_json,
    log_weights_batch,
)
from service.persistence.ledger import Ledger, cached_balances_agree, trial_balance
from service.persistence.tables import accounts, idempotency_keys, outbox, weighings
from tests.builders import message_sid, random_phone


def wire(deps: Any, clock: Any, settings: Any) -> None:
    deps.bus.command_handlers[LogWeightsBatch] = partial(
        log_weights_batch, clock=clock, settings=settings
    )


@pytest.fixture
async def batching(deps: Any, clock: Any, settings: Any) -> Any:
    """The service with the batch command wired and PET/ALU rates from last week."""
    wire(deps, clock, settings)
    day = clock.today() - timedelta(days=7)
    await deps.bus.handle(SetRate("PET", 5000, day))
    await deps.bus.handle(SetRate("ALU", 12000, day))
    return deps


async def household(deps: Any, clock: Any) -> tuple[str, str, int]:
    """A household that joined and asked for a pickup: (phone, pickup code, id)."""
    phone = random_phone()
    for body in ("JOIN Ada Obi, Yaba", "PICKUP"):
        await deps.bus.handle(
            InboundSms("twilio", message_sid(), phone, body, clock.now())
        )
    page = await deps.views.pickups(status="open", limit=10000)
    pickup = next(p for p in page.items if p["phone"] == phone)
    return phone, pickup["code"], pickup["household_id"]


def weighing(code: str, key: str, clock: Any, kg_pet: float = 2.0) -> LogWeights:
    return LogWeights(
        pickup_code=code,
        items=(("PET", int(kg_pet * 1000)), ("ALU", 500)),
        collected_at=clock.now(),
        idempotency_key=key,
        lat=6.5,
        lon=3.37,
    )


async def books_ok(deps: Any) -> None:
    """Trial balance zero, cached rows and the households' total agree, none below zero."""
    async with deps.db.writer.connect() as conn:
        assert sum(b for _, _, b in await trial_balance(conn)) == 0
        assert await cached_balances_agree(conn) == []
        below = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    accounts.c.name.like("household:%"),
                    accounts.c.credits_posted
                    < accounts.c.debits_posted + accounts.c.debits_pending,
                )
            )
        ).scalar_one()
        assert below == 0


async def count(deps: Any, stmt: Any) -> int:
    async with deps.db.writer.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def test_mixed_batch_answers_each_item(batching: Any, clock: Any) -> None:
    """Good items are credited and bad ones get their own 4xx without stopping the rest."""
    deps = batching
    h = [await household(deps, clock) for _ in range(5)]
    await deps.bus.handle(weighing(h[1][1], "single-1", clock))  # collected already
    items = (
        weighing(h[0][1], "b-0", clock),
        weighing("ZZZZZZ", "b-unknown", clock),
        weighing(h[1][1], "b-again", clock),
        weighing(h[2][1], "single-1", clock, kg_pet=9),  # key used for another body
        LogWeights(h[3][1], (("GLASS", 1000),), clock.now(), "b-no-rate"),
        LogWeights(h[3][1], (("GOLD", 1000),), clock.now(), "b-bad-material"),
        weighing(h[4][1], "b-4", clock),
        weighing(h[4][1], "b-4-other-key", clock),  # same pickup twice in the batch
        weighing(h[0][1], "b-0", clock),  # the same key and body again
        weighing(h[0][1], "b-0", clock, kg_pet=1),  # the same key, another body
    )
    answers = await deps.bus.handle(LogWeightsBatch(items, collector="bike-7"))
    statuses = [answer_json(a)[0] for a in answers]
    assert statuses == [201, 404, 409, 409, 400, 400, 201, 409, 201, 409]
    assert answer_json(answers[2])[1]["error"]["code"] == "already_collected"
    assert isinstance(answers[3], IdempotencyConflict)
    assert isinstance(answers[9], IdempotencyConflict)
    first, again = answers[0], answers[8]
    assert isinstance(first, WeighingAnswer) and isinstance(again, WeighingAnswer)
    assert first.body == again.body and again.replayed and not first.replayed
    assert first.body["credited_kobo"] == 10000 + 6000
    assert (await deps.money.balance(h[0][2]))["posted_kobo"] == 16000
    assert (await deps.money.balance(h[4][2]))["posted_kobo"] == 16000
    assert (await deps.money.balance(h[3][2]))["posted_kobo"] == 0
    # A refused item leaves its key free: fixed, the same key goes through.
    await deps.bus.handle(SetRate("GLASS", 1000, clock.today()))
    [later] = await deps.bus.handle(LogWeightsBatch((items[4],)))
    assert answer_json(later)[0] == 201 and not later.replayed
    await deps.dispatcher.run_once()
    receipts = await count(
        deps, sa.select(sa.func.count()).where(outbox.c.key.like("receipt:%"))
    )
    assert receipts == 4  # single-1, b-0, b-4, b-no-rate
    assert (await deps.money.money_summary())["weighings"] == 4
    await books_ok(deps)


async def test_receipts_show_each_balance(
    batching: Any, clock: Any, fake_sms: Any
) -> None:
    """Each credited item queues one receipt with the household's new balance."""
    deps = batching
    h = [await household(deps, clock) for _ in range(3)]
    batch = tuple(weighing(code, f"r-{i}", clock) for i, (_, code, _) in enumerate(h))
    await deps.bus.handle(LogWeightsBatch(batch))
    await deps.dispatcher.run_once()
    for phone, _, _ in h:
        receipts = [m for m in fake_sms.to(phone) if "N160" in m]
        assert len(receipts) == 1 and "2.5 kg" in receipts[0]


async def test_whole_batch_retry_replays_every_item(batching: Any, clock: Any) -> None:
    """A batch sent again answers each item with its first answer and credits nothing more."""
    deps = batching
    h = [await household(deps, clock) for _ in range(4)]
    good = [weighing(code, f"k-{i}", clock) for i, (_, code, _) in enumerate(h)]
    batch = LogWeightsBatch((*good, weighing("ZZZZZZ", "k-unknown", clock)))
    first = await deps.bus.handle(batch)
    again = await deps.bus.handle(batch)
    assert [answer_json(a) for a in first] == [answer_json(a) for a in again]
    assert all(a.replayed for a in again[:4])  # type: ignore[union-attr]
    assert answer_json(again[4])[0] == 404
    assert (await deps.money.money_summary())["weighings"] == 4
    for _, _, household_id in h:
        assert (await deps.money.balance(household_id))["posted_kobo"] == 16000
    keys = await count(deps, sa.select(sa.func.count()).select_from(idempotency_keys))
    assert keys == 4  # the unknown code's key was given back
    await books_ok(deps)


async def test_batch_races_single_retries(batching: Any, clock: Any) -> None:
    """A batch and single retries of the same keys at once: one credit per key, one answer."""
    deps = batching
    h = [await household(deps, clock) for _ in range(6)]
    items = tuple(
        weighing(code, f"race-{i}", clock) for i, (_, code, _) in enumerate(h)
    )
    batch = LogWeightsBatch(items)
    results = await asyncio.gather(
        deps.bus.handle(batch),
        *(deps.bus.handle(item) for item in items),
        deps.bus.handle(batch),
        *(deps.bus.handle(item) for item in reversed(items)),
    )
    by_key: dict[str, set[str]] = {}
    for batch_answers in (results[0], results[7]):
        for item, answer in zip(items, batch_answers, strict=True):
            assert answer_json(answer)[0] == 201
            by_key.setdefault(item.idempotency_key, set()).add(str(answer.body))
    for item, answer in zip(
        items + items[::-1], results[1:7] + results[8:], strict=True
    ):
        assert answer.status_code == 201
        by_key[item.idempotency_key].add(str(answer.body))
    assert all(len(bodies) == 1 for bodies in by_key.values())
    assert await count(deps, sa.select(sa.func.count()).select_from(weighings)) == 6
    for _, _, household_id in h:
        assert (await deps.money.balance(household_id))["posted_kobo"] == 16000
    await books_ok(deps)


async def test_cap_uses_a_running_total(
    deps: Any, clock: Any, settings: Any, fake_sms: Any
) -> None:
    """Past the outstanding-credit cap later items are recorded, not credited, and told so."""
    tight = settings.model_copy(update={"outstanding_credit_cap_kobo": 40000})
    wire(deps, clock, tight)
    await deps.bus.handle(SetRate("PET", 5000, clock.today()))
    await deps.bus.handle(SetRate("ALU", 12000, clock.today()))
    h = [await household(deps, clock) for _ in range(3)]
    answers = await deps.bus.handle(
        LogWeightsBatch(
            tuple(weighing(code, f"c-{i}", clock) for i, (_, code, _) in enumerate(h))
        )
    )
    assert [a.body["status"] for a in answers] == ["credited", "credited", "capped"]
    assert [a.body["credited_kobo"] for a in answers] == [16000, 16000, 0]
    await deps.dispatcher.run_once()
    assert "paused" in fake_sms.to(h[2][0])[-1]
    async with deps.db.writer.connect() as conn:
        total = await Ledger(conn).households_total()
    assert total == (32000, 0)
    await books_ok(deps)


async def test_batch_size_is_limited(batching: Any, clock: Any) -> None:
    """An empty batch or one over the limit is refused as a whole."""
    with pytest.raises(InvalidInput):
        await batching.bus.handle(LogWeightsBatch(()))
    too_many = tuple(weighing("ZZZZZZ", f"x-{i}", clock) for i in range(MAX_BATCH + 1))
    with pytest.raises(InvalidInput):
        await batching.bus.handle(LogWeightsBatch(too_many))


async def test_key_of_a_refused_item_stays_free(batching: Any, clock: Any) -> None:
    """A refused item frees its key: a later item with it is told to resend, then works."""
    deps = batching
    _, code, household_id = await household(deps, clock)
    bad = LogWeights(code, (("GOLD", 1000),), clock.now(), "k-free")
    good = weighing(code, "k-free", clock)
    answers = await deps.bus.handle(LogWeightsBatch((bad, good)))
    assert [answer_json(a)[0] for a in answers] == [400, 409]
    [answer] = await deps.bus.handle(LogWeightsBatch((good,)))
    assert answer_json(answer)[0] == 201
    assert (await deps.money.balance(household_id))["posted_kobo"] == 16000

"""A payout interrupted at any step ends in exactly one terminal state after restart."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from service.bootstrap import Deps, build
from service.domain.commands import InboundSms, LogWeights, RecordPayoutResult, SetRate
from service.gateways import PayoutRequest
from service.gateways.sandbox_payouts import SandboxPayouts
from service.persistence import money as money_db
from service.persistence.ledger import cached_balances_agree
from service.persistence.tables import sandbox_transfers
from tests.builders import message_sid, random_phone
from tests.fakes import FakeSms

STEPS = [
    "after_hold",
    "after_request_sent",
    "after_provider_202",
    "after_callback_received",
    "after_post",
]
OUTCOMES = ["success", "failure", "no_answer"]


class World:
    """Our service (replaced on each 'crash') and the provider, which outlives us."""

    def __init__(self, settings: Any, clock: Any, database: Any, outcome: str) -> None:
        self.settings, self.clock, self.db = settings, clock, database
        self.sandbox = SandboxPayouts(
            database,
            clock,
            secret="s",
            deliver=self.deliver,
            failure_rate=1.0 if outcome == "failure" else 0.0,
            lost_callback_rate=1.0 if outcome == "no_answer" else 0.0,
            timeout_rate=1.0 if outcome == "no_answer" else 0.0,
            max_settle_s=5,
            rng=random.Random(7),
        )
        self.deps = self.start()
        self.callbacks_fail = False

    def start(self) -> Deps:
        return build(
            self.settings,
            clock=self.clock,
            sms=FakeSms(),
            db=self.db,
            payouts={"sandbox": self.sandbox},
            background=[],
        )

    async def deliver(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The webhook, minus HTTP: parse, then hand to whichever process is alive."""
        if self.callbacks_fail:
            raise ConnectionError("our process died while handling the callback")
        status = self.sandbox.parse_callback(headers, {}, body)
        await self.deps.bus.handle(
            RecordPayoutResult("sandbox", status.state, reference=status.reference)
        )
        return 200

    def crash(self) -> None:
        self.deps = self.start()

    async def text(self, body: str, phone: str) -> str | None:
        reply = await self.deps.bus.handle(
            InboundSms("twilio", message_sid(), phone, body, self.clock.now())
        )
        return reply.text  # type: ignore[no-any-return]

    async def recover(self) -> None:
        for _ in range(40):
            self.clock.advance(minutes=2)
            await self.deps.payout_dispatcher.submit_due()
            await self.sandbox.settle_due()
            await self.deps.payout_dispatcher.poll_due()


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("step", STEPS)
async def test_crash_at_each_step(
    settings: Any, clock: Any, database: Any, step: str, outcome: str
) -> None:
    """Crash at a step, restart: one terminal state, one create per reference, books balance."""
    world = World(settings, clock, database, outcome)
    phone = random_phone()
    await world.text("JOIN Ada, Yaba", phone)
    await world.text("PICKUP", phone)
    await world.deps.bus.handle(SetRate("PET", 5000, clock.today() - timedelta(days=1)))
    page = await world.deps.views.pickups(status="open")
    code = page.items[0]["code"]
    await world.deps.bus.handle(
        LogWeights(code, (("PET", 20000),), clock.now(), idempotency_key="w1")
    )  # N1,000
    await world.text("AIRTIME 500", phone)
    [payout] = (await world.deps.money.payouts()).items
    reference = payout["reference"]

    if step in ("after_request_sent", "after_provider_202"):
        # Our process claimed the payout and sent it, then died before recording.
        async with database.writer.begin() as conn:
            await money_db.claim_payouts(
                conn,
                statuses=("held",),
                now=clock.now(),
                lease=timedelta(seconds=60),
                limit=5,
            )
        request = PayoutRequest(reference, "airtime", 50000, "NGN", phone, "http://cb")
        try:
            await world.sandbox.submit(request)
        except Exception:
            assert outcome == "no_answer"
    elif step == "after_callback_received":
        world.callbacks_fail = True
        await world.deps.payout_dispatcher.submit_due()
        clock.advance(seconds=10)
        await world.sandbox.settle_due()
        world.callbacks_fail = False
    elif step == "after_post":
        await world.recover()
    world.crash()
    await world.recover()

    [payout] = (await world.deps.money.payouts()).items
    expected = "failed" if outcome == "failure" else "succeeded"
    assert payout["status"] == expected
    assert world.sandbox.creates == {reference: 1}
    async with database.reader.connect() as conn:
        rows = (
            (await conn.execute(sa.select(sandbox_transfers.c.reference)))
            .scalars()
            .all()
        )
        assert rows == [reference]
        assert await cached_balances_agree(conn) == []
    balance = await world.deps.money.balance(payout["household_id"])
    assert balance["held_kobo"] == 0
    assert balance["posted_kobo"] == (50000 if expected == "succeeded" else 100000)
    assert (await world.deps.money.trial_balance())["total_kobo"] == 0

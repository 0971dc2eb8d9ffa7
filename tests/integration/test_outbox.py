"""The outbox and its dispatcher, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from service.bootstrap import build
from service.domain.commands import RecordDeliveryStatus, SendSms
from service.gateways import GatewayError
from service.persistence.tables import delivery_reports, opt_outs, outbox
from tests.fakes import FakeSms


async def rows(deps: Any) -> list[Any]:
    async with deps.db.reader.connect() as conn:
        return list((await conn.execute(sa.select(outbox).order_by(outbox.c.id))).all())


async def test_message_survives_crash_between_commit_and_send(
    settings: Any, clock: Any, database: Any
) -> None:
    """A message committed before a crash is sent once by the next process."""
    first = build(settings, clock=clock, sms=FakeSms(), db=database, background=[])
    await first.bus.handle(SendSms("+2348031234567", "Your pickup is today", key="k1"))
    # crash: the first process never dispatches. A new one starts with its own gateway.
    survivor_sms = FakeSms()
    second = build(settings, clock=clock, sms=survivor_sms, db=database, background=[])
    await second.dispatcher.run_once()
    await second.dispatcher.run_once()
    assert survivor_sms.to("+2348031234567") == ["Your pickup is today"]
    assert [r.status for r in await rows(second)] == ["sent"]


async def test_claimed_but_unsent_row_returns_after_lease(
    deps: Any, fake_sms: FakeSms, clock: Any
) -> None:
    """A worker that dies after claiming loses its lease; the row is sent once later."""
    from service.persistence import outbox as ob

    await deps.bus.handle(SendSms("+2348031234567", "hello", key="lease"))
    async with deps.db.writer.begin() as conn:
        claimed = await ob.claim(conn, now=clock.now(), lease=timedelta(seconds=60))
    assert len(claimed) == 1  # ...and then the worker dies
    await deps.dispatcher.run_once()
    assert fake_sms.sent == []  # still leased
    clock.advance(seconds=61)
    await deps.dispatcher.run_once()
    await deps.dispatcher.run_once()
    assert len(fake_sms.sent) == 1


async def test_same_key_queues_once(deps: Any, fake_sms: FakeSms) -> None:
    """Queuing the same key twice sends one SMS."""
    assert await deps.bus.handle(SendSms("+2348031234567", "hi", key="dup")) is True
    assert await deps.bus.handle(SendSms("+2348031234567", "hi", key="dup")) is False
    await deps.dispatcher.run_once()
    assert len(fake_sms.sent) == 1


async def test_opted_out_number_is_suppressed_before_gateway(
    deps: Any, fake_sms: FakeSms, clock: Any
) -> None:
    """Nothing the service starts reaches a number that texted STOP."""
    async with deps.db.writer.begin() as conn:
        await conn.execute(
            opt_outs.insert().values(
                phone="+2348031234567", word="STOP", opted_out_at=clock.now()
            )
        )
    await deps.bus.handle(SendSms("+2348031234567", "reminder", key="r1"))
    await deps.dispatcher.run_once()
    assert fake_sms.sent == []
    assert [r.status for r in await rows(deps)] == ["suppressed"]


async def test_stale_message_is_never_sent_late(
    deps: Any, fake_sms: FakeSms, clock: Any
) -> None:
    """A message past its expiry is marked expired, not sent."""
    await deps.bus.handle(
        SendSms(
            "+2348031234567",
            "your pickup is today",
            key="stale",
            expires_at=clock.now() + timedelta(minutes=30),
        )
    )
    clock.advance(hours=1)
    await deps.dispatcher.run_once()
    assert fake_sms.sent == []
    assert [r.status for r in await rows(deps)] == ["expired"]


async def test_retryable_failure_backs_off_then_sends(
    deps: Any, fake_sms: FakeSms, clock: Any
) -> None:
    """A 5xx is retried after a backoff, and sent once it succeeds."""
    fake_sms.failures = [
        GatewayError("503", retryable=True),
        GatewayError("timeout", retryable=True),
    ]
    await deps.bus.handle(SendSms("+2348031234567", "hi", key="retry"))
    await deps.dispatcher.run_once()
    row = (await rows(deps))[0]
    assert (
        row.status == "pending"
        and row.attempts == 1
        and row.next_attempt_at > clock.now()
    )
    await deps.dispatcher.run_once()
    assert fake_sms.sent == []  # not due yet
    for _ in range(2):
        clock.advance(minutes=20)
        await deps.dispatcher.run_once()
    assert len(fake_sms.sent) == 1
    assert (await rows(deps))[0].status == "sent"


async def test_attempts_are_bounded(deps: Any, fake_sms: FakeSms, clock: Any) -> None:
    """After max attempts the message is failed, not retried forever."""
    fake_sms.failures = [GatewayError("503", retryable=True) for _ in range(50)]
    await deps.bus.handle(SendSms("+2348031234567", "hi", key="bounded"))
    for _ in range(20):
        await deps.dispatcher.run_once()
        clock.advance(minutes=16)
    row = (await rows(deps))[0]
    assert row.status in ("failed", "expired")
    assert row.attempts <= deps.settings.sms_max_attempts
    assert fake_sms.sent == []


async def test_permanent_failure_is_not_retried(deps: Any, fake_sms: FakeSms) -> None:
    """A 4xx from the provider fails the message at once."""
    fake_sms.failures = [GatewayError("invalid number", retryable=False)]
    await deps.bus.handle(SendSms("+2348031234567", "hi", key="perm"))
    await deps.dispatcher.run_once()
    assert [r.status for r in await rows(deps)] == ["failed"]


async def test_provider_opt_out_suppresses_future_messages(
    deps: Any, fake_sms: FakeSms
) -> None:
    """A provider saying 'unsubscribed' records the opt-out for later messages too."""
    fake_sms.failures = [GatewayError("21610", retryable=False, opted_out=True)]
    await deps.bus.handle(SendSms("+2348031234567", "one", key="o1"))
    await deps.dispatcher.run_once()
    await deps.bus.handle(SendSms("+2348031234567", "two", key="o2"))
    await deps.dispatcher.run_once()
    assert fake_sms.sent == []
    assert [r.status for r in await rows(deps)] == ["suppressed", "suppressed"]


async def test_hourly_cap_defers_instead_of_sending(
    deps: Any, fake_sms: FakeSms, clock: Any
) -> None:
    """Past the per-number hourly cap, messages wait for the next free slot."""
    cap = deps.settings.sms_per_number_per_hour
    for i in range(cap + 2):
        await deps.bus.handle(SendSms("+2348031234567", f"m{i}", key=f"cap{i}"))
    await deps.dispatcher.run_once()
    await deps.dispatcher.run_once()
    assert len(fake_sms.sent) == cap
    clock.advance(minutes=61)
    await deps.dispatcher.run_once()
    assert len(fake_sms.sent) == cap + 2
    # Another number is not affected by the first one's cap.
    await deps.bus.handle(SendSms("+2348039999999", "other", key="other"))
    await deps.dispatcher.run_once()
    assert fake_sms.to("+2348039999999") == ["other"]


async def test_status_callbacks_never_move_backwards(deps: Any, clock: Any) -> None:
    """delivered then a late 'sent' leaves 'delivered'."""
    for status in ["sent", "delivered", "sent", "queued"]:
        await deps.bus.handle(
            RecordDeliveryStatus("twilio", "SM1", status, clock.now())
        )
    await deps.bus.handle(
        RecordDeliveryStatus("twilio", "SM2", "failed", clock.now(), "30003")
    )
    await deps.bus.handle(RecordDeliveryStatus("twilio", "SM2", "sending", clock.now()))
    async with deps.db.reader.connect() as conn:
        got = dict(
            (
                await conn.execute(
                    sa.select(delivery_reports.c.provider_id, delivery_reports.c.status)
                )
            ).all()
        )
    assert got == {"SM1": "delivered", "SM2": "failed"}


async def test_a_row_whose_lease_ran_out_mid_batch_is_not_sent_twice(
    deps: Any, fake_sms: Any, clock: Any
) -> None:
    """Worker A claims a batch; sending is slow, A's lease on the last row runs out
    and worker B claims and sends it. When A reaches that row it must skip it."""
    from service.domain.commands import SendSms
    from service.persistence import outbox as repo

    for n in range(3):
        await deps.bus.handle(SendSms(f"+23480312345{n:02d}", f"m{n}", key=f"k{n}"))
    async with deps.db.writer.begin() as conn:
        batch = await repo.claim(
            conn, now=clock.now(), lease=deps.dispatcher.lease, limit=10
        )
    assert len(batch) == 3
    clock.advance(seconds=deps.dispatcher.lease.total_seconds() + 1)
    assert await deps.dispatcher.run_once() == 3  # worker B: the leases ran out
    assert len(fake_sms.sent) == 3
    for row in batch:  # worker A carries on with its stale batch
        await deps.dispatcher._deliver(row)
    assert sorted(m.body for m in fake_sms.sent) == ["m0", "m1", "m2"]
    assert deps.metrics.outbound_sms.labels(outcome="lease_lost")._value.get() == 3

"""`recoop serve --role`: web serves webhooks; worker serves only health and runs the dispatcher."""

from __future__ import annotations

from typing import Any

from service.app import create_app
from service.bootstrap import build


def keep_db_open(app: Any) -> None:
    """The database belongs to the test's fixture: drop the app's close step."""
    app.cleanup_ctx[:] = [c for c in app.cleanup_ctx if c.__name__ != "_close_deps"]


async def test_worker_role_answers_health_only(
    settings: Any, clock: Any, database: Any, aiohttp_client: Any
) -> None:
    """A worker answers /healthz and /readyz but exposes no webhooks."""
    app = create_app(
        build(settings, clock=clock, db=database, background=[]), role="worker"
    )
    app.cleanup_ctx.clear()
    client = await aiohttp_client(app)
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    assert (await client.post("/webhooks/twilio/sms", data={})).status == 404


async def test_all_role_runs_dispatcher_in_background(
    settings: Any, clock: Any, database: Any, aiohttp_client: Any, fake_sms: Any
) -> None:
    """With role all, a queued SMS is sent without anyone calling the dispatcher."""
    import asyncio

    from service.domain.commands import SendSms

    fast = settings.model_copy(update={"dispatcher_interval_s": 0.05})
    deps = build(fast, clock=clock, sms=fake_sms, db=database)
    app = create_app(deps, role="all")
    keep_db_open(app)  # keep the dispatcher, not the db close
    await aiohttp_client(app)
    await deps.bus.handle(SendSms("+2348031234567", "hello", key="bg"))
    for _ in range(100):
        if fake_sms.sent:
            break
        await asyncio.sleep(0.02)
    assert fake_sms.to("+2348031234567") == ["hello"]


async def test_all_role_runs_payouts_sandbox_and_scheduler(
    settings: Any, clock: Any, database: Any, aiohttp_client: Any, fake_sms: Any
) -> None:
    """With role all, a held payout is submitted and settled by the background loops."""
    import asyncio

    from service.domain.commands import InboundSms, LogWeights, SetRate
    from service.gateways.sandbox_payouts import SandboxPayouts
    from tests.builders import message_sid

    fast = settings.model_copy(update={"sandbox_max_settle_s": 0.0})
    deps = build(fast, clock=clock, sms=fake_sms, db=database)
    sandbox = deps.payouts["sandbox"]
    assert isinstance(sandbox, SandboxPayouts)
    sandbox.failure_rate = sandbox.lost_callback_rate = 0.0
    sandbox.deliver = None  # no callback: the scheduler's poller must find the result
    deps.payout_dispatcher.first_poll_after = (
        deps.payout_dispatcher.first_poll_after * 0
    )
    app = create_app(deps, role="all")
    keep_db_open(app)
    await aiohttp_client(app)
    phone = "+2348031234567"
    for body in ("JOIN Ada, Yaba", "PICKUP"):
        await deps.bus.handle(
            InboundSms("twilio", message_sid(), phone, body, clock.now())
        )
    code = (await deps.views.pickups()).items[0]["code"]
    await deps.bus.handle(SetRate("PET", 5000, clock.today()))
    await deps.bus.handle(LogWeights(code, (("PET", 20000),), clock.now(), "k"))
    await deps.bus.handle(
        InboundSms("twilio", message_sid(), phone, "AIRTIME 500", clock.now())
    )
    for _ in range(200):
        items = (await deps.money.payouts()).items
        if items and items[0]["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert items[0]["status"] == "succeeded"

"""`recoop serve --role`: web serves webhooks; worker serves only health and runs the dispatcher."""

from __future__ import annotations

from typing import Any

from service.app import create_app
from service.bootstrap import build


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
    app.cleanup_ctx[:] = app.cleanup_ctx[:-1]  # keep the dispatcher, not the db close
    await aiohttp_client(app)
    await deps.bus.handle(SendSms("+2348031234567", "hello", key="bg"))
    for _ in range(100):
        if fake_sms.sent:
            break
        await asyncio.sleep(0.02)
    assert fake_sms.to("+2348031234567") == ["hello"]

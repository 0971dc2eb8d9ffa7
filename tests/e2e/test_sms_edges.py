"""Opt-out, status callbacks, Africa's Talking, throttling and proxies at the HTTP edge."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from service.bootstrap import build
from service.domain.commands import SendSms
from service.persistence.tables import delivery_reports, outbox
from service.settings import Settings
from tests.builders import BASE_URL, random_phone, sms_form, twilio_signature


async def test_stop_suppresses_then_start_restores(
    text: Any, deps: Any, fake_sms: Any
) -> None:
    """After STOP nothing the service starts is sent; after START it is again."""
    phone = random_phone()
    await text("JOIN Ada, Yaba", phone)
    _, reply = await text("STOP", phone)
    assert reply and "START" in reply.upper()
    await deps.bus.handle(SendSms(phone, "Reminder: pickup tomorrow", key="r1"))
    await deps.dispatcher.run_once()
    assert fake_sms.sent == []
    await text("START", phone)
    await deps.bus.handle(SendSms(phone, "Reminder: pickup tomorrow", key="r2"))
    await deps.dispatcher.run_once()
    assert fake_sms.to(phone) == ["Reminder: pickup tomorrow"]


async def test_bare_cancel_without_pickup_opts_out(
    text: Any, deps: Any, fake_sms: Any
) -> None:
    """CANCEL with nothing open stops messages (Twilio's opt-out list)."""
    phone = random_phone()
    await text("JOIN Ada, Yaba", phone)
    await text("CANCEL", phone)
    assert (await deps.views.households()).items[0]["status"] == "opted_out"


async def test_status_callback_signed_and_ordered(client: Any, deps: Any) -> None:
    """Signed status callbacks update delivery; late ones never move it back."""
    path = "/webhooks/twilio/status"
    for status in ["delivered", "sent"]:
        form = {"MessageSid": "SMabc", "MessageStatus": status, "AccountSid": "AC1"}
        sig = twilio_signature(BASE_URL + path, form)
        resp = await client.post(path, data=form, headers={"X-Twilio-Signature": sig})
        assert resp.status == 204
    form = {"MessageSid": "SMabc", "MessageStatus": "queued"}
    resp = await client.post(path, data=form, headers={"X-Twilio-Signature": "bad"})
    assert resp.status == 403
    async with deps.db.reader.connect() as conn:
        status = (await conn.execute(sa.select(delivery_reports.c.status))).scalar_one()
    assert status == "delivered"


async def test_africastalking_inbound_replies_via_outbox(
    client: Any, deps: Any, fake_sms: Any
) -> None:
    """An AT message is handled by the same bus; its reply is sent once via the outbox."""
    form = {
        "from": "+2348035550000",
        "to": "32123",
        "text": "JOIN Musa Bello, Sabo Yaba",
        "id": "ATXid_1",
        "linkId": "",
        "date": "2026-11-23 08:00:00",
    }
    for _ in range(2):  # AT retries too
        resp = await client.post(
            "/webhooks/africastalking/sms?token=at-secret", data=form
        )
        assert resp.status == 200
    await deps.dispatcher.run_once()
    assert len(fake_sms.to("+2348035550000")) == 1
    assert (await deps.views.households()).items[0]["name"] == "Musa Bello"
    resp = await client.post("/webhooks/africastalking/sms?token=wrong", data=form)
    assert resp.status == 403
    resp = await client.post(
        "/webhooks/africastalking/sms?token=at-secret", data={"from": "x"}
    )
    assert resp.status == 400


async def test_africastalking_delivery_report(client: Any, deps: Any) -> None:
    """AT delivery reports map onto delivery statuses."""
    form = {"id": "ATXid_9", "status": "Success", "retryCount": "0"}
    resp = await client.post(
        "/webhooks/africastalking/delivery?token=at-secret", data=form
    )
    assert resp.status == 200
    async with deps.db.reader.connect() as conn:
        row = (await conn.execute(sa.select(delivery_reports))).one()
    assert (row.provider_id, row.status) == ("ATXid_9", "delivered")


async def test_flooding_number_is_recorded_but_not_answered(
    text: Any,
    deps: Any,
    settings: Settings,
    clock: Any,
    database: Any,
    aiohttp_client: Any,
) -> None:
    """Past the inbound hourly cap a number gets no more replies (SMS pumping guard)."""
    from service.app import create_app

    tight = settings.model_copy(update={"inbound_per_number_per_hour": 3})
    app = create_app(build(tight, clock=clock, db=database, background=[]))
    app.cleanup_ctx.clear()
    client = await aiohttp_client(app)
    phone, path = random_phone(), "/webhooks/twilio/sms"
    replies = []
    for _ in range(5):
        form = sms_form("HELP", phone)
        sig = twilio_signature(BASE_URL + path, form)
        resp = await client.post(path, data=form, headers={"X-Twilio-Signature": sig})
        replies.append("<Message>" in await resp.text())
    assert replies == [True, True, True, False, False]
    assert (await deps.views.counts())["messages_in"] == 5


async def test_forwarded_headers_only_from_trusted_proxy(
    settings: Settings, clock: Any, database: Any, aiohttp_client: Any
) -> None:
    """X-Forwarded-* decide the signed URL only when the peer is a trusted proxy."""
    from service.app import create_app

    form = sms_form("HELP", random_phone())
    path = "/webhooks/twilio/sms"
    forwarded_url = "https://edge.example.net" + path
    headers = {
        "X-Twilio-Signature": twilio_signature(forwarded_url, form),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "edge.example.net",
    }
    results = []
    for proxies in [(), ("127.0.0.0/8",)]:
        s = settings.model_copy(update={"trusted_proxies": proxies})
        app = create_app(build(s, clock=clock, db=database, background=[]))
        app.cleanup_ctx.clear()
        client = await aiohttp_client(app)
        results.append((await client.post(path, data=form, headers=headers)).status)
        await client.close()
    assert results == [403, 200]


async def test_outbox_rows_for_replies_do_not_count_toward_cap(
    client: Any, deps: Any, fake_sms: Any
) -> None:
    """Replies via the outbox are marked as replies (not counted in the hourly cap)."""
    form = {"from": "+2348035550001", "to": "32123", "text": "HELP", "id": "ATXid_2"}
    await client.post("/webhooks/africastalking/sms?token=at-secret", data=form)
    async with deps.db.reader.connect() as conn:
        assert (await conn.execute(sa.select(outbox.c.is_reply))).scalar_one() is True


async def test_taken_pickup_code_gives_a_longer_one(
    text: Any, deps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Codes stay unique for good: when the 4-character code drawn is taken, the
    household gets a 6-character one, in its reply and on its pickup."""
    from service.domain import model

    real = model.new_pickup_code
    monkeypatch.setattr(
        model,
        "new_pickup_code",
        lambda length=4: "K7Q2" if length == 4 else real(length),
    )
    first, second = random_phone(), random_phone()
    for phone in (first, second):
        await text("JOIN Ada, Yaba", phone)
    _, reply1 = await text("PICKUP", first)
    _, reply2 = await text("PICKUP", second)

    codes = {
        item["phone"]: item["code"]
        for item in (await deps.views.pickups(status="open", limit=10)).items
    }
    assert codes[first] == "K7Q2" and reply1 and "K7Q2" in reply1
    assert len(codes[second]) == 6 and reply2 and codes[second] in reply2

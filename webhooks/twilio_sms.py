"""POST /webhooks/twilio/sms and /webhooks/twilio/status: verify, parse, hand to the bus."""

from __future__ import annotations

from aiohttp import web

from service.app_keys import DEPS
from service.domain.commands import InboundSms, RecordDeliveryStatus
from webhooks.app_keys import TWILIO_VERIFIER
from webhooks.responses import twiml

_MAX_BODY = 64 * 1024


async def _signed_form(request: web.Request) -> web.Response | dict[str, str]:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        return web.Response(status=413, text="request too large")
    if request.content_type != "application/x-www-form-urlencoded":
        return web.Response(status=400, text="expected a form-encoded body")
    try:
        form = await request.post()
    except ValueError:
        return web.Response(status=400, text="malformed form body")
    if not request.app[TWILIO_VERIFIER].verify(request, form):  # type: ignore[arg-type]
        return web.Response(status=403, text="invalid Twilio signature")
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def inbound_sms(request: web.Request) -> web.Response:
    """An SMS to our number: 200 with the reply in TwiML; same MessageSid, same reply."""
    form = await _signed_form(request)
    if isinstance(form, web.Response):
        return form
    sid, sender = form.get("MessageSid", ""), form.get("From", "")
    if not sid or not sender or "Body" not in form:
        return web.Response(status=400, text="MessageSid, From and Body are required")
    deps = request.app[DEPS]
    reply = await deps.bus.handle(
        InboundSms(
            provider="twilio",
            message_id=sid[:64],
            from_phone=sender,
            body=form["Body"],
            received_at=deps.clock.now(),
        )
    )
    return twiml(reply.text)


async def delivery_status(request: web.Request) -> web.Response:
    """Twilio's status callback; out-of-order reports never move a message back."""
    form = await _signed_form(request)
    if isinstance(form, web.Response):
        return form
    sid = form.get("MessageSid", "")
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or not status:
        return web.Response(
            status=400, text="MessageSid and MessageStatus are required"
        )
    deps = request.app[DEPS]
    await deps.bus.handle(
        RecordDeliveryStatus(
            provider="twilio",
            provider_id=sid[:64],
            status=status[:16],
            at=deps.clock.now(),
            error_code=(form.get("ErrorCode") or None),
        )
    )
    return web.Response(status=204)

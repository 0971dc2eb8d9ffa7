"""POST /webhooks/africastalking/sms and /delivery: Africa's Talking callbacks.

Africa's Talking does not sign its callbacks, so the callback URL configured in
its dashboard carries a secret: `?token=<RECOOP_AFRICASTALKING_WEBHOOK_TOKEN>`.
Replies cannot ride on the HTTP answer as with TwiML; they go out via the outbox.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from service.app_keys import DEPS
from service.domain.commands import InboundSms, RecordDeliveryStatus

# Africa's Talking delivery statuses, mapped onto Twilio's vocabulary.
_AT_STATUS = {
    "submitted": "sending",
    "buffered": "sending",
    "sent": "sent",
    "success": "delivered",
    "rejected": "failed",
    "failed": "undelivered",
}


async def _authorised_form(request: web.Request) -> web.Response | dict[str, str]:
    expected = request.app[
        DEPS
    ].settings.africastalking_webhook_token.get_secret_value()
    given = request.query.get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return web.Response(status=403, text="invalid or missing token")
    if request.content_type not in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        return web.Response(status=400, text="expected a form body")
    try:
        form = await request.post()
    except ValueError:
        return web.Response(status=400, text="malformed form body")
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def inbound_sms(request: web.Request) -> web.Response:
    """An SMS via Africa's Talking (fields from, to, text, id, linkId, date)."""
    form = await _authorised_form(request)
    if isinstance(form, web.Response):
        return form
    message_id, sender = form.get("id", ""), form.get("from", "")
    if not message_id or not sender or "text" not in form:
        return web.Response(status=400, text="id, from and text are required")
    deps = request.app[DEPS]
    await deps.bus.handle(
        InboundSms(
            provider="africastalking",
            message_id=message_id[:64],
            from_phone=sender,
            body=form["text"],
            received_at=deps.clock.now(),
            reply_by="outbox",
        )
    )
    return web.Response(status=200, text="")


async def delivery_report(request: web.Request) -> web.Response:
    """A delivery report (fields id, status, failureReason, retryCount)."""
    form = await _authorised_form(request)
    if isinstance(form, web.Response):
        return form
    message_id, status = form.get("id", ""), form.get("status", "")
    if not message_id or not status:
        return web.Response(status=400, text="id and status are required")
    deps = request.app[DEPS]
    await deps.bus.handle(
        RecordDeliveryStatus(
            provider="africastalking",
            provider_id=message_id[:64],
            status=_AT_STATUS.get(status.lower(), "sending"),
            at=deps.clock.now(),
            error_code=(form.get("failureReason") or None),
        )
    )
    return web.Response(status=200, text="")

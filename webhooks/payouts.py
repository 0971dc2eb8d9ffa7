"""POST /webhooks/payouts/{provider}: authenticate as the provider requires, then hand off."""

from __future__ import annotations

from aiohttp import web

from service.app_keys import DEPS
from service.domain.commands import RecordPayoutResult
from service.domain.errors import NotFound
from service.gateways import CallbackRejected
from webhooks.responses import json_error


async def payout_callback(request: web.Request) -> web.Response:
    """A provider's result; idempotent (the payout settles once, repeats are no-ops)."""
    deps = request.app[DEPS]
    name = request.match_info["provider"]
    provider = deps.payouts.get(name)
    if provider is None:
        return json_error(404, "unknown_provider", f"no payout provider {name!r}")
    body = await request.read()
    try:
        status = provider.parse_callback(request.headers, request.query, body)
    except CallbackRejected as exc:
        return json_error(exc.status, "rejected", str(exc))
    try:
        await deps.bus.handle(
            RecordPayoutResult(
                provider=name,
                state=status.state,
                reference=status.reference,
                provider_txn=status.provider_txn,
                reason=status.reason,
            )
        )
    except NotFound:
        return json_error(404, "unknown_payout", "no payout matches this callback")
    return web.json_response({"ok": True})

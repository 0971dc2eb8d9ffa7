"""/healthz (alive), /readyz (database answers), /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from service.app_keys import DEPS

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[DEPS].views.ping(), timeout=2.0)
    except Exception as exc:  # any failure means "not ready", with the reason
        log.warning("not ready: %s", type(exc).__name__)
        return web.json_response(
            {"status": "unavailable", "reason": "database unreachable"}, status=503
        )
    return web.json_response({"status": "ready"})


OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "expired", "suppressed")
PAYOUT_STATES = ("held", "submitted", "succeeded", "failed", "released")


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    m = deps.metrics
    try:
        gauges = await asyncio.wait_for(deps.views.gauges(deps.clock.now()), 5.0)
    except Exception as exc:  # the counters still matter when the database is down
        log.warning("metrics without database gauges: %s", type(exc).__name__)
    else:
        for status in OUTBOX_STATUSES:
            m.outbox_depth.labels(status).set(gauges["outbox"].get(status, 0))
        m.outbox_oldest_pending.set(gauges["oldest_pending_s"])
        for state in PAYOUT_STATES:
            m.payouts.labels(state).set(gauges["payouts"].get(state, 0))
    return web.Response(body=m.render(), headers={"Content-Type": m.content_type})

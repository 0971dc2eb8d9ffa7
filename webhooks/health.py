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


async def metrics(request: web.Request) -> web.Response:
    m = request.app[DEPS].metrics
    return web.Response(body=m.render(), headers={"Content-Type": m.content_type})

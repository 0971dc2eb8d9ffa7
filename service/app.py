"""create_app(deps): routes, one error middleware, lifetimes in cleanup_ctx."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

from aiohttp import web

from service.app_keys import DEPS
from service.bootstrap import Deps
from webhooks import setup_routes
from webhooks.api_v1 import ApiError
from webhooks.app_keys import TWILIO_VERIFIER
from webhooks.responses import json_error
from webhooks.signatures import TwilioVerifier

log = logging.getLogger(__name__)


@web.middleware
async def errors_and_metrics(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """JSON errors under /api; never a bare 500 for bad input; latency histogram."""
    started = time.perf_counter()
    api = request.path.startswith("/api/")
    try:
        response = await handler(request)
    except ApiError as exc:
        response = json_error(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if not api:
            raise
        code = (exc.reason or "error").lower().replace(" ", "_")
        response = json_error(exc.status, code, exc.text or exc.reason or "error")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = (
            json_error(500, "internal", "unexpected error; it has been logged")
            if api
            else web.Response(status=500, text="internal error")
        )
    route = request.match_info.route.resource
    label = route.canonical if route is not None else "unmatched"
    request.app[DEPS].metrics.http_requests.labels(label, str(response.status)).observe(
        time.perf_counter() - started
    )
    return response


def create_app(deps: Deps, *, role: str = "all") -> web.Application:
    """The aiohttp application for `role` (all | web | worker); nothing runs until started."""
    app = web.Application(middlewares=[errors_and_metrics], client_max_size=256 * 1024)
    app[DEPS] = deps
    app[TWILIO_VERIFIER] = TwilioVerifier(deps.settings)
    if role == "worker":
        from webhooks import health

        app.router.add_get("/healthz", health.healthz)
        app.router.add_get("/readyz", health.readyz)
        app.router.add_get("/metrics", health.metrics)
    else:
        setup_routes(app)
    if role in ("all", "worker") and "dispatcher" in deps.background:
        app.cleanup_ctx.append(_dispatcher)
    app.cleanup_ctx.append(_close_deps)
    return app


async def _dispatcher(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(
        app[DEPS].dispatcher.run_forever(), name="outbox-dispatcher"
    )
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def _close_deps(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[DEPS].close()

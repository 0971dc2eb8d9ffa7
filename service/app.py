"""create_app(deps): routes, one error middleware, lifetimes in cleanup_ctx."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

from aiohttp import web

from service.app_keys import ACTOR, AUDIT_DETAIL, DEPS
from service.bootstrap import Deps
from service.logs import new_request_id, request_id
from webhooks import setup_routes
from webhooks.api_v1 import ApiError
from webhooks.app_keys import TWILIO_VERIFIER
from webhooks.responses import json_error
from webhooks.signatures import TwilioVerifier

log = logging.getLogger(__name__)


@web.middleware
async def errors_and_metrics(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Request id; JSON errors under /api; never a bare 500 for bad input; latency."""
    started = time.perf_counter()
    rid = new_request_id(request.headers.get("X-Request-Id"))
    request_id.set(rid)  # each request runs in its own task: the id stays with it
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
    actor = request.get(ACTOR)
    if (
        actor
        and request.method not in ("GET", "HEAD", "OPTIONS")
        and response.status < 400
    ):
        try:
            await request.app[DEPS].auth.audit(
                actor,
                f"{request.method} {request.path}",
                response.status,
                request.get(AUDIT_DETAIL, ""),
            )
        except Exception:
            log.exception("could not write the audit entry for %s", request.path)
    if not response.prepared:  # a streamed response has sent its headers already
        response.headers["X-Request-Id"] = rid
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
    # aiohttp unwinds cleanup contexts in reverse: the loops stop before the
    # database and the HTTP client they use are closed.
    app.cleanup_ctx.append(_close_deps)
    if role in ("all", "worker"):
        app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Outbox and payout loops, the sandbox's back office, and the scheduler."""
    from service.gateways.sandbox_payouts import SandboxPayouts
    from service.scheduler import Leadership

    deps = app[DEPS]
    wanted = set(deps.background)
    loops = []
    if "dispatcher" in wanted:
        loops.append(("outbox-dispatcher", deps.dispatcher.run_forever()))
    if "payouts" in wanted:
        loops.append(("payout-dispatcher", deps.payout_dispatcher.run_forever()))
    sandbox = deps.payouts.get("sandbox")
    if "sandbox" in wanted and isinstance(sandbox, SandboxPayouts):
        loops.append(("sandbox-provider", sandbox.run_forever()))
    leadership = Leadership(deps, check_s=deps.settings.leader_check_s)
    if "scheduler" in wanted:
        await leadership.step()  # the first process takes the lead before serving
        if not leadership.is_leader:
            log.info("another process runs the scheduled jobs; standing by")
        loops.append(("scheduler-leadership", leadership.run_forever()))
    tasks = [asyncio.create_task(coro, name=name) for name, coro in loops]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError):
            await task
    await leadership.stop()


async def _close_deps(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[DEPS].close()

"""Browser sessions for /ops and /collector: the cookie, CSRF checks and page guards.

Every page view that needs a person uses `operator_page` or `collector_page`. A guard
loads the session from the cookie, puts it in `request["session"]` and, for anything
but GET/HEAD, checks the CSRF token (a form field `csrf` or an `X-CSRF-Token` header)
against the one stored with the session. Writes that succeed are audited by the app's
middleware from `request["actor"]`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.app_keys import ACTOR, DEPS, SESSION
from service.auth import COLLECTOR_SESSION, OPERATOR_SESSION, Session

COOKIE = "recoop_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, token: str, kind: str
) -> None:
    """HttpOnly, SameSite=Lax, Secure when the public address is HTTPS."""
    settings = request.app[DEPS].settings
    ttl = OPERATOR_SESSION if kind == "operator" else COLLECTOR_SESSION
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.public_base_url.startswith("https://"),
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


async def current_session(request: web.Request) -> Session | None:
    """The signed-in person behind the request's cookie, if any."""
    if SESSION in request:
        return request[SESSION]
    token = request.cookies.get(COOKIE, "")
    session = await request.app[DEPS].auth.session(token) if token else None
    request[SESSION] = session
    if session is not None:
        request[ACTOR] = session.actor
    return session


async def csrf_ok(request: web.Request, session: Session) -> bool:
    """True when the request echoes the session's CSRF token (header or form field)."""
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get("csrf", "")
        sent = value if isinstance(value, str) else ""
    return bool(sent) and hmac.compare_digest(sent, session.csrf)


def _guard(kind: str, login_path: str) -> Callable[[Handler], Handler]:
    def wrap(view: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = await current_session(request)
            wants_json = request.path.split("/")[2:3] == ["api"] or (
                "application/json" in request.headers.get("Accept", "")
            )
            if session is None:
                if request.method in SAFE_METHODS and not wants_json:
                    raise web.HTTPSeeOther(login_path)
                raise _json_status(401, "unauthorized", "sign in first")
            if session.kind != kind:
                raise _json_status(403, "forbidden", f"this page is for {kind}s")
            if request.method not in SAFE_METHODS and not await csrf_ok(
                request, session
            ):
                raise _json_status(
                    403, "csrf", "the form has expired; reload the page and try again"
                )
            return await view(request)

        guarded.__name__ = view.__name__
        guarded.__doc__ = view.__doc__
        return guarded

    return wrap


def _json_status(status: int, code: str, message: str) -> web.HTTPException:
    body = web.json_response({"error": {"code": code, "message": message}}).text
    cls = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden}[status]
    return cls(text=body, content_type="application/json")


operator_page = _guard("operator", "/ops/login")
collector_page = _guard("collector", "/collector/login")

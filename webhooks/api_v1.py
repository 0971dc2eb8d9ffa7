"""Operator and collector JSON API under /api/v1 (bearer tokens, JSON errors)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from service.app_keys import ACTOR, DEPS
from service.domain.commands import SendSms
from service.domain.errors import InvalidInput
from service.views import MAX_LIMIT, Page
from webhooks.openapi import MAX_ID, OPENAPI
from webhooks.responses import json_error

PICKUP_STATUSES = ("open", "scheduled", "done", "cancelled")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "expired", "suppressed")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A decimal integer as a query or path parameter: ASCII digits only (int() would also
# take "1_000", " 7" and other scripts' digits, which the document does not allow).
_INTEGER = re.compile(r"-?[0-9]+")


class ApiError(Exception):
    """Raised by API views; rendered as the JSON error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def requires(*roles: str) -> Callable[[Handler], Handler]:
    """Allow the view only for bearer tokens of these roles."""

    def wrap(view: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(
                    401, "unauthorized", "send Authorization: Bearer <token>"
                )
            found = await request.app[DEPS].views.token_role(token.strip())
            if found is None:
                raise ApiError(401, "unauthorized", "unknown or revoked token")
            role, actor = found
            if role not in roles:
                raise ApiError(
                    403, "forbidden", f"this call needs a {' or '.join(roles)} token"
                )
            request[ACTOR] = actor  # the app's middleware audits accepted writes
            return await view(request)

        guarded.__name__ = view.__name__
        guarded.__doc__ = view.__doc__
        return guarded

    return wrap


def _parse_int(raw: str) -> int | None:
    if not _INTEGER.fullmatch(raw):
        return None
    try:
        return int(raw)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return None


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    value = _parse_int(raw)
    if value is None:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer")
    if not lo <= value <= hi:
        raise ApiError(
            400, "invalid_parameter", f"{name} must be between {lo} and {hi}"
        )
    return value


def path_id(request: web.Request, what: str = "id") -> int:
    """The {id} of the path: an integer from 1 to MAX_ID, else 400."""
    value = _parse_int(request.match_info["id"])
    if value is None or not 1 <= value <= MAX_ID:
        raise ApiError(
            400, "invalid_parameter", f"{what} must be an integer from 1 to {MAX_ID}"
        )
    return value


def body_id(body: dict[str, Any], name: str) -> int:
    """An id in a JSON body: an integer from 1 to MAX_ID."""
    value = body.get(name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_ID
    ):
        raise ApiError(
            400, "invalid_body", f"{name} must be an integer from 1 to {MAX_ID}"
        )
    return value


def optional_body_id(body: dict[str, Any], name: str) -> int | None:
    """An id in a JSON body, or null (or absent)."""
    return None if body.get(name) is None else body_id(body, name)


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise ApiError(
            400, "invalid_parameter", f"{name} must be one of: {', '.join(allowed)}"
        )
    return value


def _paging(request: web.Request) -> tuple[int, int]:
    limit = _int_param(request, "limit", 100, 1, MAX_LIMIT)
    after = _int_param(request, "after", 0, 0, MAX_ID)
    return limit, after


def _page_response(request: web.Request, page: Page) -> web.Response:
    nxt = None
    if page.next_after is not None:
        nxt = str(request.rel_url.update_query({"after": str(page.next_after)}))
    return web.json_response({"items": page.items, "next": nxt})


@requires("operator")
async def list_households(request: web.Request) -> web.Response:
    """Registered households."""
    limit, after = _paging(request)
    page = await request.app[DEPS].views.households(after=after, limit=limit)
    return _page_response(request, page)


@requires("operator")
async def list_pickups(request: web.Request) -> web.Response:
    """Pickup requests, optionally by status."""
    limit, after = _paging(request)
    status = _choice(request, "status", PICKUP_STATUSES)
    page = await request.app[DEPS].views.pickups(
        status=status, after=after, limit=limit
    )
    return _page_response(request, page)


@requires("operator")
async def list_unparsed(request: web.Request) -> web.Response:
    """Messages the parser did not understand, kept for operators to review."""
    limit, after = _paging(request)
    page = await request.app[DEPS].views.unparsed_messages(after=after, limit=limit)
    return _page_response(request, page)


@requires("operator")
async def list_outbound(request: web.Request) -> web.Response:
    """Messages the service sent or will send, with delivery status."""
    limit, after = _paging(request)
    status = _choice(request, "status", OUTBOX_STATUSES)
    page = await request.app[DEPS].views.outbound_messages(
        status=status, after=after, limit=limit
    )
    return _page_response(request, page)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, LookupError, RecursionError):
        # JSONDecodeError is a ValueError; LookupError: an unknown charset.
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    _check_strings(body)
    return body


def _check_strings(body: Any) -> None:
    """Refuse text no database column can hold: NUL characters (PostgreSQL text
    cannot store them) and lone surrogates (not encodable as UTF-8)."""
    stack = [body]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise ApiError(
                    400, "invalid_body", "text must not contain NUL (\\u0000)"
                )
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(
                    400, "invalid_body", "text must not contain lone surrogates"
                ) from None


@requires("operator")
async def send_sms(request: web.Request) -> web.Response:
    """Queue an SMS to a number; `key` makes a retried call send once."""
    body = await _json_body(request)
    to, text, key = body.get("to"), body.get("body"), body.get("key")
    if not isinstance(to, str) or not isinstance(text, str) or not isinstance(key, str):
        raise ApiError(400, "invalid_body", "to, body and key must be strings")
    if not text.strip() or len(text) > 1600 or not 1 <= len(key) <= 64:
        raise ApiError(400, "invalid_body", "body needs 1-1600 characters, key 1-64")
    try:
        queued = await request.app[DEPS].bus.handle(
            SendSms(to_phone=to, body=text, key=f"api:{key}")
        )
    except InvalidInput as exc:
        raise ApiError(400, "invalid_phone", str(exc)) from None
    return web.json_response({"queued": queued, "key": key}, status=202)


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document for this API."""
    return web.json_response(OPENAPI)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/api/v1/households", list_households)
    app.router.add_get("/api/v1/pickups", list_pickups)
    app.router.add_get("/api/v1/messages/unparsed", list_unparsed)
    app.router.add_get("/api/v1/messages/outbound", list_outbound)
    app.router.add_post("/api/v1/sms", send_sms)


def api_error_response(exc: ApiError) -> web.Response:
    return json_error(exc.status, exc.code, exc.message)

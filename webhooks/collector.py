"""The collector phone page: sign-in by texted code, the app shell and its JSON API.

Everything under /collector/api/ answers JSON, including errors. Writes go through
`ActOnOwnStop`, which refuses a stop that is not on the collector's own round, and
carry the idempotency key the phone made when the form was submitted, so a queued
weighing sent twice (a lost response, two tabs) counts once.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from service.app_keys import ACTOR, DEPS, SESSION
from service.auth import Session
from service.collector_round import (
    CollectorRounds,
    NotYourStop,
    StopAnswer,
    StopClosed,
)
from service.domain.commands import ActOnOwnStop, LogWeights, MissStop, PinStop
from service.domain.errors import InvalidInput, NotFound
from service.domain.sms_parser import normalise_code
from webhooks.api_money import _coordinate, _weighing_command, run
from webhooks.api_v1 import ApiError, _json_body
from webhooks.impact import MATERIAL_NAMES
from webhooks.pages import STATIC, render
from webhooks.web_auth import (
    COOKIE,
    clear_session_cookie,
    collector_page,
    current_session,
    set_session_cookie,
)

SERVICE_WORKER = STATIC / "collector" / "sw.js"
MISSED_REASONS = (
    "Nobody at home",
    "Not ready yet",
    "Could not find the place",
    "Household said no",
    "Bike full or broken",
)


# --- sign-in ---------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    """The sign-in form; ?phone= and ?code= prefill it (a demo link) but never sign in."""
    signed_in = await current_session(request)
    if signed_in is not None and signed_in.kind == "collector":
        return _see_other("/collector")
    phone = request.query.get("phone", "")[:32]
    code = "".join(ch for ch in request.query.get("code", "") if ch.isdigit())[:6]
    step = "code" if code else "phone"
    return _login(request, step=step, phone=phone, code=code)


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Step 1 (action=send) texts a code; step 2 (action=verify) signs in with it."""
    if not _same_origin(request):
        return _login(request, step="phone", error="Sign-in refused.", status=403)
    form = await request.post()
    phone = _field(form, "phone", 32)
    code = _field(form, "code", 12)
    auth = request.app[DEPS].auth
    if _field(form, "action", 10) != "verify":
        try:
            await auth.request_code(phone)
        except InvalidInput:
            return _login(
                request,
                step="phone",
                phone=phone,
                error="Enter your phone number with its area code, like 0803 123 4567.",
                status=400,
            )
        return _login(
            request,
            step="code",
            phone=phone,
            info="If this number belongs to a collector, a 6-digit code is on its "
            "way by SMS. It works for 10 minutes.",
        )
    token = await auth.verify_code(phone, code)
    session = await auth.session(token) if token else None
    if token is None or session is None:
        return _login(
            request,
            step="code",
            phone=phone,
            error="That code did not work. Check the SMS, or send a new code.",
            status=400,
        )
    request[ACTOR] = session.actor  # audited by the app middleware
    response = _see_other("/collector")
    set_session_cookie(request, response, token, "collector")
    return response


def _login(
    request: web.Request,
    *,
    step: str,
    phone: str = "",
    code: str = "",
    info: str = "",
    error: str = "",
    status: int = 200,
) -> web.Response:
    response = render(
        request,
        "collector/login.html",
        status=status,
        step=step,
        phone=phone,
        code=code,
        info=info,
        error=error,
    )
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _field(form: Any, name: str, limit: int) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _same_origin(request: web.Request) -> bool:
    """Refuse a sign-in posted from another site (login CSRF); no Origin is fine."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    public = urlsplit(request.app[DEPS].settings.public_base_url)
    allowed = {
        f"{request.scheme}://{request.host}",
        f"{public.scheme}://{public.netloc}",
    }
    return origin in allowed


@collector_page
async def logout(request: web.Request) -> web.StreamResponse:
    """End the session; the page clears its own caches before posting here."""
    await request.app[DEPS].auth.logout(request.cookies.get(COOKIE, ""))
    response = _see_other("/collector/login")
    clear_session_cookie(response)
    return response


# --- the page ----------------------------------------------------------------------


@collector_page
async def app_shell(request: web.Request) -> web.Response:
    """The offline-first shell; the round itself comes from /collector/api/."""
    raw = request.query.get("round", "")
    response = render(
        request,
        "collector/app.html",
        round_id=int(raw) if raw.isdigit() and len(raw) < 10 else None,
        reasons=MISSED_REASONS,
    )
    response.headers["X-Frame-Options"] = "DENY"
    return response


async def service_worker(request: web.Request) -> web.FileResponse:
    """The service worker, served under /collector so its scope covers the page."""
    return web.FileResponse(
        SERVICE_WORKER,
        headers={
            "Content-Type": "text/javascript",
            "Service-Worker-Allowed": "/collector",
            "Cache-Control": "no-cache",
        },
    )


# --- JSON API ----------------------------------------------------------------------


def _session(request: web.Request) -> Session:
    session = request[SESSION]
    assert session is not None
    return session


def _rounds(request: web.Request) -> CollectorRounds:
    return CollectorRounds(request.app[DEPS].db)


async def _round_response(
    request: web.Request, round_json: dict[str, Any] | None
) -> web.Response:
    deps = request.app[DEPS]
    rates = await _rounds(request).rates(deps.clock.today())
    materials = [
        {"code": m, "name": MATERIAL_NAMES.get(m, m), "kobo_per_kg": kobo}
        for m, kobo in rates.items()
    ]
    body = {
        "round": round_json,
        "materials": materials,
        "collector": _session(request).name,
        "today": deps.clock.today().isoformat(),
        # The phone's clock may be wrong; the page stamps weighings in server time.
        "server_time": deps.clock.now().isoformat(),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@collector_page
async def get_round(request: web.Request) -> web.Response:
    """Today's round on the collector's bike (null when none is planned)."""
    deps = request.app[DEPS]
    found = await _rounds(request).todays_round(
        _session(request).subject_id, deps.clock.today()
    )
    return await _round_response(request, found)


@collector_page
async def get_round_by_id(request: web.Request) -> web.Response:
    """One round by id (the SMS link); 403 when it is another collector's."""
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(400, "invalid_parameter", "round id must be an integer")
    try:
        found = await _rounds(request).round(_session(request).subject_id, int(raw))
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except NotYourStop as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    return await _round_response(request, found)


async def _act(request: web.Request, action: LogWeights | MissStop | PinStop) -> Any:
    command = ActOnOwnStop(_session(request).subject_id, action)
    try:
        answer: StopAnswer = await run(request, command)
    except NotYourStop as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except StopClosed as exc:
        raise ApiError(409, "stop_closed", str(exc)) from None
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return web.json_response(answer.body, status=answer.status_code, headers=headers)


@collector_page
async def post_weighing(request: web.Request) -> web.Response:
    """{pickup_code, items: [{material, kg}], idempotency_key, collected_at, lat?, lon?}"""
    body = await _json_body(request)
    weighing = _weighing_command(body, request.app[DEPS].clock.now())
    session = _session(request)
    result: web.Response = await _act(
        request, replace(weighing, source="app", collector=session.name)
    )
    return result


@collector_page
async def post_missed(request: web.Request) -> web.Response:
    """{pickup_code, reason, idempotency_key}: the pickup stays open for another day."""
    body = await _json_body(request)
    reason = body.get("reason")
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= 160:
        raise ApiError(400, "invalid_body", "reason must be 1-160 characters")
    action = MissStop(_code(body), reason.strip(), _key(body, required=True))
    result: web.Response = await _act(request, action)
    return result


@collector_page
async def post_pin(request: web.Request) -> web.Response:
    """{pickup_code or household, lat, lon, idempotency_key?}: a GPS pin."""
    body = await _json_body(request)
    lat, lon = _coordinate(body, "lat", 90), _coordinate(body, "lon", 180)
    if lat is None or lon is None:
        raise ApiError(400, "invalid_body", "lat and lon are required numbers")
    household = body.get("household")
    if body.get("pickup_code") is not None:
        action = PinStop(lat, lon, _key(body), pickup_code=_code(body))
    elif isinstance(household, int) and not isinstance(household, bool):
        action = PinStop(lat, lon, _key(body), household_id=household)
    else:
        raise ApiError(
            400, "invalid_body", "name the stop: pickup_code or household (an id)"
        )
    result: web.Response = await _act(request, action)
    return result


def _code(body: dict[str, Any]) -> str:
    code = body.get("pickup_code")
    if not isinstance(code, str) or not 4 <= len(normalise_code(code)) <= 8:
        raise ApiError(400, "invalid_body", "pickup_code must be a 4-8 character code")
    return normalise_code(code)


def _key(body: dict[str, Any], *, required: bool = False) -> str:
    key = body.get("idempotency_key")
    if key is None and not required:
        return f"server:{uuid.uuid4()}"
    if not isinstance(key, str) or not 1 <= len(key) <= 120:
        raise ApiError(
            400, "invalid_body", "idempotency_key must be a string of 1-120 characters"
        )
    return key


def setup(app: web.Application) -> None:
    app.router.add_get("/collector/login", login_page)
    app.router.add_post("/collector/login", login_submit)
    app.router.add_post("/collector/logout", logout)
    app.router.add_get("/collector", app_shell)
    app.router.add_get("/collector/sw.js", service_worker)
    app.router.add_get("/collector/api/round", get_round)
    app.router.add_get("/collector/api/rounds/{id}", get_round_by_id)
    app.router.add_post("/collector/api/weighings", post_weighing)
    app.router.add_post("/collector/api/missed", post_missed)
    app.router.add_post("/collector/api/pin", post_pin)

"""Operator dashboard (/ops): sign-in, the day's rounds, set-up, money, queues, exports.

Pages are rendered on the server and work without JavaScript; ops.js only adds the
map, the charts and the planning progress. Every write is a form POST guarded by
`operator_page` (session + CSRF) that hands one command to the bus and redirects
(POST/redirect/GET); bad input shows the page again with a message and a 4xx. The
app's middleware audits each accepted write from the session's actor.

Planning can take `plan_seconds`, so /ops/plan starts it as a background task, kept
in memory per day (one process; a second replica would plan on its own), and the
page polls /ops/plan/status until it is done.
"""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import logging
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from service import phones
from service.app_keys import AUDIT_DETAIL, DEPS, SESSION
from service.auth import Session
from service.bus import is_transient
from service.domain.commands import (
    AddBike,
    AddHub,
    CloseDispute,
    Command,
    MarkMessageReviewed,
    PinLocation,
    PlanDay,
    RegisterCollector,
    ReverseWeighing,
    SetRate,
)
from service.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from service.domain.sms_parser import MATERIALS
from service.ledger.postings import IdempotencyConflict, InsufficientFunds
from service.ledger.reconcile import (
    CATEGORIES,
    LedgerPayout,
    Report,
    StatementError,
    StatementRow,
    parse_sandbox_statement,
    reconcile,
)
from service.ops_views import PAYOUT_STATES, OpsViews
from service.views import Page
from webhooks.pages import render
from webhooks.web_auth import (
    COOKIE,
    clear_session_cookie,
    current_session,
    operator_page,
    set_session_cookie,
)

log = logging.getLogger(__name__)

NAV = (
    ("/ops", "Today"),
    ("/ops/setup", "Set-up"),
    ("/ops/payouts", "Payouts"),
    ("/ops/reconcile", "Reconcile"),
    ("/ops/queues", "Queues"),
    ("/ops/ledger", "Ledger"),
    ("/ops/charts", "Charts"),
    ("/ops/audit", "Audit"),
)
# One colour per bike on the map and in the table; each keeps white digits >= 4.5:1.
PALETTE = (
    "#1f57b8",
    "#b3261e",
    "#17703a",
    "#7b3fa0",
    "#9a4f00",
    "#006b75",
    "#a0306e",
    "#3f4d00",
    "#3a3a9e",
    "#6e4426",
)
DONE_MESSAGES = {
    "hub": "Hub added.",
    "bike": "Bike added.",
    "collector": "Collector added.",
    "rate": "Rate saved.",
    "corrected": "Correction recorded and the household told by SMS.",
    "closed": "Dispute closed; the weighing stands.",
    "reviewed": "Message marked as reviewed.",
    "pinned": "Location saved; the household can be planned now.",
}
LOGIN_CSRF_COOKIE = "recoop_login_csrf"
# What a write changed, in words, for the audit log's detail column (the middleware
# records who and which route; this says which hub, rate or dispute).
CHART_DAYS = (7, 14, 28, 90, 182, 365)
MAX_STATEMENT_BYTES = 200_000  # the app accepts 256 KB bodies in all

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FormError(Exception):
    """Bad form input or a refused command: shown on the page with this status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


# --- helpers -------------------------------------------------------------------------


def naira(kobo: int | None) -> str:
    """Kobo as naira for people: 150050 -> "₦1,500.50", -500 -> "−₦5.00"."""
    if kobo is None:
        return ""
    sign = "−" if kobo < 0 else ""
    whole, rest = divmod(abs(int(kobo)), 100)
    return f"{sign}₦{whole:,}.{rest:02d}"


def _local_time(tz: ZoneInfo) -> Callable[[str | None], str]:
    def show(value: str | None) -> str:
        if not value:
            return ""
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
        return when.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return show


def _views(request: web.Request) -> OpsViews:
    deps = request.app[DEPS]
    return OpsViews(deps.db, deps.clock.tz)


def _session(request: web.Request) -> Session:
    session: Session | None = request.get(SESSION)
    assert session is not None, "only called behind operator_page"
    return session


def _see_other(location: str) -> web.Response:
    # Returned, not raised: the middleware audits returned writes only.
    return web.Response(status=303, headers={"Location": location})


def _page(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    deps = request.app[DEPS]
    done = request.query.get("done", "")
    context.setdefault("error", None)
    response = render(
        request,
        template,
        status=status,
        nav=NAV,
        path=request.path,
        naira=naira,
        when=_local_time(deps.clock.tz),
        notice=DONE_MESSAGES.get(done),
        today=deps.clock.today().isoformat(),
        **context,
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


async def _form(request: web.Request) -> Mapping[str, Any]:
    return await request.post()


def _text(
    form: Mapping[str, Any],
    name: str,
    label: str,
    *,
    max_len: int = 80,
    required: bool = True,
) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise FormError(f"{label} must be text")
    value = value.strip()
    if required and not value:
        raise FormError(f"{label} is required")
    if len(value) > max_len:
        raise FormError(f"{label} must be at most {max_len} characters")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise FormError(f"{label} contains control characters")
    return value


def _number(
    form: Mapping[str, Any], name: str, label: str, lo: float, hi: float
) -> float:
    raw = _text(form, name, label, max_len=30)
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        raise FormError(f"{label} must be a number") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise FormError(f"{label} must be a number from {lo:g} to {hi:g}")
    return value


def _integer(form: Mapping[str, Any], name: str, label: str) -> int:
    raw = _text(form, name, label, max_len=12)
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise FormError(f"choose a {label}")
    return int(raw)


_NAIRA = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def _kobo(form: Mapping[str, Any], name: str, label: str, *, positive: bool) -> int:
    """Naira typed by a person ("1,500", "₦1500.50") -> whole kobo."""
    raw = _text(form, name, label, max_len=20)
    cleaned = raw.replace(",", "").replace("₦", "").removeprefix("N").strip()
    if not _NAIRA.fullmatch(cleaned):
        raise FormError(f"{label} must be an amount in naira, e.g. 1500 or 12.50")
    kobo = int(Decimal(cleaned) * 100)
    if kobo > 100_000_000 or (positive and kobo <= 0):
        raise FormError(
            f"{label} must be more than ₦0 and at most ₦1,000,000"
            if positive
            else f"{label} must be at most ₦1,000,000"
        )
    return kobo


def _minutes(form: Mapping[str, Any], name: str, label: str) -> int:
    raw = _text(form, name, label, max_len=5)
    match = re.fullmatch(r"([01]?[0-9]|2[0-4]):([0-5][0-9])", raw)
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise FormError(f"{label} must be a time such as 08:00")
    return int(match.group(1)) * 60 + int(match.group(2))


def _date(raw: str, label: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise FormError(f"{label} must be a date (YYYY-MM-DD)") from None


def _day_param(request: web.Request) -> date:
    raw = request.query.get("day")
    if not raw:
        return request.app[DEPS].clock.today()
    return _date(raw, "day")


async def _run(request: web.Request, command: Command) -> Any:
    """Hand a command to the bus; refusals become FormErrors with the right status."""
    try:
        return await request.app[DEPS].bus.handle(command)
    except NotFound as exc:
        raise FormError(str(exc), 404) from None
    except InvalidInput as exc:
        raise FormError(str(exc), 400) from None
    except (Conflict, InsufficientFunds, IdempotencyConflict) as exc:
        raise FormError(str(exc), 409) from None
    except DomainError as exc:
        raise FormError(str(exc), 400) from None
    except Exception as exc:
        # The bus retried a race it kept losing: a unique name or number in use.
        if is_transient(exc):
            raise FormError(
                "that clashes with an existing entry (a name or number already in "
                "use); nothing was changed",
                409,
            ) from None
        raise


# --- sign-in -------------------------------------------------------------------------


class LoginLimiter:
    """Failed sign-ins per username and per client address, in a sliding window.

    In memory and per process: it slows guessing down; argon2's cost does the rest.
    """

    def __init__(
        self,
        *,
        per_user: int = 5,
        per_address: int = 20,
        window: timedelta = timedelta(minutes=15),
        max_keys: int = 10_000,
    ) -> None:
        self.limits = {"user": per_user, "ip": per_address}
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        seen = self._failures.get(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        return seen

    def blocked(self, keys: list[str], now: datetime) -> bool:
        return any(
            len(self._recent(k, now)) >= self.limits[k.split(":", 1)[0]] for k in keys
        )

    def failed(self, keys: list[str], now: datetime) -> None:
        if len(self._failures) >= self.max_keys:
            for key in list(self._failures):
                if not self._recent(key, now):
                    del self._failures[key]
            if len(self._failures) >= self.max_keys:
                log.warning("sign-in limiter full; forgetting old failures")
                self._failures.clear()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)


def _client_address(request: web.Request) -> str:
    """The peer, or the first untrusted X-Forwarded-For hop behind a trusted proxy."""
    peer = request.remote or "unknown"
    nets = [
        ipaddress.ip_network(p, strict=False)
        for p in request.app[DEPS].settings.trusted_proxies
    ]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in nets)

    if not nets or not trusted(peer):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not trusted(hop):
            return hop
    return peer


def _login_page(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = _page(
        request, "ops/login.html", status=status, error=error, login_csrf=token
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/ops/login",
        httponly=True,
        samesite="Strict",
        secure=request.app[DEPS].settings.public_base_url.startswith("https://"),
    )
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    """The sign-in form (or straight to the dashboard when already signed in)."""
    session = await current_session(request)
    if session is not None and session.kind == "operator":
        return _see_other("/ops")
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password; one generic message whatever was wrong."""
    deps = request.app[DEPS]
    limiter = request.app[LOGIN_LIMITER]
    form = await request.post()
    sent = form.get("csrf", "")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (
        isinstance(sent, str) and expected and secrets.compare_digest(sent, expected)
    ):
        return _login_page(
            request,
            status=403,
            error="The form had expired. Please sign in again.",
        )
    username = form.get("username", "")
    password = form.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str):
        return _login_page(request, status=400, error="Enter a username and password.")
    username = username.strip().lower()[:60]
    now = deps.clock.now()
    keys = [f"user:{username}", f"ip:{_client_address(request)}"]
    if limiter.blocked(keys, now):
        return _login_page(
            request,
            status=429,
            error="Too many failed attempts. Wait 15 minutes and try again.",
        )
    token = None
    if username and password and len(password) <= 1024:
        token = await deps.auth.operator_login(username, password)
    if token is None:
        limiter.failed(keys, now)
        await deps.auth.audit(
            f"anonymous:{keys[1][3:]}"[:80],
            "POST /ops/login",
            401,
            detail=f"failed sign-in as {username!r}",
        )
        return _login_page(
            request, status=401, error="Wrong username or password. Try again."
        )
    limiter.forget(keys[0])
    await deps.auth.audit(
        f"operator:{username}", "POST /ops/login", 303, detail="signed in"
    )
    response = _see_other("/ops")
    set_session_cookie(request, response, token, "operator")
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/ops/login")
    return response


@operator_page
async def logout(request: web.Request) -> web.StreamResponse:
    """End the session here and in the database."""
    await request.app[DEPS].auth.logout(request.cookies.get(COOKIE, ""))
    response = _see_other("/ops/login")
    clear_session_cookie(response)
    return response


# --- planning jobs -------------------------------------------------------------------


@dataclass
class PlanJob:
    """One planning run for a day, as the page shows it."""

    day: date
    kind: str  # plan | replan
    by: str
    budget_s: float
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    state: str = "running"  # running | done | error
    summary: dict[str, Any] | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = None

    def status(self) -> dict[str, Any]:
        end = self.finished if self.finished is not None else time.monotonic()
        return {
            "day": self.day.isoformat(),
            "state": self.state,
            "kind": self.kind,
            "by": self.by,
            "elapsed_s": round(end - self.started, 1),
            "budget_s": self.budget_s,
            "summary": self.summary,
            "error": self.error,
        }


class PlanJobs:
    """Planning runs in this process, the latest per day; one at a time per day."""

    def __init__(self, keep: int = 60) -> None:
        self.keep = keep
        self._jobs: dict[date, PlanJob] = {}

    def get(self, day: date) -> PlanJob | None:
        return self._jobs.get(day)

    def start(
        self, job: PlanJob, work: Callable[[], Awaitable[dict[str, Any]]]
    ) -> PlanJob:
        current = self._jobs.get(job.day)
        if current is not None and current.state == "running":
            raise FormError(
                f"{job.day} is being planned already (started by {current.by}); "
                "wait for it to finish",
                409,
            )
        self._jobs[job.day] = job
        job.task = asyncio.create_task(self._run(job, work), name=f"ops-plan-{job.day}")
        self._prune()
        return job

    async def _run(
        self, job: PlanJob, work: Callable[[], Awaitable[dict[str, Any]]]
    ) -> None:
        try:
            job.summary = await work()
            job.state = "done"
        except asyncio.CancelledError:
            job.state, job.error = "error", "planning was stopped (server shutdown)"
            raise
        except DomainError as exc:
            job.state, job.error = "error", str(exc)
        except Exception:
            log.exception("planning %s failed", job.day)
            job.state, job.error = "error", "planning failed; the error has been logged"
        finally:
            job.finished = time.monotonic()

    def _prune(self) -> None:
        finished = sorted(
            (j for j in self._jobs.values() if j.state != "running"),
            key=lambda j: j.started,
        )
        while len(self._jobs) > self.keep and finished:
            self._jobs.pop(finished.pop(0).day, None)

    async def cancel_all(self) -> None:
        tasks = [j.task for j in self._jobs.values() if j.task and not j.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task


PLAN_JOBS: web.AppKey[PlanJobs] = web.AppKey("ops_plan_jobs", PlanJobs)
LOGIN_LIMITER: web.AppKey[LoginLimiter] = web.AppKey("ops_login_limiter", LoginLimiter)


# --- today ---------------------------------------------------------------------------


def _map_data(
    request: web.Request,
    hubs: list[dict[str, Any]],
    rounds: list[dict[str, Any]],
    waiting: list[dict[str, Any]],
) -> dict[str, Any]:
    tiles = request.app[DEPS].settings.map_tile_url
    return {
        "tiles": tiles,
        "attribution": (
            "© OpenStreetMap contributors" if "openstreetmap" in tiles else ""
        ),
        "hubs": [
            {"id": h["id"], "name": h["name"], "lat": h["lat"], "lon": h["lon"]}
            for h in hubs
        ],
        "rounds": [
            {
                "bike": r["bike"],
                "hub_id": r["hub_id"],
                "colour": r["colour"],
                "visits": [
                    {
                        "seq": v["seq"],
                        "code": v["code"],
                        "name": v["name"],
                        "arrival": v["arrival"],
                        "window": v["window"],
                        "lat": v["lat"],
                        "lon": v["lon"],
                    }
                    for v in r["visits"]
                    if v["lat"] is not None
                ],
            }
            for r in rounds
        ],
        "waiting": [
            {"code": w["code"], "name": w["name"], "lat": w["lat"], "lon": w["lon"]}
            for w in waiting
            if w["located"]
        ],
    }


async def _today_page(
    request: web.Request,
    day: date,
    *,
    status: int = 200,
    error: str | None = None,
) -> web.Response:
    deps = request.app[DEPS]
    views = _views(request)
    rounds = await views.rounds(day)
    for i, r in enumerate(rounds):
        r["colour"] = PALETTE[i % len(PALETTE)]
    waiting = await views.waiting_requests()
    hubs = await views.hubs()
    bikes = [b for b in await views.bikes() if b["active"]]
    unlocated = await deps.planning.unlocated()
    job = request.app[PLAN_JOBS].get(day)
    totals = {
        "stops": sum(r["stops"] for r in rounds),
        "km": round(sum(r["km"] for r in rounds), 1),
        "kg": round(sum(r["kg"] for r in rounds), 1),
        "hours": round(sum(r["hours"] for r in rounds), 1),
        "collected_kg": round(sum(r["collected_kg"] for r in rounds), 1),
    }
    return _page(
        request,
        "ops/today.html",
        status=status,
        error=error,
        day=day.isoformat(),
        day_label=f"{day:%A} {day.day} {day:%B %Y}",
        rounds=rounds,
        totals=totals,
        waiting=waiting,
        bikes=bikes,
        hubs=hubs,
        unlocated=len(unlocated),
        job=job.status() if job else None,
        map_data=_map_data(request, hubs, rounds, waiting),
    )


@operator_page
async def today(request: web.Request) -> web.StreamResponse:
    """The day's requests and rounds, on a map and per bike, with plan and re-plan."""
    try:
        day = _day_param(request)
    except FormError as exc:
        return await _today_page(
            request,
            request.app[DEPS].clock.today(),
            status=exc.status,
            error=exc.message,
        )
    return await _today_page(request, day)


def _start_plan(
    request: web.Request, day: date, kind: str, command: PlanDay
) -> PlanJob:
    deps = request.app[DEPS]
    bus = deps.bus

    async def work() -> dict[str, Any]:
        summary = await bus.handle(command)
        result: dict[str, Any] = summary.to_json()
        return result

    job = PlanJob(
        day=day,
        kind=kind,
        by=_session(request).name,
        budget_s=command.seconds or deps.settings.plan_seconds,
    )
    return request.app[PLAN_JOBS].start(job, work)


@operator_page
async def plan(request: web.Request) -> web.StreamResponse:
    """Start planning a day in the background; the page shows its progress."""
    form = await _form(request)
    try:
        day = _date(_text(form, "day", "day", max_len=10), "day")
        _start_plan(request, day, "plan", PlanDay(day))
    except FormError as exc:
        today_day = request.app[DEPS].clock.today()
        return await _today_page(
            request, today_day, status=exc.status, error=exc.message
        )
    request[AUDIT_DETAIL] = f"plan {day}"
    return _see_other(f"/ops?day={day}")


@operator_page
async def replan(request: web.Request) -> web.StreamResponse:
    """A bike dropped out: spread its stops over the others (from now, if today)."""
    deps = request.app[DEPS]
    form = await _form(request)
    day = deps.clock.today()
    try:
        day = _date(_text(form, "day", "day", max_len=10), "day")
        bike_id = _integer(form, "bike_id", "bike that dropped out")
        now_local = deps.clock.now().astimezone(deps.clock.tz)
        from_min = (
            now_local.hour * 60 + now_local.minute if day == now_local.date() else None
        )
        _start_plan(
            request,
            day,
            "replan",
            PlanDay(day, without_bikes=(bike_id,), from_min=from_min),
        )
    except FormError as exc:
        return await _today_page(request, day, status=exc.status, error=exc.message)
    request[AUDIT_DETAIL] = f"re-plan {day} without bike {bike_id}"
    return _see_other(f"/ops?day={day}")


@operator_page
async def plan_status(request: web.Request) -> web.StreamResponse:
    """Where the day's planning run is: idle, running (elapsed), done or error."""
    try:
        day = _day_param(request)
    except FormError as exc:
        return web.json_response(
            {"error": {"code": "invalid_parameter", "message": exc.message}},
            status=400,
        )
    job = request.app[PLAN_JOBS].get(day)
    body = job.status() if job else {"day": day.isoformat(), "state": "idle"}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


# --- set-up --------------------------------------------------------------------------


async def _setup_page(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    failed_form: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> web.Response:
    deps = request.app[DEPS]
    views = _views(request)
    return _page(
        request,
        "ops/setup.html",
        status=status,
        error=error,
        failed_form=failed_form,
        values={k: v for k, v in (values or {}).items() if isinstance(v, str)},
        hubs=await views.hubs(),
        bikes=await views.bikes(),
        collectors=await views.collectors(),
        rates=await deps.money.rates(),
        materials=sorted(MATERIALS),
    )


@operator_page
async def setup_page(request: web.Request) -> web.StreamResponse:
    """Hubs, bikes, collectors and material rates, each with a form to add one."""
    return await _setup_page(request)


def _setup_write(
    name: str, action: Callable[[web.Request, Mapping[str, Any]], Awaitable[str]]
) -> Handler:
    """A set-up form POST: run `action`, redirect; on a FormError show the form again."""

    @operator_page
    async def post(request: web.Request) -> web.StreamResponse:
        form = await _form(request)
        try:
            detail = await action(request, form)
        except FormError as exc:
            return await _setup_page(
                request,
                status=exc.status,
                error=exc.message,
                failed_form=name,
                values=form,
            )
        request[AUDIT_DETAIL] = detail
        return _see_other(f"/ops/setup?done={name}#{name}s")

    post.__name__ = f"add_{name}"
    return post


async def _add_hub(request: web.Request, form: Mapping[str, Any]) -> str:
    name = _text(form, "name", "Hub name")
    lat = _number(form, "lat", "Latitude", -90, 90)
    lon = _number(form, "lon", "Longitude", -180, 180)
    if any(h["name"].lower() == name.lower() for h in await _views(request).hubs()):
        raise FormError(f"a hub named {name!r} exists already", 409)
    hub_id = await _run(request, AddHub(name, lat, lon))
    return f"hub {hub_id} {name}"


async def _add_bike(request: web.Request, form: Mapping[str, Any]) -> str:
    name = _text(form, "name", "Bike name")
    hub_id = _integer(form, "hub_id", "hub")
    capacity = _number(form, "capacity_kg", "Capacity (kg)", 1, 2000)
    start = _minutes(form, "shift_start", "Shift start")
    end = _minutes(form, "shift_end", "Shift end")
    if end <= start:
        raise FormError("the shift must end after it starts")
    speed = _number(form, "speed_kmh", "Speed (km/h)", 1, 60)
    collector_raw = _text(form, "collector_id", "collector", required=False)
    collector_id = (
        _integer(form, "collector_id", "collector") if collector_raw else None
    )
    views = _views(request)
    if any(b["name"].lower() == name.lower() for b in await views.bikes()):
        raise FormError(f"a bike named {name!r} exists already", 409)
    if collector_id is not None and collector_id not in {
        c["id"] for c in await views.collectors()
    }:
        raise FormError(f"no collector {collector_id}", 404)
    bike_id = await _run(
        request,
        AddBike(
            name=name,
            hub_id=hub_id,
            capacity_kg=capacity,
            shift_start_min=start,
            shift_end_min=end,
            speed_kmh=speed,
            collector_id=collector_id,
        ),
    )
    return f"bike {bike_id} {name}"


async def _add_collector(request: web.Request, form: Mapping[str, Any]) -> str:
    name = _text(form, "name", "Collector name")
    phone = _text(form, "phone", "Phone number", max_len=32)
    try:
        e164 = phones.to_e164(phone, request.app[DEPS].settings.default_region)
    except phones.BadPhoneNumber as exc:
        raise FormError(f"Phone number: {exc}") from None
    if any(c["phone"] == e164 for c in await _views(request).collectors()):
        raise FormError("a collector with this phone number exists already", 409)
    collector_id = await _run(request, RegisterCollector(name, e164))
    return f"collector {collector_id} {name}"


async def _set_rate(request: web.Request, form: Mapping[str, Any]) -> str:
    material = _text(form, "material", "Material", max_len=12).upper()
    if material not in MATERIALS:
        raise FormError(f"Material must be one of {', '.join(sorted(MATERIALS))}")
    kobo = _kobo(form, "naira_per_kg", "Rate (₦ per kg)", positive=False)
    day = _date(_text(form, "effective_from", "Effective from", max_len=10), "Date")
    await _run(request, SetRate(material, kobo, day, set_by=_session(request).actor))
    return f"rate {material} {kobo} kobo/kg from {day}"


# --- payouts -------------------------------------------------------------------------


@operator_page
async def payouts_page(request: web.Request) -> web.StreamResponse:
    """Payouts by state, failures grouped by reason, and the list for one state."""
    views = _views(request)
    status = request.query.get("status") or None
    error = None
    if status is not None and status not in PAYOUT_STATES:
        error, status = f"unknown state {status!r}; showing every state", None
    return _page(
        request,
        "ops/payouts.html",
        status=400 if error else 200,
        error=error,
        selected=status,
        states=await views.payout_states(),
        reasons=await views.failure_reasons(),
        payouts=await views.payouts(status),
        failed=await views.payouts("failed", limit=100),
    )


# --- reconciliation ------------------------------------------------------------------


def _differences(
    report: Report, rows: list[StatementRow], ours: list[LedgerPayout]
) -> list[dict[str, Any]]:
    """One line per differing reference, with both sides next to each other."""
    theirs: dict[str, list[StatementRow]] = {}
    for row in rows:
        theirs.setdefault(row.reference, []).append(row)
    by_ref = {p.reference: p for p in ours}
    out = []
    for category in CATEGORIES:
        for ref in report.category(category):
            found = theirs.get(ref, [])
            mine = by_ref.get(ref)
            out.append(
                {
                    "category": category,
                    "reference": ref,
                    "statement_amount_kobo": (
                        found[0].amount_kobo if len(found) == 1 else None
                    ),
                    "statement_status": ", ".join(r.status for r in found),
                    "statement_lines": ", ".join(str(r.line) for r in found),
                    "ledger_amount_kobo": mine.amount_kobo if mine else None,
                    "ledger_status": mine.status if mine else "",
                }
            )
    return out


DIFFERENCE_COLUMNS = (
    "category",
    "reference",
    "statement_amount_kobo",
    "statement_status",
    "statement_lines",
    "ledger_amount_kobo",
    "ledger_status",
)


async def _reconcile_page(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> web.Response:
    return _page(
        request,
        "ops/reconcile.html",
        status=status,
        error=error,
        result=result,
        has_sandbox="sandbox" in request.app[DEPS].payouts,
        categories=CATEGORIES,
    )


@operator_page
async def reconcile_page(request: web.Request) -> web.StreamResponse:
    """The upload form for a provider statement."""
    return await _reconcile_page(request)


@operator_page
async def reconcile_upload(request: web.Request) -> web.StreamResponse:
    """Match an uploaded statement against our payouts and show every difference."""
    form = await _form(request)
    try:
        provider = _text(form, "provider", "Provider", max_len=20)
        if provider != "sandbox":
            raise FormError(
                "only the sandbox statement format "
                "(reference,amount_kobo,currency,status,completed_at) is read so far"
            )
        upload = form.get("statement")
        if upload is None or isinstance(upload, str | bytes | bytearray):
            raise FormError("choose the statement file (CSV) to upload")
        data = upload.file.read(MAX_STATEMENT_BYTES + 1)
        if len(data) > MAX_STATEMENT_BYTES:
            raise FormError("the statement is too large (at most 200 KB)", 413)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FormError("the statement is not a UTF-8 text (CSV) file") from None
        try:
            rows = parse_sandbox_statement(text)
        except StatementError as exc:
            raise FormError(f"{upload.filename or 'the statement'}: {exc}") from None
    except FormError as exc:
        return await _reconcile_page(request, status=exc.status, error=exc.message)
    ours = [
        LedgerPayout(*p)
        for p in await request.app[DEPS].money.all_payouts_for(provider)
    ]
    report = reconcile(rows, ours)
    differences = _differences(report, rows, ours)
    request[AUDIT_DETAIL] = f"reconcile {provider}: {len(rows)} rows"
    if form.get("format") == "csv":
        return _csv_response(
            "reconcile-differences",
            list(DIFFERENCE_COLUMNS),
            [[d[c] for c in DIFFERENCE_COLUMNS] for d in differences],
        )
    return await _reconcile_page(
        request,
        result={
            "filename": upload.filename,
            "rows": len(rows),
            "report": report.to_json(),
            "clean": not report.has_differences,
            "differences": differences,
        },
    )


@operator_page
async def sandbox_statement(request: web.Request) -> web.StreamResponse:
    """The sandbox provider's statement, to try the reconciliation with."""
    from service.gateways.sandbox_payouts import SandboxPayouts

    sandbox = request.app[DEPS].payouts.get("sandbox")
    if not isinstance(sandbox, SandboxPayouts):
        raise web.HTTPNotFound(text="the sandbox provider is not configured")
    return web.Response(
        text=await sandbox.statement_csv(),
        content_type="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="sandbox-statement.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- queues --------------------------------------------------------------------------


async def _queues_page(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    failed_form: str | None = None,
) -> web.Response:
    deps = request.app[DEPS]
    disputes = (await deps.money.disputes(status="open", limit=500)).items
    unparsed = (await deps.views.unparsed_messages(limit=500)).items
    return _page(
        request,
        "ops/queues.html",
        status=status,
        error=error,
        failed_form=failed_form,
        disputes=disputes,
        unparsed=unparsed,
        unlocated=await deps.planning.unlocated(),
    )


@operator_page
async def queues_page(request: web.Request) -> web.StreamResponse:
    """Disputes to resolve, messages nobody understood, households without a place."""
    return await _queues_page(request)


def _path_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise FormError("that item does not exist", 404)
    return int(raw)


def _queue_write(
    name: str, action: Callable[[web.Request, int, Mapping[str, Any]], Awaitable[str]]
) -> Handler:
    @operator_page
    async def post(request: web.Request) -> web.StreamResponse:
        form = await _form(request)
        try:
            detail = await action(request, _path_id(request), form)
        except FormError as exc:
            return await _queues_page(
                request,
                status=exc.status,
                error=exc.message,
                failed_form=f"{name}-{request.match_info['id']}",
            )
        request[AUDIT_DETAIL] = detail
        return _see_other(f"/ops/queues?done={name}")

    post.__name__ = name
    return post


async def _correct(
    request: web.Request, dispute_id: int, form: Mapping[str, Any]
) -> str:
    amount = _kobo(form, "amount", "Amount to take back", positive=True)
    note = _text(form, "note", "Note", max_len=400, required=False)
    dispute = await _views(request).dispute(dispute_id)
    if dispute is None:
        raise FormError(f"no dispute {dispute_id}", 404)
    if dispute["status"] != "open":
        raise FormError(f"dispute {dispute_id} is already resolved", 409)
    if dispute["weighing_id"] is None:
        raise FormError(
            "this dispute names no weighing, so there is nothing to correct; "
            "close it instead",
            409,
        )
    await _run(
        request,
        ReverseWeighing(
            dispute["weighing_id"],
            amount,
            note,
            _session(request).actor,
            dispute_id=dispute_id,
        ),
    )
    return f"dispute {dispute_id}: took back {amount} kobo"


async def _close(request: web.Request, dispute_id: int, form: Mapping[str, Any]) -> str:
    note = _text(form, "note", "Note", max_len=300, required=False)
    await _run(request, CloseDispute(dispute_id, note, _session(request).actor))
    return f"dispute {dispute_id}: closed without correction"


async def _reviewed(
    request: web.Request, message_id: int, form: Mapping[str, Any]
) -> str:
    await _run(request, MarkMessageReviewed(message_id))
    return f"message {message_id} reviewed"


async def _pin(request: web.Request, household_id: int, form: Mapping[str, Any]) -> str:
    lat = _number(form, "lat", "Latitude", -90, 90)
    lon = _number(form, "lon", "Longitude", -180, 180)
    await _run(request, PinLocation(household_id, lat, lon, source="operator"))
    return f"household {household_id} located at {lat:.5f},{lon:.5f}"


# --- ledger, charts, audit -----------------------------------------------------------


@operator_page
async def ledger_page(request: web.Request) -> web.StreamResponse:
    """The trial balance: every account, signed; the total must be zero."""
    return _page(
        request,
        "ops/ledger.html",
        trial=await request.app[DEPS].money.trial_balance(),
    )


def _chart_range(request: web.Request) -> tuple[int, date, date]:
    raw = request.query.get("days", "28")
    if not raw.isascii() or not raw.isdigit() or int(raw) not in CHART_DAYS:
        raise FormError(f"days must be one of {', '.join(str(d) for d in CHART_DAYS)}")
    days = int(raw)
    end = request.app[DEPS].clock.today()
    return days, end - timedelta(days=days - 1), end


async def _chart_data(request: web.Request, start: date, end: date) -> dict[str, Any]:
    views = _views(request)
    return {
        "timezone": str(request.app[DEPS].clock.tz),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "kg_per_material": await views.kg_per_material(start, end),
        "credit": await views.credit_flow(start, end),
        "active_households": await views.active_households(start, end),
    }


@operator_page
async def charts_page(request: web.Request) -> web.StreamResponse:
    """kg per material per day, credit issued vs redeemed, active households a week."""
    try:
        days, start, end = _chart_range(request)
        status, error = 200, None
    except FormError as exc:
        days, status, error = 28, exc.status, exc.message
        end = request.app[DEPS].clock.today()
        start = end - timedelta(days=days - 1)
    return _page(
        request,
        "ops/charts.html",
        status=status,
        error=error,
        days=days,
        choices=CHART_DAYS,
        data=await _chart_data(request, start, end),
    )


@operator_page
async def charts_json(request: web.Request) -> web.StreamResponse:
    """The charts' figures as JSON (the page's script draws them)."""
    try:
        _, start, end = _chart_range(request)
    except FormError as exc:
        return web.json_response(
            {"error": {"code": "invalid_parameter", "message": exc.message}},
            status=400,
        )
    return web.json_response(
        await _chart_data(request, start, end),
        headers={"Cache-Control": "no-store"},
    )


@operator_page
async def audit_page(request: web.Request) -> web.StreamResponse:
    """Who changed what, and when (newest first)."""
    return _page(
        request,
        "ops/audit.html",
        entries=await request.app[DEPS].auth.audit_entries(500),
    )


# --- CSV exports ---------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting = + - @ gets a leading '.

    Numbers are written as they are (a negative balance stays a number).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_response(name: str, header: list[str], rows: list[list[Any]]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="recoop-{name}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


Rows = list[dict[str, Any]]


async def _requests(request: web.Request) -> Rows:
    return await _views(request).waiting_requests(limit=10_000)


async def _stops(request: web.Request) -> Rows:
    return [
        {"round_id": r["id"], "bike": r["bike"], **v}
        for r in await _views(request).rounds(_day_param(request))
        for v in r["visits"]
    ]


async def _payouts(request: web.Request) -> Rows:
    status = request.query.get("status") or None
    if status is not None and status not in PAYOUT_STATES:
        raise FormError(f"status must be one of {', '.join(PAYOUT_STATES)}")
    return await _views(request).payouts(status, limit=10_000)


async def _trial_balance(request: web.Request) -> Rows:
    trial = await request.app[DEPS].money.trial_balance()
    total = {"account": "total", "type": "", "balance_kobo": trial["total_kobo"]}
    return [*trial["accounts"], total]


async def _charts(request: web.Request) -> dict[str, Any]:
    _, start, end = _chart_range(request)
    return await _chart_data(request, start, end)


async def _kg(request: web.Request) -> Rows:
    data = (await _charts(request))["kg_per_material"]
    return [
        {"day": day, **{f"kg_{m}": kg[i] for m, kg in data["materials"].items()}}
        for i, day in enumerate(data["days"])
    ]


async def _credit(request: web.Request) -> Rows:
    data = (await _charts(request))["credit"]
    return [
        {
            "day": day,
            "issued_kobo": data["issued_kobo"][i],
            "redeemed_kobo": data["redeemed_kobo"][i],
        }
        for i, day in enumerate(data["days"])
    ]


async def _active(request: web.Request) -> Rows:
    data = (await _charts(request))["active_households"]
    return [
        {"week_starting": week, "active_households": data["households"][i]}
        for i, week in enumerate(data["weeks"])
    ]


# Each table shown on a page: where its rows come from, and its columns in order.
EXPORTS: dict[str, tuple[Callable[[web.Request], Awaitable[Rows]], str]] = {
    "requests": (
        _requests,
        "id code household_id name phone address lat lon location_source "
        "missed_reason created_at",
    ),
    "rounds": (
        lambda r: _views(r).rounds(_day_param(r)),
        "id day bike collector stops trips km kg hours start end done missed "
        "collected_kg",
    ),
    "stops": (
        _stops,
        "round_id bike seq trip arrival window code status name phone address lat "
        "lon expected_kg collected_kg missed_reason",
    ),
    "hubs": (lambda r: _views(r).hubs(), "id name lat lon"),
    "bikes": (
        lambda r: _views(r).bikes(),
        "id name hub capacity_kg shift speed_kmh collector active",
    ),
    "collectors": (
        lambda r: _views(r).collectors(),
        "id name phone active created_at",
    ),
    "rates": (
        lambda r: r.app[DEPS].money.rates(),
        "material kobo_per_kg effective_from set_by",
    ),
    "payouts": (
        _payouts,
        "id reference household_id destination kind provider amount_kobo status "
        "attempts failure_reason created_at completed_at",
    ),
    "payout-states": (
        lambda r: _views(r).payout_states(),
        "status count amount_kobo",
    ),
    "payout-failures": (
        lambda r: _views(r).failure_reasons(),
        "reason count amount_kobo",
    ),
    "disputes": (
        lambda r: _items(r.app[DEPS].money.disputes(status="open", limit=10_000)),
        "id household_id phone weighing_id credited_kobo total_grams note status "
        "created_at",
    ),
    "unparsed": (
        lambda r: _items(r.app[DEPS].views.unparsed_messages(limit=10_000)),
        "id received_at provider phone household_id body reply",
    ),
    "unlocated": (
        lambda r: r.app[DEPS].planning.unlocated(),
        "id name phone address location_source",
    ),
    "trial-balance": (_trial_balance, "account type balance_kobo"),
    "kg-per-material": (
        _kg,
        "day " + " ".join(f"kg_{m}" for m in sorted(MATERIALS)),
    ),
    "credit": (_credit, "day issued_kobo redeemed_kobo"),
    "active-households": (_active, "week_starting active_households"),
    "audit": (
        lambda r: r.app[DEPS].auth.audit_entries(10_000),
        "id at actor action status detail",
    ),
}


async def _items(pending: Awaitable[Page]) -> Rows:
    return (await pending).items


@operator_page
async def export(request: web.Request) -> web.StreamResponse:
    """Any table of the dashboard as CSV (phone numbers included: operators only)."""
    name = request.match_info["table"]
    if name not in EXPORTS:
        raise web.HTTPNotFound(
            text=f"no table {name!r}; try one of: {', '.join(EXPORTS)}"
        )
    rows_of, columns = EXPORTS[name]
    header = columns.split()
    try:
        items = await rows_of(request)
        suffix = f"-{_day_param(request)}" if name in ("rounds", "stops") else ""
    except FormError as exc:
        raise web.HTTPBadRequest(text=exc.message) from None
    rows = [[item.get(c) for c in header] for item in items]
    return _csv_response(f"{name}{suffix}", header, rows)


# --- wiring --------------------------------------------------------------------------


async def _stop_planning(app: web.Application) -> None:
    await app[PLAN_JOBS].cancel_all()


def setup(app: web.Application) -> None:
    """Mount /ops and keep its in-memory state (planning runs, sign-in limiter)."""
    app[PLAN_JOBS] = PlanJobs()
    app[LOGIN_LIMITER] = LoginLimiter()
    app.on_shutdown.append(_stop_planning)
    router = app.router
    router.add_get("/ops/login", login_form)
    router.add_post("/ops/login", login)
    router.add_post("/ops/logout", logout)
    router.add_get("/ops", today)
    router.add_post("/ops/plan", plan)
    router.add_post("/ops/replan", replan)
    router.add_get("/ops/plan/status", plan_status)
    router.add_get("/ops/setup", setup_page)
    router.add_post("/ops/setup/hubs", _setup_write("hub", _add_hub))
    router.add_post("/ops/setup/bikes", _setup_write("bike", _add_bike))
    router.add_post("/ops/setup/collectors", _setup_write("collector", _add_collector))
    router.add_post("/ops/setup/rates", _setup_write("rate", _set_rate))
    router.add_get("/ops/payouts", payouts_page)
    router.add_get("/ops/reconcile", reconcile_page)
    router.add_post("/ops/reconcile", reconcile_upload)
    router.add_get("/ops/reconcile/sandbox-statement.csv", sandbox_statement)
    router.add_get("/ops/queues", queues_page)
    router.add_post("/ops/disputes/{id}/correct", _queue_write("corrected", _correct))
    router.add_post("/ops/disputes/{id}/close", _queue_write("closed", _close))
    router.add_post("/ops/messages/{id}/reviewed", _queue_write("reviewed", _reviewed))
    router.add_post("/ops/households/{id}/location", _queue_write("pinned", _pin))
    router.add_get("/ops/ledger", ledger_page)
    router.add_get("/ops/charts", charts_page)
    router.add_get("/ops/charts.json", charts_json)
    router.add_get("/ops/audit", audit_page)
    router.add_get("/ops/export/{table}.csv", export)

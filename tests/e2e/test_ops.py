"""The operator dashboard over HTTP: sign-in, sessions, CSRF, pages, planning, exports."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import FormData

from service.app import create_app
from service.bootstrap import Deps, build
from service.domain.commands import (
    AddBike,
    AddHub,
    InboundSms,
    LogWeights,
    RegisterCollector,
    SetRate,
)
from service.domain.pluscodes import encode
from service.gateways.sandbox_payouts import SandboxPayouts
from service.settings import Settings
from tests.builders import message_sid, random_phone

PASSWORD = "correct horse battery"
YABA = [
    (6.5063, 3.3726),
    (6.5183, 3.3739),
    (6.5078, 3.3782),
    (6.5037, 3.3777),
    (6.5155, 3.3895),
    (6.5108, 3.3852),
]
PAGES = [
    "/ops",
    "/ops/setup",
    "/ops/payouts",
    "/ops/reconcile",
    "/ops/queues",
    "/ops/ledger",
    "/ops/charts",
    "/ops/audit",
]


@pytest.fixture
def settings() -> Settings:
    """Plain-HTTP public address (so the test client keeps the cookie), fast planning."""
    return Settings.from_env(
        {},
        public_base_url="http://127.0.0.1:8080",
        plan_seconds=0.5,
        map_tile_url="/static/ops/no-tiles/{z}/{x}/{y}.png",
    )


# --- helpers shared with tests/browser/test_ops.py -----------------------------------


async def text(deps: Deps, phone: str, body: str) -> Any:
    """An SMS from `phone`, straight to the bus (no webhook signature needed)."""
    return await deps.bus.handle(
        InboundSms("twilio", message_sid(), phone, body, deps.clock.now())
    )


async def households_with_pickups(
    deps: Deps, n: int, name: str = "Person"
) -> list[str]:
    """`n` households in Yaba (plus codes) with an open pickup each; their phones."""
    phones = []
    for i in range(n):
        phone = random_phone()
        lat, lon = YABA[i % len(YABA)]
        await text(deps, phone, f"JOIN {name} {i}, near {encode(lat + i * 3e-4, lon)}")
        await text(deps, phone, "PICKUP")
        phones.append(phone)
    return phones


async def fleet(deps: Deps, bikes: int = 2, capacity: float = 60.0) -> list[int]:
    """A hub in Yaba and `bikes` bikes, each with a collector."""
    hub_id = await deps.bus.handle(AddHub("Yaba hub", 6.5095, 3.3711))
    ids = []
    for i in range(bikes):
        collector_id = await deps.bus.handle(
            RegisterCollector(f"Rider {i}", random_phone())
        )
        ids.append(
            await deps.bus.handle(
                AddBike(f"bike-{i}", hub_id, capacity, collector_id=collector_id)
            )
        )
    return ids


async def open_codes(deps: Deps) -> dict[str, str]:
    """phone -> code of every open pickup."""
    page = await deps.views.pickups(status="open", limit=10_000)
    return {p["phone"]: p["code"] for p in page.items}


async def weigh(deps: Deps, code: str, grams: int = 20_000) -> None:
    await deps.bus.handle(
        LogWeights(
            pickup_code=code,
            items=(("PET", grams),),
            collected_at=deps.clock.now(),
            idempotency_key=str(uuid.uuid4()),
            collector="test",
        )
    )


Deliver = Callable[[str, bytes, dict[str, str]], Awaitable[int]]


def through(client: Any) -> Deliver:
    """Sandbox callbacks posted to the test client's app."""

    async def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
        resp = await client.post(
            "/webhooks/payouts/sandbox", data=body, headers=headers
        )
        return int(resp.status)

    return deliver


async def money_day(deps: Deps, deliver: Deliver, households: int = 3) -> list[str]:
    """Weighed households (N1,000 each) who each redeemed N500 of airtime, settled."""
    await deps.bus.handle(SetRate("PET", 5000, deps.clock.today() - timedelta(days=7)))
    phones = await households_with_pickups(deps, households, name="Payee")
    codes = await open_codes(deps)
    for phone in phones:
        await weigh(deps, codes[phone])
        await text(deps, phone, "AIRTIME 500")
    sandbox = deps.payouts["sandbox"]
    assert isinstance(sandbox, SandboxPayouts)
    sandbox.deliver = deliver
    sandbox.failure_rate = sandbox.lost_callback_rate = sandbox.timeout_rate = 0.0
    sandbox.max_settle_s = 0.0
    await deps.payout_dispatcher.submit_due()
    await sandbox.settle_due()
    return phones


# --- session helpers -----------------------------------------------------------------

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def form_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf field on the page"
    return match.group(1)


async def sign_in(
    client: Any, deps: Deps, username: str = "alice", *, create: bool = True
) -> str:
    """Sign an operator in through the form; returns the session's CSRF token."""
    if create:
        await deps.auth.create_operator(username, PASSWORD)
    page = await client.get("/ops/login")
    resp = await client.post(
        "/ops/login",
        data={
            "csrf": form_token(await page.text()),
            "username": username,
            "password": PASSWORD,
        },
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    page = await client.get("/ops/setup")
    assert page.status == 200
    return form_token(await page.text())


@pytest.fixture
async def ops(client: Any, deps: Deps) -> str:
    """An operator signed in on `client`; the CSRF token for its forms."""
    return await sign_in(client, deps)


async def audit_actions(deps: Deps) -> list[tuple[str, str, int]]:
    return [
        (str(e["actor"]), str(e["action"]), int(str(e["status"])))
        for e in await deps.auth.audit_entries(1000)
    ]


def read_csv(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


# --- sign-in and sessions ------------------------------------------------------------


async def test_sign_in_sets_a_strict_session_cookie(client: Any, deps: Deps) -> None:
    """A right password gets an HttpOnly, SameSite session cookie and the dashboard."""
    await deps.auth.create_operator("alice", PASSWORD)
    page = await client.get("/ops/login")
    assert page.status == 200
    html = await page.text()
    assert '<html lang="en">' in html and 'for="password"' in html
    resp = await client.post(
        "/ops/login",
        data={"csrf": form_token(html), "username": "Alice ", "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/ops"
    cookie = next(
        h for h in resp.headers.getall("Set-Cookie") if h.startswith("recoop_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the public address here is plain HTTP
    home = await client.get("/ops")
    assert home.status == 200 and "Signed in as" in await home.text()
    assert ("operator:alice", "POST /ops/login", 303) in await audit_actions(deps)


async def test_wrong_password_and_unknown_user_get_one_message(
    client: Any, deps: Deps
) -> None:
    """A wrong password and an unknown name look the same, and sign no one in."""
    await deps.auth.create_operator("alice", PASSWORD)
    answers = []
    for username, password in (("alice", "wrong password!"), ("mallory", PASSWORD)):
        page = await client.get("/ops/login")
        resp = await client.post(
            "/ops/login",
            data={
                "csrf": form_token(await page.text()),
                "username": username,
                "password": password,
            },
            allow_redirects=False,
        )
        assert resp.status == 401
        assert not any(
            h.startswith("recoop_session=") for h in resp.headers.getall("Set-Cookie")
        )
        body = await resp.text()
        answers.append(re.search(r'role="alert">(.*?)</div>', body, re.S))
    assert answers[0] and answers[1] and answers[0].group(1) == answers[1].group(1)
    resp = await client.get("/ops", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/ops/login"


async def test_failed_sign_ins_are_limited_per_username(
    client: Any, deps: Deps
) -> None:
    """After five wrong passwords even the right one is refused for a while (429)."""
    await deps.auth.create_operator("alice", PASSWORD)
    page = await client.get("/ops/login")
    token = form_token(await page.text())
    for _ in range(5):
        resp = await client.post(
            "/ops/login",
            data={"csrf": token, "username": "alice", "password": "nope nope nope"},
        )
        assert resp.status == 401
    resp = await client.post(
        "/ops/login", data={"csrf": token, "username": "alice", "password": PASSWORD}
    )
    assert resp.status == 429 and "Too many failed attempts" in await resp.text()


async def test_secure_cookie_when_the_public_address_is_https(
    deps: Deps, database: Any, clock: Any, fake_sms: Any, aiohttp_client: Any
) -> None:
    """Behind HTTPS the session cookie is also Secure."""
    https = Settings.from_env({}, public_base_url="https://recoop.example.org")
    app = create_app(
        build(https, clock=clock, sms=fake_sms, db=database, background=[])
    )
    app.cleanup_ctx.clear()
    client = await aiohttp_client(app)
    await deps.auth.create_operator("alice", PASSWORD)
    page = await client.get("/ops/login")
    login_cookie = page.headers["Set-Cookie"]
    assert "Secure" in login_cookie and "SameSite=Strict" in login_cookie
    token = form_token(await page.text())
    resp = await client.post(
        "/ops/login",
        data={"csrf": token, "username": "alice", "password": PASSWORD},
        headers={"Cookie": f"recoop_login_csrf={token}"},
        allow_redirects=False,
    )
    assert resp.status == 303
    cookie = next(
        h for h in resp.headers.getall("Set-Cookie") if h.startswith("recoop_session=")
    )
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_login_form_needs_its_token(client: Any, deps: Deps) -> None:
    """A sign-in posted from another site (no form token) is refused."""
    await deps.auth.create_operator("alice", PASSWORD)
    resp = await client.post(
        "/ops/login",
        data={"username": "alice", "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 403
    assert "recoop_session" not in resp.cookies


async def test_logout_ends_the_session(client: Any, deps: Deps, ops: str) -> None:
    """Signing out revokes the session: its cookie no longer opens a page."""
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    token = cookie["recoop_session"].value
    resp = await client.post("/ops/logout", data={"csrf": ops}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/ops/login"
    assert await deps.auth.session(token) is None
    resp = await client.get("/ops", allow_redirects=False)
    assert resp.status == 303


async def test_a_collector_cannot_open_the_dashboard(
    client: Any, deps: Deps, fake_sms: Any
) -> None:
    """A collector's session gets 403 on every /ops page and export."""
    phone = random_phone()
    await deps.bus.handle(RegisterCollector("Rider", phone))
    await deps.auth.request_code(phone)
    await deps.dispatcher.run_once()
    [message] = fake_sms.to(phone)
    code = re.search(r"\b(\d{6})\b", message)
    assert code
    token = await deps.auth.verify_code(phone, code.group(1))
    assert token
    client.session.cookie_jar.update_cookies({"recoop_session": token})
    for path in [*PAGES, "/ops/export/requests.csv", "/ops/charts.json"]:
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 403, path
    resp = await client.post(
        "/ops/setup/hubs", data={"name": "X", "lat": "6.5", "lon": "3.4"}
    )
    assert resp.status == 403
    assert await deps.planning.hubs() == []


async def test_signed_out_json_calls_get_401(client: Any) -> None:
    """The page's status poll and the chart data answer 401 JSON when signed out."""
    for path in ("/ops/plan/status", "/ops/charts.json"):
        resp = await client.get(path, headers={"Accept": "application/json"})
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


# --- pages ---------------------------------------------------------------------------


async def test_every_page_renders_for_an_operator(
    client: Any, deps: Deps, ops: str
) -> None:
    """Each dashboard page answers 200 with the language, landmarks and navigation."""
    await fleet(deps, bikes=1)
    await households_with_pickups(deps, 2)
    await money_day(deps, through(client), households=2)
    for path in PAGES:
        resp = await client.get(path)
        assert resp.status == 200, path
        html = await resp.text()
        assert '<html lang="en">' in html and '<main id="main"' in html, path
        assert f'href="{path}" aria-current="page"' in html, path
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Cache-Control"] == "no-store"


async def test_bad_query_values_show_the_page_with_a_4xx(
    client: Any, deps: Deps, ops: str
) -> None:
    """A bad date, state or period shows the page again with a message, never a 500."""
    for path in (
        "/ops?day=not-a-date",
        "/ops/payouts?status=lost",
        "/ops/charts?days=3",
    ):
        resp = await client.get(path)
        assert resp.status == 400, path
        assert 'role="alert"' in await resp.text()
    assert (await client.get("/ops/export/nothing.csv")).status == 404
    assert (await client.get("/ops/export/rounds.csv?day=2026-13-01")).status == 400
    assert (
        await client.get(
            "/ops/plan/status?day=x", headers={"Accept": "application/json"}
        )
    ).status == 400


# --- writes: CSRF, validation, audit ---------------------------------------------------


async def test_every_post_without_the_csrf_token_is_refused(
    client: Any, deps: Deps, ops: str
) -> None:
    """Each form POST without (or with a wrong) token is 403 and changes nothing."""
    await fleet(deps, bikes=1)
    phones = await households_with_pickups(deps, 1)
    await text(deps, phones[0], "what is this")
    hubs_before = await deps.planning.hubs()
    audit_before = await audit_actions(deps)
    forms = {
        "/ops/setup/hubs": {"name": "Other hub", "lat": "6.5", "lon": "3.4"},
        "/ops/setup/bikes": {"name": "b", "hub_id": "1", "capacity_kg": "50"},
        "/ops/setup/collectors": {"name": "C", "phone": random_phone()},
        "/ops/setup/rates": {
            "material": "PET",
            "naira_per_kg": "50",
            "effective_from": "2026-11-23",
        },
        "/ops/plan": {"day": "2026-11-24"},
        "/ops/replan": {"day": "2026-11-24", "bike_id": "1"},
        "/ops/disputes/1/correct": {"amount": "5"},
        "/ops/disputes/1/close": {"note": "fine"},
        "/ops/messages/1/reviewed": {},
        "/ops/households/1/location": {"lat": "6.5", "lon": "3.4"},
        "/ops/reconcile": {"provider": "sandbox"},
        "/ops/logout": {},
    }
    for path, data in forms.items():
        for token in (None, "forged-token"):
            body = dict(data, csrf=token) if token else data
            resp = await client.post(path, data=body, allow_redirects=False)
            assert resp.status == 403, (path, token)
    resp = await client.post(
        "/ops/setup/hubs",
        data={"name": "Other hub", "lat": "6.5", "lon": "3.4"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert resp.status == 403
    assert await deps.planning.hubs() == hubs_before
    assert await deps.money.rates() == []
    assert len((await deps.views.unparsed_messages()).items) == 1
    assert await audit_actions(deps) == audit_before
    assert (await client.get("/ops")).status == 200  # still signed in
    assert (
        await client.post(
            "/ops/setup/hubs",
            data={"name": "Other hub", "lat": "6.5", "lon": "3.4"},
            headers={"X-CSRF-Token": ops},
            allow_redirects=False,
        )
    ).status == 303


async def test_setup_forms_add_show_and_audit(
    client: Any, deps: Deps, ops: str
) -> None:
    """Hubs, collectors, bikes and rates are added by form, listed, and audited."""
    posts = [
        ("/ops/setup/hubs", {"name": "Yaba hub", "lat": "6.5095", "lon": "3.3711"}),
        ("/ops/setup/collectors", {"name": "Musa", "phone": "0803 555 1234"}),
        (
            "/ops/setup/bikes",
            {
                "name": "Cargo 1",
                "hub_id": "1",
                "capacity_kg": "120",
                "shift_start": "07:30",
                "shift_end": "15:00",
                "speed_kmh": "11",
                "collector_id": "1",
            },
        ),
        (
            "/ops/setup/rates",
            {
                "material": "PET",
                "naira_per_kg": "52.50",
                "effective_from": "2026-11-23",
            },
        ),
    ]
    for path, data in posts:
        resp = await client.post(path, data=dict(data, csrf=ops), allow_redirects=False)
        assert resp.status == 303, (path, await resp.text())
        assert resp.headers["Location"].startswith("/ops/setup?done=")
    [bike] = await deps.planning.bikes()
    assert (bike["name"], bike["capacity_kg"], bike["shift_start_min"]) == (
        "Cargo 1",
        120.0,
        450,
    )
    assert bike["collector_id"] == 1
    [rate] = await deps.money.rates()
    assert rate["kobo_per_kg"] == 5250 and rate["set_by"] == "operator:alice"
    html = await (await client.get("/ops/setup?done=rate")).text()
    assert "Rate saved." in html and "₦52.50" in html and "+2348035551234" in html
    actions = await audit_actions(deps)
    for path, _ in posts:
        assert ("operator:alice", f"POST {path}", 303) in actions
    # The entry says what changed, not only which form was posted.
    details = [e["detail"] for e in await deps.auth.audit_entries(1000)]
    assert any("PET" in str(d) for d in details), details


async def test_bad_setup_input_shows_the_form_again(
    client: Any, deps: Deps, ops: str
) -> None:
    """Bad or clashing input re-renders the page with a message and a 4xx."""
    await deps.bus.handle(AddHub("Yaba hub", 6.5, 3.37))
    cases = [
        ("/ops/setup/hubs", {"name": "", "lat": "6.5", "lon": "3.4"}, 400, "required"),
        ("/ops/setup/hubs", {"name": "H", "lat": "96", "lon": "3.4"}, 400, "Latitude"),
        ("/ops/setup/hubs", {"name": "h", "lat": "nan", "lon": "3"}, 400, "Latitude"),
        (
            "/ops/setup/hubs",
            {"name": "YABA HUB", "lat": "6.5", "lon": "3.4"},
            409,
            "exists already",
        ),
        (
            "/ops/setup/bikes",
            {
                "name": "b",
                "hub_id": "1",
                "capacity_kg": "50",
                "shift_start": "16:00",
                "shift_end": "08:00",
                "speed_kmh": "12",
            },
            400,
            "end after",
        ),
        (
            "/ops/setup/bikes",
            {
                "name": "b",
                "hub_id": "99",
                "capacity_kg": "50",
                "shift_start": "08:00",
                "shift_end": "16:00",
                "speed_kmh": "12",
            },
            404,
            "no hub",
        ),
        ("/ops/setup/collectors", {"name": "C", "phone": "12"}, 400, "Phone"),
        (
            "/ops/setup/rates",
            {"material": "GOLD", "naira_per_kg": "5", "effective_from": "2026-11-23"},
            400,
            "Material",
        ),
        (
            "/ops/setup/rates",
            {"material": "PET", "naira_per_kg": "1.234", "effective_from": "x"},
            400,
            "naira",
        ),
        (
            "/ops/setup/rates",
            {"material": "PET", "naira_per_kg": "5\x00", "effective_from": "x"},
            400,
            "control characters",
        ),
    ]
    for path, data, status, words in cases:
        resp = await client.post(path, data=dict(data, csrf=ops))
        html = await resp.text()
        assert resp.status == status, (path, data, html[-2000:])
        assert words in html, (path, words)
    assert len(await deps.planning.hubs()) == 1
    assert await deps.planning.bikes() == [] and await deps.money.rates() == []
    phone = random_phone()
    for expected in (303, 409):
        resp = await client.post(
            "/ops/setup/collectors",
            data={"name": "C", "phone": phone, "csrf": ops},
            allow_redirects=False,
        )
        assert resp.status == expected


# --- planning ------------------------------------------------------------------------


async def wait_for_plan(client: Any, day: str) -> dict[str, Any]:
    for _ in range(200):
        resp = await client.get(
            f"/ops/plan/status?day={day}", headers={"Accept": "application/json"}
        )
        status: dict[str, Any] = await resp.json()
        if status["state"] != "running":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("planning did not finish")


async def test_plan_runs_in_the_background_and_the_page_shows_the_rounds(
    client: Any, deps: Deps, ops: str, clock: Any
) -> None:
    """Plan starts a background run with progress; the rounds then show per bike."""
    await fleet(deps, bikes=2, capacity=40)
    await households_with_pickups(deps, 6)
    unlocated = random_phone()
    await text(deps, unlocated, "JOIN Nowhere Person, behind the mango tree")
    await text(deps, unlocated, "PICKUP")
    day = (clock.today() + timedelta(days=1)).isoformat()
    idle = await client.get(
        f"/ops/plan/status?day={day}", headers={"Accept": "application/json"}
    )
    assert (await idle.json())["state"] == "idle"
    resp = await client.post(
        "/ops/plan", data={"day": day, "csrf": ops}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == f"/ops?day={day}"
    again = await client.post("/ops/plan", data={"day": day, "csrf": ops})
    assert again.status == 409 and "being planned already" in await again.text()
    running = await (await client.get(f"/ops?day={day}")).text()
    assert 'id="plan-job"' in running
    status = await wait_for_plan(client, day)
    assert status["state"] == "done", status
    assert status["summary"]["scheduled"] == 6 and status["summary"]["unlocated"] == 1
    assert status["elapsed_s"] >= 0 and status["budget_s"] == 0.5
    html = await (await client.get(f"/ops?day={day}")).text()
    assert "Planned in" in html and "6 stops scheduled" in html
    rounds = await deps.planning.rounds(clock.today() + timedelta(days=1))
    for r in rounds:
        assert r["bike"] in html
        for v in r["visits"]:
            assert v["code"] in html
    assert "ops-map-data" in html and "Per bike" in html
    export = read_csv(
        await (await client.get(f"/ops/export/stops.csv?day={day}")).text()
    )
    assert export[0][:3] == ["round_id", "bike", "seq"] and len(export) == 7
    rounds_csv = read_csv(
        await (await client.get(f"/ops/export/rounds.csv?day={day}")).text()
    )
    assert sum(int(r[4]) for r in rounds_csv[1:]) == 6
    assert ("operator:alice", "POST /ops/plan", 303) in await audit_actions(deps)


async def test_replan_without_a_bike_moves_its_stops(
    client: Any, deps: Deps, ops: str, clock: Any
) -> None:
    """Re-plan without one bike: every stop ends up on the other bike."""
    bikes = await fleet(deps, bikes=2, capacity=60)
    await households_with_pickups(deps, 4)
    day = clock.today() + timedelta(days=1)
    await client.post("/ops/plan", data={"day": day.isoformat(), "csrf": ops})
    assert (await wait_for_plan(client, day.isoformat()))["state"] == "done"
    resp = await client.post(
        "/ops/replan",
        data={"day": day.isoformat(), "bike_id": str(bikes[0]), "csrf": ops},
        allow_redirects=False,
    )
    assert resp.status == 303
    status = await wait_for_plan(client, day.isoformat())
    assert status["state"] == "done" and status["kind"] == "replan"
    rounds = await deps.planning.rounds(day)
    assert {r["bike_id"] for r in rounds} == {bikes[1]}
    assert sum(r["stops"] for r in rounds) == 4
    bad = await client.post(
        "/ops/replan", data={"day": day.isoformat(), "bike_id": "x", "csrf": ops}
    )
    assert bad.status == 400 and "bike that dropped out" in await bad.text()


# --- exports -------------------------------------------------------------------------


async def test_csv_exports_neutralise_formulas_and_show_phones(
    client: Any, deps: Deps, ops: str
) -> None:
    """Cells starting = + - @ get a leading quote; phone numbers are in (operators)."""
    phone = random_phone()
    await text(deps, phone, f'JOIN =HYPERLINK("http://x"), near {encode(6.5, 3.37)}')
    await text(deps, phone, "PICKUP")
    await deps.bus.handle(RegisterCollector("@evil", random_phone()))
    rows = read_csv(await (await client.get("/ops/export/requests.csv")).text())
    header, row = rows[0], rows[1]
    assert row[header.index("name")] == '\'=HYPERLINK("http://x")'
    assert row[header.index("phone")] == "'" + phone
    collectors = read_csv(await (await client.get("/ops/export/collectors.csv")).text())
    assert collectors[1][1] == "'@evil"
    for table in (
        "requests",
        "rounds",
        "stops",
        "hubs",
        "bikes",
        "collectors",
        "rates",
        "payouts",
        "payout-states",
        "payout-failures",
        "disputes",
        "unparsed",
        "unlocated",
        "trial-balance",
        "kg-per-material",
        "credit",
        "active-households",
        "audit",
    ):
        resp = await client.get(f"/ops/export/{table}.csv")
        assert resp.status == 200, table
        assert resp.content_type == "text/csv"
        assert "attachment" in resp.headers["Content-Disposition"]
        assert read_csv(await resp.text())[0], table


async def test_trial_balance_export_keeps_numbers(
    client: Any, deps: Deps, ops: str
) -> None:
    """Negative balances stay numbers in the CSV, and the total row is zero."""
    await money_day(deps, through(client), households=1)
    rows = read_csv(await (await client.get("/ops/export/trial-balance.csv")).text())
    assert rows[-1] == ["total", "", "0"]
    assert any(r[2].startswith("-") for r in rows[1:-1])
    html = await (await client.get("/ops/ledger")).text()
    assert "The books balance" in html


# --- money pages ---------------------------------------------------------------------


async def test_payouts_page_shows_states_and_failure_reasons(
    client: Any, deps: Deps, ops: str
) -> None:
    """Payouts are counted by state; failures are listed with the provider's reason."""
    await money_day(deps, through(client), households=2)
    sandbox = deps.payouts["sandbox"]
    assert isinstance(sandbox, SandboxPayouts)
    sandbox.failure_rate = 1.0
    phones = await households_with_pickups(deps, 1, name="Unlucky")
    codes = await open_codes(deps)
    await weigh(deps, codes[phones[0]])
    await text(deps, phones[0], "CASHOUT 500")
    await deps.payout_dispatcher.submit_due()
    await sandbox.settle_due()
    [failed] = (await deps.money.payouts(status="failed")).items
    html = await (await client.get("/ops/payouts")).text()
    assert failed["failure_reason"] and failed["failure_reason"] in html
    assert failed["reference"] in html
    only_failed = await (await client.get("/ops/payouts?status=failed")).text()
    assert "Payouts failed" in only_failed
    states = read_csv(await (await client.get("/ops/export/payout-states.csv")).text())
    assert ["succeeded", "2", "100000"] in states and ["failed", "1", "50000"] in states


async def test_reconcile_upload_shows_the_differences(
    client: Any, deps: Deps, ops: str
) -> None:
    """An uploaded statement is matched; a tampered row shows as a difference."""
    await money_day(deps, through(client), households=3)
    statement = await (await client.get("/ops/reconcile/sandbox-statement.csv")).text()
    lines = statement.splitlines()
    tampered_ref = lines[1].split(",")[0]
    lines[1] = lines[1].replace(",50000,", ",50001,")
    lines.append("ghost-ref,1000,NGN,succeeded,2026-11-23T08:00:00+00:00")

    async def upload(body: str, fmt: str = "html", csrf: str = ops) -> Any:
        form = FormData()
        form.add_field("csrf", csrf)
        form.add_field("provider", "sandbox")
        form.add_field("format", fmt)
        form.add_field(
            "statement",
            body.encode(),
            filename="statement.csv",
            content_type="text/csv",
        )
        return await client.post("/ops/reconcile", data=form)

    clean = await upload(statement)
    assert clean.status == 200 and "Everything matches: 3 of 3" in await clean.text()
    resp = await upload("\n".join(lines))
    html = await resp.text()
    assert resp.status == 200 and "2 differences found" in html
    assert tampered_ref in html and "ghost-ref" in html
    assert "amount mismatch" in html and "missing in ledger" in html
    as_csv = read_csv(await (await upload("\n".join(lines), fmt="csv")).text())
    assert {(r[0], r[1]) for r in as_csv[1:]} == {
        ("missing_in_ledger", "ghost-ref"),
        ("amount_mismatch", tampered_ref),
    }
    bad = await upload("reference,amount\nx,1")
    assert bad.status == 400 and "line 1" in await bad.text()
    assert (await upload(statement, csrf="forged")).status == 403
    assert ("operator:alice", "POST /ops/reconcile", 200) in await audit_actions(deps)


# --- queues --------------------------------------------------------------------------


async def test_disputes_messages_and_locations_are_worked_from_the_queues(
    client: Any, deps: Deps, ops: str
) -> None:
    """Correct or close a dispute, file an unparsed SMS, place a household."""
    await deps.bus.handle(SetRate("PET", 5000, deps.clock.today()))
    phones = await households_with_pickups(deps, 2)
    codes = await open_codes(deps)
    for phone in phones:
        await weigh(deps, codes[phone])  # N1,000 each
        await text(deps, phone, "WRONG it was less")
    await text(deps, phones[0], "hello who is this")
    lost = random_phone()
    await text(deps, lost, "JOIN Dayo, behind the big mango tree")
    disputes = (await deps.money.disputes()).items
    html = await (await client.get("/ops/queues")).text()
    assert "it was less" in html and "hello who is this" in html and "Dayo" in html
    too_much = await client.post(
        f"/ops/disputes/{disputes[0]['id']}/correct",
        data={"amount": "5000", "csrf": ops},
    )
    assert too_much.status == 400 and "between 1 and 100000" in await too_much.text()
    resp = await client.post(
        f"/ops/disputes/{disputes[0]['id']}/correct",
        data={"amount": "400", "note": "re-weighed", "csrf": ops},
        allow_redirects=False,
    )
    assert resp.status == 303
    balance = await deps.money.balance(disputes[0]["household_id"])
    assert balance is not None and balance["posted_kobo"] == 60000
    resp = await client.post(
        f"/ops/disputes/{disputes[1]['id']}/close",
        data={"note": "scale checked", "csrf": ops},
        allow_redirects=False,
    )
    assert resp.status == 303
    again = await client.post(
        f"/ops/disputes/{disputes[1]['id']}/close", data={"csrf": ops}
    )
    assert again.status == 409
    assert (await deps.money.disputes()).items == []
    [message] = (await deps.views.unparsed_messages()).items
    resp = await client.post(
        f"/ops/messages/{message['id']}/reviewed",
        data={"csrf": ops},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert (await deps.views.unparsed_messages()).items == []
    missing = await client.post("/ops/messages/99999/reviewed", data={"csrf": ops})
    assert missing.status == 404
    [household] = await deps.planning.unlocated()
    resp = await client.post(
        f"/ops/households/{household['id']}/location",
        data={"lat": "6.51", "lon": "3.38", "csrf": ops},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert await deps.planning.unlocated() == []
    actions = {a for _, a, _ in await audit_actions(deps)}
    assert f"POST /ops/disputes/{disputes[0]['id']}/correct" in actions
    assert f"POST /ops/households/{household['id']}/location" in actions
    assert (await deps.money.trial_balance())["total_kobo"] == 0


# --- charts --------------------------------------------------------------------------


async def test_chart_figures_by_local_day_and_week(
    client: Any, deps: Deps, ops: str, clock: Any
) -> None:
    """kg per material, credit issued vs redeemed and active households add up."""
    await money_day(
        deps, through(client), households=3
    )  # 3 x 20 kg PET, 3 x N500 airtime
    data = await (await client.get("/ops/charts.json?days=7")).json()
    today = clock.today().isoformat()
    kg = data["kg_per_material"]
    assert kg["days"][-1] == today and len(kg["days"]) == 7
    assert kg["materials"]["PET"][-1] == 60.0 and sum(kg["materials"]["ALU"]) == 0
    assert data["credit"]["issued_kobo"][-1] == 300000
    assert data["credit"]["redeemed_kobo"][-1] == 150000
    active = data["active_households"]
    assert active["weeks"][-1] == today  # Monday 23 November 2026
    assert active["households"][-1] == 3
    html = await (await client.get("/ops/charts?days=7")).text()
    assert "uPlot.iife.min.js" in html and "/ops/charts.json?days=7" in html
    assert (await client.get("/ops/charts.json?days=5")).status == 400

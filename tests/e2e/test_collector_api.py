"""The collector page over HTTP: texted-code sign-in, the round JSON, writes on the
collector's own stops only, exactly once, with CSRF and an audit row; the page weight."""

from __future__ import annotations

import asyncio
import gzip
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from service.domain.commands import (
    AddBike,
    AddHub,
    PlanDay,
    RegisterCollector,
    SetRate,
    UpdateBike,
    UpdateCollector,
)
from service.domain.errors import Conflict
from service.domain.pluscodes import encode
from service.persistence.tables import outbox, weighings
from tests.builders import random_phone
from webhooks.pages import STATIC
from webhooks.web_auth import COOKIE

YABA_HUB = (6.5095, 3.3711)
HOMES = [(6.5063, 3.3726), (6.5183, 3.3739), (6.5078, 3.3782), (6.5037, 3.3777)]
PAGE_BUDGET_BYTES = 60 * 1024


@dataclass
class Stop:
    code: str
    household_id: int
    phone: str


@dataclass
class Day:
    """A planned day: collector A rides the only bike; collector B has none."""

    phone_a: str
    phone_b: str
    collector_a: int
    collector_b: int
    round_id: int
    stops: list[Stop] = field(default_factory=list)


async def plan_a_day(deps: Any, text: Any, households: int = 3) -> Day:
    """Rates, a hub, two collectors, a bike for the first, households, today's plan."""
    today = deps.clock.today()
    await deps.bus.handle(SetRate("PET", 5000, today - timedelta(days=7)))
    await deps.bus.handle(SetRate("ALU", 12000, today - timedelta(days=7)))
    hub_id = await deps.bus.handle(AddHub("Yaba hub", *YABA_HUB))
    phone_a, phone_b = random_phone(), random_phone()
    collector_a = await deps.bus.handle(RegisterCollector("Tunde", phone_a))
    collector_b = await deps.bus.handle(RegisterCollector("Ngozi", phone_b))
    await deps.bus.handle(AddBike("bike-1", hub_id, 200.0, collector_id=collector_a))
    phones = []
    for i in range(households):
        phone = random_phone()
        lat, lon = HOMES[i % len(HOMES)]
        await text(f"JOIN Person {i}, Herbert Macaulay {encode(lat, lon)}", phone)
        await text("PICKUP", phone)
        phones.append(phone)
    summary = await deps.bus.handle(PlanDay(today, seconds=0.2))
    assert summary.scheduled == households, summary
    [planned] = await deps.planning.rounds(today)
    by_id = {
        p["id"]: p
        for p in (await deps.views.pickups(status="scheduled", limit=1000)).items
    }
    stops = [
        Stop(
            v["code"],
            by_id[v["pickup_id"]]["household_id"],
            by_id[v["pickup_id"]]["phone"],
        )
        for v in planned["visits"]
    ]
    assert sorted(s.phone for s in stops) == sorted(phones)
    return Day(phone_a, phone_b, collector_a, collector_b, planned["id"], stops)


async def texted_code(deps: Any, fake_sms: Any, phone: str) -> str | None:
    """The newest sign-in code sent to `phone` (runs the outbox dispatcher once)."""
    await deps.dispatcher.run_once()
    codes = [
        m for m in fake_sms.to(phone) if m.startswith("Recoop collector sign-in code")
    ]
    if not codes:
        return None
    found = re.search(r"\b(\d{6})\b", codes[-1])
    return found.group(1) if found else None


@dataclass
class Signed:
    """A signed-in collector: the cookie header, and both plus the CSRF header."""

    cookie: dict[str, str]
    headers: dict[str, str]
    csrf: str


async def sign_in(client: Any, deps: Any, fake_sms: Any, phone: str) -> Signed:
    """Ask for a code, read it from the SMS, sign in, and read the page's CSRF token."""
    resp = await client.post(
        "/collector/login", data={"phone": phone, "action": "send"}
    )
    assert resp.status == 200
    code = await texted_code(deps, fake_sms, phone)
    assert code is not None
    resp = await client.post(
        "/collector/login",
        data={"phone": phone, "code": code, "action": "verify"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/collector"
    # The cookie is Secure (the public address is https); send it by hand over http.
    cookie = {"Cookie": f"{COOKIE}={resp.cookies[COOKIE].value}"}
    page = await client.get("/collector", headers=cookie)
    assert page.status == 200
    found = re.search(r'data-csrf="([^"]+)"', await page.text())
    assert found is not None
    csrf = found.group(1)
    return Signed(cookie, {**cookie, "X-CSRF-Token": csrf}, csrf)


def weighing(code: str, deps: Any, key: str | None = None) -> dict[str, Any]:
    return {
        "pickup_code": code,
        "items": [{"material": "PET", "kg": "2.5"}, {"material": "ALU", "kg": 0.4}],
        "idempotency_key": key or str(uuid.uuid4()),
        "collected_at": deps.clock.now().isoformat(),
    }


async def outbox_rows(
    deps: Any, key_prefix: str, phone: str | None = None
) -> list[Any]:
    stmt = sa.select(outbox.c.key, outbox.c.to_phone, outbox.c.body).where(
        outbox.c.key.startswith(key_prefix)
    )
    if phone is not None:
        stmt = stmt.where(outbox.c.to_phone == phone)
    async with deps.db.reader.connect() as conn:
        return list((await conn.execute(stmt)).all())


@pytest.fixture
async def day(deps: Any, text: Any) -> Day:
    """Today planned: collector A's round of three households."""
    return await plan_a_day(deps, text)


# --- sign-in -----------------------------------------------------------------------


async def test_sign_in_by_texted_code(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """A code texted to the collector's phone signs in once, with an HttpOnly cookie."""
    resp = await client.get("/collector", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/collector/login"
    # A demo link prefills the form but never signs in on GET.
    resp = await client.get(f"/collector/login?phone={day.phone_a}&code=123456")
    html = await resp.text()
    assert resp.status == 200 and COOKIE not in resp.cookies
    assert 'value="123456"' in html and 'lang="en"' in html
    resp = await client.post(
        "/collector/login", data={"phone": day.phone_a, "action": "send"}
    )
    assert "a 6-digit code is on its way" in await resp.text()
    code = await texted_code(deps, fake_sms, day.phone_a)
    assert code is not None
    form = {"phone": day.phone_a, "code": code, "action": "verify"}
    resp = await client.post("/collector/login", data=form, allow_redirects=False)
    assert resp.status == 303
    set_cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" in set_cookie  # the public address is https
    cookie = {"Cookie": f"{COOKIE}={resp.cookies[COOKIE].value}"}
    page = await client.get("/collector", headers=cookie)
    assert page.status == 200 and "Tunde" in await page.text()
    # Single use: the same code again does nothing.
    resp = await client.post("/collector/login", data=form, allow_redirects=False)
    assert resp.status == 400 and COOKIE not in resp.cookies
    audit = await deps.auth.audit_entries()
    assert any(
        a["actor"] == f"collector:{day.collector_a}"
        and a["action"] == "POST /collector/login"
        for a in audit
    )


async def test_unknown_number_gets_the_same_answer_and_no_sms(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """Asking for a code never tells whether a number is a collector's."""
    stranger = random_phone()
    known = await client.post(
        "/collector/login", data={"phone": day.phone_a, "action": "send"}
    )
    unknown = await client.post(
        "/collector/login", data={"phone": stranger, "action": "send"}
    )
    assert known.status == unknown.status == 200
    known_html = (await known.text()).replace(day.phone_a, "PHONE")
    assert known_html == (await unknown.text()).replace(stranger, "PHONE")
    assert await texted_code(deps, fake_sms, stranger) is None
    assert await outbox_rows(deps, "login-code:", stranger) == []
    bad = await client.post("/collector/login", data={"phone": "12", "action": "send"})
    assert bad.status == 400 and "area code" in await bad.text()


async def test_code_expires_after_ten_minutes(
    client: Any, deps: Any, fake_sms: Any, clock: Any, day: Day
) -> None:
    """A code older than ten minutes no longer signs in."""
    await client.post("/collector/login", data={"phone": day.phone_a, "action": "send"})
    code = await texted_code(deps, fake_sms, day.phone_a)
    clock.advance(minutes=11)
    resp = await client.post(
        "/collector/login",
        data={"phone": day.phone_a, "code": code, "action": "verify"},
        allow_redirects=False,
    )
    assert resp.status == 400 and "did not work" in await resp.text()


async def test_wrong_guesses_use_up_the_code(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """After five wrong guesses even the right code is refused."""
    await client.post("/collector/login", data={"phone": day.phone_a, "action": "send"})
    code = await texted_code(deps, fake_sms, day.phone_a)
    assert code is not None
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        resp = await client.post(
            "/collector/login",
            data={"phone": day.phone_a, "code": wrong, "action": "verify"},
        )
        assert resp.status == 400
    resp = await client.post(
        "/collector/login",
        data={"phone": day.phone_a, "code": code, "action": "verify"},
        allow_redirects=False,
    )
    assert resp.status == 400 and COOKIE not in resp.cookies


async def test_code_requests_are_rate_limited(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """Three codes per quarter hour per collector; more asks look the same, send none."""
    for _ in range(5):
        resp = await client.post(
            "/collector/login", data={"phone": day.phone_a, "action": "send"}
        )
        assert resp.status == 200
    assert len(await outbox_rows(deps, "login-code:", day.phone_a)) == 3


async def test_login_from_another_site_is_refused(client: Any, day: Day) -> None:
    """A sign-in form posted from another origin is refused (login CSRF)."""
    resp = await client.post(
        "/collector/login",
        data={"phone": day.phone_a, "action": "send"},
        headers={"Origin": "https://evil.example"},
    )
    assert resp.status == 403


# --- the round ---------------------------------------------------------------------


async def test_round_in_visiting_order(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """Today's round: stops by seq with code, household, phone, window and materials."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    resp = await client.get("/collector/api/round", headers=me.cookie)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    r = body["round"]
    assert r["id"] == day.round_id and r["status"] == "planned"
    assert [s["seq"] for s in r["stops"]] == [1, 2, 3]
    assert [s["pickup_code"] for s in r["stops"]] == [s.code for s in day.stops]
    first = r["stops"][0]
    assert first["phone"] == day.stops[0].phone and first["name"].startswith("Person")
    assert "Herbert Macaulay" in first["landmark"] and first["status"] == "todo"
    assert re.fullmatch(r"\d\d:\d\d", first["window"]["start"])
    assert first["lat"] is not None and first["expected_kg"] > 0
    assert [m["code"] for m in body["materials"]] == ["PET", "ALU"]
    assert body["today"] == "2026-11-23" and body["server_time"].startswith(
        "2026-11-23"
    )
    same = await client.get(f"/collector/api/rounds/{day.round_id}", headers=me.cookie)
    assert (await same.json())["round"] == r


async def test_another_collectors_round_and_pickups_are_forbidden(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """Collector B gets 403 on A's round and on each write to A's pickups."""
    other = await sign_in(client, deps, fake_sms, day.phone_b)
    resp = await client.get("/collector/api/round", headers=other.cookie)
    assert (await resp.json())["round"] is None
    resp = await client.get(
        f"/collector/api/rounds/{day.round_id}", headers=other.cookie
    )
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"
    code = day.stops[0].code
    writes = [
        ("weighings", weighing(code, deps)),
        ("missed", {"pickup_code": code, "reason": "x", "idempotency_key": "k1"}),
        ("pin", {"pickup_code": code, "lat": 6.5, "lon": 3.37}),
        ("pin", {"household": day.stops[0].household_id, "lat": 6.5, "lon": 3.37}),
    ]
    for path, payload in writes:
        resp = await client.post(
            f"/collector/api/{path}", json=payload, headers=other.headers
        )
        assert resp.status == 403, path
        assert (await resp.json())["error"]["code"] == "forbidden"
    async with deps.db.reader.connect() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(weighings))
        ).scalar_one() == 0
    resp = await client.get("/collector/api/rounds/999999", headers=other.cookie)
    assert resp.status == 404


# --- writes ------------------------------------------------------------------------


async def test_weighing_counts_once_under_replay_and_concurrent_duplicates(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """The same key sent again, or six times at once, credits once with one SMS."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    first, second = day.stops[0], day.stops[1]
    payload = weighing(first.code, deps)
    resp = await client.post(
        "/collector/api/weighings", json=payload, headers=me.headers
    )
    assert resp.status == 201
    answer = await resp.json()
    assert answer["credited_kobo"] == 12500 + 4800
    replay = await client.post(
        "/collector/api/weighings", json=payload, headers=me.headers
    )
    assert replay.status == 201 and await replay.json() == answer
    assert replay.headers["Idempotent-Replayed"] == "true"

    payload = weighing(second.code, deps)
    answers = await asyncio.gather(
        *(
            client.post("/collector/api/weighings", json=payload, headers=me.headers)
            for _ in range(6)
        )
    )
    assert {r.status for r in answers} == {201}
    assert len({(await r.text()) for r in answers}) == 1

    # Another key for a weighed pickup is refused; the key with other content too.
    again = await client.post(
        "/collector/api/weighings", json=weighing(second.code, deps), headers=me.headers
    )
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "already_collected"
    changed = {**payload, "items": [{"material": "PET", "kg": 9}]}
    resp = await client.post(
        "/collector/api/weighings", json=changed, headers=me.headers
    )
    assert resp.status == 409

    for stop in (first, second):
        balance = await deps.money.balance(stop.household_id)
        assert balance["posted_kobo"] == 17300
        assert len(await outbox_rows(deps, "receipt:", stop.phone)) == 1
    async with deps.db.reader.connect() as conn:
        rows = (
            await conn.execute(sa.select(weighings.c.source, weighings.c.collector))
        ).all()
    assert sorted(rows) == [("app", "Tunde"), ("app", "Tunde")]
    r = (await (await client.get("/collector/api/round", headers=me.cookie)).json())[
        "round"
    ]
    assert [s["status"] for s in r["stops"]] == ["done", "done", "todo"]
    assert r["stops"][0]["weighed_kg"] == 2.9


async def test_missed_and_pin(client: Any, deps: Any, fake_sms: Any, day: Day) -> None:
    """A miss keeps the request open with its reason; a pin moves the household."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    stop = day.stops[2]
    miss = {
        "pickup_code": stop.code.lower(),
        "reason": "Nobody at home",
        "idempotency_key": "m-1",
    }
    resp = await client.post("/collector/api/missed", json=miss, headers=me.headers)
    assert resp.status == 200 and (await resp.json())["status"] == "missed"
    replay = await client.post("/collector/api/missed", json=miss, headers=me.headers)
    assert replay.status == 200 and replay.headers["Idempotent-Replayed"] == "true"
    pin = {
        "pickup_code": stop.code,
        "lat": 6.5111,
        "lon": 3.3801,
        "idempotency_key": "p-1",
    }
    resp = await client.post("/collector/api/pin", json=pin, headers=me.headers)
    assert resp.status == 200
    assert await resp.json() == {
        "household_id": stop.household_id,
        "lat": 6.5111,
        "lon": 3.3801,
        "source": "gps",
    }
    by_household = {"household": stop.household_id, "lat": 6.5112, "lon": 3.3802}
    resp = await client.post(
        "/collector/api/pin", json=by_household, headers=me.headers
    )
    assert resp.status == 200
    r = (await (await client.get("/collector/api/round", headers=me.cookie)).json())[
        "round"
    ]
    last = r["stops"][2]
    assert last["status"] == "missed" and last["missed_reason"] == "Nobody at home"
    assert (last["lat"], last["lon"]) == (6.5112, 3.3802)
    # The collector came back later: a missed pickup can still be weighed.
    resp = await client.post(
        "/collector/api/weighings", json=weighing(stop.code, deps), headers=me.headers
    )
    assert resp.status == 201
    late = {**miss, "idempotency_key": "m-2"}
    resp = await client.post("/collector/api/missed", json=late, headers=me.headers)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "stop_closed"


async def test_a_new_rider_takes_over_the_round_and_it_keeps_its_hub(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """Tunde weighs one stop, then the operator gives his bike to Ngozi and moves
    it to another hub: Ngozi is texted the round with the two stops left and can
    weigh them, Tunde can no longer, and the round still starts from Yaba hub."""
    tunde = await sign_in(client, deps, fake_sms, day.phone_a)
    done, left = day.stops[0], day.stops[1]
    resp = await client.post(
        "/collector/api/weighings",
        json=weighing(done.code, deps),
        headers=tunde.headers,
    )
    assert resp.status == 201
    [planned] = await deps.planning.rounds(deps.clock.today())
    bike_id = planned["bike_id"]
    other_hub = await deps.bus.handle(AddHub("Surulere hub", 6.4969, 3.3536))
    await deps.bus.handle(
        UpdateBike(
            bike_id, hub_id=other_hub, set_collector=True, collector_id=day.collector_b
        )
    )
    # The same change again (an operator's retry) is no new hand-over.
    await deps.bus.handle(
        UpdateBike(bike_id, set_collector=True, collector_id=day.collector_b)
    )
    texts = await outbox_rows(deps, f"round:{day.round_id}:to:", day.phone_b)
    assert len(texts) == 1
    assert "2 stops" in texts[0].body
    assert texts[0].body.endswith(f"/collector?round={day.round_id}")
    assert await outbox_rows(deps, f"round:{day.round_id}:to:", day.phone_a) == []

    resp = await client.post(
        "/collector/api/weighings",
        json=weighing(left.code, deps),
        headers=tunde.headers,
    )
    assert resp.status == 403
    mine = await client.get("/collector/api/round", headers=tunde.cookie)
    assert (await mine.json())["round"] is None

    ngozi = await sign_in(client, deps, fake_sms, day.phone_b)
    r = (await (await client.get("/collector/api/round", headers=ngozi.cookie)).json())[
        "round"
    ]
    assert r["id"] == day.round_id
    assert r["hub"] == {"name": "Yaba hub", "lat": YABA_HUB[0], "lon": YABA_HUB[1]}
    assert [s["status"] for s in r["stops"]] == ["done", "todo", "todo"]
    resp = await client.post(
        "/collector/api/weighings",
        json=weighing(left.code, deps),
        headers=ngozi.headers,
    )
    assert resp.status == 201
    [planned] = await deps.planning.rounds(deps.clock.today())
    assert planned["hub_id"] != other_hub
    assert planned["collector_id"] == day.collector_b

    # Nobody on the bike: the round has no rider until one is given.
    await deps.bus.handle(UpdateBike(bike_id, set_collector=True, collector_id=None))
    mine = await client.get("/collector/api/round", headers=ngozi.cookie)
    assert (await mine.json())["round"] is None
    # A stopped collector cannot be given a bike.
    await deps.bus.handle(UpdateCollector(day.collector_a, active=False))
    with pytest.raises(Conflict, match="stopped"):
        await deps.bus.handle(
            UpdateBike(bike_id, set_collector=True, collector_id=day.collector_a)
        )


async def test_writes_need_the_csrf_token_and_a_session(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """No CSRF header (or a wrong one) is 403; no session is 401; nothing is written."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    payload = weighing(day.stops[0].code, deps)
    for headers in (me.cookie, {**me.cookie, "X-CSRF-Token": "nope"}):
        resp = await client.post(
            "/collector/api/weighings", json=payload, headers=headers
        )
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "csrf"
    resp = await client.post(
        "/collector/api/weighings", json=payload, headers={"X-CSRF-Token": me.csrf}
    )
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"
    assert await deps.money.balance(day.stops[0].household_id) in (
        None,
        {
            "household_id": day.stops[0].household_id,
            "posted_kobo": 0,
            "held_kobo": 0,
            "available_kobo": 0,
        },
    )


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("weighings", "not json", 400),
        ("weighings", [], 400),
        ("weighings", {"items": []}, 400),
        ("weighings", {"pickup_code": "K7"}, 400),
        ("weighings", {"items": [{"material": "GOLD", "kg": 1}]}, 400),
        ("weighings", {"items": [{"material": "PET", "kg": -1}]}, 400),
        ("weighings", {"items": [{"material": "PET", "kg": "1e999"}]}, 400),
        ("weighings", {"collected_at": "2030-01-01T00:00:00+01:00"}, 400),
        ("weighings", {"pickup_code": "ZZZZ"}, 404),
        ("missed", {"reason": ""}, 400),
        ("missed", {"idempotency_key": None}, 400),
        ("pin", {"lat": 91}, 400),
        ("pin", {"lat": "6.5"}, 400),
        ("pin", {"pickup_code": None, "household": True}, 400),
    ],
)
async def test_bad_input_is_a_json_4xx(
    client: Any,
    deps: Any,
    fake_sms: Any,
    day: Day,
    path: str,
    body: Any,
    status: int,
) -> None:
    """Malformed writes get a 4xx JSON error, never a 500."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    base: dict[str, Any] = {
        "weighings": weighing(day.stops[0].code, deps),
        "missed": {
            "pickup_code": day.stops[0].code,
            "reason": "x",
            "idempotency_key": "k",
        },
        "pin": {"pickup_code": day.stops[0].code, "lat": 6.5, "lon": 3.37},
    }[path]
    if isinstance(body, dict):
        resp = await client.post(
            f"/collector/api/{path}", json={**base, **body}, headers=me.headers
        )
    else:
        resp = await client.post(
            f"/collector/api/{path}",
            data=body if isinstance(body, str) else "[]",
            headers={**me.headers, "Content-Type": "application/json"},
        )
    assert resp.status == status
    error = (await resp.json())["error"]
    assert error["code"] and error["message"]


async def test_bad_round_id_is_a_json_400(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    resp = await client.get("/collector/api/rounds/abc", headers=me.cookie)
    assert resp.status == 400 and (await resp.json())["error"]["code"]


async def test_every_accepted_write_is_audited(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """Who, what and when for each accepted write; refused ones are not audited."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    await client.post(
        "/collector/api/weighings",
        json=weighing(day.stops[0].code, deps),
        headers=me.headers,
    )
    await client.post(
        "/collector/api/missed",
        json={
            "pickup_code": day.stops[1].code,
            "reason": "Not ready yet",
            "idempotency_key": "m",
        },
        headers=me.headers,
    )
    await client.post(
        "/collector/api/weighings", json={"pickup_code": "ZZZZ"}, headers=me.headers
    )
    entries = [
        a
        for a in await deps.auth.audit_entries()
        if a["action"].startswith("POST /collector/api/")
    ]
    assert sorted((a["actor"], a["action"], a["status"]) for a in entries) == [
        (f"collector:{day.collector_a}", "POST /collector/api/missed", 200),
        (f"collector:{day.collector_a}", "POST /collector/api/weighings", 201),
    ]


async def test_sign_out_ends_the_session(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """After signing out the old cookie is refused."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    resp = await client.post(
        "/collector/logout",
        data={"csrf": me.csrf},
        headers=me.cookie,
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/collector/login"
    resp = await client.get("/collector/api/round", headers=me.cookie)
    assert resp.status == 401


# --- the page ----------------------------------------------------------------------


async def test_service_worker_scope_covers_the_page(client: Any) -> None:
    resp = await client.get("/collector/sw.js")
    assert resp.status == 200
    assert resp.headers["Service-Worker-Allowed"] == "/collector"
    assert "javascript" in resp.headers["Content-Type"]


async def test_page_weight_is_under_budget(
    client: Any, deps: Any, fake_sms: Any, day: Day
) -> None:
    """The page's own HTML, JS and CSS (Leaflet aside) stay under 60 KB gzipped."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    shell = await (await client.get("/collector", headers=me.cookie)).read()
    login = await (await client.get("/collector/login")).read()
    own = [shell, login] + [
        (STATIC / "collector" / name).read_bytes()
        for name in ("app.js", "app.css", "sw.js")
    ]
    total = sum(len(gzip.compress(part, compresslevel=9)) for part in own)
    print(f"collector page weight: {total} bytes gzipped ({sum(map(len, own))} raw)")
    assert total < PAGE_BUDGET_BYTES
    # Every static file the shell names is served (no CDN).
    for ref in re.findall(rb'(?:src|href)="(/static/[^"]+)"', shell):
        assert (await client.get(ref.decode())).status == 200, ref


async def test_a_cancelled_pickup_cannot_be_weighed(
    client: Any, deps: Any, fake_sms: Any, text: Any, day: Day
) -> None:
    """The household cancelled by SMS: the stop shows it, and a weighing is refused."""
    me = await sign_in(client, deps, fake_sms, day.phone_a)
    stop = day.stops[1]
    await text("CANCEL", stop.phone)
    r = (await (await client.get("/collector/api/round", headers=me.cookie)).json())[
        "round"
    ]
    assert r["stops"][1]["status"] == "cancelled"
    resp = await client.post(
        "/collector/api/weighings", json=weighing(stop.code, deps), headers=me.headers
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "stop_closed"

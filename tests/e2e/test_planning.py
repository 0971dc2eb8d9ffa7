"""Planning in the service: locations, tomorrow's rounds, SMS, re-plans, weekly pickups."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from service.app import create_app
from service.bootstrap import build
from service.collector_round import CollectorRounds
from service.domain.commands import (
    CreateApiToken,
    LocateHouseholds,
    PlanDay,
    RegisterCollector,
    SendReminders,
    SetRate,
)
from service.domain.pluscodes import encode
from service.persistence.db import create_database
from service.persistence.planning import active_bikes
from service.planning import DEFAULT_EXPECTED_KG
from tests.builders import BASE_URL, random_phone, sms_form, twilio_signature
from tests.conftest import extract_message

YABA = [
    (6.5063, 3.3726),
    (6.5183, 3.3739),
    (6.5078, 3.3782),
    (6.5037, 3.3777),
    (6.5155, 3.3895),
    (6.5108, 3.3852),
]


class FakeGeocoder:
    """Knows two addresses; counts lookups so the cache can be checked."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def geocode(self, query: str) -> tuple[float, float] | None:
        self.calls.append(query)
        return (6.4969, 3.3903) if "adekunle" in query else None


@pytest.fixture
def geocoder() -> FakeGeocoder:
    """A fake geocoder (no network in tests)."""
    return FakeGeocoder()


@pytest.fixture
async def app_client(
    settings: Any,
    clock: Any,
    database: Any,
    fake_sms: Any,
    geocoder: FakeGeocoder,
    aiohttp_client: Any,
) -> Any:
    """The app with the fake geocoder, and helpers to text and call the API."""
    deps = build(
        settings,
        clock=clock,
        sms=fake_sms,
        db=database,
        geocoder=geocoder,
        background=[],
    )
    app = create_app(deps)
    app.cleanup_ctx.clear()
    client = await aiohttp_client(app)
    client.deps = deps
    token = await deps.bus.handle(CreateApiToken("operator", "ops"))
    client.ops = {"Authorization": f"Bearer {token}"}

    async def text(body: str, phone: str) -> str | None:
        form = sms_form(body, phone)
        sig = twilio_signature(BASE_URL + "/webhooks/twilio/sms", form)
        resp = await client.post(
            "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": sig}
        )
        return extract_message(await resp.text())

    client.text = text
    return client


async def fleet(client: Any, bikes: int = 1, capacity: float = 100.0) -> list[int]:
    resp = await client.post(
        "/api/v1/hubs",
        json={"name": "Yaba hub", "lat": 6.5095, "lon": 3.3711},
        headers=client.ops,
    )
    hub_id = (await resp.json())["id"]
    ids = []
    for i in range(bikes):
        collector_phone = random_phone()
        collector_id = await client.deps.bus.handle(
            RegisterCollector(f"Rider {i}", collector_phone)
        )
        body = {
            "name": f"bike-{i}",
            "hub_id": hub_id,
            "capacity_kg": capacity,
            "shift_start": "08:00",
            "shift_end": "16:00",
            "collector_id": collector_id,
        }
        resp = await client.post("/api/v1/bikes", json=body, headers=client.ops)
        assert resp.status == 201
        ids.append((await resp.json())["id"])
    return ids


async def day_rounds(client: Any, day: Any) -> list[dict[str, Any]]:
    """The day's current rounds, as the operator API lists them."""
    resp = await client.get(f"/api/v1/rounds?day={day}", headers=client.ops)
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["items"])


async def households_with_pickups(client: Any, n: int) -> list[str]:
    phones = []
    for i in range(n):
        phone = random_phone()
        lat, lon = YABA[i % len(YABA)]
        await client.text(
            f"JOIN Person {i}, near {encode(lat + i * 0.0003, lon)}", phone
        )
        await client.text("PICKUP", phone)
        phones.append(phone)
    return phones


async def test_plus_codes_geocoder_cache_and_operator_queue(
    app_client: Any, geocoder: FakeGeocoder
) -> None:
    """Plus codes locate at JOIN; addresses are geocoded once (cached); misses go to operators."""
    client = app_client
    await client.text(f"JOIN Ada, Tejuosho {encode(6.5063, 3.3726)}", random_phone())
    await client.text("JOIN Bola, 3 Adekunle Street", random_phone())
    await client.text("JOIN Chidi, 3 Adekunle Street", random_phone())
    await client.text("JOIN Dayo, behind the big mango tree", random_phone())
    unlocated = (
        await (
            await client.get("/api/v1/households/unlocated", headers=client.ops)
        ).json()
    )["items"]
    assert [h["name"] for h in unlocated] == ["Bola", "Chidi", "Dayo"]
    assert await client.deps.bus.handle(LocateHouseholds()) == 2
    assert len(geocoder.calls) == 2  # Chidi's address came from the cache
    unlocated = (
        await (
            await client.get("/api/v1/households/unlocated", headers=client.ops)
        ).json()
    )["items"]
    assert [(h["name"], h["location_source"]) for h in unlocated] == [
        ("Dayo", "failed")
    ]
    resp = await client.post(
        f"/api/v1/households/{unlocated[0]['id']}/location",
        json={"lat": 6.51, "lon": 3.38},
        headers=client.ops,
    )
    assert resp.status == 200
    assert (
        await (
            await client.get("/api/v1/households/unlocated", headers=client.ops)
        ).json()
    )["items"] == []
    resp = await client.post(
        "/api/v1/households/999/location",
        json={"lat": 6.5, "lon": 3.3},
        headers=client.ops,
    )
    assert resp.status == 404


async def test_a_location_far_from_every_hub_goes_to_the_operators(
    app_client: Any, clock: Any
) -> None:
    """A plus code that decodes in Germany is no place for a Lagos round: the
    household waits in the operator queue, saying why, and is not planned; a pin
    at 0, 0 is refused; a pin in Yaba puts it in tomorrow's round."""
    client = app_client
    await fleet(client, bikes=1)
    phone = random_phone()
    await client.text(f"JOIN Hauwa, {encode(50.94, 8.51)}", phone)
    await client.text("PICKUP", phone)

    async def queue() -> list[dict[str, Any]]:
        resp = await client.get("/api/v1/households/unlocated", headers=client.ops)
        return list((await resp.json())["items"])

    [far] = await queue()
    assert (far["name"], far["reason"]) == ("Hauwa", "too far from any hub")
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    resp = await client.post(
        "/api/v1/plan", json={"day": tomorrow, "seconds": 0.3}, headers=client.ops
    )
    summary = await resp.json()
    assert (summary["scheduled"], summary["unlocated"]) == (0, 1)
    resp = await client.post(
        f"/api/v1/households/{far['id']}/location",
        json={"lat": 0, "lon": 0},
        headers=client.ops,
    )
    assert resp.status == 400
    assert "from every hub" in (await resp.json())["error"]["message"]
    resp = await client.post(
        f"/api/v1/households/{far['id']}/location",
        json={"lat": 6.51, "lon": 3.38},
        headers=client.ops,
    )
    assert resp.status == 200 and await queue() == []
    resp = await client.post(
        "/api/v1/plan", json={"day": tomorrow, "seconds": 0.3}, headers=client.ops
    )
    assert (await resp.json())["scheduled"] == 1


async def test_a_household_without_a_usable_place_gives_it_again_by_join(
    app_client: Any,
) -> None:
    """A household whose address was not found is told so when it books a
    pickup. JOIN again from a household in the operator queue (no place, or one
    far from every hub) takes the new address and its plus code; from a
    household with a good place it changes nothing."""
    client = app_client
    await fleet(client, bikes=1)
    vague, far, placed = random_phone(), random_phone(), random_phone()
    await client.text("JOIN Femi, behind the big mango tree", vague)
    await client.text(f"JOIN Hauwa, {encode(50.94, 8.51)}", far)
    await client.text(f"JOIN Ada, Tejuosho {encode(6.5063, 3.3726)}", placed)

    async def queue() -> set[str]:
        resp = await client.get("/api/v1/households/unlocated", headers=client.ops)
        return {h["name"] for h in (await resp.json())["items"]}

    assert await queue() == {"Femi", "Hauwa"}
    # The geocoder finds nothing for Femi's landmark: a pickup he books says so.
    await client.deps.bus.handle(LocateHouseholds())
    reply = await client.text("PICKUP", vague)
    assert reply is not None and "cannot find your address" in reply
    reply = await client.text("PICKUP", placed)
    assert reply is not None and "Pickup booked" in reply
    assert "cannot find" not in reply
    reply = await client.text(f"JOIN Femi, Tejuosho Market {encode(6.51, 3.37)}", vague)
    assert reply is not None and "new address" in reply
    reply = await client.text(f"JOIN Hauwa, Yaba {encode(6.515, 3.38)}", far)
    assert reply is not None and "new address" in reply
    assert await queue() == set()
    reply = await client.text(f"JOIN Ada, {encode(6.6, 3.3)}", placed)
    assert reply is not None and "already registered" in reply
    by_phone = {h["phone"]: h for h in (await client.deps.views.households()).items}
    assert by_phone[vague]["address"].startswith("Tejuosho Market")
    assert by_phone[placed]["address"].startswith("Tejuosho")
    assert round(by_phone[placed]["lat"], 3) == 6.506


async def test_first_weighing_gps_replaces_a_rough_location(
    app_client: Any, clock: Any
) -> None:
    """A geocoded address is rough: the first weighing with a GPS fix pins the door.
    A later fix does not move it, a plus code stays, and a fix far from the address
    (a weighing typed in elsewhere) is not used; the batch path pins too. With no
    address, only a fix near a hub is used."""
    client = app_client
    await client.deps.bus.handle(
        SetRate("PET", 5000, clock.today() - timedelta(days=1))
    )
    geocoded, pluscoded, far = random_phone(), random_phone(), random_phone()
    await client.text("JOIN Bola, 3 Adekunle Street", geocoded)
    await client.text(f"JOIN Ada, Tejuosho {encode(6.5063, 3.3726)}", pluscoded)
    await client.text("JOIN Chidi, 9 Adekunle Street", far)
    assert await client.deps.bus.handle(LocateHouseholds()) == 2
    token = await client.deps.bus.handle(CreateApiToken("collector", "rider"))
    rider = {"Authorization": f"Bearer {token}"}

    async def weigh(phone: str, lat: float, lon: float, *, batch: bool = False) -> None:
        await client.text("PICKUP", phone)
        open_pickups = (await client.deps.views.pickups(status="open")).items
        [code] = [p["code"] for p in open_pickups if p["phone"] == phone]
        entry = {
            "pickup_code": code,
            "items": [{"material": "PET", "kg": 2}],
            "collected_at": clock.now().isoformat(),
            "lat": lat,
            "lon": lon,
            "idempotency_key": f"weigh-{code}",
        }
        if batch:
            resp = await client.post(
                "/api/v1/collections/batch", json={"weighings": [entry]}, headers=rider
            )
            assert (await resp.json())["results"][0]["status"] == 201
        else:
            resp = await client.post("/api/v1/collections", json=entry, headers=rider)
            assert resp.status == 201, await resp.text()

    async def location(phone: str) -> tuple[float, float, str]:
        resp = await client.get("/api/v1/households", headers=client.ops)
        [h] = [h for h in (await resp.json())["items"] if h["phone"] == phone]
        return (h["lat"], h["lon"], h["location_source"])

    assert await location(geocoded) == (6.4969, 3.3903, "geocoded")
    await weigh(geocoded, 6.4975, 3.3911)
    assert await location(geocoded) == (6.4975, 3.3911, "gps")
    await weigh(geocoded, 6.4990, 3.3930)  # the second visit: the door is known
    assert await location(geocoded) == (6.4975, 3.3911, "gps")

    plus = await location(pluscoded)
    assert plus[2] == "pluscode"
    await weigh(pluscoded, 6.5070, 3.3730)
    assert await location(pluscoded) == plus

    await weigh(far, 6.5900, 3.3903)  # 10 km north of the address
    assert await location(far) == (6.4969, 3.3903, "geocoded")
    await weigh(far, 6.4960, 3.3899, batch=True)
    assert await location(far) == (6.4960, 3.3899, "gps")

    # No address to compare with: the fix must be within reach of a hub, so a
    # phone's zero or stale fix does not become the household's door.
    lost = random_phone()
    await client.text("JOIN Dayo, behind the big mango tree", lost)
    await client.deps.bus.handle(LocateHouseholds())
    assert await location(lost) == (None, None, "failed")
    await fleet(client)  # a hub in Yaba
    await weigh(lost, 0.0, 0.0)
    assert await location(lost) == (None, None, "failed")
    await weigh(lost, 9.0765, 7.3986, batch=True)  # Abuja
    assert await location(lost) == (None, None, "failed")
    await weigh(lost, 6.5120, 3.3790)
    assert await location(lost) == (6.5120, 3.3790, "gps")


async def test_expected_kg_comes_from_the_households_own_weighings(
    app_client: Any, clock: Any
) -> None:
    """A household that gave 4 kg and then 8 kg is expected to give 6 kg; a new
    one gets the default."""
    client = app_client
    await fleet(client, bikes=1, capacity=100)
    await client.deps.bus.handle(
        SetRate("PET", 5000, clock.today() - timedelta(days=3))
    )
    token = await client.deps.bus.handle(CreateApiToken("collector", "rider"))
    regular, newcomer = await households_with_pickups(client, 2)
    for n, kg in enumerate([4, 8]):
        if n:
            await client.text("PICKUP", regular)
        open_pickups = (await client.deps.views.pickups(status="open")).items
        [code] = [p["code"] for p in open_pickups if p["phone"] == regular]
        resp = await client.post(
            "/api/v1/collections",
            json={
                "pickup_code": code,
                "items": [{"material": "PET", "kg": kg}],
                "collected_at": clock.now().isoformat(),
                "idempotency_key": f"history-{n}",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status == 201, await resp.text()
    await client.text("PICKUP", regular)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    resp = await client.post(
        "/api/v1/plan", json={"day": tomorrow, "seconds": 0.3}, headers=client.ops
    )
    assert (await resp.json())["scheduled"] == 2
    phone_of = {p["id"]: p["phone"] for p in (await client.deps.views.pickups()).items}
    expected = {
        phone_of[v["pickup_id"]]: v["expected_kg"]
        for r in await day_rounds(client, tomorrow)
        for v in r["visits"]
    }
    assert expected == {regular: 6.0, newcomer: DEFAULT_EXPECTED_KG}


async def test_plan_schedules_windows_and_texts_everyone(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """Planning tomorrow gives each pickup a bike and a 2-hour window, and texts it."""
    client = app_client
    await fleet(client, bikes=2, capacity=40)
    phones = await households_with_pickups(client, 6)
    unlocated_phone = random_phone()
    await client.text("JOIN Nowhere Person, somewhere unknown", unlocated_phone)
    await client.text("PICKUP", unlocated_phone)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    resp = await client.post(
        "/api/v1/plan", json={"day": tomorrow, "seconds": 0.5}, headers=client.ops
    )
    assert resp.status == 200
    summary = await resp.json()
    assert (
        summary["scheduled"] == 6
        and summary["unplanned"] == []
        and summary["unlocated"] == 1
    )
    rounds = await day_rounds(client, tomorrow)
    visits = [v for r in rounds for v in r["visits"]]
    assert len(visits) == 6 and len({v["pickup_id"] for v in visits}) == 6
    for r in rounds:
        assert [v["seq"] for v in r["visits"]] == list(range(1, len(r["visits"]) + 1))
        for v in r["visits"]:
            start, end = v["window"].split("-")
            assert start <= v["arrival"] <= end
            assert (
                int(end[:2]) * 60 + int(end[3:]) - int(start[:2]) * 60 - int(start[3:])
                == 120
            )
    await client.deps.dispatcher.run_once()
    phone_of = {p["id"]: p["phone"] for p in (await client.deps.views.pickups()).items}
    day_text = (clock.today() + timedelta(days=1)).strftime("%a %d %b")
    for v in visits:
        [message] = [m for m in fake_sms.to(phone_of[v["pickup_id"]]) if "pickup:" in m]
        assert f"{day_text}, between {v['window']}. Code {v['code']}." in message
    assert {phone_of[v["pickup_id"]] for v in visits} == set(phones)
    assert sum("/collector?round=" in m.body for m in fake_sms.sent) == len(rounds)
    assert len((await client.deps.views.pickups(status="scheduled")).items) == 6


async def test_replan_moves_a_dropped_bikes_stops_and_tells_households(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """When a bike drops out its stops go to the others, and affected households hear of it."""
    client = app_client
    bike_ids = await fleet(client, bikes=2, capacity=22)
    await households_with_pickups(client, 6)
    today = clock.today().isoformat()
    clock.advance(hours=-2)  # plan before the shift starts (06:00 Lagos)
    await client.post(
        "/api/v1/plan", json={"day": today, "seconds": 0.5}, headers=client.ops
    )
    clock.advance(hours=3, minutes=10)  # the bike drops out at 09:10
    rounds = await day_rounds(client, today)
    dropped = next(r for r in rounds if r["visits"])
    moved = {v["pickup_id"] for v in dropped["visits"]}
    await client.deps.dispatcher.run_once()
    before = len(fake_sms.sent)
    resp = await client.post(
        "/api/v1/rounds/replan",
        json={"bike_id": dropped["bike_id"], "seconds": 0.5},
        headers=client.ops,
    )
    assert resp.status == 200, await resp.text()
    after = await day_rounds(client, today)
    assert all(r["bike_id"] != dropped["bike_id"] for r in after)
    still = {v["pickup_id"] for r in after for v in r["visits"]}
    summary = await resp.json()
    assert len(still) + len(summary["unplanned"]) == 6
    await client.deps.dispatcher.run_once()
    assert moved  # the dropped bike had stops to move
    assert set(bike_ids) >= {r["bike_id"] for r in after}
    # Each household of the dropped bike hears its new window, or that Recoop
    # cannot come today; nobody else is texted again for an unchanged window.
    phone_of = {p["id"]: p["phone"] for p in (await client.deps.views.pickups()).items}
    old_window = {v["pickup_id"]: v["window"] for r in rounds for v in r["visits"]}
    new_window = {v["pickup_id"]: v["window"] for r in after for v in r["visits"]}
    arrival = {v["pickup_id"]: v["arrival"] for r in after for v in r["visits"]}
    for p, window in new_window.items():
        start, end = old_window[p].split("-")
        if start <= arrival[p] <= end:  # the promise still holds: no new window
            assert window == old_window[p], (p, old_window[p], arrival[p], window)
    texts = fake_sms.sent[before:]
    # Re-planned at 09:10: a new window opens no earlier than 09:00, and a window
    # already texted is kept while the new arrival falls inside it.
    assert all(
        window >= "09:00" for p, window in new_window.items() if window != old_window[p]
    )
    for pickup_id, phone in phone_of.items():
        told = [m.body for m in texts if m.to == phone]
        if pickup_id not in new_window:
            assert len(told) == 1 and "cannot come today" in told[0]
        elif new_window[pickup_id] != old_window[pickup_id]:
            assert len(told) == 1 and new_window[pickup_id] in told[0]
        else:
            assert told == []
    # Riding the dropped bike's stops too, the other bike cannot keep every window.
    assert {m.to for m in texts} & {phone_of[p] for p in moved}


async def test_replan_starts_each_bike_from_its_last_weighing(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """A bike still out is re-planned from where its collector last weighed (the
    phone's GPS fix), not from the hub, and with that trip's kg still on board."""
    client = app_client
    bike_ids = await fleet(client, bikes=2, capacity=60)
    await client.deps.bus.handle(
        SetRate("PET", 5000, clock.today() - timedelta(days=1))
    )
    await households_with_pickups(client, 6)
    today = clock.today().isoformat()
    clock.advance(hours=-2)
    await client.post(
        "/api/v1/plan", json={"day": today, "seconds": 0.5}, headers=client.ops
    )
    clock.advance(hours=2)  # 08:00, the shifts begin
    rounds = await day_rounds(client, today)
    staying = rounds[0]
    dropped = next(b for b in bike_ids if b != staying["bike_id"])
    token = await client.deps.bus.handle(CreateApiToken("collector", "rider"))
    weighed = staying["visits"][0]
    # The collector weighs 40 kg there, the phone's GPS 4.5 km north of the hub.
    resp = await client.post(
        "/api/v1/collections",
        json={
            "pickup_code": weighed["code"],
            "items": [{"material": "PET", "kg": 40}],
            "collected_at": clock.now().isoformat(),
            "lat": 6.5500,
            "lon": 3.3711,
            "idempotency_key": "weigh-1",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 201, await resp.text()
    clock.advance(minutes=10)
    resp = await client.post(
        "/api/v1/rounds/replan",
        json={"bike_id": dropped, "seconds": 0.5},
        headers=client.ops,
    )
    assert resp.status == 200, await resp.text()
    after = await day_rounds(client, today)
    (again,) = [r for r in after if r["bike_id"] == staying["bike_id"]]
    # Every stop is within 1.5 km of the hub, so from the hub the first would be
    # reached in about 11 minutes; from 4.5 km north it takes more than 16.
    local = clock.now().astimezone(clock.tz)
    hours, minutes = map(int, again["visits"][0]["arrival"].split(":"))
    first = hours * 60 + minutes - (local.hour * 60 + local.minute)
    assert first >= 16
    # 40 kg on board leave room for 20 kg of 60: the bike takes at most four of
    # the five 5 kg stops before unloading, unless it rode to the hub first
    # (22 minutes from there). From the hub it would take all five at once.
    trip_one = sum(v["expected_kg"] for v in again["visits"] if v["trip"] == 1)
    assert trip_one <= 20 or first >= 22
    # The other households are all still served, by the bike that is left.
    summary = await resp.json()
    assert not summary["unplanned"] and summary["scheduled"] == 5
    assert len(again["visits"]) == 5


async def test_weekly_subscription_creates_and_plans_pickup(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """WEEKLY <day> makes a pickup appear on that weekday's plan without asking."""
    client = app_client
    await fleet(client)
    phone = random_phone()
    await client.text(f"JOIN Funke, {encode(6.5063, 3.3726)}", phone)
    reply = await client.text("weekly friday", phone)
    assert "Friday" in reply
    friday = clock.today() + timedelta(days=(4 - clock.today().weekday()) % 7 or 7)
    summary = await (
        await client.post(
            "/api/v1/plan",
            json={"day": friday.isoformat(), "seconds": 0.5},
            headers=client.ops,
        )
    ).json()
    assert summary["weekly_created"] == 1 and summary["scheduled"] == 1
    summary = await (
        await client.post(
            "/api/v1/plan",
            json={"day": friday.isoformat(), "seconds": 0.5},
            headers=client.ops,
        )
    ).json()
    assert summary["weekly_created"] == 0 and summary["scheduled"] == 1
    assert "stopped" in (await client.text("WEEKLY OFF", phone))


async def test_morning_reminder_once_per_pickup(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """The reminder goes once to each household scheduled today, even if sent twice."""
    client = app_client
    await fleet(client)
    phones = await households_with_pickups(client, 2)
    today = clock.today()
    await client.post(
        "/api/v1/plan",
        json={"day": today.isoformat(), "seconds": 0.5},
        headers=client.ops,
    )
    assert await client.deps.bus.handle(SendReminders(today)) == 2
    assert await client.deps.bus.handle(SendReminders(today)) == 2
    await client.deps.dispatcher.run_once()
    for phone in phones:
        assert sum("Reminder" in m for m in fake_sms.to(phone)) == 1


async def test_operators_manage_hubs_bikes_and_collectors(
    app_client: Any, clock: Any
) -> None:
    """A hub moves, a bike changes and stops, a collector loses access: the next
    plan uses only what is active, and a stopped collector's LOG is refused."""
    client = app_client
    stopping, staying = await fleet(client, bikes=2, capacity=40)
    [hub] = (await (await client.get("/api/v1/hubs", headers=client.ops)).json())[
        "items"
    ]
    resp = await client.patch(
        f"/api/v1/hubs/{hub['id']}",
        json={"name": "Yaba depot", "lat": 6.5100},
        headers=client.ops,
    )
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {
        "id": hub["id"],
        "name": "Yaba depot",
        "lat": 6.5100,
        "lon": hub["lon"],
    }

    collectors = (
        await (await client.get("/api/v1/collectors", headers=client.ops)).json()
    )["items"]
    rider = next(c for c in collectors if c["bike_ids"] == [staying])
    resp = await client.patch(
        f"/api/v1/bikes/{staying}",
        json={"capacity_kg": 80, "shift_end": "18:00", "collector_id": None},
        headers=client.ops,
    )
    bike = await resp.json()
    assert resp.status == 200 and bike["id"] == staying
    assert (bike["capacity_kg"], bike["shift_start_min"], bike["shift_end_min"]) == (
        80,
        8 * 60,
        18 * 60,
    )
    assert bike["collector_id"] is None and bike["active"] is True
    resp = await client.patch(
        f"/api/v1/bikes/{staying}",
        json={"collector_id": rider["id"]},
        headers=client.ops,
    )
    assert (await resp.json())["collector_id"] == rider["id"]
    resp = await client.patch(
        f"/api/v1/bikes/{stopping}", json={"active": False}, headers=client.ops
    )
    assert (await resp.json())["active"] is False

    await households_with_pickups(client, 4)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    resp = await client.post(
        "/api/v1/plan", json={"day": tomorrow, "seconds": 0.3}, headers=client.ops
    )
    assert (await resp.json())["scheduled"] == 4
    rounds = await day_rounds(client, tomorrow)
    assert {r["bike_id"] for r in rounds} == {staying}
    assert sum(len(r["visits"]) for r in rounds) == 4

    code = rounds[0]["visits"][0]["code"]
    resp = await client.patch(
        f"/api/v1/collectors/{rider['id']}", json={"active": False}, headers=client.ops
    )
    assert resp.status == 200 and (await resp.json())["active"] is False
    reply = await client.text(f"LOG {code} PET 2", rider["phone"])
    assert reply is not None and "collectors only" in reply
    async with client.deps.db.reader.connect() as conn:  # nobody to ride it now
        assert [b.id for b in await active_bikes(conn)] == []
    resp = await client.patch(
        f"/api/v1/collectors/{rider['id']}", json={"active": True}, headers=client.ops
    )
    assert (await resp.json())["active"] is True
    async with client.deps.db.reader.connect() as conn:
        assert [b.id for b in await active_bikes(conn)] == [staying]
    await client.deps.bus.handle(
        SetRate("PET", 5000, clock.today() - timedelta(days=1))
    )
    reply = await client.text(f"LOG {code} PET 2", rider["phone"])
    assert reply is not None and code in reply and "N100" in reply


async def test_fleet_changes_refuse_bad_input(app_client: Any) -> None:
    """Unknown ids are 404, taken names 409, impossible values 400; nothing changes."""
    client = app_client
    first, second = await fleet(client, bikes=2)
    before = (await (await client.get("/api/v1/bikes", headers=client.ops)).json())[
        "items"
    ]
    cases = [
        ("/api/v1/bikes/999", {"active": False}, 404),
        (f"/api/v1/bikes/{first}", {"hub_id": 999}, 404),
        (f"/api/v1/bikes/{first}", {"collector_id": 999}, 404),
        (f"/api/v1/bikes/{first}", {"name": "bike-1"}, 409),
        (f"/api/v1/bikes/{first}", {"shift_start": "17:00"}, 400),
        (f"/api/v1/bikes/{first}", {"capacity_kg": 0}, 400),
        (f"/api/v1/bikes/{first}", {"active": "no"}, 400),
        (f"/api/v1/bikes/{first}", {"name": "  "}, 400),
        ("/api/v1/bikes/zero", {"active": False}, 400),
        ("/api/v1/hubs/999", {"lat": 6.5}, 404),
        ("/api/v1/collectors/999", {"active": False}, 404),
        # A misspelt field is refused, not ignored while the rest goes through.
        (f"/api/v1/bikes/{first}", {"capacity": 50, "active": False}, 400),
        (f"/api/v1/bikes/{first}", {}, 400),
        ("/api/v1/hubs/1", {"latitude": 6.5}, 400),
        ("/api/v1/collectors/1", {"phone": "+2348030000000"}, 400),
    ]
    for path, body, status in cases:
        resp = await client.patch(path, json=body, headers=client.ops)
        assert resp.status == status, (path, body, await resp.text())
        assert "error" in await resp.json()
    resp = await client.patch(
        f"/api/v1/bikes/{first}", json={"capacity": 50}, headers=client.ops
    )
    message = (await resp.json())["error"]["message"]
    assert message.startswith("unknown field(s) capacity; this endpoint takes name")
    after = (await (await client.get("/api/v1/bikes", headers=client.ops)).json())[
        "items"
    ]
    assert after == before
    resp = await client.patch(
        f"/api/v1/bikes/{second}", json={"shift_start": "09:00"}, headers=client.ops
    )
    assert resp.status == 200 and (await resp.json())["shift_start_min"] == 9 * 60


async def test_planning_bad_input_is_4xx(app_client: Any) -> None:
    """Bad hubs, bikes and plan requests get JSON 4xx."""
    client = app_client
    assert (
        await client.post(
            "/api/v1/hubs", json={"name": "x", "lat": "north"}, headers=client.ops
        )
    ).status == 400
    assert (
        await client.post(
            "/api/v1/bikes",
            json={"name": "b", "hub_id": 99, "capacity_kg": 50},
            headers=client.ops,
        )
    ).status == 404
    resp = await client.post(
        "/api/v1/hubs", json={"name": "h", "lat": 6.5, "lon": 3.4}, headers=client.ops
    )
    hub = (await resp.json())["id"]
    bad_shift = {
        "name": "b",
        "hub_id": hub,
        "capacity_kg": 50,
        "shift_start": "17:00",
        "shift_end": "09:00",
    }
    assert (
        await client.post("/api/v1/bikes", json=bad_shift, headers=client.ops)
    ).status == 400
    assert (
        await client.post("/api/v1/plan", json={"day": "tomorrow"}, headers=client.ops)
    ).status == 400
    assert (
        await client.post(
            "/api/v1/rounds/replan", json={"bike_id": "one"}, headers=client.ops
        )
    ).status == 400
    assert (
        await client.put(
            "/api/v1/households/1/weekly",
            json={"weekday": "funday"},
            headers=client.ops,
        )
    ).status == 400


async def test_a_field_an_endpoint_does_not_take_is_refused_not_ignored(
    app_client: Any, clock: Any
) -> None:
    """A create, plan, pin or weekly body with a field the endpoint does not take
    is a 400 naming it: "active": false on a new bike would otherwise make an
    active bike. An empty weekly body no longer clears the weekly day; the day
    may be given as SMS takes it ("MON", "saturday")."""
    client = app_client
    [bike] = await fleet(client, bikes=1)
    [phone] = await households_with_pickups(client, 1)
    [household] = [
        h for h in (await client.deps.views.households()).items if h["phone"] == phone
    ]
    hid = household["id"]
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    cases = [
        ("post", "/api/v1/hubs", {"name": "Ojota", "lat": 6.58, "lon": 3.38, "foo": 1}),
        (
            "post",
            "/api/v1/bikes",
            {"name": "b9", "hub_id": 1, "capacity_kg": 50, "active": False},
        ),
        ("post", "/api/v1/plan", {"day": tomorrow, "sconds": 1}),
        ("post", "/api/v1/rounds/replan", {"bike_id": bike, "force": True}),
        (
            "post",
            f"/api/v1/households/{hid}/location",
            {"lat": 6.5, "lon": 3.4, "x": 0},
        ),
        ("put", f"/api/v1/households/{hid}/weekly", {"weekday": "mon", "time": "9"}),
        ("put", f"/api/v1/households/{hid}/weekly", {}),
    ]
    for method, path, body in cases:
        resp = await getattr(client, method)(path, json=body, headers=client.ops)
        assert resp.status == 400, (path, body, await resp.text())
        message = (await resp.json())["error"]["message"]
        assert "unknown field" in message or "give at least one" in message, message
    assert [b["name"] for b in (await client.deps.planning.bikes())] == ["bike-0"]
    assert (await client.deps.planning.hubs())[0]["name"] == "Yaba hub"
    assert len(await client.deps.planning.hubs()) == 1
    resp = await client.patch(
        f"/api/v1/bikes/{bike}", json={"active": None}, headers=client.ops
    )
    assert resp.status == 400  # not a silent no-op
    assert "active must be true or false" in (await resp.json())["error"]["message"]
    for given, stored in (("MON", "mon"), ("Saturday", "sat"), (None, None)):
        resp = await client.put(
            f"/api/v1/households/{hid}/weekly",
            json={"weekday": given},
            headers=client.ops,
        )
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["weekday"] == stored


async def test_plans_of_one_day_at_once_leave_one_round_per_bike(
    app_client: Any, clock: Any, fake_sms: Any, db_target: Any, settings: Any
) -> None:
    """Three plans of tomorrow at once (a double click, the evening job, a second
    server) run one after the other: one round per bike, each stop once, and
    links only to the riders of the last plan's rounds."""
    client = app_client
    await fleet(client, bikes=2, capacity=100)
    await households_with_pickups(client, 6)
    url, connect_args = db_target
    other_db = create_database(url, connect_args=connect_args)
    other = build(settings, clock=clock, sms=fake_sms, db=other_db, background=[])
    tomorrow = clock.today() + timedelta(days=1)
    try:
        await asyncio.gather(
            client.deps.bus.handle(PlanDay(tomorrow, seconds=0.3)),
            other.bus.handle(PlanDay(tomorrow, seconds=0.3)),
            client.deps.bus.handle(PlanDay(tomorrow, seconds=0.3)),
        )
    finally:
        await other.close()
    rounds = await day_rounds(client, tomorrow.isoformat())
    assert len({r["bike_id"] for r in rounds}) == len(rounds) >= 1
    visits = [v["pickup_id"] for r in rounds for v in r["visits"]]
    assert sorted(visits) == sorted(set(visits)) and len(visits) == 6
    scheduled = (await client.deps.views.pickups(status="scheduled")).items
    assert {p["id"] for p in scheduled} == set(visits)
    await client.deps.dispatcher.run_once()
    links = [m for m in fake_sms.sent if "/collector?round=" in m.body]
    phone_of = {c["id"]: c["phone"] for c in await client.deps.planning.collectors()}
    assert {m.to for m in links} == {phone_of[r["collector_id"]] for r in rounds}


async def test_a_hub_moved_far_after_the_plan_postpones_its_stops_not_strands_them(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """The day's stops were promised from Yaba; the hub then moves to Abuja and
    the day is planned again: the stops cannot be served, so each household is
    told, and the pickups are open again, in the operator queue (too far)."""
    client = app_client
    await fleet(client, bikes=1)
    phones = await households_with_pickups(client, 3)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    resp = await client.post(
        "/api/v1/plan", json={"day": tomorrow, "seconds": 0.3}, headers=client.ops
    )
    assert (await resp.json())["scheduled"] == 3
    [hub] = await client.deps.planning.hubs()
    resp = await client.patch(
        f"/api/v1/hubs/{hub['id']}", json={"lat": 9.06, "lon": 7.49}, headers=client.ops
    )
    assert resp.status == 200
    resp = await client.post(
        "/api/v1/plan", json={"day": tomorrow, "seconds": 0.3}, headers=client.ops
    )
    summary = await resp.json()
    assert summary["scheduled"] == 0 and len(summary["unplanned"]) == 3
    assert len((await client.deps.views.pickups(status="open")).items) == 3
    queue = await client.get("/api/v1/households/unlocated", headers=client.ops)
    assert {h["reason"] for h in (await queue.json())["items"]} == {
        "too far from any hub"
    }
    await client.deps.dispatcher.run_once()
    for phone in phones:
        assert any("cannot come" in m for m in fake_sms.to(phone)), phone


async def test_an_unchanged_replan_sends_the_rider_no_new_link_and_the_old_one_works(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """Planning tomorrow again with nothing changed texts nobody; the link texted
    first opens the rider's current round."""
    client = app_client
    await fleet(client, bikes=1, capacity=100)
    await households_with_pickups(client, 3)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    for _ in range(2):
        resp = await client.post(
            "/api/v1/plan", json={"day": tomorrow, "seconds": 0.3}, headers=client.ops
        )
        assert resp.status == 200
    await client.deps.dispatcher.run_once()
    [link] = [m for m in fake_sms.sent if "/collector?round=" in m.body]
    assert "3 stops" in link.body
    first_round = int(link.body.split("round=")[1].split()[0])
    [current] = await day_rounds(client, tomorrow)
    assert current["id"] != first_round  # the second plan made a new round
    summary = await resp.json()
    assert summary["notified"] == 0  # the same windows: no household texted again
    [collector] = [
        c for c in await client.deps.planning.collectors() if c["phone"] == link.to
    ]
    opened = await CollectorRounds(client.deps.db).round(collector["id"], first_round)
    assert opened["id"] == current["id"] and opened["status"] == "planned"


async def test_a_replan_keeps_earlier_drop_outs_out_and_checks_the_bike(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """Bike A drops out, then bike B: A is not handed B's stops; nobody is left,
    so every household hears Recoop cannot come. An unknown bike is 404, a bike
    dropped already 409, and a plan of the whole day takes both bikes again."""
    client = app_client
    first, second = await fleet(client, bikes=2, capacity=100)
    await households_with_pickups(client, 4)
    today = clock.today().isoformat()
    clock.advance(hours=-2)
    await client.post(
        "/api/v1/plan", json={"day": today, "seconds": 0.3}, headers=client.ops
    )
    clock.advance(hours=2, minutes=10)

    async def replan(bike_id: int) -> Any:
        return await client.post(
            "/api/v1/rounds/replan",
            json={"bike_id": bike_id, "seconds": 0.3},
            headers=client.ops,
        )

    assert (await replan(999)).status == 404
    resp = await replan(first)
    assert resp.status == 200, await resp.text()
    assert {r["bike_id"] for r in await day_rounds(client, today)} == {second}
    resp = await replan(first)
    assert resp.status == 409
    assert "dropped out of" in (await resp.json())["error"]["message"]
    resp = await replan(second)
    assert resp.status == 200, await resp.text()
    summary = await resp.json()
    assert await day_rounds(client, today) == []
    assert summary["scheduled"] == 0 and len(summary["unplanned"]) == 4
    assert {u["reason"] for u in summary["unplanned"]} == {"no bikes available"}
    await client.deps.dispatcher.run_once()
    told = [m for m in fake_sms.sent if "cannot come today" in m.body]
    assert len({m.to for m in told}) == 4
    resp = await client.post(
        "/api/v1/plan", json={"day": today, "seconds": 0.3}, headers=client.ops
    )
    assert (await resp.json())["scheduled"] == 4
    assert {r["bike_id"] for r in await day_rounds(client, today)} <= {first, second}


async def test_a_day_gone_is_refused_and_today_is_planned_from_now(
    app_client: Any, clock: Any, fake_sms: Any
) -> None:
    """Yesterday cannot be planned (its pickups stay open); today, at 13:10, no
    window opens before 13:00."""
    client = app_client
    await fleet(client, bikes=1, capacity=100)
    await households_with_pickups(client, 3)
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    resp = await client.post(
        "/api/v1/plan", json={"day": yesterday, "seconds": 0.3}, headers=client.ops
    )
    assert resp.status == 400
    assert "has passed" in (await resp.json())["error"]["message"]
    assert len((await client.deps.views.pickups(status="open")).items) == 3
    clock.advance(hours=4, minutes=10)  # 13:10 in Lagos
    today = clock.today().isoformat()
    resp = await client.post(
        "/api/v1/plan", json={"day": today, "seconds": 0.3}, headers=client.ops
    )
    assert (await resp.json())["scheduled"] == 3
    [planned] = await day_rounds(client, today)
    assert all(
        v["window"] >= "13:00" and v["arrival"] >= "13:10" for v in planned["visits"]
    )


class TestBalancedPlanning:
    """RECOOP_PLANNER_FILE reaches the evening plan: with balancing, no rider's day
    is far longer than the other's."""

    @pytest.fixture
    def settings(self, settings: Any, tmp_path: Any) -> Any:
        path = tmp_path / "planner.toml"
        # A minute of a day over the average costs as much as 2 km of riding.
        path.write_text("balance_weight = 2000\n")
        return type(settings).from_env(
            {},
            twilio_auth_token=settings.twilio_auth_token.get_secret_value(),
            public_base_url=settings.public_base_url,
            africastalking_webhook_token="at-secret",
            leader_lock_id=settings.leader_lock_id,
            planner_file=str(path),
        )

    async def test_both_riders_share_a_day_one_could_ride_alone(
        self, app_client: Any, clock: Any
    ) -> None:
        client = app_client
        assert client.deps.settings.planner_params().balance_weight == 2000
        # One 100 kg bike could take all six stops in one trip, the shortest ride.
        await fleet(client, bikes=2, capacity=100)
        await households_with_pickups(client, 6)
        tomorrow = (clock.today() + timedelta(days=1)).isoformat()
        resp = await client.post(
            "/api/v1/plan", json={"day": tomorrow, "seconds": 1.0}, headers=client.ops
        )
        assert (await resp.json())["scheduled"] == 6
        rounds = await day_rounds(client, tomorrow)
        assert len(rounds) == 2
        assert all(len(r["visits"]) >= 2 for r in rounds)


async def test_a_collector_the_service_could_never_text_is_refused(
    app_client: Any,
) -> None:
    """With texts allowed to Nigeria only, a +44 collector would get no round link
    and no sign-in code: 400 saying why; a Nigerian number is registered."""
    client = app_client
    resp = await client.post(
        "/api/v1/collectors",
        json={"name": "Tom", "phone": "+447911123456"},
        headers=client.ops,
    )
    assert resp.status == 400
    message = (await resp.json())["error"]["message"]
    assert "must be in NG" in message and "7911123456" not in message
    resp = await client.post(
        "/api/v1/collectors",
        json={"name": "T" * 81, "phone": random_phone()},
        headers=client.ops,
    )
    assert resp.status == 400  # not cut to 80 without a word
    resp = await client.post(
        "/api/v1/collectors",
        json={"name": "Tunde", "phone": random_phone()},
        headers=client.ops,
    )
    assert resp.status == 201
    resp = await client.post(
        "/api/v1/hubs",
        json={"name": "H" * 81, "lat": 6.5, "lon": 3.4},
        headers=client.ops,
    )
    assert resp.status == 400
    assert "at most 80 characters" in (await resp.json())["error"]["message"]

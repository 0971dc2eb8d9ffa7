"""The collector page in Chromium at 360×640: sign in with the texted code, see the
numbered round, weigh offline, and each household is credited once when the network
returns; the list still shows when map tiles or Leaflet fail; axe finds nothing serious.
"""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa
from playwright.async_api import expect

from service.persistence.tables import weighings
from tests.browser.conftest import axe_violations, screenshot
from tests.e2e.test_collector_api import Day, outbox_rows, plan_a_day, texted_code

# A 1×1 light-grey PNG: stands in for map tiles (tests never reach the internet).
TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGPo6OgAAAMEAYFL09IQ"
    "AAAAAElFTkSuQmCC"
)


def tile_pattern(deps: Any) -> str:
    """A glob for every tile URL of the configured tile server."""
    return str(deps.settings.map_tile_url).split("{")[0] + "**"


async def serve_tiles(context: Any, deps: Any, *, block: bool = False) -> None:
    async def handle(route: Any) -> None:
        if block:
            await route.abort()
        else:
            await route.fulfill(status=200, content_type="image/png", body=TILE)

    await context.route(tile_pattern(deps), handle)


async def sign_in(page: Any, live: str, deps: Any, fake_sms: Any, phone: str) -> None:
    """Open /collector, get sent to sign-in, and sign in with the texted code."""
    await page.goto(live + "/collector")
    await expect(page).to_have_url(live + "/collector/login")
    await page.fill("#phone", phone)
    await page.click("button[value=send]")
    await expect(page.locator("#code")).to_be_visible()
    code = await texted_code(deps, fake_sms, phone)
    assert code is not None
    await page.fill("#code", code)
    await page.click("button[value=verify]")
    await expect(page).to_have_url(live + "/collector")


async def weigh(page: Any, code: str, kg: str) -> None:
    """Open the stop's weighing form (the next stop's is open already) and save."""
    box = page.locator(f"#stop-{code} details.weigh-box")
    if await box.get_attribute("open") is None:
        await box.locator("summary").click()
    await page.fill(f"#kg-{code}-0", kg)
    await page.click(f"#stop-{code} form.weigh button[type=submit]")


async def test_weighings_made_offline_sync_exactly_once(
    live: str, phone: Any, deps: Any, fake_sms: Any, text: Any
) -> None:
    """Two weighings logged with the network cut are sent once it returns: one credit
    and one receipt SMS per household."""
    day: Day = await plan_a_day(deps, text, households=3)
    await serve_tiles(phone, deps)
    page = await phone.new_page()
    await sign_in(page, live, deps, fake_sms, day.phone_a)

    stops = page.locator("#stops > li")
    await expect(stops).to_have_count(3)
    assert await page.locator("#stops .num").all_text_contents() == ["1", "2", "3"]
    for i, stop in enumerate(day.stops):
        await expect(stops.nth(i)).to_contain_text(stop.code)
    first = page.locator(f"#stop-{day.stops[0].code}")
    await expect(first.locator(f'a[href="tel:{day.stops[0].phone}"]')).to_be_visible()
    await expect(first.locator(f'a[href="sms:{day.stops[0].phone}"]')).to_be_visible()
    await expect(first.locator('a[href^="geo:"]')).to_be_visible()
    assert (
        await first.locator(f"#kg-{day.stops[0].code}-0").get_attribute("inputmode")
        == "decimal"
    )
    # The numbered map: the hub and three stops, joined by the route line.
    await expect(page.locator(".leaflet-marker-icon.pin-num")).to_have_count(4)
    await expect(page.locator("path.leaflet-interactive")).to_have_count(1)
    await screenshot(page, "collector-round")
    assert await axe_violations(page) == []

    await phone.set_offline(True)
    await weigh(page, day.stops[0].code, "2.5")
    await weigh(page, day.stops[1].code, "1,5")  # a decimal comma, as typed in Lagos
    await expect(page.locator("#queue-count")).to_have_text("2")
    await expect(page.locator("#net")).to_contain_text("Offline")
    await expect(page.locator(f"#stop-{day.stops[0].code}")).to_contain_text(
        "waiting to send"
    )
    await screenshot(page, "collector-offline-queue")
    async with deps.db.reader.connect() as conn:
        count = sa.select(sa.func.count()).select_from(weighings)
        assert (await conn.execute(count)).scalar_one() == 0

    await phone.set_offline(False)
    await expect(page.locator("#queue-count")).to_have_text("0", timeout=15_000)
    await expect(page.locator(f"#stop-{day.stops[0].code}")).to_contain_text(
        "Weighed 2.5 kg"
    )
    await screenshot(page, "collector-synced")

    for stop, kobo in ((day.stops[0], 12_500), (day.stops[1], 7_500)):
        balance = await deps.money.balance(stop.household_id)
        assert balance["posted_kobo"] == kobo
        assert len(await outbox_rows(deps, "receipt:", stop.phone)) == 1
    async with deps.db.reader.connect() as conn:
        assert (await conn.execute(count)).scalar_one() == 2
    # A reload shows the server's truth, still exactly two weighings.
    await page.reload()
    await expect(page.locator("#stops .s-done")).to_have_count(2)
    await expect(page.locator("#queue-count")).to_have_text("0")

    # Offline again, a reload still opens the page and the round: the service worker
    # serves the shell, and the round comes from the copy kept on the phone.
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await phone.set_offline(True)
    await page.reload()
    await expect(page.locator("#stops > li")).to_have_count(3)
    await expect(page.locator("#summary")).to_contain_text("saved at")
    await expect(page.locator("#stops .s-done")).to_have_count(2)
    await screenshot(page, "collector-offline-reload")


async def test_the_list_shows_when_leaflet_or_tiles_fail(
    live: str, phone: Any, deps: Any, fake_sms: Any, text: Any
) -> None:
    """Without Leaflet the ordered list shows with a note; with Leaflet but no tiles
    the numbered markers and the list still show."""
    day: Day = await plan_a_day(deps, text, households=3)
    await serve_tiles(phone, deps, block=True)
    leaflet = "**/static/vendor/leaflet.js"
    await phone.route(leaflet, lambda route: route.abort())
    page = await phone.new_page()
    await sign_in(page, live, deps, fake_sms, day.phone_a)
    await expect(page.locator("#stops > li")).to_have_count(3)
    texts = await page.locator("#stops h3").all_text_contents()
    assert [t.split(": ", 1)[0] for t in texts] == ["Stop 1", "Stop 2", "Stop 3"]
    assert [t.split(": ", 1)[1].split()[-1] for t in texts] == [
        s.code for s in day.stops
    ]
    await expect(page.locator("#map-note")).to_contain_text("could not load")
    await expect(page.locator("#map")).to_be_hidden()
    await screenshot(page, "collector-no-leaflet")
    assert await axe_violations(page) == []

    await phone.unroute(leaflet)
    await page.reload()
    await expect(page.locator(".leaflet-marker-icon.pin-num")).to_have_count(4)
    await expect(page.locator("#map-note")).to_contain_text("not loading")
    await expect(page.locator("#stops > li")).to_have_count(3)
    await screenshot(page, "collector-tiles-blocked")


async def test_sign_in_page_is_accessible(live: str, phone: Any) -> None:
    """The sign-in page at 360×640 has no serious or critical axe violations."""
    page = await phone.new_page()
    await page.goto(live + "/collector/login")
    await screenshot(page, "collector-login")
    assert await axe_violations(page) == []


async def test_a_collector_cannot_open_another_collectors_round(
    live: str, phone: Any, deps: Any, fake_sms: Any, text: Any
) -> None:
    """Collector B, signed in, asks for A's round: 403, and no household of A's shows."""
    day = await plan_a_day(deps, text)
    await serve_tiles(phone, deps)
    page = await phone.new_page()
    await sign_in(page, live, deps, fake_sms, day.phone_b)
    response = await page.goto(f"{live}/collector/api/rounds/{day.round_id}")
    assert response is not None and response.status == 403
    assert "forbidden" in await page.inner_text("body")
    # The page itself, given A's round in its link, shows none of A's households.
    await page.goto(f"{live}/collector?round={day.round_id}")
    await page.wait_for_load_state("networkidle")
    body = await page.inner_text("body")
    for stop in day.stops:
        assert stop.code not in body and stop.phone not in body
    await screenshot(page, "collector-other-round")

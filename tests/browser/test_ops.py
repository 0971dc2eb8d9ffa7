"""The operator dashboard in headless Chromium: sign in, set up, plan, see the map."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from service.bootstrap import Deps
from service.domain.commands import AddHub, RegisterCollector
from service.settings import Settings
from tests.browser.conftest import axe_violations, screenshot
from tests.builders import random_phone
from tests.e2e.test_ops import (
    PASSWORD,
    Deliver,
    households_with_pickups,
    money_day,
    open_codes,
    text,
    weigh,
)


@pytest.fixture
def settings() -> Settings:
    """Plain HTTP on loopback, a short planning budget, and map tiles that 404
    (no network in tests; the page must cope without them)."""
    return Settings.from_env(
        {},
        public_base_url="http://127.0.0.1:8080",
        plan_seconds=1.5,
        map_tile_url="/static/ops/no-tiles/{z}/{x}/{y}.png",
    )


async def sign_in(page: Any, live: str, deps: Deps, username: str = "ada") -> None:
    await deps.auth.create_operator(username, PASSWORD)
    await page.goto(live + "/ops")
    assert page.url.endswith("/ops/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(live + "/ops")


async def assert_accessible(page: Any, name: str) -> None:
    violations = await axe_violations(page)
    assert violations == [], (name, violations)


def poster(live: str) -> Deliver:
    """Sandbox callbacks posted to the live app."""

    async def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                live + "/webhooks/payouts/sandbox", data=body, headers=headers
            ) as resp,
        ):
            return resp.status

    return deliver


async def test_operator_signs_in_sets_up_plans_and_sees_the_map(
    live: str, desk: Any, deps: Deps, clock: Any
) -> None:
    """Sign in, add a hub and bikes by form, plan tomorrow: progress, then the rounds
    as numbered markers on the map and as tables per bike (tiles failing)."""
    collector_phone = random_phone()
    await deps.bus.handle(RegisterCollector("Musa Bello", collector_phone))
    await households_with_pickups(deps, 6)
    page = await desk.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))

    await page.goto(live + "/ops/login")
    await screenshot(page, "ops-login")
    await assert_accessible(page, "login")
    await sign_in(page, live, deps)

    await page.get_by_role("link", name="Set-up").click()
    await page.get_by_label("Hub name").fill("Yaba hub")
    await page.locator("#f-hub-lat").fill("6.5095")
    await page.locator("#f-hub-lon").fill("3.3711")
    await page.get_by_role("button", name="Add hub").click()
    await page.get_by_text("Hub added.").wait_for()
    for name, collector in (("Cargo 1", "Musa Bello"), ("Cargo 2", "None yet")):
        await page.get_by_label("Bike name").fill(name)
        await page.locator("#f-bike-capacity_kg").fill("20")
        await page.get_by_label("Collector", exact=True).select_option(label=collector)
        await page.get_by_role("button", name="Add bike").click()
        await page.get_by_text("Bike added.").wait_for()
    assert [b["name"] for b in await deps.planning.bikes()] == ["Cargo 1", "Cargo 2"]

    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    await page.get_by_role("link", name="Today").click()
    await page.get_by_label("Day", exact=True).fill(tomorrow)
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url(re.compile(rf"/ops\?day={tomorrow}$"))
    assert await page.locator(".ops-stop").count() == 0
    await page.get_by_role("button", name=f"Plan {tomorrow}").click()
    job = page.locator("#plan-job")
    await job.wait_for()
    first_state = await job.get_attribute("data-state")
    if first_state == "running":
        assert await page.locator("#plan-progress").count() == 1
        await screenshot(page, "ops-planning")
    await page.locator('#plan-job[data-state="done"]').wait_for(timeout=30_000)
    await page.locator('#map[data-ready="1"]').wait_for()

    rounds = await deps.planning.rounds(clock.today() + timedelta(days=1))
    stops = sum(len(r["visits"]) for r in rounds)
    assert stops == 6
    assert await page.locator(".ops-stop").count() == stops
    assert await page.locator(".ops-hub").count() == 1
    assert await page.locator(".leaflet-marker-icon").count() == stops + 1
    numbers = sorted(
        int(n) for n in await page.locator(".ops-stop span").all_inner_texts()
    )
    assert numbers == sorted(v["seq"] for r in rounds for v in r["visits"])
    assert await page.locator("table.stops tbody tr").count() == stops
    for r in rounds:
        await page.get_by_role("rowheader", name=r["bike"]).wait_for()
    await page.locator("#map-tiles-failed").wait_for(state="visible")
    assert "6 stops scheduled" in await job.inner_text()
    await screenshot(page, "ops-today")
    await assert_accessible(page, "today")
    assert script_errors == []


async def test_every_dashboard_page_in_the_browser(
    live: str, desk: Any, deps: Deps, clock: Any
) -> None:
    """Each page loads with a day's money and queues in it, draws its charts, uploads a
    statement, and has no serious or critical accessibility violations."""
    await deps.bus.handle(AddHub("Yaba hub", 6.5095, 3.3711))
    phones = await money_day(deps, poster(live), households=3)
    await text(deps, phones[0], "WRONG it was only 10 kg")
    await text(deps, random_phone(), "abeg wetin be this")
    await text(deps, random_phone(), "JOIN Dayo, behind the big mango tree")
    waiting = await households_with_pickups(deps, 2, name="Waiting")
    codes = await open_codes(deps)
    assert set(waiting) <= set(codes)
    await weigh(deps, codes[waiting[0]], grams=3_500)
    page = await desk.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))
    await sign_in(page, live, deps)

    for path, name in (
        ("/ops", "ops-today-empty"),
        ("/ops/setup", "ops-setup"),
        ("/ops/payouts", "ops-payouts"),
        ("/ops/queues", "ops-queues"),
        ("/ops/ledger", "ops-ledger"),
        ("/ops/audit", "ops-audit"),
    ):
        response = await page.goto(live + path)
        assert response.status == 200, path
        await screenshot(page, name)
        await assert_accessible(page, path)

    await page.goto(live + "/ops/setup")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused == "Hubs"  # the first link inside the content, not the menu

    await page.goto(live + "/ops/charts")
    await page.locator('#charts[data-ready="1"]').wait_for(state="attached")
    assert await page.locator(".chart canvas").count() == 3
    await screenshot(page, "ops-charts")
    await assert_accessible(page, "/ops/charts")

    await page.goto(live + "/ops/reconcile")
    statement = await deps.payouts["sandbox"].statement_csv()  # type: ignore[attr-defined]
    lines = statement.splitlines()
    lines[1] = lines[1].replace(",50000,", ",49000,")
    await page.get_by_label("Statement").set_input_files(
        files=[
            {
                "name": "statement.csv",
                "mimeType": "text/csv",
                "buffer": "\n".join(lines).encode(),
            }
        ]
    )
    await page.get_by_role("button", name="Show differences").click()
    await page.get_by_text("1 difference found").wait_for()
    assert "amount mismatch" in await page.locator("main").inner_text()
    await screenshot(page, "ops-reconcile")
    await assert_accessible(page, "/ops/reconcile")

    await page.goto(live + "/ops/queues")
    await page.get_by_label("Take back (₦)").fill("200")
    await page.get_by_role("button", name="Correct").click()
    await page.get_by_text("Correction recorded").wait_for()
    assert (await deps.money.disputes()).items == []
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(live + "/ops/login")
    assert script_errors == []

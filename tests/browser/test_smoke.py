"""The browser fixtures work: the impact page loads in Chromium and passes axe."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import axe_violations, screenshot


async def test_impact_page_loads_in_chromium(live: str, desk: Any) -> None:
    page = await desk.new_page()
    response = await page.goto(live + "/impact")
    assert response.status == 200
    await screenshot(page, "impact")
    assert await axe_violations(page) == []

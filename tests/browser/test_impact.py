"""The public impact page in a real browser: figures shown, a small cell suppressed,
nothing personal on the page, and no serious accessibility violations."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import axe_violations, screenshot
from tests.e2e.test_impact import (  # noqa: F401  (fixtures used by name)
    NAMES,
    SURULERE_NAME,
    collector,
    rates,
    two_areas,
)


async def test_impact_page_shows_figures_and_suppresses_a_small_cell(
    live: str,
    desk: Any,
    two_areas: dict[str, Any],  # noqa: F811
) -> None:
    page = await desk.new_page()
    response = await page.goto(live + "/impact")
    assert response.status == 200
    body = await page.inner_text("body")
    rows = await page.locator("table tr").all_inner_texts()
    yaba = next(r for r in rows if "Yaba Hub" in r)
    surulere = next(r for r in rows if SURULERE_NAME in r)
    assert "\t5\t" in f"\t{yaba}\t"  # five households shown for Yaba
    assert "\t5\t" not in f"\t{surulere}\t" and "\t4\t" not in f"\t{surulere}\t"
    assert "fewer than 5" in body or "suppressed" in body.lower()
    for home in two_areas["homes"]:
        assert home.phone not in body and home.phone[-9:] not in body
    for name in NAMES[:9]:
        assert name not in body
    # The hub name an operator typed with markup is shown as text, not as markup.
    assert await page.locator("b", has_text="Hub").count() == 0
    await screenshot(page, "impact")
    assert await axe_violations(page) == []


async def test_impact_page_fits_a_phone(live: str, phone: Any) -> None:
    page = await phone.new_page()
    await page.goto(live + "/impact")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + 1
    await screenshot(page, "impact-phone")
    assert await axe_violations(page) == []

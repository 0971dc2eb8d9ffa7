"""Browser fixtures: the real app on a loopback port, Debian's headless Chromium via
Playwright (never a downloaded browser), screenshots and an axe-core check.

Every page test runs on SQLite and on PostgreSQL through the shared `deps` fixture.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.bootstrap import Deps

CHROMIUM = os.environ.get("RECOOP_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "service" / "static" / "vendor" / "axe.min.js"
# As the machine notes say: without these, Chromium keeps calling Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def live(deps: Deps, aiohttp_server: Any) -> str:
    """The real app (all routes, no background loops) on a loopback port; its base URL."""
    from service.app import create_app

    app = create_app(deps)
    app.cleanup_ctx.clear()  # the database belongs to the fixtures
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
            )
        pytest.skip(
            f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def phone(browser: Any) -> AsyncIterator[Any]:
    """A 360×640 touch phone context."""
    context = await browser.new_context(
        viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True
    )
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def desk(browser: Any) -> AsyncIterator[Any]:
    """A 1280×800 desktop context."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield context
    finally:
        await context.close()


async def screenshot(page: Any, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/screenshots/ for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def axe_violations(
    page: Any, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """Run axe-core (from the npm registry, via `make assets`) in the page."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make assets`")
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in impacts
    ]

"""The public impact page and open data: exact figures, small cells suppressed, nothing personal."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from service.domain.commands import AddHub, CreateApiToken, SetRate
from service.domain.pluscodes import encode
from tests.builders import random_phone

YABA = (6.5095, 3.3711)
SURULERE = (6.4969, 3.3535)
# Operators type hub names: this one must come out escaped, never as markup.
SURULERE_NAME = 'Surulere <b>Hub</b> & "Co"'
RATES = {"PET": 5000, "HDPE": 4000, "ALU": 12000, "SACHET": 3000, "GLASS": 1000}
NAMES = [
    "Adaeze Okonkwo",
    "Babajide Ilori",
    "Chinyere Ezeani",
    "Damilola Oyelaran",
    "Emeka Nwosu",
    "Funmilayo Adeyemi",
    "Gbenga Akande",
    "Halima Bello",
    "Ifeoma Obiora",
    "Jide Kutigi",
    "Kemi Olatunde",
]
NOV = "2026-11-20T10:00:00+01:00"


@dataclass
class Home:
    """A household as the test knows it (the outputs must know none of this)."""

    phone: str
    name: str
    plus_code: str | None
    lat: float | None
    codes: list[str] = field(default_factory=list)


@pytest.fixture
async def collector(deps: Any) -> dict[str, str]:
    """Headers with a collector token."""
    token = await deps.bus.handle(CreateApiToken("collector", "bike-1"))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def rates(deps: Any) -> None:
    """A rate for every material since the start of 2026."""
    for material, kobo in RATES.items():
        await deps.bus.handle(SetRate(material, kobo, date(2026, 1, 1)))


async def join(text: Any, name: str, near: tuple[float, float] | None, i: int) -> Home:
    phone = random_phone()
    if near is None:
        await text(f"JOIN {name}, behind the big mango tree", phone)
        return Home(phone, name, None, None)
    lat = near[0] + i * 0.0003
    code = encode(lat, near[1])
    await text(f"JOIN {name}, near {code}", phone)
    return Home(phone, name, code, lat)


async def weigh(
    client: Any,
    text: Any,
    deps: Any,
    collector: dict[str, str],
    home: Home,
    items: dict[str, str],
    at: str = NOV,
) -> int:
    """Ask for a pickup by SMS, weigh it through the API; the credit in kobo."""
    await text("PICKUP", home.phone)
    page = await deps.views.pickups(status="open", limit=10000)
    code = next(p["code"] for p in page.items if p["phone"] == home.phone)
    home.codes.append(code)
    body = {
        "pickup_code": code,
        "items": [{"material": m, "kg": kg} for m, kg in items.items()],
        "collected_at": at,
        "idempotency_key": str(uuid.uuid4()),
    }
    resp = await client.post("/api/v1/collections", json=body, headers=collector)
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["credited_kobo"])


async def outputs(client: Any) -> tuple[str, dict[str, Any], str]:
    """The page, the JSON and the CSV, each checked for a 200."""
    page, data, table = (
        await client.get("/impact"),
        await client.get("/impact.json"),
        await client.get("/impact.csv"),
    )
    assert (page.status, data.status, table.status) == (200, 200, 200)
    return await page.text(), await data.json(), await table.text()


class Page(HTMLParser):
    """Checks nesting while it reads, and keeps table rows as lists of cell texts."""

    VOID = frozenset({"meta", "link", "br", "hr", "img", "input", "wbr", "col"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.rows: list[list[str]] = []
        self.caption = ""
        self._cell: list[str] | None = None
        self._in_caption = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.VOID:
            return
        self.stack.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._in_caption:
            self.caption += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert page.errors == [] and page.stack == []
    return page


def row_for(page: Page, area: str, month_label: str) -> list[str]:
    [row] = [r for r in page.rows if r[:2] == [month_label, area]]
    return row


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def cell(data: dict[str, Any], area: str, month: str) -> dict[str, Any]:
    cells: list[dict[str, Any]] = data["cells"]
    [found] = [c for c in cells if (c["area"], c["month"]) == (area, month)]
    return found


def grams(kg: float | None) -> int:
    assert kg is not None
    return round(kg * 1000)


@pytest.fixture
async def two_areas(
    client: Any, text: Any, deps: Any, collector: Any, rates: None
) -> dict[str, Any]:
    """Five households near Yaba hub; four near Surulere hub, one of them weighed twice."""
    await deps.bus.handle(AddHub("Yaba Hub", *YABA))
    await deps.bus.handle(AddHub(SURULERE_NAME, *SURULERE))
    yaba = [await join(text, NAMES[i], YABA, i) for i in range(5)]
    surulere = [await join(text, NAMES[5 + i], SURULERE, i) for i in range(4)]
    credit = {"yaba": 0, "surulere": 0}
    for home in yaba:
        credit["yaba"] += await weigh(
            client, text, deps, collector, home, {"PET": "2", "ALU": "0.5"}
        )
    for home in [*surulere, surulere[0]]:
        credit["surulere"] += await weigh(
            client, text, deps, collector, home, {"GLASS": "9.876"}
        )
    return {"homes": yaba + surulere, "credit": credit}


async def test_figures_add_up_exactly(
    client: Any, text: Any, deps: Any, collector: Any, rates: None
) -> None:
    """Kg per material, total kg, households, weighings and credit match what was weighed."""
    await deps.bus.handle(AddHub("Yaba Hub", *YABA))
    homes = [await join(text, NAMES[i], YABA, i) for i in range(5)]
    expected = dict.fromkeys(RATES, 0)
    credited = 0
    for i, home in enumerate(homes):
        items = {"PET": f"{1 + i / 10:.1f}", "HDPE": "0.333", "ALU": "0.25"}
        if i % 2 == 0:
            items["SACHET"] = "0.5"
        if i == 0:
            items["GLASS"] = "2"
        for m, kg in items.items():
            expected[m] += round(float(kg) * 1000)
        credited += await weigh(client, text, deps, collector, home, items)
    # Every item's grams x rate is a whole number of kobo here, so no rounding.
    assert credited == sum(expected[m] * RATES[m] for m in RATES) // 1000
    html, data, table = await outputs(client)

    got = cell(data, "Yaba Hub", "2026-11")
    assert {m: grams(kg) for m, kg in got["kg_by_material"].items()} == expected
    assert grams(got["kg_total"]) == sum(expected.values()) == 12_415
    assert (got["households"], got["weighings"], got["credit_kobo"]) == (5, 5, credited)
    assert got["suppressed"] is False
    totals = data["totals"]
    assert {k: totals[k] for k in got if k not in ("area", "month")} == {
        k: v for k, v in got.items() if k not in ("area", "month")
    }
    [row] = csv_rows(table)
    assert row["kg_total"] == "12.415" and row["kg_HDPE"] == "1.665"
    assert (row["credit_kobo"], row["households"]) == (str(credited), "5")
    page = parse(html)
    assert row_for(page, "Yaba Hub", "November 2026")[2:] == [
        "5",
        "5",
        "6.0",
        "1.7",
        "1.3",
        "1.5",
        "2.0",
        "12.4",
        f"₦{credited // 100:,}.{credited % 100:02d}",
    ]


async def test_four_households_suppressed_everywhere(
    client: Any, two_areas: dict[str, Any]
) -> None:
    """A cell of 4 households is withheld in HTML, JSON and CSV, and totals do not give it away."""
    html, data, table = await outputs(client)
    small = cell(data, SURULERE_NAME, "2026-11")
    assert small == {
        "area": SURULERE_NAME,
        "month": "2026-11",
        "households": None,
        "weighings": None,
        "kg_total": None,
        "kg_by_material": None,
        "credit_kobo": None,
        "suppressed": True,
    }
    shown = cell(data, "Yaba Hub", "2026-11")
    assert shown["suppressed"] is False and shown["households"] == 5
    assert shown["credit_kobo"] == two_areas["credit"]["yaba"]
    assert grams(shown["kg_by_material"]["GLASS"]) == 0
    # Totals cover published cells only: nothing is left over to attribute.
    totals = data["totals"]
    published = [c for c in data["cells"] if not c["suppressed"]]
    for key in ("households", "weighings", "credit_kobo"):
        assert totals[key] == sum(c[key] for c in published)
    assert grams(totals["kg_total"]) == sum(grams(c["kg_total"]) for c in published)
    assert grams(totals["kg_by_material"]["GLASS"]) == 0
    assert (totals["cells_published"], totals["cells_suppressed"]) == (1, 1)
    # Surulere weighed 5 x 9.876 kg of glass; no output mentions it in any form.
    for figure in (
        "49.38",
        "49.4",
        "9.876",
        "9.9",
        str(two_areas["credit"]["surulere"]),
    ):
        assert figure not in html and figure not in json.dumps(data)
        assert figure not in table

    rows = {r["area"]: r for r in csv_rows(table)}
    assert rows[SURULERE_NAME]["suppressed"] == "true"
    assert all(
        v == ""
        for k, v in rows[SURULERE_NAME].items()
        if k not in ("area", "month", "suppressed")
    )
    assert (
        rows["Yaba Hub"]["suppressed"] == "false"
        and rows["Yaba Hub"]["households"] == "5"
    )

    page = parse(html)
    assert row_for(page, SURULERE_NAME, "November 2026")[2:] == [
        "fewer than 5 households"
    ]
    assert row_for(page, "Yaba Hub", "November 2026")[2:4] == ["5", "5"]
    assert "<b>Hub</b>" not in html and "Surulere &lt;b&gt;Hub&lt;/b&gt; &amp;" in html


async def test_five_households_shown(
    client: Any, text: Any, deps: Any, collector: Any, rates: None
) -> None:
    """A cell of exactly 5 households is published, and a sixth area-less one is not counted in it."""
    homes = [await join(text, NAMES[i], YABA, i) for i in range(5)]
    lost = await join(text, NAMES[5], None, 0)
    for home in [*homes, lost]:
        await weigh(client, text, deps, collector, home, {"PET": "1"})
    # No hubs yet: everyone is "Unassigned", one cell of six households.
    _, data, _ = await outputs(client)
    assert [(c["area"], c["households"]) for c in data["cells"]] == [("Unassigned", 6)]

    await deps.bus.handle(AddHub("Yaba Hub", *YABA))
    html, data, table = await outputs(client)
    yaba = cell(data, "Yaba Hub", "2026-11")
    assert (yaba["households"], grams(yaba["kg_total"]), yaba["suppressed"]) == (
        5,
        5000,
        False,
    )
    assert cell(data, "Unassigned", "2026-11")["suppressed"] is True
    assert row_for(parse(html), "Yaba Hub", "November 2026")[2:4] == ["5", "5"]
    assert {r["area"]: r["households"] for r in csv_rows(table)} == {
        "Unassigned": "",
        "Yaba Hub": "5",
    }


async def test_nothing_personal_in_any_output(
    client: Any, deps: Any, two_areas: dict[str, Any]
) -> None:
    """No phone, name, plus code, pickup code or coordinate appears in the page, JSON or CSV."""
    html, data, table = await outputs(client)
    everything = html + "\n" + json.dumps(data) + "\n" + table
    homes: list[Home] = two_areas["homes"]
    hubs = await deps.planning.hubs()
    for home in homes:
        national = home.phone.removeprefix("+234")
        for secret in (
            home.phone,
            national,
            "0" + national,
            home.name,
            *home.name.split(),
        ):
            assert secret not in everything
        assert home.plus_code and home.plus_code not in everything
        assert str(home.lat)[:6] not in everything
        for code in home.codes:
            assert not re.search(rf"(?<![A-Za-z0-9]){code}(?![A-Za-z0-9])", everything)
    for hub in hubs:
        assert str(hub["lat"]) not in everything and str(hub["lon"]) not in everything
    forbidden = {"phone", "name", "address", "household_id", "code", "lat", "lon", "id"}
    keys = set(data) | set(data["totals"]) | {k for c in data["cells"] for k in c}
    assert keys.isdisjoint(forbidden)
    assert forbidden.isdisjoint(csv_rows(table)[0])


async def test_months_split_in_lagos_time(
    client: Any, text: Any, deps: Any, collector: Any, rates: None
) -> None:
    """A weighing at 23:59 Lagos on 31 October counts in October; one at 00:00 on 1 November in November."""
    await deps.bus.handle(AddHub("Yaba Hub", *YABA))
    homes = [await join(text, NAMES[i], YABA, i) for i in range(5)]
    for home in homes:
        await weigh(
            client, text, deps, collector, home, {"PET": "1"}, "2026-10-31T22:59:59Z"
        )
        await weigh(
            client, text, deps, collector, home, {"ALU": "1"}, "2026-10-31T23:00:00Z"
        )
    html, data, table = await outputs(client)
    october, november = (
        cell(data, "Yaba Hub", "2026-10"),
        cell(data, "Yaba Hub", "2026-11"),
    )
    assert (october["weighings"], grams(october["kg_by_material"]["PET"])) == (5, 5000)
    assert (november["weighings"], grams(november["kg_by_material"]["ALU"])) == (
        5,
        5000,
    )
    assert (
        grams(october["kg_by_material"]["ALU"])
        == grams(november["kg_by_material"]["PET"])
        == 0
    )
    # The same five households in both months are counted once overall.
    assert (data["totals"]["households"], data["totals"]["weighings"]) == (5, 10)
    assert [r["month"] for r in csv_rows(table)] == ["2026-10", "2026-11"]
    page = parse(html)
    assert row_for(page, "Yaba Hub", "October 2026")[2] == "5"
    assert row_for(page, "Yaba Hub", "November 2026")[2] == "5"


async def test_small_programme_withholds_totals(
    client: Any, text: Any, deps: Any, collector: Any, rates: None
) -> None:
    """With fewer than 5 households in the whole programme even the totals are withheld."""
    await deps.bus.handle(AddHub("Yaba Hub", *YABA))
    for i in range(4):
        home = await join(text, NAMES[i], YABA, i)
        await weigh(client, text, deps, collector, home, {"PET": "3.21"})
    html, data, table = await outputs(client)
    totals = data["totals"]
    assert totals["suppressed"] is True
    assert totals["households"] is totals["kg_total"] is totals["credit_kobo"] is None
    assert [c["suppressed"] for c in data["cells"]] == [True]
    assert (
        "12.84" not in json.dumps(data) and "12.8" not in html and "12.84" not in table
    )
    assert "withheld until at least 5 households" in html


async def test_empty_database(client: Any) -> None:
    """With no weighings yet every output answers, with zero totals and no cells."""
    html, data, table = await outputs(client)
    assert data["cells"] == [] and data["suppression_threshold"] == 5
    assert data["timezone"] == "Africa/Lagos"
    assert data["totals"]["households"] == 0 and data["totals"]["credit_kobo"] == 0
    assert data["totals"]["suppressed"] is False
    assert datetime.fromisoformat(data["generated_at"]).tzinfo is not None
    assert table.splitlines() == [
        "area,month,households,weighings,kg_total,kg_PET,kg_HDPE,kg_ALU,kg_SACHET,"
        "kg_GLASS,credit_kobo,suppressed"
    ]
    page = parse(html)
    assert any("No collections have been weighed yet." in r for r in page.rows)


async def test_page_is_well_formed_and_self_contained(
    client: Any, two_areas: dict[str, Any]
) -> None:
    """The page parses cleanly, has lang, a captioned table with scoped headers, and no outside assets."""
    resp = await client.get("/impact")
    assert resp.content_type == "text/html" and resp.charset == "utf-8"
    html = await resp.text()
    assert html.lower().startswith("<!doctype html>")
    page = parse(html)
    tags = page.tags
    assert ("html", {"lang": "en"}) in tags
    assert page.caption.strip() and [t for t, _ in tags].count("caption") == 1
    assert all(a.get("scope") in ("col", "row") for t, a in tags if t == "th")
    assert not {"script", "link", "img", "iframe"} & {t for t, _ in tags}
    urls = [a.get("href") or a.get("src") or "" for _, a in tags]
    assert not [u for u in urls if u.startswith(("http", "//"))]
    assert {"/impact.csv", "/impact.json"} <= set(urls)
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in tags)
    assert "fewer than 5 households" in "".join(page.text)


async def test_csv_is_a_download(client: Any, two_areas: dict[str, Any]) -> None:
    """The CSV comes as an attachment with a header row and the same cells as the JSON."""
    resp = await client.get("/impact.csv")
    assert resp.content_type == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    rows = csv_rows(await resp.text())
    data = await (await client.get("/impact.json")).json()
    assert [(r["area"], r["month"], r["suppressed"]) for r in rows] == [
        (c["area"], c["month"], "true" if c["suppressed"] else "false")
        for c in data["cells"]
    ]

"""Public impact page and open data: GET /impact, /impact.json and /impact.csv (no login)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiohttp import web

from service.app_keys import DEPS
from service.impact import MATERIALS, Figures, Impact, ImpactViews, impact_json

CACHE = "public, max-age=60"
CSV_HEADER = [
    "area",
    "month",
    "households",
    "weighings",
    "kg_total",
    *(f"kg_{m}" for m in MATERIALS),
    "credit_kobo",
    "suppressed",
]
MATERIAL_NAMES = {
    "PET": "PET bottles",
    "HDPE": "HDPE containers",
    "ALU": "Aluminium cans",
    "SACHET": "Water sachets",
    "GLASS": "Glass",
}
MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

# Inline so the page needs no other request; colours keep at least 7:1 contrast.
STYLE = """
*{box-sizing:border-box}
body{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1a1a1a;background:#fff}
header,main,footer{max-width:60rem;margin:0 auto;padding:0 1rem}
header{padding-top:1rem}
h1{font-size:1.6rem;margin:.5rem 0;color:#0b4f1c}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
a{color:#0b4f1c;text-decoration:underline}
a:focus,.scroll:focus{outline:3px solid #1a1a1a;outline-offset:2px}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));
gap:.75rem;margin:0;padding:0}
.figures div{border:1px solid #5c5c5c;border-radius:.4rem;padding:.6rem .75rem}
.figures dt{font-size:.9rem}
.figures dd{margin:0;font-size:1.35rem;font-weight:700}
.materials{padding-left:1.2rem}
.scroll{overflow-x:auto;border:1px solid #5c5c5c;border-radius:.4rem}
table{border-collapse:collapse;width:100%;font-size:.95rem}
caption{text-align:left;padding:.5rem .75rem;font-weight:700}
th,td{padding:.4rem .6rem;border-top:1px solid #bdbdbd;text-align:right;
white-space:nowrap}
th[scope=col]{background:#eef4ef;vertical-align:bottom}
.l{text-align:left}
.suppressed{text-align:left;font-style:italic;color:#3d3d3d}
.note{color:#3d3d3d}
footer{padding-bottom:2rem;color:#3d3d3d;font-size:.9rem}
"""


def impact_views(request: web.Request) -> ImpactViews:
    """Read-side queries for the impact page, on the app's database and timezone."""
    deps = request.app[DEPS]
    return ImpactViews(deps.db, tz=deps.clock.tz)


async def _report(request: web.Request) -> Impact:
    return await impact_views(request).report(request.app[DEPS].clock.now())


def kg_text(grams: int) -> str:
    """Kilograms for people: one decimal (halves up), thousands separated."""
    tenths = (grams + 50) // 100
    return f"{tenths // 10:,}.{tenths % 10}"


def naira_text(kobo: int) -> str:
    """Kobo as naira with the sign, e.g. ₦1,234.50."""
    return f"₦{kobo // 100:,}.{kobo % 100:02d}"


def month_text(month: str) -> str:
    """ "2026-11" as "November 2026"."""
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {year}"


def _headline(totals: Figures | None, threshold: int) -> str:
    if totals is None:
        return (
            '<p class="note">The headline figures are withheld until at least '
            f"{threshold} households in one area and month have taken part.</p>"
        )
    tiles = [
        ("Recycling collected", f"{kg_text(totals.grams_total)} kg"),
        ("Households served", f"{totals.households:,}"),
        ("Collections weighed", f"{totals.weighings:,}"),
        ("Credit paid to households", naira_text(totals.credit_kobo)),
    ]
    dl = "".join(f"<div><dt>{t}</dt><dd>{v}</dd></div>" for t, v in tiles)
    materials = "".join(
        f"<li>{MATERIAL_NAMES[m]}: {kg_text(totals.grams_by_material.get(m, 0))} kg</li>"
        for m in MATERIALS
    )
    return (
        f'<dl class="figures">{dl}</dl>'
        f'<h3>By material</h3><ul class="materials">{materials}</ul>'
    )


def _rows(impact: Impact) -> str:
    columns = len(MATERIALS) + 4  # households, collections, materials, total, credit
    if not impact.cells:
        return (
            f'<tr><td class="l" colspan="{columns + 2}">'
            "No collections have been weighed yet.</td></tr>"
        )
    out = []
    # Newest month first; areas alphabetical within a month.
    by_area = sorted(impact.cells, key=lambda c: c.area.casefold())
    for cell in sorted(by_area, key=lambda c: c.month, reverse=True):
        head = (
            f'<td class="l"><time datetime="{escape(cell.month)}">'
            f"{escape(month_text(cell.month))}</time></td>"
            f'<th scope="row" class="l">{escape(cell.area)}</th>'
        )
        f = cell.figures
        if f is None:
            body = (
                f'<td colspan="{columns}" class="suppressed">'
                f"fewer than {impact.threshold} households</td>"
            )
        else:
            values = [
                f"{f.households:,}",
                f"{f.weighings:,}",
                *(kg_text(f.grams_by_material.get(m, 0)) for m in MATERIALS),
                kg_text(f.grams_total),
                naira_text(f.credit_kobo),
            ]
            body = "".join(f"<td>{v}</td>" for v in values)
        out.append(f"<tr>{head}{body}</tr>")
    return "".join(out)


def render_page(impact: Impact, tz: ZoneInfo) -> str:
    """The whole page as HTML; every string from the database is escaped."""
    k = impact.threshold
    heads = [
        "Households",
        "Collections",
        *(f"{m} kg" for m in MATERIALS),
        "Total kg",
        "Credit paid",
    ]
    thead = (
        '<th scope="col" class="l">Month</th><th scope="col" class="l">Area</th>'
        + "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    )
    generated = _local(impact.generated_at, tz)
    n = impact.cells_suppressed
    left_out = (
        f" {n} area-month{' is' if n == 1 else 's are'} left out of them:"
        f" fewer than {k} households."
        if n
        else ""
    )
    city = tz.key.rsplit("/", 1)[-1].replace("_", " ")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Recoop impact: recycling collected from households in Lagos</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>Recoop impact</h1>
<p>Households in Lagos text us to collect their bottles, cans and sachets. We weigh
what they give and credit them at once. These are the programme's figures, shared
openly and never about any one person.</p>
</header>
<main>
<section aria-labelledby="headline">
<h2 id="headline">All time</h2>
{_headline(impact.totals, k)}
<p class="note">Totals add up the area-months shown in the table.{left_out}</p>
</section>
<section aria-labelledby="by-area">
<h2 id="by-area">By area and month</h2>
<div class="scroll" role="region" aria-labelledby="cells-caption" tabindex="0">
<table>
<caption id="cells-caption">Recycling collected per area and month
(kg by material, households served, credit paid)</caption>
<thead><tr>{thead}</tr></thead>
<tbody>{_rows(impact)}</tbody>
</table>
</div>
</section>
<section aria-labelledby="about">
<h2 id="about">About these figures</h2>
<ul>
<li>To protect privacy, an area-month with fewer than {k} households is shown as
"fewer than {k} households" and its figures are left out everywhere, including
the totals, so they cannot be worked out from the other numbers.</li>
<li>An area is named after the collection hub nearest to the household.
Months follow {escape(city)} time.</li>
<li>Credit paid is what households earned for their recycling, in naira.</li>
</ul>
<h2 id="data">Open data</h2>
<p>Download the same figures as <a href="/impact.csv" download>CSV</a> or
<a href="/impact.json">JSON</a>.</p>
</section>
</main>
<footer>
<p>Figures as of <time datetime="{escape(impact.generated_at.isoformat())}">{escape(generated)}</time>.</p>
</footer>
</body>
</html>
"""


def _local(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M") + f" ({tz.key})"


def render_csv(impact: Impact) -> str:
    """Cells as CSV; suppressed cells have empty figures."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for cell in impact.cells:
        f = cell.figures
        if f is None:
            figures = [""] * (len(CSV_HEADER) - 3)
        else:
            figures = [
                str(f.households),
                str(f.weighings),
                _kg_exact(f.grams_total),
                *(_kg_exact(f.grams_by_material.get(m, 0)) for m in MATERIALS),
                str(f.credit_kobo),
            ]
        suppressed = "true" if cell.suppressed else "false"
        writer.writerow([_cell_text(cell.area), cell.month, *figures, suppressed])
    return buf.getvalue()


def _kg_exact(grams: int) -> str:
    return f"{grams // 1000}.{grams % 1000:03d}"


def _cell_text(value: str) -> str:
    # Hub names come from operators: keep spreadsheets from running them as formulas.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def impact_page(request: web.Request) -> web.Response:
    """The public impact page: headline figures and the per-area-per-month table."""
    impact = await _report(request)
    return web.Response(
        text=render_page(impact, request.app[DEPS].clock.tz),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": CACHE},
    )


async def impact_data_json(request: web.Request) -> web.Response:
    """The open data as JSON."""
    impact = await _report(request)
    return web.json_response(
        impact_json(impact),
        headers={"Cache-Control": CACHE, "Access-Control-Allow-Origin": "*"},
    )


async def impact_data_csv(request: web.Request) -> web.Response:
    """The open data as a CSV download."""
    impact = await _report(request)
    return web.Response(
        text=render_csv(impact),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Cache-Control": CACHE,
            "Access-Control-Allow-Origin": "*",
            "Content-Disposition": 'attachment; filename="recoop-impact.csv"',
        },
    )


def setup(app: web.Application) -> None:
    """Mount the public impact routes."""
    app.router.add_get("/impact", impact_page)
    app.router.add_get("/impact.json", impact_data_json)
    app.router.add_get("/impact.csv", impact_data_csv)

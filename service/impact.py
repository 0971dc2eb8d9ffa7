"""Public impact figures per area and month, aggregated and with small cells suppressed.

Privacy rule (the only figures ever published are aggregates of at least 5 households):

- A cell is one (area, month). Its figures are published only when it covers at least
  ``SUPPRESSION_THRESHOLD`` (5) distinct households; otherwise every figure is ``None``
  and the cell is flagged ``suppressed``. That the cell exists (1 to 4 households
  weighed there that month) is the only thing said about it.
- Totals are computed from the weighings of published cells only, never from the
  whole programme, so "total minus the shown cells" is always zero and cannot back out
  a suppressed cell. Households in totals are counted once across published cells.
- When there are weighings but no cell is published (for example the whole programme
  has fewer than 5 households), the totals themselves are suppressed the same way.
- Nothing personal is read out: no names, phones, addresses, codes or ids, and
  coordinates are used only to pick the nearest hub and are then dropped.

Known limits: areas follow the current hub list and household locations, so two
snapshots taken before and after a hub is added or a household is re-located could in
principle be differenced; material figures inside a published cell are not checked
for a single dominant household.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from service.persistence.db import READONLY, Database
from service.persistence.tables import households, hubs, weighing_items, weighings

SUPPRESSION_THRESHOLD = 5
MATERIALS: tuple[str, ...] = ("PET", "HDPE", "ALU", "SACHET", "GLASS")
UNASSIGNED = "Unassigned"
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class HubPoint:
    """A hub's name and where it is (used only to name areas)."""

    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class WeighingFact:
    """One weighing reduced to what the aggregate needs; never published as is."""

    household_id: int
    collected_at: datetime
    lat: float | None
    lon: float | None
    grams_by_material: dict[str, int]
    credit_kobo: int


@dataclass(frozen=True, slots=True)
class Figures:
    """Aggregate figures for a cell or for the totals."""

    households: int
    weighings: int
    grams_by_material: dict[str, int]
    credit_kobo: int

    @property
    def grams_total(self) -> int:
        return sum(self.grams_by_material.values())


@dataclass(frozen=True, slots=True)
class Cell:
    """One (area, month); ``figures`` is None when the cell is suppressed."""

    area: str
    month: str
    figures: Figures | None

    @property
    def suppressed(self) -> bool:
        return self.figures is None


@dataclass(frozen=True, slots=True)
class Impact:
    """The published report: cells in (month, area) order and totals over published cells."""

    generated_at: datetime
    timezone: str
    threshold: int
    cells: list[Cell]
    totals: Figures | None
    cells_suppressed: int

    @property
    def cells_published(self) -> int:
        return len(self.cells) - self.cells_suppressed


@dataclass(slots=True)
class _Tally:
    households: set[int] = field(default_factory=set)
    weighings: int = 0
    grams: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MATERIALS, 0))
    credit_kobo: int = 0

    def add(self, fact: WeighingFact) -> None:
        self.households.add(fact.household_id)
        self.weighings += 1
        for material, grams in fact.grams_by_material.items():
            self.grams[material] = self.grams.get(material, 0) + grams
        self.credit_kobo += fact.credit_kobo

    def merge(self, other: _Tally) -> None:
        self.households |= other.households
        self.weighings += other.weighings
        for material, grams in other.grams.items():
            self.grams[material] = self.grams.get(material, 0) + grams
        self.credit_kobo += other.credit_kobo

    def figures(self) -> Figures:
        return Figures(
            len(self.households), self.weighings, dict(self.grams), self.credit_kobo
        )


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres on a sphere of the Earth's mean radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def area_of(
    lat: float | None, lon: float | None, hub_points: Sequence[HubPoint]
) -> str:
    """The nearest hub's name (ties go to the earlier hub), or "Unassigned"."""
    if lat is None or lon is None or not hub_points:
        return UNASSIGNED
    best = min(hub_points, key=lambda h: great_circle_m(lat, lon, h.lat, h.lon))
    return best.name


def summarise(
    facts: Iterable[WeighingFact],
    hub_points: Sequence[HubPoint],
    *,
    tz: ZoneInfo,
    generated_at: datetime,
    threshold: int = SUPPRESSION_THRESHOLD,
) -> Impact:
    """Group weighings by (nearest hub, month in ``tz``) and apply the privacy rule.

    Parameters
    ----------
    facts
        The weighings to count, with their household's location.
    hub_points
        Hubs in a stable order (ties in distance go to the first).
    tz
        The zone whose calendar months the cells follow.
    generated_at
        When the report was made, for the record.
    threshold
        The least number of distinct households a published figure may cover.
    """
    tallies: dict[tuple[str, str], _Tally] = {}
    areas: dict[tuple[float, float] | None, str] = {}
    for fact in facts:
        where = None if fact.lat is None or fact.lon is None else (fact.lat, fact.lon)
        if where not in areas:
            areas[where] = area_of(fact.lat, fact.lon, hub_points)
        month = fact.collected_at.astimezone(tz).strftime("%Y-%m")
        tallies.setdefault((month, areas[where]), _Tally()).add(fact)

    cells: list[Cell] = []
    published = _Tally()
    for (month, area), tally in sorted(tallies.items()):
        if len(tally.households) >= threshold:
            published.merge(tally)
            cells.append(Cell(area, month, tally.figures()))
        else:
            cells.append(Cell(area, month, None))
    suppressed = sum(c.suppressed for c in cells)
    # With weighings but nothing publishable, even zero totals would say too much.
    totals = None if cells and suppressed == len(cells) else published.figures()
    return Impact(generated_at, tz.key, threshold, cells, totals, suppressed)


def kg(grams: int) -> float:
    """Grams as kilograms (exact to the gram when printed)."""
    return grams / 1000


def figures_json(figures: Figures | None) -> dict[str, Any]:
    """Figures in the open-data shape; every value None when suppressed."""
    if figures is None:
        return {
            "households": None,
            "weighings": None,
            "kg_total": None,
            "kg_by_material": None,
            "credit_kobo": None,
            "suppressed": True,
        }
    return {
        "households": figures.households,
        "weighings": figures.weighings,
        "kg_total": kg(figures.grams_total),
        "kg_by_material": {m: kg(g) for m, g in figures.grams_by_material.items()},
        "credit_kobo": figures.credit_kobo,
        "suppressed": False,
    }


def impact_json(impact: Impact) -> dict[str, Any]:
    """The whole report as the `/impact.json` document."""
    totals = figures_json(impact.totals)
    totals["cells_published"] = impact.cells_published
    totals["cells_suppressed"] = impact.cells_suppressed
    return {
        "generated_at": impact.generated_at.isoformat(),
        "timezone": impact.timezone,
        "suppression_threshold": impact.threshold,
        "note": (
            f"Cells covering fewer than {impact.threshold} households are suppressed;"
            " totals cover published cells only. Areas are named after the hub"
            " nearest the household; months are calendar months in the timezone."
        ),
        "materials": list(MATERIALS),
        "totals": totals,
        "cells": [
            {"area": c.area, "month": c.month, **figures_json(c.figures)}
            for c in impact.cells
        ],
    }


class ImpactViews:
    """Reads weighings and hubs once and builds the public report from them."""

    def __init__(self, db: Database, *, tz: ZoneInfo | str = "Africa/Lagos") -> None:
        self.db = db
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)

    async def report(self, generated_at: datetime) -> Impact:
        """The report as of now; the figures are recomputed on every call."""
        facts, hub_points = await self._read()
        return summarise(facts, hub_points, tz=self.tz, generated_at=generated_at)

    async def _read(self) -> tuple[list[WeighingFact], list[HubPoint]]:
        per_material = [
            sa.func.sum(
                sa.case(
                    (weighing_items.c.material == m, weighing_items.c.grams), else_=0
                )
            ).label(f"g_{m.lower()}")
            for m in MATERIALS
        ]
        items = (
            sa.select(weighing_items.c.weighing_id, *per_material)
            .group_by(weighing_items.c.weighing_id)
            .subquery()
        )
        stmt = (
            sa.select(
                weighings.c.household_id,
                weighings.c.collected_at,
                weighings.c.credited_kobo,
                households.c.lat,
                households.c.lon,
                *(items.c[f"g_{m.lower()}"] for m in MATERIALS),
            )
            .join(households, households.c.id == weighings.c.household_id)
            .outerjoin(items, items.c.weighing_id == weighings.c.id)
        )
        async with self.db.reader.connect() as conn:
            conn = await conn.execution_options(**{READONLY: True})
            rows = (await conn.execute(stmt)).all()
            hub_rows = (
                await conn.execute(
                    sa.select(hubs.c.name, hubs.c.lat, hubs.c.lon).order_by(hubs.c.id)
                )
            ).all()
        facts = [
            WeighingFact(
                household_id=r.household_id,
                collected_at=r.collected_at,
                lat=r.lat,
                lon=r.lon,
                grams_by_material={
                    m: int(r._mapping[f"g_{m.lower()}"] or 0) for m in MATERIALS
                },
                credit_kobo=int(r.credited_kobo or 0),
            )
            for r in rows
        ]
        return facts, [HubPoint(h.name, float(h.lat), float(h.lon)) for h in hub_rows]

"""bikes_out(): where each bike was last seen during the day and what it carries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from service.persistence import planning as pdb
from service.persistence.tables import (
    bikes,
    households,
    hubs,
    pickups,
    round_stops,
    rounds,
    weighings,
)

DAY = date(2026, 12, 2)
PLACES = [(6.51, 3.37), (6.52, 3.37), (6.53, 3.37), (6.54, 3.37), (None, None)]


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 2, hour, minute, tzinfo=UTC)


T0 = at(6)


class Day:
    """One bike's day written row by row, as planning and weighing leave it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def setup(self) -> None:
        await self.conn.execute(
            hubs.insert().values(id=1, name="Yaba", lat=6.5, lon=3.37, created_at=T0)
        )
        await self.conn.execute(
            bikes.insert().values(
                id=1, name="bike", hub_id=1, capacity_kg=100.0, created_at=T0
            )
        )
        for i, (lat, lon) in enumerate(PLACES, start=1):
            await self.conn.execute(
                households.insert().values(
                    id=i,
                    phone=f"+23480300000{i}",
                    name="h",
                    address="a",
                    lat=lat,
                    lon=lon,
                    created_at=T0,
                    updated_at=T0,
                )
            )
            await self.conn.execute(
                pickups.insert().values(
                    id=i,
                    code=f"C{i}",
                    household_id=i,
                    status="open",
                    created_at=T0,
                    updated_at=T0,
                )
            )

    async def round(
        self, rid: int, stops: list[tuple[int, int]], carried: float | None = None
    ) -> None:
        """A new plan: earlier rounds are superseded, these pickups scheduled on it."""
        await self.conn.execute(
            rounds.update()
            .where(rounds.c.status == "planned")
            .values(status="superseded")
        )
        await self.conn.execute(
            rounds.insert().values(
                id=rid,
                day=DAY,
                bike_id=1,
                status="planned",
                stops=len(stops),
                trips=max(t for _, t in stops),
                distance_m=0,
                load_kg=0,
                start_min=480,
                end_min=900,
                start_load_kg=carried,
                planned_at=T0,
            )
        )
        for seq, (pid, trip) in enumerate(stops, start=1):
            await self.conn.execute(
                round_stops.insert().values(
                    round_id=rid,
                    pickup_id=pid,
                    seq=seq,
                    trip=trip,
                    arrival_min=500,
                    expected_kg=10,
                )
            )
            await self.conn.execute(
                pickups.update()
                .where(pickups.c.id == pid)
                .values(round_id=rid, status="scheduled")
            )

    async def weigh(
        self,
        pid: int,
        kg: float,
        when: datetime,
        gps: tuple[float, float] | None = None,
    ) -> None:
        await self.conn.execute(
            weighings.insert().values(
                pickup_id=pid,
                household_id=pid,
                collected_at=when,
                lat=gps[0] if gps else None,
                lon=gps[1] if gps else None,
                total_grams=round(kg * 1000),
                credited_kobo=0,
                credit_status="credited",
                source="api",
                created_at=when,
            )
        )
        await self.conn.execute(
            pickups.update().where(pickups.c.id == pid).values(status="done")
        )


@pytest.fixture
async def day(database: Any) -> Any:
    async with database.writer.begin() as conn:
        d = Day(conn)
        await d.setup()
        yield d


async def test_seen_at_the_latest_weighing_with_that_trips_load(day: Any) -> None:
    """The phone's GPS fix when it sent one, else the household's place; on board is
    what this trip weighed."""
    await day.round(1, [(1, 1), (2, 1), (3, 1), (4, 2)])
    await day.weigh(1, 12.5, at(9))
    await day.weigh(2, 7.5, at(9, 20), gps=(6.525, 3.372))
    (seen,) = (await pdb.bikes_out(day.conn, DAY)).values()
    assert (seen.lat, seen.lon) == (6.525, 3.372)
    assert seen.load_kg == pytest.approx(20.0)
    await day.weigh(3, 5.0, at(9, 40))  # trip 1 done: riding back to unload
    assert await pdb.bikes_out(day.conn, DAY) == {}


async def test_load_carried_through_two_re_plans(day: Any) -> None:
    """A re-plan that starts a bike where it is records what it carried; the next
    re-plan adds it to what the bike weighed since."""
    await day.round(1, [(1, 1), (2, 1), (3, 1)])
    await day.weigh(1, 40.0, at(9))
    out = await pdb.bikes_out(day.conn, DAY)
    assert out[1].load_kg == pytest.approx(40.0)
    await day.round(2, [(2, 1), (3, 1)], carried=40.0)  # re-plan at 09:10
    out = await pdb.bikes_out(day.conn, DAY)
    assert out[1].load_kg == pytest.approx(40.0)  # nothing weighed since
    await day.weigh(2, 15.0, at(9, 30))
    out = await pdb.bikes_out(day.conn, DAY)
    assert out[1].load_kg == pytest.approx(55.0)
    assert (out[1].lat, out[1].lon) == PLACES[1]


async def test_a_weighing_with_no_place_keeps_the_load_and_the_last_place(
    day: Any,
) -> None:
    """A household with no location and a phone with no fix: the bike is where it was
    last seen, with everything it weighed on the trip."""
    await day.round(1, [(1, 1), (5, 1), (3, 1)])
    await day.weigh(1, 40.0, at(9))
    await day.weigh(5, 10.0, at(9, 20))
    (seen,) = (await pdb.bikes_out(day.conn, DAY)).values()
    assert (seen.lat, seen.lon) == PLACES[0]
    assert seen.load_kg == pytest.approx(50.0)

"""Split a big day into parts (by hub, then by sector around it) sized to the bikes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from routes_planner.distances import haversine_m
from routes_planner.models import Bike, Problem, Stop

# Rough riding time between neighbouring stops, to weigh service against travel.
_TRAVEL_GUESS_MIN = 3.0
# A trip (out, collect, back, unload) rarely takes less than this.
_TRIP_GUESS_MIN = 120.0
# Hubs may be loaded this much above their fair share before stops move away.
_SLACK = 1.05


def split_day(
    problem: Problem, *, part_size: int, decompose_above: int
) -> list[Problem]:
    """Split a day into parts that can be solved independently.

    Each stop goes to the nearest hub with a bike able to carry it; stops then
    move from hubs whose bikes are overloaded to the hub that costs them the
    least extra distance; each hub's stops are cut into angular sectors of at
    most ``part_size`` stops, and the hub's bikes are shared among its sectors
    in proportion to their work. The full stop-to-stop matrix is never built.

    Parameters
    ----------
    problem
        The whole day.
    part_size
        Largest number of stops in a part (fewer parts when bikes are few).
    decompose_above
        Days with at most this many stops (or a single bike) stay whole.

    Returns
    -------
    list[Problem]
        The parts; every stop and every bike is in exactly one part.
    """
    stops, bikes = problem.stops, problem.bikes
    hubs = [h for h in problem.hubs if any(b.hub_id == h.id for b in bikes)]
    if len(stops) <= decompose_above or len(bikes) <= 1 or not hubs:
        return [problem]

    lat = np.array([s.lat for s in stops])
    lon = np.array([s.lon for s in stops])
    hub_lat = np.array([h.lat for h in hubs])
    hub_lon = np.array([h.lon for h in hubs])
    to_hub = haversine_m(lat[:, None], lon[:, None], hub_lat[None, :], hub_lon[None, :])

    bikes_at = [[b for b in bikes if b.hub_id == h.id] for h in hubs]
    kg = np.array([s.expected_kg for s in stops])
    biggest = np.array([max(b.capacity_kg for b in group) for group in bikes_at])
    to_hub[kg[:, None] > biggest[None, :]] = np.inf

    work = _work(stops)
    capacity = np.array([_capacity(group) for group in bikes_at])
    assign = _balance(np.argmin(to_hub, axis=1), to_hub, work, capacity)

    parts = []
    for h, hub in enumerate(hubs):
        members = np.flatnonzero(assign == h)
        if members.size == 0:
            parts.append(Problem((), bikes_at[h], (hub,)))
            continue
        k = min(math.ceil(members.size / part_size), len(bikes_at[h]))
        sectors = _sectors(lat[members], lon[members], hub.lat, hub.lon, k)
        shares = [work[members[s]].sum(axis=0) for s in sectors]
        for sector, fleet in zip(sectors, _share_bikes(bikes_at[h], shares), strict=True):
            part_stops = tuple(stops[i] for i in members[sector])
            parts.append(Problem(part_stops, fleet, (hub,)))
    return parts


def _work(stops: Sequence[Stop]) -> NDArray[np.float64]:
    """Per stop: (kg, minutes of service plus a travel guess)."""
    return np.array(
        [(s.expected_kg, s.service_min + _TRAVEL_GUESS_MIN) for s in stops],
        dtype=np.float64,
    ).reshape(-1, 2)


def _capacity(bikes: Sequence[Bike]) -> NDArray[np.float64]:
    """A hub's rough daily capacity: (kg over all trips, shift minutes)."""
    kg = 0.0
    for bike in bikes:
        trips = max(1.0, bike.shift_min / _TRIP_GUESS_MIN)
        if bike.max_reloads is not None:
            trips = min(trips, bike.max_reloads + 1)
        kg += bike.capacity_kg * trips
    return np.array([kg, float(sum(b.shift_min for b in bikes))])


def _balance(
    assign: NDArray[np.intp],
    to_hub: NDArray[np.float64],
    work: NDArray[np.float64],
    capacity: NDArray[np.float64],
) -> NDArray[np.intp]:
    """Move stops off overloaded hubs, cheapest extra distance first."""
    assign = assign.copy()
    n_hubs = capacity.shape[0]
    # One number per stop and hub: the larger of its kg and time fractions.
    share = work / capacity.sum(axis=0)
    hub_cap = capacity / capacity.sum(axis=0)
    target = hub_cap * max(1.0, float(share.sum(axis=0).max())) * _SLACK
    for _ in range(n_hubs):
        load = np.array([share[assign == h].sum(axis=0) for h in range(n_hubs)])
        over = np.flatnonzero((load > target).any(axis=1))
        if over.size == 0:
            break
        moved = False
        for h in over:
            members = np.flatnonzero(assign == h)
            spare = np.clip(target - load, 0.0, None).min(axis=1)
            spare[h] = 0.0
            extra = to_hub[members] - to_hub[members, h][:, None]
            extra[:, spare <= 0] = np.inf
            best = np.argmin(extra, axis=1)
            regret = extra[np.arange(members.size), best]
            for j in np.argsort(regret, kind="stable"):
                if not (load[h] > target[h]).any() or not np.isfinite(regret[j]):
                    break
                dest = best[j]
                if (load[dest] + share[members[j]] > target[dest]).any():
                    continue
                assign[members[j]] = dest
                load[h] -= share[members[j]]
                load[dest] += share[members[j]]
                moved = True
        if not moved:
            break
    return assign


def _sectors(
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    hub_lat: float,
    hub_lon: float,
    k: int,
) -> list[NDArray[np.intp]]:
    """Cut stops around a hub into ``k`` angular sectors of near-equal size."""
    angle = np.arctan2(lat - hub_lat, (lon - hub_lon) * math.cos(math.radians(hub_lat)))
    order = np.argsort(angle, kind="stable")
    if k <= 1:
        return [order]
    # Start the sweep in the widest empty gap, so no cluster is cut at -pi.
    sorted_angle = angle[order]
    gaps = np.diff(np.append(sorted_angle, sorted_angle[0] + 2 * math.pi))
    start = (int(np.argmax(gaps)) + 1) % order.size
    order = np.roll(order, -start)
    return list(np.array_split(order, k))


def _share_bikes(
    bikes: Sequence[Bike], work: Sequence[NDArray[np.float64]]
) -> list[tuple[Bike, ...]]:
    """Give each sector bikes in proportion to its work (kg and minutes)."""
    work_arr = np.array(work, dtype=np.float64)
    total = work_arr.sum(axis=0)
    total[total == 0] = 1.0
    share = (work_arr / total).mean(axis=1)
    fleet_cap = sum(b.capacity_kg * b.shift_min for b in bikes)
    given = np.zeros(len(work))
    shares: list[list[Bike]] = [[] for _ in work]
    # Biggest bikes first; each to the sector furthest below its share.
    ranked = sorted(bikes, key=lambda b: (-b.capacity_kg * b.shift_min, b.id))
    for n, bike in enumerate(ranked):
        empty = [i for i, got in enumerate(shares) if not got]
        if empty and len(ranked) - n <= len(empty):
            sector = max(empty, key=lambda i: share[i])
        else:
            sector = int(np.argmax(share * fleet_cap - given))
        shares[sector].append(bike)
        given[sector] += bike.capacity_kg * bike.shift_min
    return [tuple(s) for s in shares]

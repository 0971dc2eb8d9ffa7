"""Split a big day into parts (by hub, then by sector around it) sized to the bikes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from routes_planner.distances import haversine_m
from routes_planner.models import Bike, Problem, Stop

# Grid used to judge how crowded a stop's neighbourhood is (about 550 m).
_CELL_DEG = 0.005
# A trip (out, collect, back, unload) rarely takes less than this.
_TRIP_GUESS_MIN = 120.0
# Hubs may be loaded this much above the fleet's average before stops move away.
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

    # A stop's share of the ride out and back, amortised over a trip's load.
    metres_per_min = float(np.mean([b.speed_kmh for b in bikes])) * 1000 / 60
    mean_capacity = float(np.mean([b.capacity_kg for b in bikes]))
    shuttle = 2 * to_hub / metres_per_min * (kg / mean_capacity)[:, None]
    capacity = np.array([_capacity(group) for group in bikes_at])
    speed = float(np.mean([b.speed_kmh for b in bikes]))
    work = _work(stops, lat, lon, speed)
    assign = _balance(to_hub, work, shuttle, capacity)
    work = work.copy()
    work[:, 1] += shuttle[np.arange(len(stops)), assign]

    parts = []
    for h, hub in enumerate(hubs):
        members = np.flatnonzero(assign == h)
        if members.size == 0:
            parts.append(Problem((), bikes_at[h], (hub,)))
            continue
        k = min(math.ceil(members.size / part_size), len(bikes_at[h]))
        fleets = _deal(bikes_at[h], k)
        order = _sweep(lat[members], lon[members], hub.lat, hub.lon)
        sectors = _cut(order, work[members[order]], [_strength(f) for f in fleets])
        for sector, fleet in zip(sectors, fleets, strict=True):
            part_stops = tuple(stops[i] for i in members[sector])
            parts.append(Problem(part_stops, fleet, (hub,)))
    return parts


def _work(
    stops: Sequence[Stop],
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    speed_kmh: float,
) -> NDArray[np.float64]:
    """Per stop: (kg, minutes of service plus riding to the next stop).

    The ride is guessed from how crowded the stop's neighbourhood is: a tour
    through ``n`` points spread over an area ``A`` runs about
    ``0.75 * sqrt(A / n)`` per point (Beardwood-Halton-Hammersley).
    """
    cell_lat = np.floor(lat / _CELL_DEG).astype(np.int64)
    cell_lon = np.floor(lon / _CELL_DEG).astype(np.int64)
    keys, counts = np.unique(
        np.column_stack([cell_lat, cell_lon]), axis=0, return_counts=True
    )
    code = keys[:, 0] * 1_000_003 + keys[:, 1]
    order = np.argsort(code)
    code, counts = code[order], counts[order]
    around = np.zeros(len(stops))
    for d_lat in (-1, 0, 1):
        for d_lon in (-1, 0, 1):
            wanted = (cell_lat + d_lat) * 1_000_003 + (cell_lon + d_lon)
            at = np.clip(np.searchsorted(code, wanted), 0, code.size - 1)
            around += np.where(code[at] == wanted, counts[at], 0)
    cell_m = _CELL_DEG * 111_195.0
    spacing_m = 0.75 * np.sqrt(9 * cell_m**2 / np.maximum(around, 1))
    ride_min = spacing_m / (speed_kmh * 1000 / 60)
    service = np.array([s.service_min for s in stops], dtype=np.float64)
    kg = np.array([s.expected_kg for s in stops], dtype=np.float64)
    return np.column_stack([kg, service + ride_min]).reshape(-1, 2)


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
    to_hub: NDArray[np.float64],
    work: NDArray[np.float64],
    shuttle: NDArray[np.float64],
    capacity: NDArray[np.float64],
) -> NDArray[np.intp]:
    """Shift the borders between hubs until no hub is loaded far above the rest.

    Each hub gets a handicap in metres added to its distances (an additively
    weighted Voronoi split); handicaps of overloaded hubs grow until every
    hub's utilisation is within ``_SLACK`` of the fleet's, so parts stay
    compact and nothing is moved across town for a few kilos.
    """
    n_hubs = capacity.shape[0]
    hub_cap = capacity / capacity.sum(axis=0)
    handicap = np.zeros(n_hubs)
    step = float(np.median(to_hub[np.isfinite(to_hub)])) / 10 if n_hubs > 1 else 0.0
    rows = np.arange(to_hub.shape[0])
    assign = np.argmin(to_hub, axis=1)
    best: NDArray[np.intp] = assign
    best_excess = np.inf
    for _ in range(200):
        current = work.copy()
        current[:, 1] += shuttle[rows, assign]
        share = current / current.sum(axis=0).clip(min=1e-9)
        load = np.array([share[assign == h].sum(axis=0) for h in range(n_hubs)])
        # Utilisation relative to the fleet's, in the tighter of kg and time.
        relative = (load / hub_cap).max(axis=1)
        excess = float(relative.max())
        if excess < best_excess:
            best, best_excess = assign, excess
        if excess <= _SLACK or step <= 0:
            break
        handicap = np.maximum(handicap + step * (relative - 1.0), 0.0)
        step *= 0.97
        assign = np.argmin(to_hub + handicap[None, :], axis=1)
    return best


def _sweep(
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    hub_lat: float,
    hub_lon: float,
) -> NDArray[np.intp]:
    """Order stops by angle around the hub, starting in the widest empty gap."""
    angle = np.arctan2(lat - hub_lat, (lon - hub_lon) * math.cos(math.radians(hub_lat)))
    order = np.argsort(angle, kind="stable")
    if order.size < 2:
        return order
    # Starting in the widest gap keeps a cluster from being cut at -pi.
    sorted_angle = angle[order]
    gaps = np.diff(np.append(sorted_angle, sorted_angle[0] + 2 * math.pi))
    return np.roll(order, -((int(np.argmax(gaps)) + 1) % order.size))


def _deal(bikes: Sequence[Bike], k: int) -> list[tuple[Bike, ...]]:
    """Deal bikes, strongest first, into ``k`` fleets of near-equal strength."""
    ranked = sorted(bikes, key=lambda b: (-_strength((b,)), b.id))
    return [tuple(ranked[i::k]) for i in range(k)]


def _strength(bikes: Sequence[Bike]) -> float:
    return sum(b.capacity_kg * b.shift_min for b in bikes)


def _cut(
    order: NDArray[np.intp], work: NDArray[np.float64], strengths: Sequence[float]
) -> list[NDArray[np.intp]]:
    """Cut the swept stops into sectors whose work matches each fleet's strength."""
    if len(strengths) == 1:
        return [order]
    per_stop = (work / work.sum(axis=0).clip(min=1e-9)).mean(axis=1)
    done = np.cumsum(per_stop) - per_stop / 2
    bounds = np.cumsum(strengths)[:-1] / sum(strengths)
    cuts = np.searchsorted(done, bounds)
    return list(np.split(order, cuts))

"""Last pass over a stitched plan: stops a part left out for lack of capacity go
into any bike's round that still has room, whichever part or hub it came from.

A big day is solved in parts, and a part can run out of bikes while its
neighbours end the day early. This pass takes each such stop, most valuable
first, and tries the cheapest places for it in order of added distance: between
two stops of a trip, on a new trip at the end of a round, or on a new round for
a bike with none. Each try re-times the whole round from its start, earliest
first, and is kept only if every window, load and the shift still hold. When no
round has the time, a round passing near the stop hands one of its own stops to
another bike and takes the stop in its place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from routes_planner.distances import DistanceSource, haversine_m
from routes_planner.models import (
    NO_CAPACITY,
    Bike,
    Hub,
    Problem,
    Round,
    Stop,
    Trip,
    Unplanned,
    Visit,
)


@dataclass(frozen=True, slots=True)
class _Swaps:
    """A pass of swaps (see _swap_in): the rounds passing nearest a stop left
    out, the stops of each taken out in turn (nearest it first), and the places
    tried for the stop taken out (as in a pass that places)."""

    rounds: int
    outs: int
    place: tuple[int, int]


# Passes over the stops still left out, in turn while time remains. A pass
# that places gives the places tried per stop, cheapest first, and at most so
# many in any one round (the nearest rounds are often the fullest); later ones
# look further. On city days a pass of swaps places more per second than
# looking further, and the last one looks further still.
_QUICK = (60, 3)
_STEPS: tuple[tuple[int, int] | _Swaps, ...] = (
    _QUICK,
    _Swaps(8, 30, _QUICK),
    (400, 12),
    (2000, 50),
    _Swaps(8, 30, _QUICK),
    _Swaps(20, 100, (400, 12)),
)
_EPS = 1e-9
# Gaps tried for a stop swapped in, cheapest first.
_SWAP_GAPS = 4


@dataclass(slots=True)
class _Draft:
    """A bike's round being edited: its trips as lists of stops."""

    bike: Bike
    hub: Hub
    start_min: float
    start_at: tuple[float, float] | None
    trips: list[list[Stop]]
    places: _Places | None = None


@dataclass(frozen=True, slots=True)
class _Places:
    """Where a stop could go in one draft: (trip, position) and the points either side."""

    trip: NDArray[np.int64]
    pos: NDArray[np.int64]
    spare: float  # minutes the round could still absorb: its waits and end slack
    room: NDArray[np.float64]  # kg the trip could still take
    prev: NDArray[np.float64]  # (n, 2) lat, lon
    next: NDArray[np.float64]


def fill_left_out(
    problem: Problem,
    rounds: Sequence[Round],
    unplanned: Sequence[Unplanned],
    source: DistanceSource,
    *,
    value: Callable[[Stop], float],
    deadline: float,
) -> tuple[list[Round], list[Unplanned]]:
    """Insert stops left out for lack of capacity wherever a round has room.

    Parameters
    ----------
    problem
        The whole day.
    rounds
        The stitched rounds; a round not touched is returned unchanged.
    unplanned
        The stops left out; only those with reason ``NO_CAPACITY`` are tried.
    source
        Distances and riding times; rounds are re-timed with it.
    value
        Worth of serving a stop; the most valuable are placed first.
    deadline
        ``time.monotonic()`` after which no more stops are tried.

    Returns
    -------
    tuple[list[Round], list[Unplanned]]
        The rounds (edited ones re-timed, new ones added) and the stops still
        left out.
    """
    stops = {s.id: s for s in problem.stops}
    waiting = [stops[u.stop_id] for u in unplanned if u.reason == NO_CAPACITY]
    if not waiting:
        return list(rounds), list(unplanned)

    hubs = {h.id: h for h in problem.hubs}
    bikes = {b.id: b for b in problem.bikes}
    drafts = [_draft(r, bikes[r.bike_id], hubs[r.hub_id], stops) for r in rounds]
    done: dict[int, Round] = {}  # index of a changed or new draft -> its round
    busy = {r.bike_id for r in rounds}
    for bike in problem.bikes:
        if bike.id not in busy:
            drafts.append(
                _Draft(bike, hubs[bike.hub_id], bike.shift_start_min, bike.start_at, [])
            )

    placed: set[str] = set()
    waiting.sort(key=lambda s: (-value(s), s.id))
    for step in _STEPS:
        for stop in waiting:
            if time.monotonic() > deadline:
                break
            if stop.id in placed:
                continue
            if isinstance(step, _Swaps):
                changed = _swap_in(stop, drafts, source, step, deadline)
            else:
                spot = _place(stop, drafts, source, *step, deadline)
                changed = dict([spot]) if spot is not None else None
            if changed:
                done.update(changed)
                placed.add(stop.id)

    out = [done.get(k, r) for k, r in enumerate(rounds)]
    out += [done[k] for k in range(len(rounds), len(drafts)) if k in done]
    return out, [u for u in unplanned if u.stop_id not in placed]


def _draft(rnd: Round, bike: Bike, hub: Hub, stops: dict[str, Stop]) -> _Draft:
    trips = [[stops[v.stop_id] for v in trip.visits] for trip in rnd.trips]
    return _Draft(bike, hub, rnd.start_min, rnd.start_at, trips)


def _place(
    stop: Stop,
    drafts: list[_Draft],
    source: DistanceSource,
    tries: int,
    per_round: int,
    deadline: float,
) -> tuple[int, Round] | None:
    """Put ``stop`` in the cheapest feasible place; the draft's new round, or None
    (also when ``deadline`` passes first)."""
    owner, trip, pos, room, prev, nxt, spare = [], [], [], [], [], [], []
    for k, draft in enumerate(drafts):
        if draft.places is None:
            draft.places = _places(draft, source)
        places = draft.places
        owner.append(np.full(places.trip.size, k))
        spare.append(np.full(places.trip.size, places.spare))
        trip.append(places.trip)
        pos.append(places.pos)
        room.append(places.room)
        prev.append(places.prev)
        nxt.append(places.next)
    owners = np.concatenate(owner)
    trips, positions = np.concatenate(trip), np.concatenate(pos)
    before, after = np.concatenate(prev), np.concatenate(nxt)
    fits = np.concatenate(room) + _EPS >= stop.expected_kg
    # Riding the detour (at least the straight line) and serving the stop must fit
    # in the time the round can give up.
    speed = np.array([drafts[k].bike.speed_kmh for k in range(len(drafts))])[owners]
    added, minutes = _detour(stop, before, after, speed)
    added[~fits | (minutes > np.concatenate(spare) + _EPS)] = np.inf
    tried: dict[int, int] = {}
    for i in np.argsort(added, kind="stable"):
        if not np.isfinite(added[i]) or sum(tried.values()) >= tries:
            break
        if time.monotonic() > deadline:
            break
        k, t, p = int(owners[i]), int(trips[i]), int(positions[i])
        if tried.get(k, 0) >= per_round:
            continue
        tried[k] = tried.get(k, 0) + 1
        draft = drafts[k]
        new_trips = [list(x) for x in draft.trips]
        if p < 0:  # a trip of its own, before trip t
            new_trips.insert(t, [stop])
        else:
            new_trips[t].insert(p, stop)
        rnd = schedule(
            draft.bike, draft.hub, draft.start_min, draft.start_at, new_trips, source
        )
        if rnd is not None:
            draft.trips, draft.places = new_trips, None
            return k, rnd
    return None


def _swap_in(
    stop: Stop,
    drafts: list[_Draft],
    source: DistanceSource,
    swaps: _Swaps,
    deadline: float,
) -> dict[int, Round] | None:
    """Make room for ``stop`` in a nearby round by moving one of its stops elsewhere.

    A stop no round has time for often lies on the way of a round whose day is
    full. Taking out one of that round's stops, one another round can take, frees
    the time. Returns the drafts changed and their new rounds, or None.
    """
    near: list[tuple[float, int]] = []
    for k, draft in enumerate(drafts):
        if draft.trips:
            lat = np.array([s.lat for t in draft.trips for s in t])
            lon = np.array([s.lon for t in draft.trips for s in t])
            near.append((float(haversine_m(lat, lon, stop.lat, stop.lon).min()), k))
    near.sort()
    for _, k in near[: swaps.rounds]:
        draft = drafts[k]
        if draft.places is None:
            draft.places = _places(draft, source)
        kept_trips, kept_places = draft.trips, draft.places
        metres_per_min = draft.bike.speed_kmh * 1000 / 60
        hub = (draft.hub.lat, draft.hub.lon)
        # The round's stops nearest ``stop`` first: taking one of them out frees
        # time where it is needed.
        order = sorted(
            ((t, p) for t, trip in enumerate(kept_trips) for p in range(len(trip))),
            key=lambda tp: _between(kept_trips[tp[0]][tp[1]], stop),
        )
        for t, p in order[: swaps.outs]:
            if time.monotonic() > deadline:
                return None
            out = kept_trips[t][p]
            trips = [list(x) for x in kept_trips]
            del trips[t][p]
            origin = _origin(draft, t)
            before = origin if p == 0 else kept_trips[t][p - 1]
            after = hub if p == len(kept_trips[t]) - 1 else kept_trips[t][p + 1]
            freed = (
                (_between(before, out) + _between(out, after) - _between(before, after))
                / metres_per_min
                + out.service_min
                + kept_places.spare
            )
            rnd = _cheapest_insert(stop, draft, trips, freed, source)
            if rnd is None:
                continue
            draft.trips, draft.places = rnd[0], None
            moved = _place(out, drafts, source, *swaps.place, deadline)
            if moved is not None:
                j, moved_round = moved
                return {k: rnd[1], j: moved_round} if j != k else {k: moved_round}
            draft.trips, draft.places = kept_trips, kept_places
    return None


def _cheapest_insert(
    stop: Stop,
    draft: _Draft,
    trips: list[list[Stop]],
    spare: float,
    source: DistanceSource,
) -> tuple[list[list[Stop]], Round] | None:
    """``stop`` in the cheapest gap of ``trips`` that keeps the round feasible,
    trying only gaps whose detour fits in ``spare`` minutes."""
    hub = (draft.hub.lat, draft.hub.lon)
    starts: list[tuple[float, float]] = []
    ends: list[tuple[float, float]] = []
    where: list[tuple[int, int]] = []
    for t, trip in enumerate(trips):
        points = [_origin(draft, t), *((s.lat, s.lon) for s in trip), hub]
        starts += points[:-1]
        ends += points[1:]
        where += [(t, p) for p in range(len(trip) + 1)]
    added, minutes = _detour(
        stop, np.array(starts), np.array(ends), np.array(draft.bike.speed_kmh)
    )
    for i in np.argsort(added, kind="stable")[:_SWAP_GAPS]:
        if minutes[i] > spare + _EPS:
            break
        t, p = where[i]
        candidate = [list(x) for x in trips]
        candidate[t].insert(p, stop)
        if not all(candidate):  # the stop taken out rode a trip of its own
            if draft.start_at is not None and not candidate[0]:
                continue  # that trip started where the bike is now
            candidate = [x for x in candidate if x]
        rnd = schedule(
            draft.bike, draft.hub, draft.start_min, draft.start_at, candidate, source
        )
        if rnd is not None:
            return candidate, rnd
    return None


def _detour(
    stop: Stop,
    before: NDArray[np.float64],
    after: NDArray[np.float64],
    speed_kmh: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Metres added by visiting ``stop`` between each pair of points (lat, lon
    rows), and the minutes that riding them straight and serving it take."""
    added = (
        haversine_m(before[:, 0], before[:, 1], stop.lat, stop.lon)
        + haversine_m(stop.lat, stop.lon, after[:, 0], after[:, 1])
        - haversine_m(before[:, 0], before[:, 1], after[:, 0], after[:, 1])
    )
    return added, added / (speed_kmh * 1000 / 60) + stop.service_min


def _between(a: Stop | tuple[float, float], b: Stop | tuple[float, float]) -> float:
    """Great-circle metres between two stops or points."""
    pa = (a.lat, a.lon) if isinstance(a, Stop) else a
    pb = (b.lat, b.lon) if isinstance(b, Stop) else b
    return float(haversine_m(pa[0], pa[1], pb[0], pb[1]))


def _places(draft: _Draft, source: DistanceSource) -> _Places:
    """Every gap of every trip, and a trip of its own before any trip or at the end
    when reloads allow (position -1)."""
    hub = (draft.hub.lat, draft.hub.lon)
    capacity = draft.bike.capacity_kg
    trip, pos, room, prev, nxt = [], [], [], [], []
    reloads = draft.bike.max_reloads
    unloads = len(draft.trips) + (
        draft.bike.start_at is not None and not draft.start_at
    )
    if reloads is None or unloads <= reloads:
        # A trip of its own starts at the hub; trip 0 of a bike already out keeps
        # its start, so such a trip goes in after it.
        first = 1 if draft.start_at is not None and draft.trips else 0
        for t in range(first, len(draft.trips) + 1):
            trip.append(t)
            pos.append(-1)
            room.append(capacity - _carried(draft, t) if not draft.trips else capacity)
            prev.append(_origin(draft, t) if not draft.trips else hub)
            nxt.append(hub)
    for t, stops in enumerate(draft.trips):
        kg = _carried(draft, t) + sum(s.expected_kg for s in stops)
        points = [_origin(draft, t), *((s.lat, s.lon) for s in stops), hub]
        for p in range(len(stops) + 1):
            trip.append(t)
            pos.append(p)
            room.append(capacity - kg)
            prev.append(points[p])
            nxt.append(points[p + 1])
    return _Places(
        np.array(trip, dtype=np.int64),
        np.array(pos, dtype=np.int64),
        _spare(draft, source),
        np.array(room, dtype=np.float64),
        np.array(prev, dtype=np.float64).reshape(-1, 2),
        np.array(nxt, dtype=np.float64).reshape(-1, 2),
    )


def _spare(draft: _Draft, source: DistanceSource) -> float:
    """Minutes of waiting in the round plus the time between its end and the shift's."""
    if not draft.trips:
        return float(draft.bike.shift_end_min - draft.start_min)
    rnd = schedule(
        draft.bike, draft.hub, draft.start_min, draft.start_at, draft.trips, source
    )
    if rnd is None:  # cannot happen for a feasible round; never insert into it
        return -1.0
    waits = sum(v.start_min - v.arrival_min for v in rnd.visits)
    return waits + draft.bike.shift_end_min - rnd.end_min


def _origin(draft: _Draft, trip: int) -> tuple[float, float]:
    if trip == 0 and draft.start_at is not None:
        return draft.start_at
    return (draft.hub.lat, draft.hub.lon)


def _carried(draft: _Draft, trip: int) -> float:
    return draft.bike.load_kg if trip == 0 and draft.start_at is not None else 0.0


def schedule(
    bike: Bike,
    hub: Hub,
    start_min: float,
    start_at: tuple[float, float] | None,
    trips: Sequence[Sequence[Stop]],
    source: DistanceSource,
) -> Round | None:
    """Time a round visiting ``trips`` in order, each stop as early as it can be
    served; None if a window, a trip's load, the reload limit or the shift breaks.

    The round leaves at ``start_min`` from ``start_at`` (the bike's position when
    it is already out) or from the hub, rides to the hub first when the bike is
    out but the round starts at the hub, and unloads at the hub between trips.
    """
    unloads = len(trips) - 1 + (bike.start_at is not None and start_at is None)
    if bike.max_reloads is not None and unloads > bike.max_reloads:
        return None
    here = bike.start_at if bike.start_at is not None else (hub.lat, hub.lon)
    points = [(hub.lat, hub.lon), here]
    points += [(s.lat, s.lon) for stops in trips for s in stops]
    table = source.table(points, bike.speed_kmh)
    metres, seconds = table.distance_m, table.duration_s

    clock = start_min
    total = 0
    if bike.start_at is not None and start_at is None:
        clock += seconds[1, 0] / 60  # ride to the hub and unload first
        total += int(metres[1, 0])
    at = 2
    done: list[Trip] = []
    for t, stops in enumerate(trips):
        depart = clock
        here_index = 1 if t == 0 and start_at is not None else 0
        load = bike.load_kg if t == 0 and start_at is not None else 0.0
        ridden = 0
        visits = []
        for stop in stops:
            arrival = clock + seconds[here_index, at] / 60
            begin = arrival if stop.window is None else max(arrival, stop.window[0])
            if stop.window is not None and begin > stop.window[1] + _EPS:
                return None
            load += stop.expected_kg
            if load > bike.capacity_kg + _EPS:
                return None
            visits.append(Visit(stop.id, float(arrival), float(begin), load))
            ridden += int(metres[here_index, at])
            clock = begin + stop.service_min
            here_index, at = at, at + 1
        ridden += int(metres[here_index, 0])
        clock += seconds[here_index, 0] / 60
        done.append(Trip(tuple(visits), float(depart), float(clock), load, ridden))
        total += ridden
    if clock > bike.shift_end_min + _EPS:
        return None
    return Round(
        bike.id, hub.id, tuple(done), float(start_min), float(clock), total, start_at
    )

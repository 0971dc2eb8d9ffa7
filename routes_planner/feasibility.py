"""check_feasible(): an independent check of a plan against its problem."""

from __future__ import annotations

import itertools

from routes_planner.distances import DistanceSource
from routes_planner.models import REASONS, Plan, Problem, Round

# Times are floats in minutes; allow for rounding of seconds into minutes.
_EPS_MIN = 1e-6
_EPS_KG = 1e-6


def check_feasible(
    problem: Problem,
    plan: Plan,
    *,
    distances: DistanceSource | None = None,
    must_serve_after_days: int = 3,
    allow_unplanned_must_serve: bool = False,
) -> list[str]:
    """List every way ``plan`` breaks the rules of ``problem`` (empty: feasible).

    Checks each bike's round against its hub, shift, reload limit and capacity
    per trip; each visit against its window and the visits before it; that each
    stop appears at most once and is either served or left out with a reason;
    and that must-serve stops are served.

    Parameters
    ----------
    problem
        The day that was planned.
    plan
        The plan to check.
    distances
        When given, also check that every leg leaves enough time to ride it.
    must_serve_after_days
        Stops waiting this long must be served, like ``must_serve`` ones.
    allow_unplanned_must_serve
        Accept a must-serve stop left out with a reason (the planner does
        when even a dedicated trip could not serve it).

    Returns
    -------
    list[str]
        One message per violation.
    """
    errors: list[str] = []
    stops = {s.id: s for s in problem.stops}
    bikes = {b.id: b for b in problem.bikes}
    seen: dict[str, str] = {}

    used_bikes: set[str] = set()
    for rnd in plan.rounds:
        bike = bikes.get(rnd.bike_id)
        if bike is None:
            errors.append(f"round for unknown bike {rnd.bike_id}")
            continue
        if rnd.bike_id in used_bikes:
            errors.append(f"bike {rnd.bike_id} has more than one round")
        used_bikes.add(rnd.bike_id)
        for visit in rnd.visits:
            if visit.stop_id not in stops:
                errors.append(f"bike {rnd.bike_id} visits unknown stop {visit.stop_id}")
            elif visit.stop_id in seen:
                errors.append(f"stop {visit.stop_id} visited more than once")
            seen[visit.stop_id] = rnd.bike_id
        errors.extend(_check_round(problem, rnd, distances))

    for item in plan.unplanned:
        if item.stop_id not in stops:
            errors.append(f"unplanned stop {item.stop_id} is unknown")
        elif item.stop_id in seen:
            errors.append(f"stop {item.stop_id} is both served and unplanned")
        if item.reason not in REASONS:
            errors.append(f"stop {item.stop_id}: unknown reason {item.reason!r}")
    left_out = {u.stop_id for u in plan.unplanned}
    if len(left_out) != len(plan.unplanned):
        errors.append("a stop is listed as unplanned more than once")

    for stop in problem.stops:
        if stop.id in seen:
            continue
        must = stop.must_serve or stop.waiting_days >= must_serve_after_days
        if stop.id not in left_out:
            errors.append(f"stop {stop.id} is neither served nor unplanned")
        elif must and not allow_unplanned_must_serve:
            errors.append(f"must-serve stop {stop.id} is not served")
    return errors


def _check_round(
    problem: Problem, rnd: Round, distances: DistanceSource | None
) -> list[str]:
    errors: list[str] = []
    bike = next(b for b in problem.bikes if b.id == rnd.bike_id)
    stops = {s.id: s for s in problem.stops}
    who = f"bike {bike.id}"
    if rnd.hub_id != bike.hub_id:
        errors.append(f"{who}: round from hub {rnd.hub_id}, bike is at {bike.hub_id}")
    if not rnd.trips:
        errors.append(f"{who}: round without trips")
        return errors
    if rnd.start_min < bike.shift_start_min - _EPS_MIN:
        errors.append(f"{who}: starts at {rnd.start_min:.1f} before its shift")
    if rnd.end_min > bike.shift_end_min + _EPS_MIN:
        errors.append(f"{who}: ends at {rnd.end_min:.1f} after its shift")
    # A bike already out that rides to the hub to unload before its first visit
    # uses one of its reloads for that.
    unloads = len(rnd.trips) - 1 + (bike.start_at is not None and rnd.start_at is None)
    if bike.max_reloads is not None and unloads > bike.max_reloads:
        errors.append(
            f"{who}: unloads {unloads} times at the hub, max {bike.max_reloads}"
        )
    if rnd.trips[0].depart_min < rnd.start_min - _EPS_MIN:
        errors.append(f"{who}: first trip leaves before the round starts")
    if rnd.trips[-1].return_min > rnd.end_min + _EPS_MIN:
        errors.append(f"{who}: last trip returns after the round ends")
    if rnd.start_at is not None and rnd.start_at != bike.start_at:
        errors.append(f"{who}: round starts at {rnd.start_at}, not where the bike is")

    prelude, legs = _legs(problem, rnd, distances)
    leg = 0
    # A bike already out that unloads before its first visit rides to the hub first.
    clock = rnd.start_min + prelude
    for t, trip in enumerate(rnd.trips):
        label = f"{who} trip {t + 1}"
        if not trip.visits:
            errors.append(f"{label}: no visits")
            continue
        if trip.depart_min < clock - _EPS_MIN:
            errors.append(f"{label}: leaves before the previous trip returned")
        clock = trip.depart_min
        carried = t == 0 and rnd.start_at is not None
        load = bike.load_kg if carried else 0.0
        for visit in trip.visits:
            stop = stops.get(visit.stop_id)
            if stop is None:
                leg += 1
                continue
            travel = legs[leg] if legs else 0.0
            leg += 1
            if visit.arrival_min < clock + travel - _EPS_MIN:
                errors.append(f"{label}: arrives at {stop.id} too early to have ridden")
            if visit.start_min < visit.arrival_min - _EPS_MIN:
                errors.append(f"{label}: starts {stop.id} before arriving")
            if stop.window is not None:
                early, late = stop.window
                if not early - _EPS_MIN <= visit.start_min <= late + _EPS_MIN:
                    errors.append(
                        f"{label}: serves {stop.id} at {visit.start_min:.1f}, "
                        f"outside its window {early}-{late}"
                    )
            load += stop.expected_kg
            if abs(visit.load_kg_after - load) > _EPS_KG * max(1.0, load):
                errors.append(f"{label}: load after {stop.id} is misreported")
            clock = visit.start_min + stop.service_min
        travel = legs[leg] if legs else 0.0
        leg += 1
        if trip.return_min < clock + travel - _EPS_MIN:
            errors.append(f"{label}: returns to the hub too early to have ridden")
        clock = trip.return_min
        if load > bike.capacity_kg + _EPS_KG:
            errors.append(
                f"{label}: carries {load:.1f} kg, capacity {bike.capacity_kg:.1f} kg"
            )
        if abs(trip.load_kg - load) > _EPS_KG * max(1.0, load):
            errors.append(f"{label}: trip load is misreported")
    if rnd.end_min < clock - _EPS_MIN:
        errors.append(f"{who}: round ends before its last trip returns")
    return errors


def _legs(
    problem: Problem, rnd: Round, distances: DistanceSource | None
) -> tuple[float, list[float]]:
    """Minutes to ride to the hub before the first trip (a bike already out that
    unloads first), and each leg of the round (out, between stops, back per trip)."""
    if distances is None:
        return 0.0, []
    hub = problem.hub(rnd.hub_id)
    bike = next(b for b in problem.bikes if b.id == rnd.bike_id)
    stops = {s.id: s for s in problem.stops}
    # 0: the hub, 1: where the bike starts (the hub unless it is already out).
    points = [(hub.lat, hub.lon), bike.start_at or (hub.lat, hub.lon)]
    for visit in rnd.visits:
        stop = stops.get(visit.stop_id)
        points.append((stop.lat, stop.lon) if stop else (hub.lat, hub.lon))
    table = distances.table(points, bike.speed_kmh).duration_s
    prelude = float(table[1, 0]) / 60 if rnd.start_at is None else 0.0
    legs: list[float] = []
    at = 2
    for t, trip in enumerate(rnd.trips):
        origin = 1 if t == 0 and rnd.start_at is not None else 0
        path = [origin, *range(at, at + len(trip.visits)), 0]
        at += len(trip.visits)
        legs.extend(float(table[a, b]) / 60 for a, b in itertools.pairwise(path))
    return prelude, legs

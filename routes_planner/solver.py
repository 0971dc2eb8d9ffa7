"""plan(): a day of stops, bikes and hubs in; rounds and the stops left out back."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pyvrp import (
    Activity,
    ActivityType,
    Client,
    Depot,
    Location,
    ProblemData,
    Route,
    Solution,
    VehicleType,
)
from pyvrp.exceptions import PenaltyBoundWarning

from routes_planner import _engine
from routes_planner.clustering import split_day
from routes_planner.distances import (
    UNREACHABLE,
    DistanceSource,
    GreatCircle,
    LatLon,
    PrecomputedTable,
    Table,
    haversine_m,
)
from routes_planner.feasibility import check_feasible
from routes_planner.fill import fill_left_out
from routes_planner.models import (
    NO_CAPACITY,
    OUTSIDE_SHIFT,
    TOO_HEAVY,
    WINDOW_UNREACHABLE,
    Bike,
    Hub,
    Plan,
    Problem,
    Round,
    Stop,
    Trip,
    Unplanned,
    Visit,
)
from routes_planner.params import PlannerParams

# Costs are in 1/60 m so that a balance weight in metres per minute of
# overtime becomes an integer cost per second, as PyVRP requires.
COST_PER_METRE = 60
_NO_LIMIT = int(np.iinfo(np.int64).max)
_UNLIMITED = int(np.iinfo(np.uint64).max)  # PyVRP's "no limit" on reloads
# Below this budget a second process costs more than it brings.
_MIN_PARALLEL_SECONDS = 1.0
# A day solved whole with this many stops or more searches whole only for the
# first share of its time, then improves groups of neighbouring rounds, one group
# per process, each as a day of its own (see _improve_groups), regrouping every
# few seconds. A search of half the stops runs about twice the iterations per
# stop: on Lagos days of 700-1,000 stops at 10 s this rode 2-6% less than plain
# PyVRP; on 400 stops it rode about 1% more than the whole-day race.
_GROUP_ABOVE = 600
_GROUP_FIRST = 0.15
_GROUP_TURN_SECONDS = 2.0
_MIN_GROUP_SECONDS = 4.0
_GROUP_TURNS_COUNTED = 4  # with an iteration cap


class PlanningError(RuntimeError):
    """The planner produced a plan that fails its own feasibility check (a bug)."""


def plan(
    problem: Problem,
    params: PlannerParams = PlannerParams(),  # noqa: B008 - frozen, safe to share
    *,
    seed: int | None = None,
    time_limit_s: float | None = None,
    distances: DistanceSource | None = None,
) -> Plan:
    """Plan the day's rounds: which bike visits which stops, in what order, when.

    Capacity per trip, shifts and time windows are never violated; stops that
    cannot be served are returned in ``Plan.unplanned`` with a reason. Big days
    (more than ``params.decompose_above`` stops) are split by hub and sector
    and the parts solved in ``params.n_workers`` processes.

    Parameters
    ----------
    problem
        Stops, bikes and hubs of the day.
    params
        Planner parameters; see :class:`PlannerParams`.
    seed
        Random seed; ``params.seed`` when not given.
    time_limit_s
        Wall-clock budget in seconds; ``params.time_limit_s`` when not given.
    distances
        Distance and travel-time source; great-circle when not given.

    Returns
    -------
    Plan
        One round per bike used, and the stops left for another day.

    Raises
    ------
    PlanningError
        If the plan fails :func:`check_feasible` (which would be a bug).
    """
    started = time.monotonic()
    seed = params.seed if seed is None else seed
    budget = params.time_limit_s if time_limit_s is None else time_limit_s
    if budget <= 0:
        raise ValueError("time_limit_s must be > 0")
    source: DistanceSource = distances if distances is not None else GreatCircle()
    # Keep a sliver of the budget for stitching the parts and checking the plan:
    # 20-30 ms after a 400- or 1,000-stop day's search, 0.1-0.2 s after 10,000
    # or 20,000 stops.
    sliver = 0.05 + 0.005 * budget + 2e-5 * len(problem.stops)
    deadline = started + budget - min(sliver, 2.0)

    heaviest = max((bike.capacity_kg for bike in problem.bikes), default=math.inf)
    candidates = [s for s in problem.stops if s.expected_kg <= heaviest]
    unplanned = [
        Unplanned(s.id, TOO_HEAVY) for s in problem.stops if s.expected_kg > heaviest
    ]
    rounds: list[Round] = []

    if candidates:
        parts = _make_parts(problem, candidates, params, source)
        # A day solved in parts keeps a little time to fill rounds with room
        # with the stops other parts had to leave out.
        fills = len(parts) > 1 and isinstance(source, GreatCircle)
        reserve = min(_FILL_SHARE * budget, _FILL_MAX_S) if fills else 0.0
        results = _solve_parts(parts, params, seed, deadline - reserve, reserve)
        for part_result in results:
            rounds.extend(part_result.rounds)
            unplanned.extend(part_result.unplanned)
        if fills:
            rounds, unplanned = fill_left_out(
                problem,
                rounds,
                unplanned,
                source,
                value=lambda stop: _prize(stop, params),
                deadline=deadline,
            )

    order = {bike.id: i for i, bike in enumerate(problem.bikes)}
    stop_order = {stop.id: i for i, stop in enumerate(problem.stops)}
    rounds.sort(key=lambda r: order[r.bike_id])
    unplanned.sort(key=lambda u: stop_order[u.stop_id])
    result = Plan(tuple(rounds), tuple(unplanned))

    problems = check_feasible(
        problem,
        result,
        must_serve_after_days=params.must_serve_after_days,
        allow_unplanned_must_serve=True,
    )
    if problems:
        raise PlanningError("; ".join(problems[:5]))
    return result


@dataclass(frozen=True, slots=True)
class _FixedTables:
    """Tables fetched by the parent process for a part, looked up by speed; each
    serves any subset of the part's points (a group, see _improve_groups)."""

    tables: dict[float, PrecomputedTable]

    def table(self, points: Sequence[LatLon], speed_kmh: float) -> Table:
        return self.tables[speed_kmh].table(points, speed_kmh)


@dataclass(frozen=True, slots=True)
class _Part:
    hubs: tuple[Hub, ...]
    bikes: tuple[Bike, ...]
    stops: tuple[Stop, ...]
    source: DistanceSource
    seed: int
    share: float  # of the total work, to size its time budget


@dataclass(frozen=True, slots=True)
class _PartResult:
    rounds: tuple[Round, ...]
    unplanned: tuple[Unplanned, ...]
    objective: float
    required: bool = False  # found by the search with every stop required


def _make_parts(
    problem: Problem,
    stops: list[Stop],
    params: PlannerParams,
    source: DistanceSource,
) -> list[_Part]:
    groups = split_day(
        Problem(stops, problem.bikes, problem.hubs),
        part_size=params.part_size,
        decompose_above=params.decompose_above,
    )
    total = sum(len(g.stops) for g in groups) or 1
    parts = []
    for k, group in enumerate(groups):
        part_source = source
        if not isinstance(source, GreatCircle):
            # Road-engine clients do not cross process boundaries: fetch here.
            points = _points(_depots(group.hubs, group.bikes), group.stops)
            speeds = sorted({bike.speed_kmh for bike in group.bikes})
            part_source = _FixedTables(
                {
                    v: PrecomputedTable(tuple(points), source.table(points, v))
                    for v in speeds
                }
            )
        parts.append(
            _Part(
                tuple(group.hubs),
                tuple(group.bikes),
                tuple(group.stops),
                part_source,
                seed=7919 * k,  # each part its own random stream
                share=len(group.stops) / total,
            )
        )
    return parts


def _solve_parts(
    parts: list[_Part],
    params: PlannerParams,
    seed: int,
    deadline: float,
    reserve: float = 0.0,
) -> list[_PartResult]:
    """Solve the parts in parallel by ``deadline``; ``reserve`` seconds after it
    are kept for the last pass, and given back to the search when no stop is
    left out."""
    available = max(deadline - time.monotonic(), 0.0)
    workers = params.n_workers
    if len(parts) == 1:
        part = parts[0]
        seeds = [seed + i for i in range(workers)]
        if workers == 1 or available < _MIN_PARALLEL_SECONDS or not part.bikes:
            seeds = seeds[:1]
        jobs = [_Job(part, s, available, deadline, params) for s in seeds]
        if len(jobs) > 1 and _single_trips_may_do(part, params):
            # When the fleet can carry the day without reloads, every process
            # searches the plain model (every stop required, one trip per bike):
            # a much smaller space than the full one, with optional stops and
            # reloads, which a process turns to if the plain one finds no plan.
            jobs = [dataclasses.replace(job, simple=True) for job in jobs]
        if len(jobs) == 1:
            return [_solve_part(jobs[0])]
        # Balancing compares each day with the average of all, so not in groups.
        grouped = (
            len(part.stops) >= _GROUP_ABOVE
            and available >= _MIN_GROUP_SECONDS
            and params.balance_weight <= 0
        )
        if grouped and params.max_iterations is not None:
            share = max(params.max_iterations // 2, 1)
            params = dataclasses.replace(params, max_iterations=share)
            jobs = [dataclasses.replace(job, params=params) for job in jobs]
        start = time.monotonic()
        first_end = start + (_GROUP_FIRST * available if grouped else available)
        jobs = [
            dataclasses.replace(job, deadline=min(first_end, deadline)) for job in jobs
        ]
        with (
            ProcessPoolExecutor(max_workers=len(jobs)) as pool,
            _engine.Board.create() as board,
        ):
            # The first seed's search posts its best plans; the others take one
            # up when it is better than theirs (see _engine.run).
            jobs = [
                dataclasses.replace(job, board=board, posts=i == 0)
                for i, job in enumerate(jobs)
            ]
            results = list(pool.map(_solve_part, jobs))
            # Ties go to the first seed, so the pick never depends on timing.
            best = min(results, key=lambda r: r.objective)
            if grouped and not any(u.reason == NO_CAPACITY for u in best.unplanned):
                best = _improve_groups(
                    part, best, params, seed, deadline, pool, simple=jobs[0].simple
                )
            elif grouped:
                # Stops left out: their prizes count in the whole day's objective
                # only, so the search goes on whole, from the better plan.
                onward = [
                    dataclasses.replace(
                        job,
                        seed=job.seed + 1_009,
                        seconds=deadline - time.monotonic(),
                        deadline=deadline,
                        initial=best.rounds,
                        simple=False,
                    )
                    for job in jobs
                ]
                found = min(pool.map(_solve_part, onward), key=lambda r: r.objective)
                best = found if found.objective <= best.objective else best
        return [best]

    parts = list(parts)
    with ProcessPoolExecutor(max_workers=min(workers, len(parts))) as pool:
        # Each part gets time in proportion to its size; the biggest go first
        # so the workers finish together.
        first = available * _FIRST_WAVE
        jobs = [
            _Job(part, seed + part.seed, first * workers * part.share, deadline, params)
            for part in parts
        ]
        results = _run_jobs(jobs, pool)
        # The last share of the time goes to the bikes passing nearest the stops
        # still left out (great-circle only, like the merges below).
        reroute = isinstance(parts[0].source, GreatCircle)
        settle_by = deadline - (_REROUTE_SHARE * available if reroute else 0.0)
        # A part that could not fit all its stops joins a neighbour with spare
        # time, warm-started from both their rounds, so neither gets worse.
        # Road-engine tables are fetched per part, so only great-circle merges.
        for wave in range(_REPAIR_WAVES):
            pairs = _repair_pairs(parts, results, 3 * params.part_size)
            left = (settle_by - time.monotonic()) / (_REPAIR_WAVES - wave)
            if not pairs or left <= 0 or not isinstance(parts[0].source, GreatCircle):
                break
            shares = [parts[a].share + parts[b].share for a, b in pairs]
            lanes = min(workers, len(pairs))
            repair_jobs = [
                _Job(
                    _merge_parts(parts[a], parts[b]),
                    seed + parts[a].seed + wave + 1,
                    left * lanes * share / sum(shares),
                    settle_by,
                    params,
                    initial=results[a].rounds + results[b].rounds,
                )
                for (a, b), share in zip(pairs, shares, strict=True)
            ]
            repaired = _run_jobs(repair_jobs, pool)
            gone = set()
            for (a, b), job, fixed in zip(pairs, repair_jobs, repaired, strict=True):
                if fixed.objective <= results[a].objective + results[b].objective:
                    parts[a], results[a] = job.part, fixed
                    gone.add(b)
            parts = [p for i, p in enumerate(parts) if i not in gone]
            results = [r for i, r in enumerate(results) if i not in gone]
        # Time no repair needed: every part searches on from its own rounds, and
        # keeps what it found only if that is better. With no stop left out,
        # the time kept for re-routing and the last pass goes to this search too.
        if not any(u.reason == NO_CAPACITY for r in results for u in r.unplanned):
            settle_by = deadline = deadline + reserve
        left = settle_by - time.monotonic()
        if left >= _MIN_PARALLEL_SECONDS:
            jobs = [
                _Job(
                    part,
                    seed + part.seed + _REPAIR_WAVES + 1,
                    left * min(workers, len(parts)) * part.share,
                    settle_by,
                    params,
                    initial=result.rounds,
                )
                for part, result in zip(parts, results, strict=True)
            ]
            again = _run_jobs(jobs, pool)
            results = [
                new if new.objective <= old.objective else old
                for old, new in zip(results, again, strict=True)
            ]
        # Each round of re-routing regroups what is still left out; it stops
        # when a round places nothing more or the time is up.
        for turn in range(_REROUTE_TURNS if reroute else 0):
            left = deadline - time.monotonic()
            until = time.monotonic() + left / (_REROUTE_TURNS - turn)
            after = _reroute(parts, results, params, seed + turn, until, pool)
            if after is results:
                break
            results = after
    return results


def _improve_groups(
    part: _Part,
    best: _PartResult,
    params: PlannerParams,
    seed: int,
    deadline: float,
    pool: ProcessPoolExecutor,
    *,
    simple: bool = False,
) -> _PartResult:
    """Improve ``best`` by turns until ``deadline``: split its rounds into as many
    groups of neighbouring rounds as there are workers, search each group as a
    day of its own from its rounds, and keep the merged rounds when better.

    Each turn rotates the cut lines, so rounds meet other neighbours. ``best``
    leaves no stop out for want of capacity (a stop left out would count in no
    group's objective). With ``simple``, groups whose rounds are single trips
    search the plain model (see :func:`_plain_search`).
    """
    workers = params.n_workers
    left = deadline - time.monotonic()
    if params.max_iterations is None:
        turns = max(1, round(left / _GROUP_TURN_SECONDS))
    else:
        # Reproducible: a fixed number of turns sharing the iterations.
        turns = _GROUP_TURNS_COUNTED
        share = max(params.max_iterations // turns, 1)
        params = dataclasses.replace(params, max_iterations=share)
    stop_of = {s.id: s for s in part.stops}
    bike_of = {b.id: b for b in part.bikes}
    for turn in range(turns):
        until = deadline - (turns - turn - 1) * left / turns
        groups = _round_groups(best.rounds, stop_of, workers, (turn + 0.5) / turns)
        if len(groups) < 2:
            break
        used = {r.bike_id for r in best.rounds}
        idle = [b for b in part.bikes if b.id not in used]
        jobs = []
        for g, rounds in enumerate(groups):
            bikes = [bike_of[r.bike_id] for r in rounds] + idle[g :: len(groups)]
            stops = [stop_of[v.stop_id] for r in rounds for v in r.visits]
            sub = dataclasses.replace(
                part,
                bikes=tuple(bikes),
                stops=tuple(stops),
                share=len(stops) / len(part.stops),
            )
            jobs.append(
                _Job(
                    sub,
                    seed + 1_009 * (turn + 1) + g,
                    until - time.monotonic(),
                    until,
                    params,
                    initial=tuple(rounds),
                    simple=simple
                    and best.required
                    and all(len(r.trips) == 1 for r in rounds),
                    required=best.required,
                )
            )
        improved = _run_jobs(jobs, pool)
        objective = sum(r.objective for r in improved)
        if objective <= best.objective:
            best = _PartResult(
                tuple(r for res in improved for r in res.rounds),
                best.unplanned + tuple(u for res in improved for u in res.unplanned),
                objective,
                all(res.required for res in improved),
            )
    return best


def _round_groups(
    rounds: Sequence[Round], stop_of: dict[str, Stop], n: int, offset: float
) -> list[list[Round]]:
    """Rounds split into ``n`` groups of about equal stops by the angle of their
    centre around the centre of all, starting ``offset`` of a turn round."""
    centres = []
    for rnd in rounds:
        visits = [stop_of[v.stop_id] for v in rnd.visits]
        if visits:
            lat = sum(s.lat for s in visits) / len(visits)
            lon = sum(s.lon for s in visits) / len(visits)
            centres.append((rnd, lat, lon, len(visits)))
    if len(centres) < n:
        return []
    mid_lat = sum(c[1] for c in centres) / len(centres)
    mid_lon = sum(c[2] for c in centres) / len(centres)

    def angle(c: tuple[Round, float, float, int]) -> float:
        a = math.atan2(c[1] - mid_lat, c[2] - mid_lon) / (2 * math.pi) - offset
        return a % 1.0

    centres.sort(key=angle)
    total = sum(c[3] for c in centres)
    groups: list[list[Round]] = [[] for _ in range(n)]
    seen = 0
    for c in centres:
        # By the middle of the round, so no group is left empty by a big round.
        groups[min(n - 1, int(n * (seen + c[3] / 2) / total))].append(c[0])
        seen += c[3]
    return [g for g in groups if g]


# Share of a decomposed day's budget kept for the last pass (fill.py).
_FILL_SHARE = 0.05
_FILL_MAX_S = 4.0
# Share of a decomposed day's solving time kept for re-routing the bikes that
# pass nearest the stops still left out, and how many bikes join each.
_REROUTE_SHARE = 0.15
_REROUTE_TURNS = 3
_REROUTE_BIKES = 3
_REROUTE_MAX_BIKES = 8


def _reroute(
    parts: list[_Part],
    results: list[_PartResult],
    params: PlannerParams,
    seed: int,
    deadline: float,
    pool: ProcessPoolExecutor,
) -> list[_PartResult]:
    """Solve again, together, each group of stops left out for lack of capacity
    and the rounds passing nearest them, warm-started from those rounds.

    A left-out stop often lies a few hundred metres from a round that passes at
    the wrong hour; inserting it is not enough, but letting those bikes reorder
    their day can fit it in. A group's new rounds are kept only if they serve
    more stops than the old ones did.
    """
    stop_of = {s.id: s for part in parts for s in part.stops}
    owned = [(i, r) for i, res in enumerate(results) for r in res.rounds]
    waiting = [
        stop_of[u.stop_id]
        for res in results
        for u in res.unplanned
        if u.reason == NO_CAPACITY
    ]
    left = deadline - time.monotonic()
    if not waiting or not owned or left < _MIN_PARALLEL_SECONDS / 2:
        return results

    owner, lat, lon = [], [], []
    for k, (_, rnd) in enumerate(owned):
        for visit in rnd.visits:
            stop = stop_of[visit.stop_id]
            owner.append(k)
            lat.append(stop.lat)
            lon.append(stop.lon)
    owners, lats, lons = np.array(owner), np.array(lat), np.array(lon)

    groups: list[tuple[set[int], list[Stop]]] = []
    taken: dict[int, int] = {}  # round -> group
    for stop in waiting:
        away = haversine_m(stop.lat, stop.lon, lats, lons)
        near: list[int] = []
        for k in owners[np.argsort(away, kind="stable")]:
            if int(k) not in near:
                near.append(int(k))
            if len(near) == _REROUTE_BIKES:
                break
        joined = {taken[k] for k in near if k in taken}
        if joined:
            g = min(joined)
            rounds_of_g, stops_of_g = groups[g]
            stops_of_g.append(stop)
            for k in near:
                if k not in taken and len(rounds_of_g) < _REROUTE_MAX_BIKES:
                    rounds_of_g.add(k)
                    taken[k] = g
        else:
            groups.append((set(near), [stop]))
            for k in near:
                taken[k] = len(groups) - 1

    hub_of = {h.id: h for part in parts for h in part.hubs}
    bike_of = {b.id: b for part in parts for b in part.bikes}
    source = parts[0].source
    lanes = min(params.n_workers, len(groups))
    total = sum(len(rs) for rs, _ in groups)
    jobs = []
    for g, (members, extra) in enumerate(groups):
        rounds = tuple(owned[k][1] for k in sorted(members))
        bikes = tuple(bike_of[r.bike_id] for r in rounds)
        hubs = tuple(dict.fromkeys(hub_of[b.hub_id] for b in bikes))
        stops = tuple(stop_of[v.stop_id] for r in rounds for v in r.visits)
        part = _Part(hubs, bikes, stops + tuple(extra), source, 0, 0.0)
        seconds = left * lanes * len(members) / total
        jobs.append(_Job(part, seed + 104_729 + g, seconds, deadline, params, rounds))
    solved = _run_jobs(jobs, pool)

    replaced: set[int] = set()
    placed: set[str] = set()
    fresh = []
    for (members, _), new in zip(groups, solved, strict=True):
        served = {v.stop_id for k in members for v in owned[k][1].visits}
        now_served = {v.stop_id for r in new.rounds for v in r.visits}
        if len(now_served) > len(served):
            replaced |= members
            placed |= now_served
            # A stop these rounds served before and no longer do is left out
            # here; the others left out are still listed by their first part.
            dropped = tuple(u for u in new.unplanned if u.stop_id in served)
            fresh.append(_PartResult(new.rounds, dropped, new.objective))
    if not fresh:
        return results
    kept_rounds: dict[int, list[Round]] = {i: [] for i in range(len(results))}
    for k, (i, rnd) in enumerate(owned):
        if k not in replaced:
            kept_rounds[i].append(rnd)
    out = [
        _PartResult(
            tuple(kept_rounds[i]),
            tuple(u for u in res.unplanned if u.stop_id not in placed),
            res.objective,
        )
        for i, res in enumerate(results)
    ]
    return out + fresh


# Share of a decomposed day's budget for the first pass over all parts; the
# rest goes to repairing parts that left stops out.
_FIRST_WAVE = 0.6
_REPAIR_WAVES = 3


@dataclass(frozen=True, slots=True)
class _Job:
    part: _Part
    seed: int
    seconds: float
    deadline: float
    params: PlannerParams
    initial: tuple[Round, ...] = ()
    simple: bool = False  # search the plain model (see _plain_search)
    required: bool = False  # every stop required, from ``initial`` (see _plain_search)
    board: _engine.Board | None = None  # where the racing searches share their best
    posts: bool = False  # this search posts its best on ``board``; else it adopts


# The plain model is searched only when one trip per bike could carry this share
# of the fleet's capacity or less (it has no slack to leave stops out).
_PLAIN_LOAD_SHARE = 0.9
# Share of the time (or iterations) the plain model gets to find a first plan.
_PLAIN_TRIAL = 0.25


def _single_trips_may_do(part: _Part, params: PlannerParams) -> bool:
    kg = sum(s.expected_kg for s in part.stops)
    capacity = sum(b.capacity_kg for b in part.bikes)
    plain = params.balance_weight <= 0 and all(b.start_at is None for b in part.bikes)
    return plain and kg <= _PLAIN_LOAD_SHARE * capacity


def _run_jobs(jobs: list[_Job], pool: ProcessPoolExecutor) -> list[_PartResult]:
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].seconds)
    futures = {i: pool.submit(_solve_part, jobs[i]) for i in order}
    return [futures[i].result() for i in range(len(jobs))]


def _repair_pairs(
    parts: list[_Part], results: list[_PartResult], max_stops: int
) -> list[tuple[int, int]]:
    """Pair each part that left stops out with the least busy of its neighbours."""

    def missing(i: int) -> int:
        return sum(u.reason == NO_CAPACITY for u in results[i].unplanned)

    short = sorted((i for i in range(len(parts)) if missing(i)), key=missing)
    centre = np.array(
        [
            [np.mean([s.lat for s in p.stops]), np.mean([s.lon for s in p.stops])]
            if p.stops
            else [p.hubs[0].lat, p.hubs[0].lon]
            for p in parts
        ]
    )
    taken: set[int] = set()
    pairs = []
    for i in reversed(short):
        if i in taken:
            continue
        # The nearest parts, from any hub, that are free and not too big.
        away = haversine_m(centre[i, 0], centre[i, 1], centre[:, 0], centre[:, 1])
        size = len(parts[i].stops)
        near = [
            int(j)
            for j in np.argsort(away, kind="stable")
            if j != i and j not in taken and size + len(parts[j].stops) <= max_stops
        ][:3]
        if near:
            j = max(near, key=lambda n: _idle(parts[n], results[n]))
            taken |= {i, j}
            pairs.append((i, j))
    return pairs


def _idle(part: _Part, result: _PartResult) -> float:
    """Minutes of shift the part's bikes do not use."""
    busy = sum(r.duration_min for r in result.rounds)
    return sum(b.shift_min for b in part.bikes) - busy - 60 * len(result.unplanned)


def _merge_parts(a: _Part, b: _Part) -> _Part:
    hubs = a.hubs + tuple(h for h in b.hubs if h not in a.hubs)
    return _Part(
        hubs, a.bikes + b.bikes, a.stops + b.stops, a.source, a.seed, a.share + b.share
    )


def _points(hubs: Sequence[Hub], stops: Sequence[Stop]) -> list[LatLon]:
    return [(h.lat, h.lon) for h in hubs] + [(s.lat, s.lon) for s in stops]


def _depots(hubs: Sequence[Hub], bikes: Sequence[Bike]) -> tuple[Hub, ...]:
    """The hubs that have bikes, then one place per distinct start of a bike already out.

    PyVRP starts a route at a depot, so where a bike is now becomes a depot
    that only that bike leaves from; it unloads and ends at its hub.
    """
    homes = tuple(h for h in hubs if any(b.hub_id == h.id for b in bikes))
    starts = sorted({b.start_at for b in bikes if b.start_at is not None})
    return homes + tuple(Hub(_start_id(at), at[0], at[1]) for at in starts)


def _start_id(at: tuple[float, float]) -> str:
    return f"start@{at[0]!r},{at[1]!r}"


@dataclass(frozen=True, slots=True)
class _Fleet:
    """Bikes grouped into PyVRP vehicle types: identical bikes share a type."""

    bikes: tuple[tuple[Bike, ...], ...]
    speeds: tuple[float, ...]

    @classmethod
    def of(cls, bikes: Sequence[Bike]) -> _Fleet:
        groups: dict[tuple[object, ...], list[Bike]] = {}
        for bike in bikes:
            key = (
                bike.hub_id,
                bike.capacity_kg,
                bike.shift_start_min,
                bike.shift_end_min,
                bike.speed_kmh,
                bike.max_reloads,
                bike.start_at,
                bike.load_kg,
            )
            groups.setdefault(key, []).append(bike)
        speeds = tuple(sorted({bike.speed_kmh for bike in bikes}))
        return cls(tuple(tuple(g) for g in groups.values()), speeds)


def _solve_part(job: _Job) -> _PartResult:
    """Solve one part end to end; runs in a worker process for big days."""
    part, params = job.part, job.params
    deadline = min(time.monotonic() + job.seconds, job.deadline)
    if not part.bikes:
        unplanned = tuple(Unplanned(s.id, NO_CAPACITY) for s in part.stops)
        return _PartResult((), unplanned, math.inf)

    fleet = _Fleet.of(part.bikes)
    hubs = _depots(part.hubs, part.bikes)
    points = _points(hubs, part.stops)
    tables = {v: part.source.table(points, v) for v in fleet.speeds}
    hub_index = {h.id: i for i, h in enumerate(hubs)}

    reachable, reasons = _screen(part.stops, hubs, fleet, tables, hub_index)
    left_out = [
        Unplanned(s.id, reasons[i])
        for i, s in enumerate(part.stops)
        if not reachable[i]
    ]
    kept = [s for i, s in enumerate(part.stops) if reachable[i]]
    if not kept:
        return _PartResult((), tuple(left_out), 0.0)

    index = np.concatenate(
        [np.arange(len(hubs)), len(hubs) + np.flatnonzero(reachable)]
    ).astype(np.int64)
    grid = np.ix_(index, index)
    sub = {v: Table(t.distance_m[grid], t.duration_s[grid]) for v, t in tables.items()}
    data = _problem_data(kept, hubs, fleet, sub, hub_index, params)

    initial = _warm_start(data, job.initial, kept, fleet, hub_index)
    solution = None
    required = job.simple or job.required
    if required or (not job.initial and params.balance_weight <= 0):
        # A first search of a part tries every stop required (a smaller space than
        # optional stops with prizes); the plain model also has no reloads.
        solution = _plain_search(
            data,
            job.seed,
            deadline,
            params.max_iterations,
            reloads=not job.simple,
            initial=initial if job.required else None,
            shares=job,
        )
        required = solution is not None
    if solution is None:
        solution = _search(data, fleet, params, job.seed, deadline, initial, job)
        if not solution.is_feasible():
            solution = _feasible_part(data, solution, initial)
    rounds = _rounds(solution, kept, len(hubs), fleet, sub[fleet.speeds[0]].distance_m)
    served = {v.stop_id for r in rounds for v in r.visits}
    left_out += [Unplanned(s.id, NO_CAPACITY) for s in kept if s.id not in served]
    return _PartResult(
        tuple(rounds), tuple(left_out), _engine.objective(data, solution), required
    )


def _screen(
    stops: Sequence[Stop],
    hubs: Sequence[Hub],
    fleet: _Fleet,
    tables: dict[float, Table],
    hub_index: dict[str, int],
) -> tuple[NDArray[np.bool_], list[str]]:
    """Which stops some bike could serve on a trip of its own, and why not if none."""
    n_hubs = len(hubs)
    kg = np.array([s.expected_kg for s in stops])
    service = np.array([_service_s(s) for s in stops], dtype=np.int64)
    has_window = np.array([s.window is not None for s in stops])
    early = np.array([s.window[0] * 60 if s.window else 0 for s in stops], np.int64)
    late = np.array(
        [s.window[1] * 60 if s.window else _NO_LIMIT // 2 for s in stops], np.int64
    )

    fits = np.zeros(len(stops), dtype=bool)
    in_shift = np.zeros(len(stops), dtype=bool)
    reachable = np.zeros(len(stops), dtype=bool)
    for group in fleet.bikes:
        bike = group[0]
        h = hub_index[bike.hub_id]
        at = h if bike.start_at is None else hub_index[_start_id(bike.start_at)]
        dur = tables[bike.speed_kmh].duration_s
        # A bike already out rides straight on if the stop fits beside its
        # load, else it unloads at the hub first.
        out = np.where(
            kg + bike.load_kg <= bike.capacity_kg,
            dur[at, n_hubs:],
            dur[at, h] + dur[h, n_hubs:],
        )
        back = dur[n_hubs:, h]
        shift_start, shift_end = bike.shift_start_min * 60, bike.shift_end_min * 60
        start = np.maximum(shift_start + out, early)
        can_carry = kg <= bike.capacity_kg
        overlap = (early <= shift_end) & (late >= shift_start)
        on_time = (
            (out < UNREACHABLE)
            & (back < UNREACHABLE)
            & (start <= late)
            & (start + service + back <= shift_end)
        )
        fits |= can_carry
        in_shift |= can_carry & overlap
        reachable |= can_carry & on_time

    reasons = []
    for i in range(len(stops)):
        if not fits[i]:
            reasons.append(TOO_HEAVY)
        elif has_window[i] and in_shift[i]:
            reasons.append(WINDOW_UNREACHABLE)
        else:
            reasons.append(OUTSIDE_SHIFT)
    return reachable, reasons


def _prize(stop: Stop, params: PlannerParams) -> int:
    if stop.must_serve or stop.waiting_days >= params.must_serve_after_days:
        return params.must_serve_prize_m * COST_PER_METRE
    factor = (
        1.0
        + params.priority_weight * stop.priority
        + params.waiting_weight * stop.waiting_days
    )
    return round(params.base_prize_m * factor * COST_PER_METRE)


def _service_s(stop: Stop) -> int:
    """A stop's service time in whole seconds, rounded up: the model works in
    seconds, and a plan must never promise a bike back sooner than it can be."""
    return math.ceil(stop.service_min * 60 - 1e-9)


def _grams(kg: float) -> int:
    # Rounded up, so integer loads never understate the real weight.
    return math.ceil(kg * 1000 - 1e-9)


def _problem_data(
    stops: Sequence[Stop],
    hubs: Sequence[Hub],
    fleet: _Fleet,
    tables: dict[float, Table],
    hub_index: dict[str, int],
    params: PlannerParams,
) -> ProblemData:
    locations = [Location(x=h.lon, y=h.lat, name=h.id) for h in hubs]
    locations += [Location(x=s.lon, y=s.lat, name=s.id) for s in stops]
    depots = [Depot(location=i, name=h.id) for i, h in enumerate(hubs)]
    clients = [
        Client(
            location=len(hubs) + i,
            pickup=[_grams(s.expected_kg)],
            service_duration=_service_s(s),
            tw_early=s.window[0] * 60 if s.window else 0,
            tw_late=s.window[1] * 60 if s.window else _NO_LIMIT,
            prize=_prize(s, params),
            required=False,
            name=s.id,
        )
        for i, s in enumerate(stops)
    ]
    vehicle_types = [_vehicle_type(g, fleet, hub_index) for g in fleet.bikes]
    distance = tables[fleet.speeds[0]].distance_m
    # One routing profile per riding speed; distances are the same for all.
    distances: list[Any] = [distance for _ in fleet.speeds]
    durations: list[Any] = [tables[v].duration_s for v in fleet.speeds]
    return ProblemData(locations, clients, depots, vehicle_types, distances, durations)


def _vehicle_type(
    group: Sequence[Bike], fleet: _Fleet, hub_index: dict[str, int]
) -> VehicleType:
    bike = group[0]
    depot = hub_index[bike.hub_id]
    start = depot if bike.start_at is None else hub_index[_start_id(bike.start_at)]
    shift_start, shift_end = bike.shift_start_min * 60, bike.shift_end_min * 60
    return VehicleType(
        num_available=len(group),
        capacity=[_grams(bike.capacity_kg)],
        initial_load=[_grams(bike.load_kg)],
        start_depot=start,
        end_depot=depot,
        tw_early=shift_start,
        tw_late=shift_end,
        shift_duration=shift_end - shift_start,
        unit_distance_cost=COST_PER_METRE,
        profile=fleet.speeds.index(bike.speed_kmh),
        reload_depots=[depot],
        max_reloads=_UNLIMITED if bike.max_reloads is None else bike.max_reloads,
        name=bike.id,
    )


def _search(
    data: ProblemData,
    fleet: _Fleet,
    params: PlannerParams,
    seed: int,
    deadline: float,
    initial: Solution | None = None,
    shares: _Job | None = None,
) -> Solution:
    """Run PyVRP; with balancing, a second phase charges time over the average day.
    ``shares`` says how the search shares its best with a racing one, if at all."""
    weight = round(params.balance_weight)
    if weight <= 0:
        post_to, adopt_from = _sharing(shares)
        return _engine.run(
            data,
            seed=seed,
            deadline=deadline,
            max_iterations=params.max_iterations,
            initial=initial,
            post_to=post_to,
            adopt_from=adopt_from,
        )

    halfway = time.monotonic() + (deadline - time.monotonic()) / 2
    iterations = None if params.max_iterations is None else params.max_iterations // 2
    first = _engine.run(
        data, seed=seed, deadline=halfway, max_iterations=iterations, initial=initial
    )
    n_bikes = sum(len(g) for g in fleet.bikes)
    average = sum(r.duration() for r in first.routes()) // max(n_bikes, 1)
    vehicle_types = []
    for vt in data.vehicle_types():
        target = max(min(average, vt.shift_duration), 1)
        vehicle_types.append(
            vt.replace(
                shift_duration=target,
                max_overtime=vt.shift_duration - target,
                unit_overtime_cost=weight,
            )
        )
    balanced = data.replace(vehicle_types=vehicle_types)
    warm = _carried_over(balanced, first)
    second = _engine.run(
        balanced,
        seed=seed,
        deadline=deadline,
        max_iterations=iterations,
        initial=warm,
    )
    # The warm start is feasible, so the second phase never does worse.
    return second if second.is_feasible() else first


def _plain_search(
    data: ProblemData,
    seed: int,
    deadline: float,
    max_iterations: int | None,
    *,
    reloads: bool = False,
    initial: Solution | None = None,
    shares: _Job | None = None,
) -> Solution | None:
    """Search with every stop required, and one trip per bike unless ``reloads``;
    the answer as a solution of ``data``, or None when no plan is found in a trial
    share of the time (the rest is then the full model's).

    The full model's optional stops make a much larger space: on a 500-stop day
    needing reloads, 4 s of it left 1-5 stops out and rode 5-15% further than
    4 s of this one, which served them all.
    """
    plain = data.replace(
        clients=[
            Client(
                location=c.location,
                pickup=c.pickup,
                service_duration=c.service_duration,
                tw_early=c.tw_early,
                tw_late=c.tw_late,
                prize=0,
                required=True,
                name=c.name,
            )
            for c in data.clients()
        ],
        # Distance at its own scale: PyVRP sets its first penalties for load and
        # lateness from the matrices, so a scaled cost would make them too weak.
        vehicle_types=[
            vt.replace(
                max_reloads=vt.max_reloads if reloads else 0, unit_distance_cost=1
            )
            for vt in data.vehicle_types()
        ],
    )
    post_to, adopt_from = _sharing(shares)
    with warnings.catch_warnings():
        # PyVRP warns when it cannot find a feasible plan; here that is an
        # expected outcome of the trial, not a problem to report.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        found = _engine.run(
            plain,
            seed=seed,
            deadline=deadline,
            max_iterations=max_iterations,
            initial=None if initial is None else _carried_over(plain, initial),
            trial=_PLAIN_TRIAL if initial is None else None,
            post_to=post_to,
            adopt_from=adopt_from,
        )
    return _carried_over(data, found) if found.is_feasible() else None


def _sharing(job: _Job | None) -> tuple[_engine.Board | None, _engine.Board | None]:
    """How a search of ``job`` shares its best: the boards _engine.run posts to
    and adopts from."""
    if job is None or job.board is None:
        return None, None
    return (job.board, None) if job.posts else (None, job.board)


def _feasible_part(
    data: ProblemData, solution: Solution, initial: Solution | None
) -> Solution:
    """A feasible plan from a search that ended without one (a short search on
    a day whose must-serve prizes outweigh its first load penalties can): its
    feasible rounds, or the warm start's plan when that is worth more. The stops
    of the rounds dropped are left out for lack of capacity."""
    kept = Solution(
        data, _rebuilt(data, [r for r in solution.routes() if r.is_feasible()])
    )
    if initial is not None and _engine.objective(data, initial) < _engine.objective(
        data, kept
    ):
        return initial
    return kept


def _carried_over(data: ProblemData, solution: Solution) -> Solution:
    """The same routes as a solution of ``data`` (same clients, depots and vehicle
    types, other limits or costs)."""
    return Solution(data, _rebuilt(data, solution.routes()))


def _rebuilt(data: ProblemData, routes: Sequence[Route]) -> list[Route]:
    """Routes of another solution, visit for visit, as routes of ``data``."""
    return [
        Route(
            data,
            [Activity(a.type, a.idx) for a in route.schedule()[1:-1]],
            route.vehicle_type(),
        )
        for route in routes
    ]


def _warm_start(
    data: ProblemData,
    rounds: Sequence[Round],
    stops: Sequence[Stop],
    fleet: _Fleet,
    hub_index: dict[str, int],
) -> Solution | None:
    """Rebuild earlier rounds as a PyVRP solution of ``data`` (None if none)."""
    if not rounds:
        return None
    client = {s.id: i for i, s in enumerate(stops)}
    vehicle_type = {b.id: t for t, group in enumerate(fleet.bikes) for b in group}
    starts_out = {b.id for group in fleet.bikes for b in group if b.start_at}
    routes = []
    for rnd in rounds:
        depot = Activity(ActivityType.DEPOT, hub_index[rnd.hub_id])
        activities: list[Activity] = []
        unloads_first = rnd.bike_id in starts_out and rnd.start_at is None
        for t, trip in enumerate(rnd.trips):
            if t > 0 or unloads_first:
                activities.append(depot)  # unloads at the hub before this trip
            activities += [
                Activity(ActivityType.CLIENT, client[v.stop_id]) for v in trip.visits
            ]
        routes.append(Route(data, activities, vehicle_type[rnd.bike_id]))
    return Solution(data, routes)


def _rounds(
    solution: Solution,
    stops: Sequence[Stop],
    n_depots: int,
    fleet: _Fleet,
    distance: NDArray[np.int64],
) -> list[Round]:
    by_type: dict[int, list[Route]] = {}
    for route in solution.routes():
        by_type.setdefault(route.vehicle_type(), []).append(route)

    rounds = []
    for vt, routes in sorted(by_type.items()):
        # Bikes of one type are interchangeable: earliest round to the first bike.
        routes.sort(key=lambda r: (r.start_time(), r.schedule()[1].idx))
        for bike, route in zip(fleet.bikes[vt], routes, strict=False):
            rounds.append(_round(bike, route, stops, n_depots, distance))
    return rounds


def _round(
    bike: Bike,
    route: Route,
    stops: Sequence[Stop],
    n_hubs: int,
    distance: NDArray[np.int64],
) -> Round:
    schedule = route.schedule()
    trips: list[Trip] = []
    visits: list[Visit] = []
    # A bike already out carries its load until it first reaches the hub.
    load = bike.load_kg
    start_at = bike.start_at if not schedule[1].is_depot() else None
    metres = 0
    depart = schedule[0].end_time
    prev_location = schedule[0].idx
    for activity in schedule[1:]:
        location = activity.idx if activity.is_depot() else n_hubs + activity.idx
        metres += int(distance[prev_location, location])
        prev_location = location
        if activity.is_depot():
            if visits:
                trips.append(
                    Trip(
                        tuple(visits),
                        depart_min=depart / 60,
                        return_min=activity.start_time / 60,
                        load_kg=load,
                        distance_m=metres,
                    )
                )
            visits, load, metres = [], 0.0, 0
            depart = activity.end_time
            continue
        stop = stops[activity.idx]
        load += stop.expected_kg
        visits.append(
            Visit(
                stop.id,
                arrival_min=(activity.start_time - activity.wait_duration) / 60,
                start_min=activity.start_time / 60,
                load_kg_after=load,
            )
        )
    return Round(
        bike_id=bike.id,
        hub_id=bike.hub_id,
        trips=tuple(trips),
        start_min=route.start_time() / 60,
        end_min=route.end_time() / 60,
        distance_m=int(route.distance()),
        start_at=start_at,
    )

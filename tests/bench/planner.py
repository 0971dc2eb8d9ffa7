"""Route planner against plain PyVRP, VROOM and OR-Tools at equal wall-clock time."""

# Run from the repository root (VROOM and OR-Tools are bench-only: install them first
# with `.venv/bin/pip install pyvroom ortools`):
#   .venv/bin/python tests/bench/planner.py [--seconds 10] [--long 60]
#       [--instances NAME ...] [--solvers ours pyvrp vroom ortools] [--seed 0 | --seeds 1 2 3]
# Every solver's routes are re-evaluated by one evaluator under the file's convention
# (the one `routes_planner.vrplib.solve_file` uses); see tests/bench/README.md.

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import vrplib
from numpy.typing import NDArray
from pyvrp import Client, Depot, Location, ProblemData, VehicleType, solve

from routes_planner import GreatCircle, PlannerParams, Problem, plan
from routes_planner.build_info import pyvrp_build, wheel_copy
from routes_planner.synthetic import lagos_day
from routes_planner.vrplib import solve_file

SHARED = Path(__file__).resolve().parents[3] / "shared" / "vrp"
SOLVERS = ("ours", "pyvrp", "vroom", "ortools")
NO_LIMIT = int(np.iinfo(np.int64).max)
DIMACS_SCALE = 10  # Solomon/Homberger: distances truncated to one decimal
IntArray = NDArray[np.int64]
# A route: the index of its fleet in Bench.fleets, then its trips (node indices).
Routes = list[tuple[int, list[list[int]]]]


@dataclass(frozen=True, slots=True)
class Fleet:
    """Identical vehicles based at one depot node."""

    depot: int
    capacity: int
    count: int | None  # None: unlimited (CVRPLIB)
    tw_early: int = 0
    tw_late: int = NO_LIMIT
    bike_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bench:
    """One instance: nodes are the depots first, then the customers."""

    name: str
    group: str
    n_depots: int
    distance: IntArray
    duration: IntArray | None  # None: no time constraints
    demand: IntArray
    service: IntArray
    early: IntArray
    late: IntArray
    fleets: tuple[Fleet, ...]
    scale: int  # matrix units per unit of reported cost
    bks: float | None = None
    path: Path | None = None  # the file, for solve_file
    problem: Problem | None = None  # the Lagos day, for plan()

    @property
    def n_nodes(self) -> int:
        return int(self.distance.shape[0])

    @property
    def n_clients(self) -> int:
        return self.n_nodes - self.n_depots

    @property
    def clients(self) -> range:
        return range(self.n_depots, self.n_nodes)

    def vehicles(self) -> list[int]:
        """Fleet index of each vehicle, for solvers that need a finite fleet."""
        out = []
        for k, fleet in enumerate(self.fleets):
            out += [k] * (fleet.count if fleet.count is not None else self.open_fleet())
        return out

    def open_fleet(self) -> int:
        """Vehicles offered where the fleet is unlimited: bin-packing bound plus slack."""
        bound = math.ceil(int(self.demand.sum()) / self.fleets[0].capacity)
        return bound + max(3, math.ceil(0.2 * bound))


@dataclass(slots=True)
class Outcome:
    """One solver's run on one instance, as re-evaluated."""

    solver: str
    cost: float | None  # None: no solution returned
    seconds: float
    problems: list[str] = field(default_factory=list)
    note: str = ""
    load: float = 0.0

    @property
    def feasible(self) -> bool:
        return self.cost is not None and not self.problems


@dataclass(frozen=True, slots=True)
class Answer:
    """What a solver returned: routes (None: no solution) and its own cost."""

    routes: Routes | None
    reported: float | None = None
    note: str = ""
    seconds: float | None = None  # the run's own time, when it ran in a child


# --- the shared evaluator -------------------------------------------------------


def evaluate(bench: Bench, routes: Routes) -> tuple[float, list[str]]:
    """Cost of routes under the instance's convention, and what makes them infeasible.

    Vehicles leave their depot at the start of their window (waiting is allowed
    at a customer), serve each trip within capacity and must be back by the end
    of their window; every customer is to be served exactly once.
    """
    dist, dur = bench.distance, bench.duration
    seen = np.zeros(bench.n_nodes, dtype=np.int64)
    used: Counter[int] = Counter()
    issues: Counter[str] = Counter()
    total = 0
    for fleet_index, raw_trips in routes:
        trips = [trip for trip in raw_trips if trip]
        if not trips:
            continue
        fleet = bench.fleets[fleet_index]
        used[fleet_index] += 1
        clock, prev = fleet.tw_early, fleet.depot
        for trip in trips:
            load = 0
            for node in trip:
                if not bench.n_depots <= node < bench.n_nodes:
                    issues["unknown node"] += 1
                    continue
                seen[node] += 1
                load += int(bench.demand[node])
                total += int(dist[prev, node])
                if dur is not None:
                    clock = max(clock + int(dur[prev, node]), int(bench.early[node]))
                    if clock > bench.late[node]:
                        issues["late"] += 1
                    clock += int(bench.service[node])
                prev = node
            if load > fleet.capacity:
                issues["over capacity"] += 1
            total += int(dist[prev, fleet.depot])
            if dur is not None:
                clock += int(dur[prev, fleet.depot])
            prev = fleet.depot
        if dur is not None and clock > fleet.tw_late:
            issues["back after depot closes"] += 1
    for fleet_index, count in used.items():
        limit = bench.fleets[fleet_index].count
        if limit is not None and count > limit:
            issues[f"{count} routes > {limit} vehicles"] += 1
    visits = seen[bench.n_depots :]
    if (visits == 0).any():
        issues["not served"] += int((visits == 0).sum())
    if (visits > 1).any():
        issues["served twice"] += int((visits > 1).sum())
    problems = [f"{n} {what}" if n > 1 else what for what, n in issues.items()]
    return total / bench.scale, problems


# --- instances --------------------------------------------------------------------


def load_file(path: Path, group: str, bks: float | None) -> Bench:
    """Read a CVRPLIB/VRPLIB or Solomon file under the convention solve_file uses."""
    fmt = "solomon" if path.suffix.lower() == ".txt" else "vrplib"
    raw: dict[str, Any] = vrplib.read_instance(
        str(path), instance_format=fmt, compute_edge_weights=False
    )
    coords = np.asarray(raw["node_coord"], dtype=np.float64)
    depot = int(np.atleast_1d(raw.get("depot", [0]))[0])
    order = [depot, *(i for i in range(len(coords)) if i != depot)]
    coords = coords[order]
    euclid = np.hypot(
        coords[:, None, 0] - coords[None, :, 0], coords[:, None, 1] - coords[None, :, 1]
    )
    demand = np.asarray(raw["demand"], dtype=np.int64)[order]
    capacity = int(raw["capacity"])
    n = len(coords)
    if "time_window" not in raw:
        distance = np.floor(euclid + 0.5).astype(np.int64)
        zeros = np.zeros(n, dtype=np.int64)
        fleet = Fleet(0, capacity, None)
        return Bench(
            path.stem, group, 1, distance, None, demand, zeros, zeros,
            np.full(n, NO_LIMIT, np.int64), (fleet,), 1, bks, path,
        )  # fmt: skip
    distance = np.floor(euclid * DIMACS_SCALE).astype(np.int64)
    windows = np.rint(np.asarray(raw["time_window"], np.float64) * DIMACS_SCALE)
    early, late = windows[order, 0].astype(np.int64), windows[order, 1].astype(np.int64)
    per_node = np.broadcast_to(
        np.asarray(raw.get("service_time", 0), dtype=np.float64), (n,)
    )
    service = np.rint(per_node[order] * DIMACS_SCALE).astype(np.int64)
    service[0] = 0
    fleet = Fleet(0, capacity, int(raw["vehicles"]), int(early[0]), int(late[0]))
    return Bench(
        path.stem, group, 1, distance, distance, demand, service, early, late,
        (fleet,), DIMACS_SCALE, bks, path,
    )  # fmt: skip


def shared_instances() -> list[tuple[str, Callable[[Path], Bench]]]:
    """The shared files with their best known costs, smallest first."""
    found = []
    for path in SHARED.iterdir():
        if path.suffix not in {".vrp", ".txt"}:
            continue
        bks = float(vrplib.read_solution(str(path.with_suffix(".sol")))["cost"])
        found.append((path, bks))

    found.sort(key=lambda item: (item[0].stat().st_size, item[0].name))
    return [(path.stem, _file_loader(path, bks)) for path, bks in found]


def _file_loader(path: Path, bks: float) -> Callable[[Path], Bench]:
    def load(_tmp: Path) -> Bench:
        bench = load_file(path, "", bks)
        if bench.duration is None:
            group = "CVRPLIB X" if path.name.startswith("X-") else "CVRP"
        else:  # Solomon's sets have 100 customers, Gehring & Homberger's 200+
            group = "Solomon" if bench.n_clients <= 100 else "Homberger"
        return dataclasses.replace(bench, group=group)

    return load


def write_cvrp(
    path: Path, name: str, coords: IntArray, demand: IntArray, capacity: int
) -> None:
    """A CVRPLIB-style file; node 1 is the depot."""
    lines = [
        f"NAME : {name}",
        "COMMENT : generated by tests/bench/planner.py",
        "TYPE : CVRP",
        f"DIMENSION : {len(coords)}",
        "EDGE_WEIGHT_TYPE : EUC_2D",
        f"CAPACITY : {capacity}",
        "NODE_COORD_SECTION",
        *(f"{i + 1}\t{x}\t{y}" for i, (x, y) in enumerate(coords)),
        "DEMAND_SECTION",
        *(f"{i + 1}\t{d}" for i, d in enumerate(demand)),
        "DEPOT_SECTION",
        "\t1",
        "\t-1",
        "EOF",
    ]
    path.write_text("\n".join(lines) + "\n")


def generated_cvrp(
    n: int, shape: str, depot: str, per_route: int, big_demand: bool, seed: int
) -> Callable[[Path], Bench]:
    """A seeded CVRP in the X style: random or clustered customers on a 1000 grid."""
    name = f"gen-{shape}-{n}"

    def make(tmp: Path) -> Bench:
        rng = np.random.default_rng(seed)
        points: IntArray = rng.integers(0, 1001, size=(n, 2))
        if shape == "C":  # clustered around a few seeds, a tenth scattered
            seeds = rng.integers(100, 901, size=(rng.integers(4, 9), 2))
            spread = seeds[rng.integers(0, len(seeds), n)] + rng.normal(0, 45, (n, 2))
            scattered = rng.random(n) < 0.1
            spread[scattered] = points[scattered]
            points = np.clip(np.rint(spread), 0, 1000).astype(np.int64)
        home = {"centre": [500, 500], "corner": [0, 0]}.get(depot)
        home_xy = np.array(home if home else rng.integers(0, 1001, 2))
        demand = rng.integers(1, 101 if big_demand else 11, size=n)
        capacity = math.ceil(per_route * float(demand.mean()))
        coords = np.vstack([home_xy, points]).astype(np.int64)
        path = tmp / f"{name}.vrp"
        write_cvrp(path, name, coords, np.concatenate([[0], demand]), capacity)
        return load_file(path, "generated CVRP", None)

    return make


def generated_tw(n: int, vehicles: int, seed: int) -> Callable[[Path], Bench]:
    """A Solomon-like RC instance (half clustered), written in Solomon's text format."""
    name = f"gen-RC-TW-{n}"

    def make(tmp: Path) -> Bench:
        rng = np.random.default_rng(seed)
        horizon, service, capacity = 480, 10, 200
        seeds = rng.integers(10, 91, size=(8, 2))
        clustered = seeds[rng.integers(0, 8, n)] + rng.normal(0, 4, (n, 2))
        points = np.where(
            (rng.random(n) < 0.5)[:, None], clustered, rng.integers(0, 101, (n, 2))
        )
        points = np.clip(np.rint(points), 0, 100).astype(np.int64)
        depot = np.array([50, 50])
        away = np.hypot(*(points - depot).T)
        demand = rng.integers(5, 41, size=n)
        # A window around a time at which the customer can be served and left
        # in time to get back; half-widths as in Solomon's type-1 sets.
        latest = np.floor(horizon - service - away - 1).astype(np.int64)
        earliest = np.ceil(away + 1).astype(np.int64)
        centre = rng.integers(earliest, latest + 1)
        half = rng.integers(10, 61, size=n)
        ready = np.maximum(centre - half, 0)
        due = np.minimum(centre + half, latest)
        rows = [f"{0:5d}{50:10d}{50:10d}{0:10d}{0:10d}{horizon:10d}{0:10d}"]
        rows += [
            f"{i + 1:5d}{points[i, 0]:10d}{points[i, 1]:10d}{demand[i]:10d}"
            f"{ready[i]:10d}{due[i]:10d}{service:10d}"
            for i in range(n)
        ]
        text = [
            name, "", "VEHICLE", "NUMBER     CAPACITY", f"{vehicles:5d}{capacity:12d}",
            "", "CUSTOMER",
            "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME",
            "", *rows,
        ]  # fmt: skip
        path = tmp / f"{name}.txt"
        path.write_text("\n".join(text) + "\n")
        return load_file(path, "generated TW", None)

    return make


def lagos(n: int, hubs: int, bikes: int, seed: int) -> Callable[[Path], Bench]:
    """A generated Lagos day as a multi-depot CVRP with windows and shifts."""

    def make(_tmp: Path) -> Bench:
        problem = lagos_day(n, hubs, bikes, seed=seed)
        speeds = {bike.speed_kmh for bike in problem.bikes}
        assert len(speeds) == 1, "one riding speed expected"
        points = [(h.lat, h.lon) for h in problem.hubs]
        points += [(s.lat, s.lon) for s in problem.stops]
        table = GreatCircle().table(points, speeds.pop())
        n_hubs = len(problem.hubs)
        grams = [0] * n_hubs + [
            math.ceil(s.expected_kg * 1000 - 1e-9) for s in problem.stops
        ]
        service = [0] * n_hubs + [round(s.service_min * 60) for s in problem.stops]
        early = [0] * n_hubs + [
            s.window[0] * 60 if s.window else 0 for s in problem.stops
        ]
        late = [NO_LIMIT] * n_hubs + [
            s.window[1] * 60 if s.window else NO_LIMIT for s in problem.stops
        ]
        hub_index = {h.id: k for k, h in enumerate(problem.hubs)}
        groups: dict[tuple[Any, ...], list[str]] = {}
        for bike in problem.bikes:
            key = (
                hub_index[bike.hub_id],
                math.floor(bike.capacity_kg * 1000 + 1e-9),
                bike.shift_start_min * 60,
                bike.shift_end_min * 60,
            )
            groups.setdefault(key, []).append(bike.id)
        fleets = tuple(
            Fleet(depot, cap, len(ids), start, end, tuple(ids))
            for (depot, cap, start, end), ids in groups.items()
        )
        return Bench(
            f"lagos-{n}", "Lagos day", n_hubs, table.distance_m, table.duration_s,
            np.asarray(grams, np.int64), np.asarray(service, np.int64),
            np.asarray(early, np.int64), np.asarray(late, np.int64), fleets, 1000,
            problem=problem,
        )  # fmt: skip

    return make


def all_instances() -> list[tuple[str, Callable[[Path], Bench]]]:
    """Shared files, then generated CVRP, a generated TW instance and Lagos days."""
    out = shared_instances()
    out += [
        ("gen-R-200", generated_cvrp(200, "R", "centre", 12, True, seed=11)),
        ("gen-C-200", generated_cvrp(200, "C", "random", 20, False, seed=12)),
        ("gen-R-500", generated_cvrp(500, "R", "corner", 8, False, seed=13)),
        ("gen-C-500", generated_cvrp(500, "C", "centre", 25, True, seed=14)),
        ("gen-RC-TW-200", generated_tw(200, vehicles=50, seed=15)),
        ("lagos-400", lagos(400, hubs=3, bikes=20, seed=16)),
        ("lagos-1000", lagos(1000, hubs=5, bikes=45, seed=17)),
    ]
    return out


# --- solvers --------------------------------------------------------------------


def run_ours(bench: Bench, seconds: float, seed: int) -> Answer:
    """solve_file on the file, or plan() on the Lagos day (both use both cores)."""
    if bench.problem is not None:
        result = plan(bench.problem, PlannerParams(), seed=seed, time_limit_s=seconds)
        node = {s.id: bench.n_depots + i for i, s in enumerate(bench.problem.stops)}
        fleet_of = {b: k for k, f in enumerate(bench.fleets) for b in f.bike_ids}
        routes = [
            (
                fleet_of[r.bike_id],
                [[node[v.stop_id] for v in t.visits] for t in r.trips],
            )
            for r in result.rounds
        ]
        trips = sum(len(r.trips) for r in result.rounds)
        note = f"{len(result.rounds)} bikes"
        note += f", {trips} trips" if trips > len(result.rounds) else ""
        if result.unplanned:
            note += f"; left out {len(result.unplanned)}"
        return Answer(routes, result.distance_m / bench.scale, note)
    assert bench.path is not None
    solved = solve_file(bench.path, seconds, seed=seed)
    routes = [(0, [list(route)]) for route in solved.routes]
    return Answer(routes, solved.cost, "" if solved.feasible else "says infeasible")


def pyvrp_data(bench: Bench) -> ProblemData:
    """The instance as PyVRP data, built here (not by routes_planner)."""
    timed = bench.duration is not None
    locations = [Location(x=0.0, y=0.0) for _ in range(bench.n_nodes)]
    depots = [Depot(location=d) for d in range(bench.n_depots)]
    clients = [
        Client(
            location=node,
            delivery=[int(bench.demand[node])],
            service_duration=int(bench.service[node]),
            tw_early=int(bench.early[node]),
            tw_late=int(bench.late[node]),
        )
        for node in bench.clients
    ]
    vehicle_types = [
        VehicleType(
            num_available=fleet.count if fleet.count is not None else bench.n_clients,
            capacity=[fleet.capacity],
            start_depot=fleet.depot,
            end_depot=fleet.depot,
            tw_early=fleet.tw_early,
            tw_late=fleet.tw_late,
        )
        for fleet in bench.fleets
    ]
    duration = bench.duration if timed else np.zeros_like(bench.distance)
    matrices: tuple[list[Any], list[Any]] = ([bench.distance], [duration])
    return ProblemData(locations, clients, depots, vehicle_types, *matrices)


class WallClock:
    """PyVRP stopping criterion: stop at a ``time.perf_counter()`` deadline.

    ``MaxRuntime`` starts counting after PyVRP's set-up (neighbours, first
    solution), so a run given what is left of a 10 s budget took 10.1-10.6 s;
    this stops it when the budget is up, as ours stops.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, best_cost: float) -> bool:
        return time.perf_counter() >= self.deadline


def run_pyvrp(bench: Bench, seconds: float, seed: int) -> Answer:
    """Plain PyVRP as installed from PyPI.

    When this process runs PyVRP built for this machine (deploy/native_pyvrp.py,
    which ours uses), plain PyVRP runs in a child process on the wheel's
    package that the build set aside, so the comparison stays with PyVRP as a
    user installs it; the child's own clock times it, as here.
    """
    if wheel_copy() is None:
        return run_pyvrp_here(bench, seconds, seed)
    answer: Answer = run_on_wheel(__file__, (bench, seconds, seed))
    return answer


def _plain_child() -> int:
    """Child side of run_pyvrp."""
    bench, seconds, seed = wheel_child_input()
    started = time.perf_counter()
    answer = run_pyvrp_here(bench, seconds, seed)
    wheel_child_output(
        dataclasses.replace(answer, seconds=time.perf_counter() - started)
    )
    return 0


def run_on_wheel(script: str, payload: object) -> Any:
    """Run ``script --plain-child`` on the wheel's PyVRP package, set aside by
    the build for this machine (on this venv's PyVRP when there is none):
    ``payload`` pickled to the child, its answer pickled back (see
    :func:`wheel_child_input` and :func:`wheel_child_output`)."""
    wheel = wheel_copy()
    env = {**os.environ, **({"PYTHONPATH": str(wheel)} if wheel else {})}
    done = subprocess.run(
        [sys.executable, script, "--plain-child"],
        input=pickle.dumps(payload),
        capture_output=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"plain PyVRP child failed: {' / '.join(tail)}")
    return pickle.loads(done.stdout)


def wheel_child_input() -> Any:
    """In a child of :func:`run_on_wheel`: the payload, once it is sure this
    process runs the wheel (not the build the parent runs)."""
    if pyvrp_build().native:
        raise SystemExit("the child runs the native build, not the wheel")
    return pickle.loads(sys.stdin.buffer.read())


def wheel_child_output(answer: object) -> None:
    """In a child of :func:`run_on_wheel`: hand ``answer`` back to the parent."""
    sys.stdout.buffer.write(pickle.dumps(answer))


def run_pyvrp_here(bench: Bench, seconds: float, seed: int) -> Answer:
    """One single-thread PyVRP run in this process that stops when the budget is up.

    ``pyvrp.solve`` on the data is what ``Model.solve`` runs; calling it directly
    skips the model's rebuilding of the data (about 1.7 s at 1,000 customers).
    """
    started = time.perf_counter()
    data = pyvrp_data(bench)
    stop = WallClock(started + seconds)
    result = solve(data, stop, seed=seed, collect_stats=False, display=False)
    routes: Routes = []
    for route in result.best.routes():
        trips: list[list[int]] = [[]]
        for activity in route.schedule()[1:-1]:
            if activity.is_depot():
                trips.append([])
            else:
                trips[-1].append(bench.n_depots + activity.idx)
        routes.append((route.vehicle_type(), trips))
    best = result.best
    note = "" if best.is_feasible() else "says infeasible"
    return Answer(routes, best.distance() / bench.scale, note)


def run_vroom(bench: Bench, seconds: float, seed: int) -> Answer:
    """pyvroom, exploration level 5, one thread; costs = distances."""
    import vroom

    started = time.perf_counter()
    timed = bench.duration is not None
    problem = vroom.Input()
    duration = bench.duration if timed else bench.distance
    problem.set_durations_matrix("car", duration)
    problem.set_costs_matrix("car", bench.distance)
    horizon = int(np.iinfo(np.uint32).max)
    vehicles = bench.vehicles()
    for vid, k in enumerate(vehicles):
        fleet = bench.fleets[k]
        window = vroom.TimeWindow(fleet.tw_early, min(fleet.tw_late, horizon))
        problem.add_vehicle(
            vroom.Vehicle(
                vid,
                start=fleet.depot,
                end=fleet.depot,
                capacity=[fleet.capacity],
                time_window=window if timed else None,
            )
        )
    for node in bench.clients:
        late = int(bench.late[node])
        windows = (
            [vroom.TimeWindow(int(bench.early[node]), late)]
            if timed and late < horizon
            else []
        )
        problem.add_job(
            vroom.Job(
                node,
                location=node,
                default_service=int(bench.service[node]),
                delivery=[int(bench.demand[node])],
                time_windows=windows,
            )
        )
    left = max(seconds - (time.perf_counter() - started), 0.1)
    solution = problem.solve(
        exploration_level=5, nb_threads=1, timeout=timedelta(seconds=left)
    )
    frame = solution.routes
    jobs = frame[frame["type"] == "job"]
    routes: Routes = [
        (vehicles[int(vid)], [[int(j) for j in group["id"]]])
        for vid, group in jobs.groupby("vehicle_id", sort=True)
    ]
    unassigned = bench.n_clients - len(jobs)
    note = f"{unassigned} unassigned" if unassigned else ""
    return Answer(routes, solution.summary.cost / bench.scale, note)


def run_ortools(bench: Bench, seconds: float, seed: int) -> Answer:
    """OR-Tools routing: PATH_CHEAPEST_ARC, then guided local search to the limit."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    started = time.perf_counter()
    vehicles = bench.vehicles()
    depots = [bench.fleets[k].depot for k in vehicles]
    manager = pywrapcp.RoutingIndexManager(bench.n_nodes, len(vehicles), depots, depots)
    routing = pywrapcp.RoutingModel(manager)
    arc = routing.RegisterTransitMatrix(bench.distance.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    demand = routing.RegisterUnaryTransitVector(bench.demand.tolist())
    capacities = [bench.fleets[k].capacity for k in vehicles]
    routing.AddDimensionWithVehicleCapacity(demand, 0, capacities, True, "Capacity")
    if bench.duration is not None:
        horizon = max(fleet.tw_late for fleet in bench.fleets)  # finite when timed
        travel = bench.duration + bench.service[:, None]  # service at the from-node
        time_cb = routing.RegisterTransitMatrix(travel.tolist())
        routing.AddDimension(time_cb, horizon, horizon, False, "Time")
        clock = routing.GetDimensionOrDie("Time")
        for node in bench.clients:
            index = manager.NodeToIndex(node)
            late = min(int(bench.late[node]), horizon)
            clock.CumulVar(index).SetRange(int(bench.early[node]), late)
        for v, k in enumerate(vehicles):
            fleet = bench.fleets[k]
            for index in (routing.Start(v), routing.End(v)):
                clock.CumulVar(index).SetRange(
                    fleet.tw_early, min(fleet.tw_late, horizon)
                )
            routing.AddVariableMinimizedByFinalizer(clock.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(clock.CumulVar(routing.End(v)))
    params = pywrapcp.DefaultRoutingSearchParameters()
    strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.first_solution_strategy = strategy
    search = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.local_search_metaheuristic = search
    left = max(seconds - (time.perf_counter() - started), 0.1)
    params.time_limit.FromMilliseconds(int(left * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        status = routing_enums_pb2.RoutingSearchStatus.Value.Name(routing.status())
        return Answer(None, None, status)
    routes: Routes = []
    for v, k in enumerate(vehicles):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        trip = []
        while not routing.IsEnd(index):
            trip.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        if trip:
            routes.append((k, [trip]))
    return Answer(routes, solution.ObjectiveValue() / bench.scale)


RUNNERS: dict[str, Callable[[Bench, float, int], Answer]] = {
    "ours": run_ours,
    "pyvrp": run_pyvrp,
    "vroom": run_vroom,
    "ortools": run_ortools,
}


# --- machine load -----------------------------------------------------------------


def _busy_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def busy_cores(sample_s: float = 2.0) -> float:
    """Cores kept busy by the whole machine over a short sample (we are idle then)."""
    busy0, total0 = _busy_jiffies()
    time.sleep(sample_s)
    busy1, total1 = _busy_jiffies()
    return (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1)


@dataclass(slots=True)
class LoadGuard:
    """Waits for a quiet machine before each instance, within one wait budget."""

    max_load: float
    max_busy: float
    budget_s: float
    log: list[str] = field(default_factory=list)

    def wait(self, label: str) -> float:
        waited = 0.0
        while True:
            load1 = os.getloadavg()[0]
            busy = busy_cores()
            quiet = load1 <= self.max_load and busy <= self.max_busy
            if quiet or self.budget_s <= 0:
                state = "ok" if quiet else "BUSY, wait budget spent"
                self.log.append(
                    f"{label}: load {load1:.2f}, busy {busy:.2f} cores, "
                    f"waited {waited:.0f} s ({state})"
                )
                print(f"# {self.log[-1]}", flush=True)
                return load1
            pause = min(15.0, self.budget_s)
            print(
                f"# {label}: load {load1:.2f}, busy {busy:.2f} cores: waiting",
                flush=True,
            )
            time.sleep(pause)
            self.budget_s -= pause + 2.0
            waited += pause + 2.0


# --- report ----------------------------------------------------------------------


def _gap(cost: float | None, ref: float | None) -> float | None:
    if cost is None or ref is None or ref <= 0:
        return None
    return 100 * (cost - ref) / ref


def _fmt(value: float | None, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


@dataclass(slots=True)
class Row:
    bench: Bench
    outcomes: list[Outcome]

    @property
    def reference(self) -> tuple[float | None, str]:
        if self.bench.bks is not None:
            return self.bench.bks, "BKS"
        costs = [o.cost for o in self.outcomes if o.feasible and o.cost is not None]
        return (min(costs), "best found") if costs else (None, "none")

    def gap(self, solver: str) -> float | None:
        ref, _ = self.reference
        for o in self.outcomes:
            if o.solver == solver and o.feasible:
                return _gap(o.cost, ref)
        return None


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'instance':<14}{'n':>6} {'solver':<8}{'cost':>12}{'gap':>9} {'ref':<11}"
        f"{'secs':>6}{'load':>6}  feasible"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ref, kind = row.reference
        for o in row.outcomes:
            gap = _gap(o.cost, ref) if o.feasible else None
            feasible = (
                "no solution"
                if o.cost is None
                else "yes"
                if not o.problems
                else "NO: " + ", ".join(o.problems)
            )
            note = f"  [{o.note}]" if o.note else ""
            cost = _fmt(o.cost, "12.1f", " " * 11 + "-")
            gap_text = _fmt(gap, "8.2f", " " * 7 + "-") + (
                "%" if gap is not None else " "
            )
            ref_text = kind if ref is None else f"{kind[:4]} {ref:g}"
            print(
                f"{row.bench.name:<14}{row.bench.n_clients:>6} {o.solver:<8}{cost}"
                f"{gap_text} {ref_text:<11}{o.seconds:>6.1f}{o.load:>6.2f}  "
                f"{feasible}{note}"
            )
        print()


def print_summary(
    rows: list[Row], solvers: Sequence[str], seconds: float, judge_plain: bool = True
) -> bool:
    groups = [
        "CVRPLIB X", "Solomon", "Homberger", "generated CVRP", "generated TW", "Lagos day",
    ]  # fmt: skip
    print(
        f"average gap per group ({seconds:g} s; generated: gap to best of the solvers)"
    )
    print(f"{'group':<16}{'#':>3}" + "".join(f"{s:>16}" for s in solvers))
    for group in groups:
        members = [r for r in rows if r.bench.group == group]
        if not members:
            continue
        cells = []
        for solver in solvers:
            gaps = [r.gap(solver) for r in members]
            solved = [g for g in gaps if g is not None]
            if len(solved) == len(gaps):
                cells.append(f"{statistics.fmean(solved):>15.2f}%")
            else:
                part = f"{statistics.fmean(solved):.2f}%" if solved else "-"
                cells.append(f"{part + f' ({len(gaps) - len(solved)} x)':>16}")
        print(f"{group:<16}{len(members):>3}" + "".join(cells))
    print("(N x): N instances without a feasible solution, left out of that average")
    print()
    return print_targets(rows, seconds, judge_plain)


def print_targets(rows: list[Row], seconds: float, judge_plain: bool = True) -> bool:
    """Print the targets of issue 4 for one run; True when all are met. With
    ``judge_plain`` False the run against plain PyVRP is printed but judged
    elsewhere (over several seeds)."""
    long = seconds >= 60
    targets: list[tuple[str, str, float]] = (
        [("CVRPLIB X", "CVRPLIB X 100-1,000 average gap", 0.8),
         ("Homberger", "Homberger 1,000-customer TW average gap", 2.5)]
        if long
        else [("CVRPLIB X", "CVRPLIB X 100-1,000 average gap", 1.2),
              ("Solomon", "Solomon-type TW average gap", 0.5)]
    )  # fmt: skip
    print(f"targets at {'60' if long else '10'} s (issue 4); this run: {seconds:g} s")
    all_met = True
    for group, label, limit in targets:
        chosen = [
            r
            for r in rows
            if r.bench.group == group
            and (group != "Homberger" or r.bench.n_clients >= 1000)
        ]
        members = [r.bench.name for r in chosen]
        gaps = [r.gap("ours") for r in chosen]
        solved = [g for g in gaps if g is not None]
        value = (
            statistics.fmean(solved) if solved and len(solved) == len(gaps) else None
        )
        if not members:
            print(f"  {label} <= {limit}%: not measured")
            continue
        met = value is not None and value <= limit
        all_met &= met
        print(
            f"  {label} <= {limit}% ({', '.join(members)}): ours "
            f"{_fmt(value, '.2f', 'n/a')}% -> {'met' if met else 'NOT met'}"
        )
    worse = []
    compared = 0
    for row in rows:
        behind = _behind(row)
        if behind is None:
            continue
        compared += 1
        if behind:
            worse.append(f"{row.bench.name} ({behind})")
    if compared:
        met = not worse
        if judge_plain:
            all_met &= met
        print(
            f"  never worse than plain PyVRP ({compared} instances): "
            f"{'met' if met else 'NOT met: ' + ', '.join(worse)}"
            f"{'' if judge_plain else ' (this seed; judged over the seeds below)'}"
        )
    return all_met


def _behind(row: Row) -> str | None:
    """How ours is behind plain PyVRP on ``row`` ("" when even or ahead; None
    when the two were not both run)."""
    by = {o.solver: o for o in row.outcomes}
    if "ours" not in by or "pyvrp" not in by:
        return None
    ours, plain = by["ours"], by["pyvrp"]
    if not ours.feasible and plain.feasible:
        return "ours infeasible"
    if ours.feasible and plain.feasible and ours.cost > plain.cost + 1e-9:  # type: ignore[operator]
        return f"+{_gap(ours.cost, plain.cost):.2f}%"
    return ""


def print_over_seeds(runs: dict[int, list[Row]]) -> bool:
    """Ours against plain PyVRP on each instance over several seeds: every run,
    and the mean cost. A single run is one draw of a noisy machine (plain
    PyVRP's own result for one seed moves from run to run), so the target is
    judged on each instance's mean over the seeds; the runs behind are listed."""
    seeds = list(runs)
    print(f"ours against plain PyVRP over seeds {', '.join(map(str, seeds))}")
    print(
        f"{'instance':<14}{'ours, mean':>13}{'plain, mean':>13}{'diff':>8}  runs behind"
    )
    worse, behind_runs, compared = [], 0, 0
    for i, first in enumerate(runs[seeds[0]]):
        name = first.bench.name
        rows = {seed: runs[seed][i] for seed in seeds}
        verdicts = {seed: _behind(row) for seed, row in rows.items()}
        if any(v is None for v in verdicts.values()):
            continue
        compared += len(seeds)
        behind = [f"seed {seed} {v}" for seed, v in verdicts.items() if v]
        behind_runs += len(behind)
        costs: dict[str, list[float]] = {"ours": [], "pyvrp": []}
        for row in rows.values():
            by = {o.solver: o for o in row.outcomes}
            if by["ours"].feasible and by["pyvrp"].feasible:
                costs["ours"].append(by["ours"].cost or 0.0)
                costs["pyvrp"].append(by["pyvrp"].cost or 0.0)
        if any(v == "ours infeasible" for v in verdicts.values()) or not costs["ours"]:
            worse.append(f"{name} (ours infeasible)")
            continue
        ours, plain = statistics.fmean(costs["ours"]), statistics.fmean(costs["pyvrp"])
        diff = _gap(ours, plain) or 0.0
        if ours > plain + 1e-9:
            worse.append(f"{name} (+{diff:.2f}%)")
        print(
            f"{name:<14}{ours:>13.1f}{plain:>13.1f}{diff:>7.2f}%  "
            f"{', '.join(behind) if behind else '-'}"
        )
    met = not worse
    print(
        f"  never worse than plain PyVRP, each instance's mean over {len(seeds)} seeds: "
        f"{'met' if met else 'NOT met: ' + ', '.join(worse)}"
    )
    print(f"  single runs behind plain PyVRP: {behind_runs} of {compared}")
    return met


# --- main ------------------------------------------------------------------------


def run_instance(
    bench: Bench, solvers: Sequence[str], seconds: float, seed: int
) -> list[Outcome]:
    outcomes = []
    for solver in solvers:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        try:
            answer = RUNNERS[solver](bench, seconds, seed)
        except Exception as exc:  # a solver crash is a result too
            answer = Answer(None, None, f"error: {type(exc).__name__}: {exc}")
        used = time.perf_counter() - started
        used = answer.seconds if answer.seconds is not None else used
        if answer.routes is None:
            outcomes.append(Outcome(solver, None, used, [], answer.note, load))
            continue
        cost, problems = evaluate(bench, answer.routes)
        note = answer.note
        own = answer.reported
        if own is not None and abs(own - cost) > 1e-6 * max(1.0, cost):
            note = f"{note}; " if note else ""
            note += f"own cost {own:g} != evaluated {cost:g}!"
        outcomes.append(Outcome(solver, cost, used, problems, note, load))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="budget per run")
    parser.add_argument(
        "--long", type=float, metavar="SECONDS",
        help="budget for the long targets (e.g. 60); overrides --seconds",
    )  # fmt: skip
    parser.add_argument(
        "--instances", nargs="+", metavar="NAME",
        help="only instances whose name contains one of these (case-insensitive)",
    )  # fmt: skip
    parser.add_argument("--solvers", nargs="+", choices=SOLVERS, default=list(SOLVERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds", type=int, nargs="+", metavar="SEED",
        help="run the whole bench with each seed; 'never worse than plain PyVRP' "
        "is then judged on each instance's mean over the seeds",
    )  # fmt: skip
    parser.add_argument("--max-load", type=float, default=1.5)
    parser.add_argument("--max-busy", type=float, default=0.5, help="cores")
    parser.add_argument(
        "--max-wait", type=float, default=600.0,
        help="seconds of waiting for a quiet machine, over the whole run",
    )  # fmt: skip
    parser.add_argument("--plain-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain_child:
        return _plain_child()
    seconds = args.long if args.long is not None else args.seconds

    chosen = [
        (name, make)
        for name, make in all_instances()
        if not args.instances or any(p.lower() in name.lower() for p in args.instances)
    ]
    if not chosen:
        print("no instance matches", file=sys.stderr)
        return 2
    versions = _versions(args.solvers)
    print(f"# {len(chosen)} instances x {', '.join(args.solvers)} at {seconds:g} s; "
          f"{os.cpu_count()} cores; {versions}")  # fmt: skip
    print(f"# ours runs {pyvrp_build().detail}", end="")
    print("; plain PyVRP the wheel, in a child process" if wheel_copy() else "")
    guard = LoadGuard(args.max_load, args.max_busy, args.max_wait)
    started = time.perf_counter()
    seeds = args.seeds if args.seeds else [args.seed]
    runs: dict[int, list[Row]] = {seed: [] for seed in seeds}
    with tempfile.TemporaryDirectory(prefix="planner-bench-") as tmp:
        for seed in seeds:
            for name, make in chosen:
                bench = make(Path(tmp))
                label = name if len(seeds) == 1 else f"{name} seed {seed}"
                guard.wait(label)
                outcomes = run_instance(bench, args.solvers, seconds, seed)
                runs[seed].append(Row(bench, outcomes))
                for o in outcomes:
                    print(
                        f"#   {label} {o.solver}: {_fmt(o.cost, '.1f')} in "
                        f"{o.seconds:.1f} s{'' if o.feasible else ' (not feasible)'} "
                        f"{o.note}",
                        flush=True,
                    )
    print(f"# total {time.perf_counter() - started:.0f} s\n")
    met = True
    for seed, rows in runs.items():
        if len(seeds) > 1:
            print(f"=== seed {seed} ===")
        print_table(rows)
        # With several seeds, "never worse" is judged over them (below).
        met &= print_summary(rows, args.solvers, seconds, judge_plain=len(seeds) == 1)
        print()
    if len(seeds) > 1:
        met &= print_over_seeds(runs)
    print("\nloads measured before each instance:")
    for line in guard.log:
        print(f"  {line}")
    return 0 if met else 1


def _versions(solvers: Sequence[str]) -> str:
    from importlib.metadata import PackageNotFoundError, version

    names = ["pyvrp", "vrplib"] + [
        p for s, p in (("vroom", "pyvroom"), ("ortools", "ortools")) if s in solvers
    ]
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


if __name__ == "__main__":
    sys.exit(main())

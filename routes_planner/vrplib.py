"""Benchmark files (CVRPLIB, VRPLIB, Solomon) solved under their own conventions."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import vrplib as _vrplib
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

from routes_planner import _engine
from routes_planner.params import positive_seconds

# Solomon/Homberger (DIMACS) distances are truncated to one decimal: we work
# in tenths so that every distance, time and window is an integer.
DIMACS_SCALE = 10

# Parallel search, tuned on the shared instances at 10 s: instances with at
# least _SPLIT_ABOVE customers spend _FIRST_PHASE of the time on independent
# seeds, then rounds improving groups of about _GROUP_SIZE customers (whole
# routes) in parallel. A round lasts _ROUND_SHARE of the time left, from
# _ROUND_SECONDS[0] to [1] s: X-n1001-k43 over four seeds came out 0.4% shorter
# with 1 s rounds than 2 s at 10 s (and RC1_10_1 0.6%), but 0.2% longer at 60 s.
_SPLIT_ABOVE = 400
_FIRST_PHASE = 0.15
_ROUND_SHARE = 0.1
_ROUND_SECONDS = (1.0, 2.0)
_GROUP_SIZE = 200
# Below this many customers (and with two processes), PyVRP's own search runs
# beside the groups for the whole time (one core fewer for the groups) and the
# better result is kept. At 10 s, seeds 1-3, gen-C-500 with groups on both
# cores came out 20,765 · 20,613 · 20,829 against plain PyVRP's 20,687 ·
# 20,784 · 20,683; with the search beside them, 20,712 · 20,765 · 20,651
# against 20,736 · 20,784 · 20,639 in the same runs. On X-n502-k39 and
# gen-R-500 the two ways were within 0.1%; on X-n1001-k43 and RC1_10_1, where
# groups lead plain PyVRP by 2-4%, one core fewer for them cost 0.5-1.2%.
_PLAIN_BESIDE_BELOW = 700
# From 700 customers, PyVRP's own search runs beside the groups too when the
# budget gives it this many seconds per customer or more: at 60 s on X-n1001-k43
# and RC1_10_1 (seeds 1-3) the groups on both cores came out behind plain PyVRP
# once in six runs (RC1_10_1 seed 1, 46,920.1 against 46,754.3), with the search
# beside them ahead in all six (46,736.9 · 46,889.9 · 46,634.8 on RC1_10_1, 0.17%
# shorter on average than the groups on both cores; 73,251 · 73,235 · 73,304 on
# X-n1001-k43, 0.23% longer). At 10 s it was 0.1-0.5% longer on both files.
_BESIDE_SECONDS_PER_CUSTOMER = 0.03


@dataclass(frozen=True, slots=True)
class Instance:
    """A benchmark instance as PyVRP data, with the file's cost convention."""

    name: str
    data: ProblemData
    scale: int  # cost units per unit of the file's distances
    customer_ids: tuple[int, ...]  # file numbering (1..n) of each PyVRP client

    def cost(self, routes: Sequence[Sequence[int]]) -> float:
        """Cost of routes given in file numbering, recomputed from the matrix."""
        position = {c: i for i, c in enumerate(self.customer_ids)}
        depot_location = self.data.depot(0).location
        matrix = self.data.distance_matrix(0)
        total = 0
        for route in routes:
            path = [depot_location]
            path += [self.data.client(position[c]).location for c in route]
            path.append(depot_location)
            total += int(matrix[path[:-1], path[1:]].sum())
        return total / self.scale


@dataclass(frozen=True, slots=True)
class SolveResult:
    """Best solution found: its cost and routes, customers numbered as in ``.sol``."""

    cost: float
    routes: list[list[int]]
    feasible: bool = True


def read_file(path: str | Path) -> Instance:
    """Read a CVRPLIB/VRPLIB ``.vrp`` or a Solomon-format ``.txt`` file.

    Parameters
    ----------
    path
        The instance file; Solomon format is recognised by its ``VEHICLE`` and
        ``CUSTOMER`` sections, anything else is read as VRPLIB.

    Returns
    -------
    Instance
        PyVRP data under the file's convention: Euclidean distances rounded to
        integers and unlimited vehicles without time windows; distances
        truncated to one decimal (in tenths), travel time equal to distance,
        service times, windows and the file's vehicle count with them.
    """
    path = Path(path)
    fmt = "solomon" if _looks_solomon(path) else "vrplib"
    try:
        return _instance(path, _vrplib.read_instance(str(path), instance_format=fmt))
    except OSError:
        raise
    except Exception as exc:  # the parser's and numpy's errors on a bad file vary
        if isinstance(exc, BadInstance):
            raise
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise BadInstance(
            f"{path.name} is not a CVRPLIB/VRPLIB or Solomon instance ({what})"
        ) from exc


class BadInstance(ValueError):
    """A file that cannot be read as an instance; the message says why."""


def _instance(path: Path, raw: dict[str, Any]) -> Instance:
    coords = np.asarray(raw["node_coord"], dtype=np.float64)
    if coords.ndim != 2 or coords.shape[0] < 2 or coords.shape[1] != 2:
        raise BadInstance(f"{path.name}: no depot and customers with x, y coordinates")
    n_nodes = coords.shape[0]
    depots = [int(d) for d in np.atleast_1d(raw.get("depot", [0]))]
    if len(depots) != 1:
        raise BadInstance(f"{path.name}: {len(depots)} depots; one is supported")
    depot = depots[0]
    customers = [i for i in range(n_nodes) if i != depot]

    euclid = np.hypot(
        coords[:, None, 0] - coords[None, :, 0], coords[:, None, 1] - coords[None, :, 1]
    )
    timed = "time_window" in raw
    if timed:
        scale = DIMACS_SCALE
        distance = np.floor(euclid * scale).astype(np.int64)
        duration = distance
    else:
        scale = 1
        distance = np.floor(euclid + 0.5).astype(np.int64)
        duration = np.zeros_like(distance)

    order = [depot, *customers]  # PyVRP wants the depot first
    distance = distance[np.ix_(order, order)]
    duration = duration[np.ix_(order, order)]
    demand = np.asarray(raw.get("demand", np.zeros(n_nodes)), dtype=np.int64)
    service = np.broadcast_to(
        np.asarray(raw.get("service_time", 0), dtype=np.float64), (n_nodes,)
    )
    no_limit = int(np.iinfo(np.int64).max)
    if timed:
        windows = np.rint(np.asarray(raw["time_window"], np.float64) * scale)
        early, late = windows[:, 0].astype(np.int64), windows[:, 1].astype(np.int64)
    else:
        early = np.zeros(n_nodes, np.int64)
        late = np.full(n_nodes, no_limit, np.int64)

    clients = [
        Client(
            location=k + 1,
            delivery=[int(demand[i])],
            service_duration=round(service[i] * scale) if timed else 0,
            tw_early=int(early[i]),
            tw_late=int(late[i]),
        )
        for k, i in enumerate(customers)
    ]
    locations = [Location(x=float(coords[i, 0]), y=float(coords[i, 1])) for i in order]
    vehicles = int(raw.get("vehicles", len(customers))) if timed else len(customers)
    opens, closes = int(early[depot]), int(late[depot])
    vehicle_type = VehicleType(
        num_available=vehicles,
        capacity=[int(raw["capacity"])],
        tw_early=opens,
        tw_late=closes,
    )
    matrices: tuple[list[Any], list[Any]] = ([distance], [duration])
    data = ProblemData(
        locations,
        clients,
        [Depot(location=0, tw_early=opens, tw_late=closes)],
        [vehicle_type],
        *matrices,
    )
    # Customer k of the file is the k-th non-depot node.
    ids = tuple(range(1, len(customers) + 1))
    return Instance(str(raw.get("name", path.stem)), data, scale, ids)


def _looks_solomon(path: Path) -> bool:
    if path.suffix.lower() == ".txt":
        return True
    with path.open(encoding="utf-8", errors="replace") as fh:
        head = fh.read(2048).upper()
    return "VEHICLE" in head and "CUSTOMER" in head and "DIMENSION" not in head


def solve_file(
    path: str | Path,
    seconds: float,
    *,
    seed: int = 0,
    n_workers: int = 2,
    started: float | None = None,
) -> SolveResult:
    """Solve a benchmark file within a wall-clock budget, reading included.

    Uses ``n_workers`` processes: small files race two searches, bigger ones
    improve groups of the best solution's routes in parallel (see
    :func:`_cooperative`).

    Parameters
    ----------
    path
        CVRPLIB/VRPLIB or Solomon-format file.
    seconds
        Wall-clock budget for the whole call.
    seed
        Seed of the first worker; others use the following seeds.
    n_workers
        Processes to search in.
    started
        ``time.monotonic()`` reading at which the budget began; now if not
        given. The command line passes its process's start.

    Returns
    -------
    SolveResult
        Cost (in the file's units) and routes in ``.sol`` numbering.
    """
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive number, not {seconds}")
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, not {n_workers}")
    started = time.monotonic() if started is None else started
    instance = read_file(path)
    # Leave time to shut the workers down and print the answer: about 10 ms
    # on the shared files, up to 1,000 customers.
    deadline = started + seconds - min(0.05 + 0.005 * seconds, 0.05 * seconds)
    solution = _cooperative(instance.data, seed, deadline, n_workers)
    return _result(instance, solution)


def _result(instance: Instance, solution: Solution) -> SolveResult:
    routes = [
        [instance.customer_ids[a.idx] for a in route.schedule() if a.is_client()]
        for route in solution.routes()
    ]
    routes.sort(key=lambda r: r[0])
    return SolveResult(
        solution.distance() / instance.scale, routes, solution.is_feasible()
    )


def _cooperative(
    data: ProblemData, seed: int, deadline: float, n_workers: int
) -> Solution:
    """Search with several processes: independent seeds, then split by routes.

    Small instances get one run per process and keep the best, the first (in
    this process, which would otherwise only wait) with PyVRP's own setting and
    the second with short kicks, a short history or PyVRP's setting again, by
    the instance (see ``_engine.portfolio``); the first posts its best
    solutions on a board, which the second takes up late in the run when they
    are better than its own. Big
    ones (where a single search is far from converged at short budgets) first
    race seeds with PyVRP's setting for a while, then repeatedly split the best
    solution's routes into ``n_workers`` angular groups around the depot and
    improve each group as its own instance in parallel, warm-started from its
    routes so no group gets worse; each rendezvous rotates the split so routes
    meet new neighbours.
    """
    if n_workers <= 1:
        return _engine.run(data, seed=seed, deadline=deadline)
    seeds = [seed + w for w in range(n_workers)]
    if data.num_clients < _SPLIT_ABOVE:
        with (
            ProcessPoolExecutor(max_workers=n_workers - 1) as pool,
            _engine.Board.create() as board,
        ):
            # PyVRP's own setting races the setting that complements it on
            # this instance (see _engine.portfolio and the figures above it);
            # late in the run the second takes up the first's best when that is
            # better than its own (see _engine.ADOPT_AFTER).
            searches = _engine.portfolio(data, n_workers)
            return _engine.best_of_seeds(
                data,
                seeds,
                deadline=deadline,
                pool=pool,
                searches=searches,
                first_here=True,
                board=board,
            )
    if _plain_beside(data.num_clients, deadline - time.monotonic(), n_workers):
        # Groups gain little over PyVRP's own search on files under 700
        # customers or with a long budget: keep that search
        # (plain PyVRP's trajectory) in this process for the whole time, and
        # improve groups of routes in the other process, one group after the
        # other (cut and merged there too, so nothing here competes with the
        # search for the interpreter). The search posts its best solutions, and
        # each round of groups starts from the better of its own and the one
        # posted: at 10 s on gen-C-500, seeds 1-6, 20,576 · 20,643 · 20,603 ·
        # 20,589 · 20,613 · 20,609 against 20,603 · 20,608 · 20,587 · 20,702 ·
        # 20,601 · 20,605 from its own only (plain PyVRP: 20,577 · 20,670 ·
        # 20,607 · 20,687 · 20,625 · 20,605), 0.06% shorter on average.
        with (
            ProcessPoolExecutor(max_workers=1) as pool,
            _engine.Board.create() as board,
        ):
            grouped = pool.submit(_groups, data, seeds[1:], deadline, None, 1, board)
            plain = _engine.run(data, seed=seed, deadline=deadline, post_to=board)
            other = grouped.result()
        return min((plain, other), key=lambda sol: _engine.objective(data, sol))
    with ProcessPoolExecutor(max_workers=n_workers) as pool:
        return _groups(data, seeds, deadline, pool, n_workers)


def _plain_beside(customers: int, seconds: float, n_workers: int) -> bool:
    """Whether PyVRP's own search runs beside the groups (on two cores): under
    _PLAIN_BESIDE_BELOW customers, or with a budget long enough for it to come
    near its best (_BESIDE_SECONDS_PER_CUSTOMER)."""
    if n_workers != 2:
        return False
    long_budget = seconds >= _BESIDE_SECONDS_PER_CUSTOMER * customers
    return customers < _PLAIN_BESIDE_BELOW or long_budget


def _groups(
    data: ProblemData,
    seeds: list[int],
    deadline: float,
    pool: ProcessPoolExecutor | None,
    cores: int,
    board: _engine.Board | None = None,
) -> Solution:
    """Race ``seeds`` for the first phase, then improve groups of the best
    solution's routes in rounds: in ``pool`` (``cores`` at once), or one after
    the other in this process when there is no pool. A round starts from the
    solution on ``board`` when that is better."""
    now = time.monotonic()
    first_end = now + _FIRST_PHASE * (deadline - now)
    if pool is None or len(seeds) == 1:
        best = _engine.run(data, seed=seeds[0], deadline=first_end)
    else:
        best = _engine.best_of_seeds(
            data, seeds, deadline=first_end, pool=pool, first_here=True
        )
    low, high = _ROUND_SECONDS
    length = min(max(_ROUND_SHARE * (deadline - first_end), low), high)
    rounds = max(1, round((deadline - first_end) / length))
    span = (deadline - first_end) / rounds
    for k in range(rounds):
        posted = None if board is None else board.read(data)
        if posted is not None and _engine.objective(data, posted) < _engine.objective(
            data, best
        ):
            best = posted
        end = first_end + (k + 1) * span
        offset = (k + 0.5) / rounds  # rotate the cut lines each round
        n_groups = cores * max(1, round(data.num_clients / (cores * _GROUP_SIZE)))
        n_groups = max(n_groups, 2)
        seconds = (end - time.monotonic()) * cores / n_groups
        jobs = _split_routes(
            data, best, n_groups, offset, seeds[0] + 100 * (k + 1), seconds, end
        )
        if len(jobs) < 2:
            break
        if pool is None:
            improved = [_solve_group(job) for job in jobs]
        else:
            improved = list(pool.map(_solve_group, jobs))
        merged = _merge(data, jobs, improved)
        if _engine.objective(data, merged) <= _engine.objective(data, best):
            best = merged
    return best


@dataclass(frozen=True, slots=True)
class _Group:
    data: ProblemData
    clients: tuple[int, ...]  # client index in the full instance, per group client
    initial: Solution
    seed: int
    seconds: float
    deadline: float


def _split_routes(
    data: ProblemData,
    solution: Solution,
    n_groups: int,
    offset: float,
    seed: int,
    seconds: float,
    deadline: float,
) -> list[_Group]:
    routes = [r for r in solution.routes() if r.num_clients() > 0]
    if len(routes) < 2 * n_groups:
        return []
    depot = data.location(data.depot(0).location)
    angles = []
    for route in routes:
        xs = [
            data.location(data.client(a.idx).location).x for a in route if a.is_client()
        ]
        ys = [
            data.location(data.client(a.idx).location).y for a in route if a.is_client()
        ]
        angles.append(
            math.atan2(sum(ys) / len(ys) - depot.y, sum(xs) / len(xs) - depot.x)
        )
    order = sorted(range(len(routes)), key=lambda i: angles[i])
    shift = round(offset * len(routes) / n_groups)
    order = order[shift:] + order[:shift]
    size = len(order) / n_groups
    chunks = [order[round(g * size) : round((g + 1) * size)] for g in range(n_groups)]

    vehicle_type = data.vehicle_type(0)
    spare = vehicle_type.num_available - len(routes)
    groups = []
    for g, chunk in enumerate(chunks):
        members = [a.idx for i in chunk for a in routes[i] if a.is_client()]
        # Each group may use its routes plus a share of the unused vehicles.
        vehicles = len(chunk) + spare // n_groups + (1 if g < spare % n_groups else 0)
        sub = _subproblem(data, members, max(vehicles, len(chunk)))
        position = {c: i for i, c in enumerate(members)}
        initial = Solution(
            sub,
            [
                Route(
                    sub,
                    [
                        Activity(ActivityType.CLIENT, position[a.idx])
                        for a in routes[i]
                        if a.is_client()
                    ],
                    0,
                )
                for i in chunk
            ],
        )
        groups.append(_Group(sub, tuple(members), initial, seed + g, seconds, deadline))
    return groups


def _subproblem(data: ProblemData, members: list[int], vehicles: int) -> ProblemData:
    depot_location = data.depot(0).location
    locations = [depot_location] + [data.client(c).location for c in members]
    grid = np.ix_(locations, locations)
    all_locations = data.locations()
    clients = []
    for k, c in enumerate(members):
        client = data.client(c)
        clients.append(
            Client(
                location=k + 1,
                delivery=client.delivery,
                pickup=client.pickup,
                service_duration=client.service_duration,
                tw_early=client.tw_early,
                tw_late=client.tw_late,
                prize=client.prize,
                required=client.required,
            )
        )
    depot = data.depot(0)
    vehicle_type = data.vehicle_type(0).replace(num_available=vehicles)
    distances: list[Any] = [data.distance_matrix(0)[grid]]
    durations: list[Any] = [data.duration_matrix(0)[grid]]
    return ProblemData(
        [all_locations[i] for i in locations],
        clients,
        [Depot(location=0, tw_early=depot.tw_early, tw_late=depot.tw_late)],
        [vehicle_type],
        distances,
        durations,
    )


def _solve_group(group: _Group) -> Solution:
    deadline = min(time.monotonic() + group.seconds, group.deadline)
    return _engine.run(
        group.data, seed=group.seed, deadline=deadline, initial=group.initial
    )


def _merge(
    data: ProblemData, groups: list[_Group], solutions: list[Solution]
) -> Solution:
    routes = []
    for group, solution in zip(groups, solutions, strict=True):
        if not solution.is_feasible():
            solution = group.initial
        for route in solution.routes():
            visits = [
                Activity(ActivityType.CLIENT, group.clients[a.idx])
                for a in route
                if a.is_client()
            ]
            routes.append(Route(data, visits, 0))
    return Solution(data, routes)


def process_started() -> float:
    """``time.monotonic()`` reading of when this process started, so that
    ``recoop solve --seconds S`` ends within S seconds of its launch, Python's
    start-up and imports (about half a second) included.

    Only a start-up shorter than ``_STARTUP_MAX`` counts: an older process is
    one that calls us (a test run, a notebook), and its age is not ours to pay.
    Where ``/proc`` is missing, now.
    """
    now = time.monotonic()
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime, in clock ticks after boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0.0 <= age <= _STARTUP_MAX else now


_STARTUP_MAX = 3.0


def format_json(result: SolveResult) -> str:
    """``{"cost": <number>, "routes": [[...], ...]}`` for ``recoop solve --json``."""
    cost: float | int = (
        int(result.cost) if float(result.cost).is_integer() else result.cost
    )
    return json.dumps({"cost": cost, "routes": result.routes})


def format_text(result: SolveResult) -> str:
    """The ``.sol`` layout: ``Route #k: ...`` lines, then ``Cost ...``."""
    lines = [
        f"Route #{k}: {' '.join(map(str, route))}"
        for k, route in enumerate(result.routes, start=1)
    ]
    cost = (
        int(result.cost) if float(result.cost).is_integer() else round(result.cost, 1)
    )
    lines.append(f"Cost {cost}")
    return "\n".join(lines)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed from 0 to 2**32 - 1")
    return value


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``FILE [--seconds S] [--json] [--seed N] [--workers W]``.

    Parameters
    ----------
    argv
        Arguments without the program name; ``sys.argv[1:]`` when not given.

    Returns
    -------
    int
        Exit status: 0 on success, 1 when no feasible solution was found, 2
        when the arguments or the file are wrong (with a message saying why).
    """
    parser = argparse.ArgumentParser(
        prog="recoop solve", description="Solve a CVRPLIB/VRPLIB or Solomon file."
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--seconds", type=positive_seconds, default=10.0)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument(
        "--workers", type=_at_least_one, default=min(2, os.cpu_count() or 1)
    )
    args = parser.parse_args(argv)
    try:
        result = solve_file(
            args.file,
            args.seconds,
            seed=args.seed,
            n_workers=args.workers,
            started=process_started(),
        )
    except OSError as exc:
        parser.exit(2, f"recoop solve: cannot read {args.file}: {exc.strerror}\n")
    except BadInstance as exc:
        parser.exit(2, f"recoop solve: {exc}\n")
    print(format_json(result) if args.json else format_text(result))
    return 0 if result.feasible else 1


if __name__ == "__main__":
    sys.exit(main())

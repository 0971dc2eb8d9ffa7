"""The layer over PyVRP: `recoop solve` races PyVRP's own setting against short
kicks (no time windows) or a short history (time windows)."""

import itertools
import math
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from pyvrp.solve import SolveParams, solve
from pyvrp.stop import MaxIterations

from routes_planner import Bike, Hub, PlannerParams, Problem, Stop, _engine, plan
from routes_planner.vrplib import read_file

CVRP = Path(__file__).parent / "data" / "X-n101-k25.vrp"
SOLOMON = Path(__file__).parent / "data" / "C101.txt"
LATER = 3_600.0  # a deadline no test reaches: the iteration caps stop the runs


def _routes(solution) -> list[list[int]]:
    return [[a.idx for a in r if a.is_client()] for r in solution.routes()]


Run = tuple[int, _engine.Search, bool, bool]


def _record_runs(monkeypatch, module) -> list[Run]:
    """Seed, setting, and whether it posts or adopts best solutions (see
    _engine.Board), of every PyVRP run started from ``module``, whose process
    pool becomes a thread pool so the calls can be seen."""
    seen: list[Run] = []
    real_run = _engine.run

    def run(data, **kwargs):
        posts, adopts = kwargs.get("post_to"), kwargs.get("adopt_from")
        search = kwargs.get("search", _engine.PYVRP)
        seen.append((kwargs["seed"], search, posts is not None, adopts is not None))
        return real_run(data, **kwargs)

    monkeypatch.setattr(_engine, "run", run)
    monkeypatch.setattr(module, "ProcessPoolExecutor", ThreadPoolExecutor)
    return seen


def test_a_run_with_pyvrps_setting_is_plain_pyvrp():
    """Same seed, same iterations: the very solution PyVRP's solve() finds."""
    data = read_file(CVRP).data
    ours = _engine.run(
        data, seed=7, deadline=time.monotonic() + LATER, max_iterations=300
    )
    plain = solve(data, MaxIterations(300), seed=7, collect_stats=False).best
    assert _routes(ours) == _routes(plain)


SHORT_KICKS = _engine.Search(kicks=_engine.SHORT_KICKS)
SHORT_HISTORY = _engine.Search(history=_engine.SHORT_HISTORY)


def test_short_kicks_and_a_short_history_change_the_search():
    """Each setting is passed on to PyVRP: the same seed searches elsewhere,
    and still finds a feasible solution."""
    deadline = time.monotonic() + LATER
    data = read_file(CVRP).data
    for setting in [SHORT_KICKS, SHORT_HISTORY]:
        plain = _engine.run(data, seed=7, deadline=deadline, max_iterations=300)
        other = _engine.run(
            data, seed=7, deadline=deadline, max_iterations=300, search=setting
        )
        assert other.is_feasible()
        assert _routes(other) != _routes(plain)


def test_settings_reach_pyvrps_parameters():
    assert SHORT_HISTORY.params().ils.history_length == _engine.SHORT_HISTORY
    assert SHORT_KICKS.params().perturbation.max_perturbations == (_engine.SHORT_KICKS)
    default = _engine.PYVRP.params()
    assert default.ils.history_length == SolveParams().ils.history_length


def test_parallel_searches_alternate_pyvrps_setting_and_another():
    pyvrp = _engine.PYVRP
    cvrp = read_file(CVRP).data  # X-n101-k25: 4 clients a route
    assert _engine.portfolio(cvrp, 1) == [pyvrp]
    assert _engine.portfolio(cvrp, 2) == [pyvrp, SHORT_KICKS]
    assert _engine.portfolio(cvrp, 3) == [pyvrp, SHORT_KICKS, pyvrp]
    windows = read_file(SOLOMON).data
    assert _engine.portfolio(windows, 2) == [pyvrp, SHORT_HISTORY]


def test_long_routes_race_two_seeds_of_pyvrps_setting():
    data = read_file(CVRP).data
    roomy = data.replace(
        vehicle_types=[
            vt.replace(capacity=[10 * vt.capacity[0]]) for vt in data.vehicle_types()
        ]
    )
    assert _engine.clients_per_route(data) == 4.0
    assert _engine.clients_per_route(roomy) > _engine.SHORT_ROUTE
    assert _engine.portfolio(roomy, 2) == [_engine.PYVRP, _engine.PYVRP]


def test_time_windows_are_told_from_the_data():
    assert not _engine.has_windows(read_file(CVRP).data)
    assert _engine.has_windows(read_file(SOLOMON).data)


def test_a_race_is_never_worse_than_plain_pyvrp_with_its_first_seed():
    """The first search of a race is plain PyVRP, so at equal iterations the race
    costs at most what PyVRP alone finds with that seed."""
    data = read_file(CVRP).data
    plain = solve(data, MaxIterations(300), seed=3, collect_stats=False).best
    with ProcessPoolExecutor(max_workers=2) as pool:
        race = _engine.best_of_seeds(
            data,
            [3, 4],
            deadline=time.monotonic() + LATER,
            max_iterations=300,
            pool=pool,
            searches=_engine.portfolio(data, 2),
        )
    assert race.is_feasible()
    assert _engine.objective(data, race) <= _engine.objective(data, plain)


def test_the_planners_race_keeps_pyvrps_setting(monkeypatch):
    """plan() with two workers races two seeds with PyVRP's own setting (on
    generated Lagos days short kicks rode 0.7-12% further); the first posts its
    best plans, the second may take them up."""
    from routes_planner import solver

    seen = _record_runs(monkeypatch, solver)
    hub = Hub("yaba", 6.5095, 3.3711)
    stops = [
        Stop(f"s{i}", hub.lat + 0.003 * (i % 4), hub.lon + 0.003 * (i // 4), 5.0)
        for i in range(12)
    ]
    bikes = [Bike(f"b{i}", "yaba", 100.0, 480, 1080) for i in range(2)]
    params = PlannerParams(n_workers=2, max_iterations=200)
    result = plan(Problem(stops, bikes, [hub]), params, seed=11, time_limit_s=5.0)
    assert result.unplanned == ()
    pyvrp = _engine.PYVRP
    assert sorted(seen, key=lambda s: s[0]) == [
        (11, pyvrp, True, False),
        (12, pyvrp, False, True),
    ]


def _plain_pyvrp_day(problem: Problem):
    """A Lagos day as a user of PyVRP alone would write it (as the bench does):
    deliveries in grams, a vehicle type per hub and shift, no reloads."""
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

    from routes_planner import GreatCircle

    (speed,) = {bike.speed_kmh for bike in problem.bikes}
    points = [(h.lat, h.lon) for h in problem.hubs]
    points += [(s.lat, s.lon) for s in problem.stops]
    table = GreatCircle().table(points, speed)
    n_hubs, no_limit = len(problem.hubs), 2**63 - 1
    clients = [
        Client(
            location=n_hubs + i,
            delivery=[math.ceil(s.expected_kg * 1000 - 1e-9)],
            service_duration=round(s.service_min * 60),
            tw_early=s.window[0] * 60 if s.window else 0,
            tw_late=s.window[1] * 60 if s.window else no_limit,
        )
        for i, s in enumerate(problem.stops)
    ]
    hub_of = {h.id: k for k, h in enumerate(problem.hubs)}

    def fleet(b: Bike) -> tuple[int, int, int, int]:
        grams = math.floor(b.capacity_kg * 1000 + 1e-9)
        return (hub_of[b.hub_id], grams, b.shift_start_min * 60, b.shift_end_min * 60)

    fleets = Counter(map(fleet, problem.bikes))
    vehicle_types = [
        VehicleType(count, [kg], hub, hub, tw_early=start, tw_late=end)
        for (hub, kg, start, end), count in fleets.items()
    ]
    return ProblemData(
        [Location(0.0, 0.0) for _ in points],
        clients,
        [Depot(location=k) for k in range(n_hubs)],
        vehicle_types,
        [table.distance_m],
        [table.duration_s],
    )


def _length(problem: Problem, data, result) -> int:
    """A plan's length in metres in ``data``'s matrix (hubs first, then stops)."""
    matrix = data.distance_matrix(0)
    node = {s.id: len(problem.hubs) + i for i, s in enumerate(problem.stops)}
    hub_of = {h.id: k for k, h in enumerate(problem.hubs)}
    home = {b.id: hub_of[b.hub_id] for b in problem.bikes}
    total = 0
    for round_ in result.rounds:
        for trip in round_.trips:
            path = [home[round_.bike_id], *(node[v.stop_id] for v in trip.visits)]
            path.append(home[round_.bike_id])
            total += sum(int(matrix[a, b]) for a, b in itertools.pairwise(path))
    return total


def test_a_small_days_first_search_is_plain_pyvrp_on_that_day(monkeypatch):
    """On a day the fleet can carry in single trips, the first of plan()'s two
    searches follows the very trajectory of PyVRP's solve() on the day as PyVRP
    alone models it, so at equal iterations the plan is never longer (the other
    search can only make it shorter). At equal time, the extra iterations a
    second of PyVRP built for this machine keep it ahead (see the README)."""
    from pyvrp import Solution

    from routes_planner import solver
    from routes_planner.synthetic import lagos_day

    firsts: list[Solution] = []
    real_run = _engine.run

    def run(data, **kwargs):
        found = real_run(data, **kwargs)
        if kwargs.get("post_to") is not None:
            firsts.append(found)
        return found

    monkeypatch.setattr(_engine, "run", run)
    monkeypatch.setattr(solver, "ProcessPoolExecutor", ThreadPoolExecutor)
    problem = lagos_day(80, n_hubs=2, n_bikes=6, seed=3)
    data = _plain_pyvrp_day(problem)
    params = PlannerParams(n_workers=2, max_iterations=400)
    for seed in (1, 2):
        firsts.clear()
        plain = solve(data, MaxIterations(400), seed=seed, collect_stats=False).best
        result = plan(problem, params, seed=seed, time_limit_s=60.0)
        assert [_routes(s) for s in firsts] == [_routes(plain)]
        assert [r.vehicle_type() for r in firsts[0].routes()] == [
            r.vehicle_type() for r in plain.routes()
        ]
        assert result.unplanned == ()
        assert _length(problem, data, result) <= plain.distance()


def test_recoop_solve_races_pyvrps_setting_and_short_kicks(monkeypatch):
    """A benchmark file under 400 customers: one search of each kind, the first
    with the seed asked for, which posts its best for the second to take up."""
    from routes_planner import vrplib

    seen = _record_runs(monkeypatch, vrplib)
    result = vrplib.solve_file(CVRP, 1.0, seed=5, n_workers=2)
    assert result.feasible
    assert sorted(seen, key=lambda s: s[0]) == [
        (5, _engine.PYVRP, True, False),
        (6, SHORT_KICKS, False, True),
    ]


def test_recoop_solve_races_a_short_history_with_time_windows(monkeypatch):
    from routes_planner import vrplib

    seen = _record_runs(monkeypatch, vrplib)
    result = vrplib.solve_file(SOLOMON, 1.0, seed=5, n_workers=2)
    assert result.feasible
    assert sorted(seen, key=lambda s: s[0]) == [
        (5, _engine.PYVRP, True, False),
        (6, SHORT_HISTORY, False, True),
    ]


def test_recoop_solve_counts_its_budget_from_the_process_start():
    """A new process finds how long ago it started (its imports, here); a
    process older than a start-up, such as this test run, counts from now."""
    from routes_planner.vrplib import process_started

    code = (
        "import time\n"
        "from routes_planner.vrplib import process_started\n"
        "print(time.monotonic() - process_started())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert 0.0 < float(out.stdout) < 3.0
    if time.monotonic() - _engine_loaded > 3.0:
        assert time.monotonic() - process_started() < 0.5


_engine_loaded = time.monotonic()


def _capped_run(data, seed: int, iterations: int, **boards):
    """A run that stops after ``iterations``, with the boards given."""
    deadline = time.monotonic() + LATER
    return _engine.run(
        data, seed=seed, deadline=deadline, max_iterations=iterations, **boards
    )


def _best_known(data):
    """X-n101-k25's best known routes (customer k of the .sol is client k - 1)."""
    import vrplib
    from pyvrp import Solution
    from pyvrp._pyvrp import Activity, ActivityType, Route

    known = vrplib.read_solution(str(CVRP.with_suffix(".sol")))
    return Solution(
        data,
        [
            Route(data, [Activity(ActivityType.CLIENT, k - 1) for k in route], 0)
            for route in known["routes"]
        ],
    )


def test_a_board_hands_over_what_was_posted_once():
    data = read_file(CVRP).data
    best = _best_known(data)
    with _engine.Board.create() as board:
        reader = _engine.Board(board.path)
        assert reader.read(data) is None  # nothing posted yet
        board.post(best)
        taken = reader.read(data)
        assert taken is not None
        assert _routes(taken) == _routes(best)
        assert _engine.objective(data, taken) == 27_591
        assert reader.read(data) is None  # nothing new since
        assert reader.read(read_file(SOLOMON).data) is None  # another instance
        path = Path(board.path)
    assert not path.exists()


def test_a_board_that_cannot_be_written_leaves_the_search_alone(tmp_path):
    """Sharing only speeds searches up: a board on a missing (or full) disk
    takes nothing and hands nothing over, and the search runs as if alone."""
    data = read_file(CVRP).data
    board = _engine.Board(str(tmp_path / "gone" / "board"))
    board.post(_best_known(data))
    assert board.read(data) is None
    ours = _capped_run(data, 7, 50, post_to=board)
    plain = solve(data, MaxIterations(50), seed=7, collect_stats=False).best
    assert _routes(ours) == _routes(plain)


def test_posting_its_best_does_not_change_a_search():
    """The first search of a race posts its best solutions and still follows plain
    PyVRP's trajectory; the last solution posted is the one it returns."""
    data = read_file(CVRP).data
    plain = solve(data, MaxIterations(300), seed=7, collect_stats=False).best
    with _engine.Board.create() as board:
        ours = _capped_run(data, 7, 300, post_to=board)
        posted = _engine.Board(board.path).read(data)
    assert _routes(ours) == _routes(plain)
    assert posted is not None
    assert _engine.objective(data, posted) == _engine.objective(data, ours)


def test_a_search_takes_up_a_better_solution_posted():
    """A search that lags takes up the better solution on the board and never
    returns worse; one that must be reproducible (an iteration cap) does not."""
    data = read_file(CVRP).data
    best = _best_known(data)
    with _engine.Board.create() as board:
        board.post(best)
        lagging = _engine.run(
            data, seed=1, deadline=time.monotonic() + 0.3, adopt_from=board
        )
        capped = _capped_run(data, 1, 20, adopt_from=board)
    assert _engine.objective(data, lagging) == _engine.objective(data, best)
    alone = solve(data, MaxIterations(20), seed=1, collect_stats=False).best
    assert _routes(capped) == _routes(alone)
    assert _engine.objective(data, capped) > _engine.objective(data, best)

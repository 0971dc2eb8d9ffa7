"""The layer over PyVRP: `recoop solve` races PyVRP's own setting against short
kicks (no time windows) or a short history (time windows)."""

import subprocess
import sys
import time
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


def _record_runs(monkeypatch, module) -> list[tuple[int, _engine.Search]]:
    """Seed and setting of every PyVRP run started from ``module``, whose process
    pool becomes a thread pool so the calls can be seen."""
    seen: list[tuple[int, _engine.Search]] = []
    real_run = _engine.run

    def run(data, **kwargs):
        seen.append((kwargs["seed"], kwargs.get("search", _engine.PYVRP)))
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
    """plan() with two workers races two seeds with PyVRP's own setting: on
    generated Lagos days short kicks rode 0.7-12% further."""
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
    assert sorted(seen, key=lambda s: s[0]) == [(11, pyvrp), (12, pyvrp)]


def test_recoop_solve_races_pyvrps_setting_and_short_kicks(monkeypatch):
    """A benchmark file under 400 customers: one search of each kind, the first
    with the seed asked for."""
    from routes_planner import vrplib

    seen = _record_runs(monkeypatch, vrplib)
    result = vrplib.solve_file(CVRP, 1.0, seed=5, n_workers=2)
    assert result.feasible
    assert sorted(seen, key=lambda s: s[0]) == [(5, _engine.PYVRP), (6, SHORT_KICKS)]


def test_recoop_solve_races_a_short_history_with_time_windows(monkeypatch):
    from routes_planner import vrplib

    seen = _record_runs(monkeypatch, vrplib)
    result = vrplib.solve_file(SOLOMON, 1.0, seed=5, n_workers=2)
    assert result.feasible
    assert sorted(seen, key=lambda s: s[0]) == [(5, _engine.PYVRP), (6, SHORT_HISTORY)]


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

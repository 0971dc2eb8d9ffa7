"""Benchmark files: reading under each convention, costs, .sol numbering, JSON, CLI."""

import json
from pathlib import Path

import pytest
import vrplib
from pyvrp import Activity, ActivityType, Route, Solution

from routes_planner.vrplib import (
    BadInstance,
    SolveResult,
    format_json,
    main,
    read_file,
    solve_file,
)

DATA = Path(__file__).parent / "data"
CVRP = DATA / "X-n101-k25.vrp"
SOLOMON = DATA / "C101.txt"


def _best_known(path: Path) -> dict:
    return vrplib.read_solution(str(path.with_suffix(".sol")))


def test_cvrplib_convention():
    """X instances: rounded Euclidean distances, no times, one vehicle per customer."""
    instance = read_file(CVRP)
    assert instance.scale == 1
    assert instance.data.num_clients == 100
    assert instance.data.num_vehicles == 100
    assert not instance.data.has_time_windows()
    assert instance.data.duration_matrix(0).max() == 0


def test_solomon_convention():
    """Solomon instances: tenths, travel time = distance, windows, 25 vehicles."""
    instance = read_file(SOLOMON)
    assert instance.scale == 10
    assert instance.data.num_vehicles == 25
    assert instance.data.has_time_windows()
    distance = instance.data.distance_matrix(0)
    assert (distance == instance.data.duration_matrix(0)).all()
    # Depot (40, 50) to customer 1 (45, 68): sqrt(349) = 18.681 -> 18.6.
    assert distance[0, 1] == 186
    assert instance.data.client(0).service_duration == 900


@pytest.mark.parametrize("path", [CVRP, SOLOMON])
def test_best_known_solution_costs_what_the_sol_file_says(path):
    """Routes of the .sol file, numbered 1..n, cost exactly the stated best known."""
    known = _best_known(path)
    instance = read_file(path)
    assert instance.cost(known["routes"]) == pytest.approx(known["cost"])


@pytest.mark.parametrize("path", [CVRP, SOLOMON])
def test_best_known_solution_is_feasible_in_our_data(path):
    """Customer k of a .sol file is client k-1, and the known routes are feasible."""
    known = _best_known(path)
    instance = read_file(path)
    data = instance.data
    routes = [
        Route(data, [Activity(ActivityType.CLIENT, c - 1) for c in route], 0)
        for route in known["routes"]
    ]
    solution = Solution(data, routes)
    assert solution.is_feasible()
    assert solution.distance() / instance.scale == pytest.approx(known["cost"])


def test_solve_file_cost_matches_recomputation_from_routes():
    """solve_file's cost equals a recomputation from its routes; each customer once."""
    result = solve_file(CVRP, 1.5, n_workers=1)
    instance = read_file(CVRP)
    assert result.feasible
    assert result.cost == pytest.approx(instance.cost(result.routes))
    visited = sorted(c for route in result.routes for c in route)
    assert visited == list(range(1, 101))
    assert result.cost >= _best_known(CVRP)["cost"]


def test_solve_solomon_in_parallel_within_vehicle_limit():
    """A time-window file solved with two processes uses at most its 25 vehicles."""
    result = solve_file(SOLOMON, 2.0, n_workers=2)
    assert result.feasible
    assert len(result.routes) <= 25
    assert result.cost == pytest.approx(read_file(SOLOMON).cost(result.routes))
    assert sorted(c for r in result.routes for c in r) == list(range(1, 101))


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf")])
def test_solve_file_refuses_a_budget_that_is_not_one(seconds):
    """A NaN budget never ran out and 0 gave a bare first answer: both refused."""
    with pytest.raises(ValueError, match="seconds must be a positive number"):
        solve_file(CVRP, seconds)


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999", "one"])
def test_main_refuses_a_seed_pyvrp_cannot_take(seed, capsys):
    """A seed outside 0..2**32-1 is a usage error, not a traceback from PyVRP."""
    with pytest.raises(SystemExit) as stop:
        main([str(CVRP), "--seconds", "1", "--seed", seed])
    assert stop.value.code == 2
    assert "is not a seed from 0 to 2**32 - 1" in capsys.readouterr().err


def test_read_file_says_what_is_wrong_with_a_file(tmp_path):
    """A file that is not an instance raises BadInstance naming it, not KeyError."""
    path = tmp_path / "notes.vrp"
    path.write_text("shopping list\n")
    with pytest.raises(BadInstance, match=r"notes\.vrp is not a CVRPLIB"):
        read_file(path)


def test_format_json_shape():
    """JSON is {"cost": number, "routes": [[ids]]}; integer costs stay integers."""
    assert json.loads(format_json(SolveResult(27591.0, [[1, 2], [3]]))) == {
        "cost": 27591,
        "routes": [[1, 2], [3]],
    }
    assert json.loads(format_json(SolveResult(827.3, [[5]])))["cost"] == 827.3


def test_main_prints_json(capsys):
    """main() runs the whole command and prints the JSON answer."""
    status = main([str(CVRP), "--seconds", "1.5", "--json", "--workers", "1"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(out) == {"cost", "routes"}
    assert out["cost"] == pytest.approx(read_file(CVRP).cost(out["routes"]))


def _write_cvrp(path: Path, n: int, capacity: int, seed: int) -> None:
    """A CVRPLIB file: depot at the centre, n customers on a 1,000 x 1,000 grid."""
    import random

    rng = random.Random(seed)
    nodes = [(500, 500)] + [
        (rng.randint(0, 1000), rng.randint(0, 1000)) for _ in range(n)
    ]
    lines = [
        f"NAME : gen-{n}",
        "TYPE : CVRP",
        f"DIMENSION : {n + 1}",
        "EDGE_WEIGHT_TYPE : EUC_2D",
        f"CAPACITY : {capacity}",
        "NODE_COORD_SECTION",
        *(f"{i + 1} {x} {y}" for i, (x, y) in enumerate(nodes)),
        "DEMAND_SECTION",
        *(f"{i + 1} {0 if i == 0 else rng.randint(1, 10)}" for i in range(n + 1)),
        "DEPOT_SECTION",
        "1",
        "-1",
        "EOF",
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("plain_beside", [True, False])
def test_big_file_improved_in_groups_keeps_every_customer_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_beside: bool
):
    """A file of 450 customers takes the group path, with PyVRP's own search
    beside the groups or with the groups on both processes: the answer is
    feasible, visits each customer once and costs what its routes cost."""
    import routes_planner.vrplib as vrplib_module

    monkeypatch.setattr(
        vrplib_module, "_PLAIN_BESIDE_BELOW", 10_000 if plain_beside else 0
    )
    path = tmp_path / "gen-450.vrp"
    _write_cvrp(path, 450, capacity=60, seed=5)
    result = solve_file(path, 3.0, n_workers=2)
    assert result.feasible
    assert sorted(c for r in result.routes for c in r) == list(range(1, 451))
    assert result.cost == pytest.approx(read_file(path).cost(result.routes))
    instance = read_file(path)
    load = [
        sum(instance.data.client(c - 1).delivery[0] for c in r) for r in result.routes
    ]
    assert max(load) <= 60


@pytest.mark.parametrize(
    ("customers", "seconds", "workers", "beside"),
    [
        (450, 10.0, 2, True),  # under 700 customers: always
        (1000, 10.0, 2, False),  # 10 ms a customer: groups on both cores
        (1000, 60.0, 2, True),  # 60 ms a customer: PyVRP's own search beside
        (450, 60.0, 1, False),  # one process: no second core to put it beside
        (450, 60.0, 3, False),
    ],
)
def test_pyvrps_own_search_runs_beside_the_groups_on_small_files_or_long_budgets(
    customers: int, seconds: float, workers: int, beside: bool
):
    from routes_planner.vrplib import _plain_beside

    assert _plain_beside(customers, seconds, workers) is beside

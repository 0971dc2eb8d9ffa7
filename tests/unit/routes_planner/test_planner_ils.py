"""The planner's driver of PyVRP's search follows ``pyvrp.solve`` step for step."""

import math
import random
import warnings
from pathlib import Path

import pytest
from pyvrp import (
    IteratedLocalSearchCallbacks,
    IteratedLocalSearchParams,
    Model,
    PenaltyParams,
    ProblemData,
    Solution,
)
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.search import PerturbationParams
from pyvrp.solve import SolveParams
from pyvrp.solve import solve as pyvrp_solve
from pyvrp.stop import MaxIterations

from routes_planner import _ils
from routes_planner.vrplib import read_file

DATA = Path(__file__).parent / "data"


class _Log(IteratedLocalSearchCallbacks):
    """What a search tells its callbacks: the cost of each new best, restarts,
    and the number of iterations."""

    def __init__(self) -> None:
        self.bests: list[int] = []
        self.restarts = 0
        self.iterations = 0
        self.ended = False

    def on_best(self, best: Solution) -> None:
        self.bests.append(best.distance())

    def on_restart(self, best: Solution) -> None:
        self.restarts += 1

    def on_iteration(self, *_: object) -> None:
        self.iterations += 1

    def on_end(self, _: object) -> None:
        self.ended = True


def _routes(solution: Solution) -> list[tuple[int, list[tuple[str, int]]]]:
    return [
        (r.vehicle_type(), [(a.type.name, a.idx) for a in r.schedule()])
        for r in solution.routes()
    ]


def _rich() -> ProblemData:
    """Two hubs, two loads, reloads, a distance limit, time windows, optional
    clients with prizes and a few shipments: every penalty PyVRP has."""
    rng = random.Random(3)
    model = Model()
    north = model.add_depot(model.add_location(x=0, y=0))
    south = model.add_depot(model.add_location(x=60, y=60))
    model.add_vehicle_type(
        num_available=3,
        capacity=[20, 10],
        start_depot=north,
        end_depot=north,
        reload_depots=[north],
        max_reloads=2,
        max_distance=420,
        tw_late=900,
    )
    model.add_vehicle_type(
        num_available=2, capacity=[15, 15], start_depot=south, end_depot=south
    )
    for i in range(70):
        early = rng.randint(0, 500)
        model.add_client(
            model.add_location(x=rng.randint(0, 100), y=rng.randint(0, 100)),
            delivery=[rng.randint(1, 5), rng.randint(0, 3)],
            service_duration=rng.randint(1, 5),
            tw_early=early,
            tw_late=early + rng.randint(60, 400),
            prize=rng.randint(0, 80),
            required=i % 3 != 0,
        )
    for _ in range(4):
        model.add_shipment(
            model.add_location(x=rng.randint(0, 100), y=rng.randint(0, 100)),
            model.add_location(x=rng.randint(0, 100), y=rng.randint(0, 100)),
            amount=[2, 1],
        )
    _euclidean_edges(model)
    return model.data()


def _euclidean_edges(model: Model) -> None:
    for a in model.locations:
        for b in model.locations:
            length = round(math.hypot(a.x - b.x, a.y - b.y))
            model.add_edge(a, b, distance=length, duration=length)


def _params(log: _Log, penalty: PenaltyParams, **ils: int) -> SolveParams:
    return SolveParams(
        ils=IteratedLocalSearchParams(callbacks=log, **ils),  # type: ignore[arg-type]
        penalty=penalty,
    )


CASES = {
    "CVRP": (lambda: read_file(DATA / "X-n101-k25.vrp").data, {}),
    "windows": (lambda: read_file(DATA / "C101.txt").data, {"history_length": 40}),
    "rich": (_rich, {"num_iters_no_improvement": 60, "history_length": 7}),
}
PENALTIES = {
    "PyVRP's": PenaltyParams(),
    # Low and often updated: infeasible solutions enter the history, and the
    # costs the driver keeps must follow each change of penalties.
    "low": PenaltyParams(solutions_between_updates=50, max_penalty=100.0),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("seed", [1, 2])
def test_same_trajectory_as_pyvrp(case: str, penalty: str, seed: int) -> None:
    """Same seed and iterations, through penalty updates and restarts: the
    same new bests in the same order, the same final solution."""
    make, ils = CASES[case]
    data = make()
    theirs, ours = _Log(), _Log()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        expected = pyvrp_solve(
            data,
            MaxIterations(1_100),
            seed=seed,
            collect_stats=False,
            params=_params(theirs, PENALTIES[penalty], **ils),
        )
        got = _ils.solve(
            data,
            MaxIterations(1_100),
            seed=seed,
            params=_params(ours, PENALTIES[penalty], **ils),
        )
    assert _routes(got.best) == _routes(expected.best)
    assert got.num_iterations == expected.num_iterations == 1_100
    assert ours.bests == theirs.bests and ours.bests
    assert ours.iterations == 1_100 and ours.ended
    assert ours.restarts == theirs.restarts
    if case == "rich":
        assert ours.restarts > 0


def test_same_trajectory_from_an_initial_solution_with_short_kicks() -> None:
    data = read_file(DATA / "X-n101-k25.vrp").data
    start = pyvrp_solve(data, MaxIterations(50), seed=9, collect_stats=False).best
    params = SolveParams(perturbation=PerturbationParams(1, 5))
    expected = pyvrp_solve(
        data,
        MaxIterations(700),
        seed=4,
        collect_stats=False,
        params=params,
        initial_solution=start,
    )
    got = _ils.solve(
        data, MaxIterations(700), seed=4, params=params, initial_solution=start
    )
    assert _routes(got.best) == _routes(expected.best)


def _impossible() -> ProblemData:
    """One client whose load no vehicle can carry: no feasible solution."""
    model = Model()
    model.add_depot(model.add_location(x=0, y=0))
    model.add_vehicle_type(num_available=2, capacity=[5])
    for i in range(1, 8):
        load = 9 if i == 4 else 3
        model.add_client(model.add_location(x=i, y=i), delivery=[load])
    _euclidean_edges(model)
    return model.data()


def test_a_penalty_stuck_at_its_maximum_warns_as_pyvrp_does() -> None:
    """Penalties that climb to their cap warn (PyVRP's PenaltyBoundWarning),
    at the same point of the same search."""
    data = _impossible()
    penalty = PenaltyParams(solutions_between_updates=20, max_penalty=1_000.0)
    results = []
    for solve in (pyvrp_solve, _ils.solve):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kwargs = {"collect_stats": False} if solve is pyvrp_solve else {}
            result = solve(
                data,
                MaxIterations(400),
                seed=5,
                params=SolveParams(penalty=penalty),
                **kwargs,
            )
        warned = [w for w in caught if issubclass(w.category, PenaltyBoundWarning)]
        results.append((_routes(result.best), len(warned) > 0))
    assert results[1][1], "no warning though no feasible solution exists"
    assert results[0] == results[1]

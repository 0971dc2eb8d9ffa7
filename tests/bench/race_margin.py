"""How much further plan()'s first search gets than plain PyVRP at equal time.

Run from the repository root (after `make native` for the build's figures):
    .venv/bin/python tests/bench/race_margin.py [--seconds 10] [--seeds 1 2 3] [--stops 400] [--alone]

On a day the fleet can carry in single trips, the first of plan()'s two searches
follows plain PyVRP's trajectory on the bench's Lagos day step for step (a unit
test checks it at equal iterations), so at equal time ours is at least as good
whenever that search does as many iterations as plain PyVRP needed to reach its
final plan. For each seed this runs plan() (both cores, as in the bench) and
then plain PyVRP alone on the wheel in a child process, and prints: the
iterations of our first search, plain PyVRP's iterations and the iteration of
its last improvement (what ours must reach), the ratio of the two iteration
counts, and both costs.
With ``--alone`` our first search runs by itself in this process, the other core
idle (no second search, no plan() around it): the build's own margin on the day.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import planner as bench

from routes_planner import GreatCircle, PlannerParams, Problem, _ils, plan, solver
from routes_planner.build_info import pyvrp_build, wheel_copy


def _child() -> int:
    """Plain PyVRP on the Lagos day (a child of planner.run_on_wheel). A callback
    notes the iteration of each new best (no statistics: they slow PyVRP down)."""
    from pyvrp import solve
    from pyvrp.IteratedLocalSearch import (
        IteratedLocalSearchCallbacks,
        IteratedLocalSearchParams,
    )
    from pyvrp.solve import SolveParams

    class Watch(IteratedLocalSearchCallbacks):
        iterations = last_better = 0

        def on_iteration(self, *_: object) -> None:
            self.iterations += 1

        def on_best(self, best: object) -> None:
            self.last_better = self.iterations + 1

    day, seconds, seed = bench.wheel_child_input()
    started = time.perf_counter()
    data = bench.pyvrp_data(day)
    stop = bench.WallClock(started + seconds)
    watch = Watch()
    params = SolveParams(ils=IteratedLocalSearchParams(callbacks=watch))
    result = solve(data, stop, seed=seed, params=params, collect_stats=False)
    bench.wheel_child_output(
        {
            "iterations": result.num_iterations,
            "last_better": watch.last_better,
            "cost": result.best.distance(),
        }
    )
    return 0


def _first_search_iterations(
    day: bench.Bench, seconds: float, seed: int, alone: bool = False
) -> tuple[int, float]:
    """Iterations of plan()'s first search (the one with the seed asked for,
    from a random start) and the plan's length, from a spy on the search that
    worker processes inherit (they are forked)."""
    log = Path(tempfile.mkstemp(prefix="race-margin-")[1])
    real = _ils.solve

    def spy(data: Any, stop: Any, **kwargs: Any) -> Any:
        result = real(data, stop, **kwargs)
        if kwargs["seed"] == seed and kwargs.get("initial_solution") is None:
            with log.open("a") as out:
                out.write(f"{result.num_iterations}\n")
        return result

    _ils.solve = spy  # type: ignore[assignment]
    try:
        assert day.problem is not None
        if alone:
            _alone(day.problem, seconds, seed)
            km = math.nan
        else:
            result = plan(day.problem, PlannerParams(), seed=seed, time_limit_s=seconds)
            km = result.distance_m / day.scale
        counts = [int(line) for line in log.read_text().split()]
    finally:
        _ils.solve = real  # type: ignore[assignment]
        log.unlink()
    if len(counts) != 1:
        raise RuntimeError(f"expected one first search with seed {seed}: {counts}")
    return counts[0], km


def _alone(problem: Problem, seconds: float, seed: int) -> None:
    """The first search of plan() on its own: one process, the other core idle."""
    params = PlannerParams()
    stops = list(problem.stops)
    (part,) = solver._make_parts(problem, stops, params, GreatCircle())
    started = time.monotonic()
    job = solver._Job(part, seed, seconds, started + seconds, params, simple=True)
    solver._solve_part(job)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--stops", type=int, default=400, help="Lagos day (< 600)")
    parser.add_argument(
        "--alone",
        action="store_true",
        help="run our first search alone (no second search, no plan()): the build's own margin",
    )
    parser.add_argument("--plain-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain_child:
        return _child()
    day = bench.lagos(args.stops, hubs=3, bikes=20, seed=16)(Path("."))
    wheel = wheel_copy()
    print(f"# ours: {pyvrp_build().detail}; plain PyVRP: "
          f"{'the wheel' if wheel else 'the same build'}; lagos-{args.stops}, "
          f"{args.seconds:g} s")  # fmt: skip
    print(f"{'seed':>4}{'ours it':>9}{'plain it':>10}{'needed':>8}{'ratio':>7}"
          f"{'ours km':>9}{'plain km':>10}  first search got there")  # fmt: skip
    for seed in args.seeds:
        ours_it, ours_km = _first_search_iterations(day, args.seconds, seed, args.alone)
        plain = bench.run_on_wheel(__file__, (day, args.seconds, seed))
        reached = "yes" if ours_it >= plain["last_better"] else "NO"
        print(f"{seed:>4}{ours_it:>9}{plain['iterations']:>10}{plain['last_better']:>8}"
              f"{ours_it / plain['iterations']:>7.2f}{ours_km:>9.1f}"
              f"{plain['cost'] / day.scale:>10.1f}  {reached}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

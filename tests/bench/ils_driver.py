"""The planner's driver of PyVRP's search against ``pyvrp.solve``: time per iteration.

Run from the repository root:
    .venv/bin/python tests/bench/ils_driver.py [--iterations 2000] [--seconds 0]
        [--pairs 6] [--instances X-n200-k36 X-n502-k39 gen-C-500 X-n1001-k43]

Both follow the same trajectory for a seed (tests/unit/routes_planner/test_planner_ils.py),
so the local search does the very same work in both, and more iterations in the same
time can only find as good a solution or a better one. What differs is the Python
around the local search. Each pair runs ``pyvrp.solve`` and ``routes_planner._ils.solve``
for ``--iterations`` iterations with the same seed, one after the other on one core, the
order alternating from pair to pair, and times the loop and, within it, the local
search: the rest is the driver's own time. This machine's speed drifts by 10-30% from
one run to the next, far more than the difference measured here, so the figure that
compares the drivers is the time outside the local search, measured in the same run.

With ``--seconds S`` it also runs each pair for S seconds and counts the iterations
(the ratio that matters, but within that drift).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pyvrp import IteratedLocalSearchCallbacks, IteratedLocalSearchParams, ProblemData
from pyvrp.solve import SolveParams
from pyvrp.solve import solve as pyvrp_solve

sys.path.insert(0, str(Path(__file__).parent))
from planner import WallClock, all_instances, pyvrp_data

from routes_planner import _ils


class _After:
    def __init__(self, iterations: int) -> None:
        self.left = iterations

    def __call__(self, best_cost: float) -> bool:
        self.left -= 1
        return self.left < 0


# Time spent in PyVRP's LocalSearch.__call__ (both drivers call it the same way).
_LOCAL_SEARCH = importlib.import_module("pyvrp.search.LocalSearch").LocalSearch
_in_search = [0.0]
_untimed = _LOCAL_SEARCH.__call__


def _timed(self, solution, evaluator, exhaustive=False):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        return _untimed(self, solution, evaluator, exhaustive)
    finally:
        _in_search[0] += time.perf_counter() - started


class _Clock(IteratedLocalSearchCallbacks):
    """Times the loop: from the end of the first iteration to the search's end."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.loop = 0.0

    def on_iteration(self, *_: object) -> None:
        if self.first is None:
            self.first = time.perf_counter()
            _in_search[0] = 0.0

    def on_end(self, _: object) -> None:
        assert self.first is not None
        self.loop = time.perf_counter() - self.first


def _split(
    data: ProblemData, which: str, iterations: int, seed: int
) -> tuple[float, float]:
    """Microseconds an iteration, in the local search and outside it."""
    clock = _Clock()
    params = SolveParams(ils=IteratedLocalSearchParams(callbacks=clock))
    _LOCAL_SEARCH.__call__ = _timed
    try:
        if which == "pyvrp":
            pyvrp_solve(
                data, _After(iterations), seed=seed, collect_stats=False, params=params
            )
        else:
            _ils.solve(data, _After(iterations), seed=seed, params=params)
    finally:
        _LOCAL_SEARCH.__call__ = _untimed
    runs = iterations - 1  # the first iteration is outside the clock
    inside = _in_search[0]
    return inside / runs * 1e6, (clock.loop - inside) / runs * 1e6


def _iterations(data: ProblemData, which: str, seconds: float, seed: int) -> int:
    stop = WallClock(time.perf_counter() + seconds)
    if which == "pyvrp":
        return pyvrp_solve(data, stop, seed=seed, collect_stats=False).num_iterations
    return _ils.solve(data, stop, seed=seed, params=SolveParams()).num_iterations


def _order(seed: int) -> tuple[str, str]:
    return ("pyvrp", "ours") if seed % 2 else ("ours", "pyvrp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument(
        "--instances",
        nargs="+",
        default=["X-n200-k36", "X-n502-k39", "gen-C-500", "X-n1001-k43"],
    )
    args = parser.parse_args()
    makers = dict(all_instances())
    median = statistics.median
    print(
        f"{args.iterations} iterations a run, {args.pairs} pairs, seeds 1..{args.pairs}"
    )
    print("microseconds an iteration (medians): in the local search | outside it")
    print(f"{'instance':<14}{'search':>8}{'pyvrp.solve':>13}{'ours':>7}{'saved':>7}"
          f"{'iterations':>12}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        datas = {name: pyvrp_data(makers[name](Path(tmp))) for name in args.instances}
        for name, data in datas.items():
            search: list[float] = []
            outside: dict[str, list[float]] = {"pyvrp": [], "ours": []}
            for seed in range(1, args.pairs + 1):
                for which in _order(seed):
                    inside, rest = _split(data, which, args.iterations, seed)
                    search.append(inside)
                    outside[which].append(rest)
            plain, ours = median(outside["pyvrp"]), median(outside["ours"])
            per_iteration = median(search)
            gain = (per_iteration + plain) / (per_iteration + ours)
            print(
                f"{name:<14}{per_iteration:>8.0f}{plain:>13.1f}{ours:>7.1f}"
                f"{plain - ours:>7.1f}{gain:>11.3f}x"
            )
        if args.seconds <= 0:
            return
        print(f"\niterations in {args.seconds:g} s (medians)")
        print(f"{'instance':<14}{'pyvrp.solve':>13}{'ours':>9}{'ratio':>8}  ours ahead")
        for name, data in datas.items():
            plain_runs, our_runs = [], []
            for seed in range(1, args.pairs + 1):
                got = {
                    w: _iterations(data, w, args.seconds, seed) for w in _order(seed)
                }
                plain_runs.append(got["pyvrp"])
                our_runs.append(got["ours"])
            pairs = list(zip(our_runs, plain_runs, strict=True))
            print(
                f"{name:<14}{median(plain_runs):>13,.0f}{median(our_runs):>9,.0f}"
                f"{median(o / p for o, p in pairs):>8.3f}"
                f"  {sum(o > p for o, p in pairs)} of {args.pairs}"
            )


if __name__ == "__main__":
    main()

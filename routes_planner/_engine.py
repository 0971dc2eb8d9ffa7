"""Thin layer over PyVRP's solver: wall-clock deadlines and parallel seeds."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from pyvrp import CostEvaluator, ProblemData, Solution
from pyvrp.search import PerturbationParams
from pyvrp.solve import SolveParams, solve

# PyVRP perturbs its current solution with 1 to 25 random moves before each
# local search. Searches with at most SHORT_KICKS moves make smaller, about four
# times cheaper steps: in 10 s on X-n200-k36 (seven seeds) they came within
# 0.95% of the best known cost, PyVRP's own setting within 2.2%; on X-n101-k25,
# X-n502-k39 and the Solomon instances they did 0.2-1.5% worse, and on the
# time-window files (gen-RC-TW-200, RC101, R101, C1_2_1; four seeds at 10 s)
# 0.2-0.9% worse on average. Neither wins everywhere, so the parallel searches
# on benchmark files under 400 customers without time windows run both (see
# ``portfolio``). Bigger files keep PyVRP's setting: with short
# kicks in their first phase, RC1_10_1 at 60 s came out 3.2% above the best
# known cost, against 2.2-2.4% without. So does plan(): on generated Lagos days
# of 200 and 400 stops (one process, 10 s) short kicks rode 0.7-12% further.
SHORT_KICKS = 5


@dataclass(slots=True)
class Deadline:
    """PyVRP stopping criterion: an absolute ``time.monotonic()`` deadline.

    Unlike ``MaxRuntime`` it also counts the set-up before the first iteration,
    so a run never overshoots its caller's budget by the set-up time. With
    ``max_iterations`` it also stops after that many iterations, which makes a
    run reproducible whenever the deadline is not reached first.

    With ``trial`` (a share of the run) it gives up early when no feasible
    solution has been found by then: after that share of ``max_iterations`` if
    given (so the choice is reproducible), else of the time to the deadline.
    """

    at: float
    max_iterations: int | None = None
    trial: float | None = None
    iterations: int = 0
    gave_up: bool = False
    trial_ends: float = field(init=False)

    def __post_init__(self) -> None:
        share = 1.0 if self.trial is None else self.trial
        self.trial_ends = time.monotonic() + share * (self.at - time.monotonic())

    def __call__(self, best_cost: float) -> bool:
        self.iterations += 1
        if self.max_iterations is not None and self.iterations > self.max_iterations:
            return True
        now = time.monotonic()
        if self.trial is not None and best_cost >= _NO_PLAN:
            if self.max_iterations is not None:
                over = self.iterations > self.trial * self.max_iterations
            else:
                over = now >= self.trial_ends
            if over:
                self.gave_up = True
                return True
        return now >= self.at


# What PyVRP's cost evaluator gives an infeasible solution (the largest int64).
_NO_PLAN = 2**63 - 1


def objective(data: ProblemData, solution: Solution) -> float:
    """Objective of a solution (infinite if infeasible): costs plus prizes missed."""
    if not solution.is_feasible():
        return float("inf")
    evaluator = CostEvaluator([0] * data.num_load_dimensions, 0, 0)
    return float(evaluator.cost(solution))


def run(
    data: ProblemData,
    *,
    seed: int,
    deadline: float,
    max_iterations: int | None = None,
    initial: Solution | None = None,
    trial: float | None = None,
    kicks: int | None = None,
) -> Solution:
    """Solve ``data`` with PyVRP until ``deadline``; return the best solution found.

    With ``trial``, give up when no feasible solution is found in that share of
    the run (see :class:`Deadline`). ``kicks`` caps the random moves that
    perturb the solution before each local search (PyVRP's own cap if None).
    """
    stop = Deadline(deadline, max_iterations, trial)
    params = SolveParams()
    if kicks is not None:
        params = SolveParams(perturbation=PerturbationParams(1, kicks))
    result = solve(
        data,
        stop,
        seed=seed,
        collect_stats=False,
        display=False,
        params=params,
        initial_solution=initial,
    )
    return result.best


def portfolio(n_searches: int, *, windows: bool = False) -> list[int | None]:
    """Kicks of each of ``n_searches`` parallel searches: PyVRP's own setting
    first, then short kicks, alternately. With time ``windows`` all keep PyVRP's
    setting: there short kicks lost on every instance measured (see
    SHORT_KICKS), so a second seed of PyVRP's own search is the stronger
    partner."""
    if windows:
        return [None] * n_searches
    return [None if i % 2 == 0 else SHORT_KICKS for i in range(n_searches)]


def has_windows(data: ProblemData) -> bool:
    """Whether any client of ``data`` has a time window."""
    return any(c.tw_early > 0 or c.tw_late < _NO_WINDOW for c in data.clients())


# PyVRP's default late end of a time window (the largest int64).
_NO_WINDOW = 2**63 - 1


def _run_job(
    job: tuple[ProblemData, int, float, int | None, int | None],
) -> Solution:
    data, seed, deadline, max_iterations, kicks = job
    return run(
        data, seed=seed, deadline=deadline, max_iterations=max_iterations, kicks=kicks
    )


def best_of_seeds(
    data: ProblemData,
    seeds: Sequence[int],
    *,
    deadline: float,
    max_iterations: int | None = None,
    pool: ProcessPoolExecutor | None = None,
    kicks: Sequence[int | None] | None = None,
) -> Solution:
    """Solve with each seed (in parallel when given a pool) and keep the best.

    ``kicks`` gives each search's cap on perturbation (see :func:`portfolio`);
    by default all keep PyVRP's own. Ties go to the earlier seed, so the choice
    does not depend on timing.
    """
    if kicks is None:
        kicks = [None] * len(seeds)
    jobs = [
        (data, seed, deadline, max_iterations, k)
        for seed, k in zip(seeds, kicks, strict=True)
    ]
    if pool is None or len(jobs) == 1:
        solutions = [_run_job(job) for job in jobs]
    else:
        solutions = list(pool.map(_run_job, jobs))
    return min(solutions, key=lambda sol: objective(data, sol))

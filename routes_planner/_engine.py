"""Thin layer over PyVRP's solver: wall-clock deadlines and parallel seeds."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from pyvrp import CostEvaluator, IteratedLocalSearchParams, ProblemData, Solution
from pyvrp.search import PerturbationParams
from pyvrp.solve import SolveParams, solve

# The parallel searches on benchmark files under 400 customers race PyVRP's own
# setting (the first search, with plain PyVRP's seed, so it follows plain
# PyVRP's very trajectory) against a second setting chosen for the instance:
#
# - Short kicks (no time windows, routes of at most SHORT_ROUTE clients). PyVRP
#   perturbs its current solution with 1 to 25 random moves before each local
#   search; at most SHORT_KICKS moves make smaller, about four times cheaper
#   steps. In 10 s on X-n200-k36 (5.5 clients a route) they came within 0.95%
#   of the best known cost over seven seeds, PyVRP's setting within 2.2% (over
#   three other seeds, 0.55% against 2.1%).
#   On the generated 200-customer files of 12 and 20 clients a route they did
#   2.8% and 2.7% worse (three seeds), and 0.3% worse on X-n101-k25 (4 a route,
#   where both searches reach the best known cost in most runs).
# - PyVRP's setting from the next seed (no time windows, longer routes): a
#   second sample of plain PyVRP's search, as strong as the first.
# - A short history (time windows). PyVRP accepts a candidate no worse than the
#   solution of SHORT_HISTORY iterations before (late acceptance), with 300 by
#   default. On Solomon-type files of 200 and 300 customers (six seeds at 10 s)
#   100 came out 0.07-0.58% shorter; short kicks 0.2-0.9% longer.
#
# Bigger files keep PyVRP's setting: with short kicks in their first phase,
# RC1_10_1 at 60 s came out 3.2% above the best known cost, against 2.2-2.4%
# without. So does plan(): on generated Lagos days of 200 and 400 stops (one
# process, 10 s) short kicks rode 0.7-12% further, and on 400 stops a short
# history 1.5% further (six seeds).
SHORT_KICKS = 5
SHORT_HISTORY = 100
SHORT_ROUTE = 8


@dataclass(frozen=True, slots=True)
class Search:
    """How one PyVRP search runs: PyVRP's own setting unless told otherwise."""

    kicks: int | None = None  # at most this many random moves per perturbation
    history: int | None = None  # late acceptance against this many iterations ago

    def params(self) -> SolveParams:
        """PyVRP's parameters for this setting."""
        ils = IteratedLocalSearchParams()
        if self.history is not None:
            ils = IteratedLocalSearchParams(history_length=self.history)
        perturbation = PerturbationParams()
        if self.kicks is not None:
            perturbation = PerturbationParams(1, self.kicks)
        return SolveParams(ils=ils, perturbation=perturbation)


PYVRP = Search()


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


# What PyVRP's cost evaluator gives an infeasible solution (the largest int64,
# also the default close of a time window).
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
    search: Search = PYVRP,
) -> Solution:
    """Solve ``data`` with PyVRP until ``deadline``; return the best solution found.

    With ``trial``, give up when no feasible solution is found in that share of
    the run (see :class:`Deadline`). ``search`` sets how PyVRP searches.
    """
    stop = Deadline(deadline, max_iterations, trial)
    result = solve(
        data,
        stop,
        seed=seed,
        collect_stats=False,
        display=False,
        params=search.params(),
        initial_solution=initial,
    )
    return result.best


def portfolio(data: ProblemData, n_searches: int) -> list[Search]:
    """How each of ``n_searches`` parallel searches on ``data`` runs: PyVRP's own
    setting first, then the one that complements it best, alternately: a short
    history with time windows, short kicks on short routes, else PyVRP's own
    setting (from another seed)."""
    if has_windows(data):
        other = Search(history=SHORT_HISTORY)
    elif clients_per_route(data) <= SHORT_ROUTE:
        other = Search(kicks=SHORT_KICKS)
    else:
        other = PYVRP
    return [PYVRP if i % 2 == 0 else other for i in range(n_searches)]


def clients_per_route(data: ProblemData) -> float:
    """Clients per route when every route is as full as the largest vehicle
    allows (by the first load dimension; all clients when there is none)."""
    if data.num_load_dimensions == 0:
        return float(data.num_clients)
    capacity = max(vt.capacity[0] for vt in data.vehicle_types())
    load = sum(max(c.delivery[0], c.pickup[0]) for c in data.clients())
    return data.num_clients / max(1, math.ceil(load / max(capacity, 1)))


def has_windows(data: ProblemData) -> bool:
    """Whether any client of ``data`` has a time window."""
    # A window that closes at the largest int64 is PyVRP's default: none.
    return any(c.tw_early > 0 or c.tw_late < _NO_PLAN for c in data.clients())


def _run_job(
    job: tuple[ProblemData, int, float, int | None, Search],
) -> Solution:
    data, seed, deadline, max_iterations, search = job
    return run(
        data,
        seed=seed,
        deadline=deadline,
        max_iterations=max_iterations,
        search=search,
    )


def best_of_seeds(
    data: ProblemData,
    seeds: Sequence[int],
    *,
    deadline: float,
    max_iterations: int | None = None,
    pool: ProcessPoolExecutor | None = None,
    searches: Sequence[Search] | None = None,
    first_here: bool = False,
) -> Solution:
    """Solve with each seed (in parallel when given a pool) and keep the best.

    ``searches`` says how each search runs (see :func:`portfolio`); by default
    all keep PyVRP's own setting. Ties go to the earlier seed, so the choice
    does not depend on timing. With ``first_here`` the first search runs in
    this process while the pool runs the others: it starts at once, with no
    process to start or data to copy (for a caller that would only wait).
    """
    if searches is None:
        searches = [PYVRP] * len(seeds)
    jobs = [
        (data, seed, deadline, max_iterations, how)
        for seed, how in zip(seeds, searches, strict=True)
    ]
    if pool is None or len(jobs) == 1:
        solutions = [_run_job(job) for job in jobs]
    elif first_here:
        others = [pool.submit(_run_job, job) for job in jobs[1:]]
        solutions = [_run_job(jobs[0])] + [f.result() for f in others]
    else:
        solutions = list(pool.map(_run_job, jobs))
    return min(solutions, key=lambda sol: objective(data, sol))

"""Thin layer over PyVRP's solver: wall-clock deadlines, parallel seeds, and a board
to share the best solution between processes."""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from pyvrp import (
    CostEvaluator,
    IteratedLocalSearchCallbacks,
    IteratedLocalSearchParams,
    ProblemData,
    Solution,
)
from pyvrp._pyvrp import Activity, ActivityType, Route
from pyvrp.search import PerturbationParams
from pyvrp.solve import SolveParams

from routes_planner import _ils

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

    def params(self, board: Board | None = None) -> SolveParams:
        """PyVRP's parameters for this setting; with ``board``, each new best
        solution is posted there (which does not change the search)."""
        callbacks = None if board is None else _Poster(board)
        ils = IteratedLocalSearchParams(callbacks=callbacks)  # type: ignore[arg-type]
        if self.history is not None:
            ils = IteratedLocalSearchParams(
                history_length=self.history,
                callbacks=callbacks,  # type: ignore[arg-type]
            )
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


class Board:
    """The best solution a search has found so far, posted for searches in
    other processes (see :func:`run`).

    A small file holds the routes (vehicle type and activities of each), written
    whole and renamed into place, so a reader sees the old best or the new one,
    never half of either. One search posts; any number read. The file lives in
    shared memory where there is some (``/dev/shm``), and goes with
    :meth:`close`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None

    @classmethod
    def create(cls) -> Board:
        """A new, empty board (in the temporary folder when ``/dev/shm`` cannot
        take it)."""
        try:
            handle, path = tempfile.mkstemp(prefix="recoop-best-", dir="/dev/shm")
        except OSError:
            handle, path = tempfile.mkstemp(prefix="recoop-best-")
        os.close(handle)
        return cls(path)

    def post(self, solution: Solution) -> None:
        """Put ``solution`` on the board, in place of what was there. Sharing
        only speeds the searches up, so a board that cannot be written (a full
        disk) is left as it was rather than failing the search."""
        routes = [
            (
                route.vehicle_type(),
                [(a.type.name, a.idx) for a in route.schedule()[1:-1]],
            )
            for route in solution.routes()
        ]
        interim = self.path + ".new"
        try:
            with open(interim, "wb") as fh:
                pickle.dump(routes, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(interim, self.path)
        except OSError:
            return

    def read(self, data: ProblemData) -> Solution | None:
        """What was posted since this reader last looked, as a solution of
        ``data``; None when nothing new was (or nothing readable is) there."""
        try:
            with open(self.path, "rb") as fh:
                seen = os.fstat(fh.fileno())
                mark = (seen.st_mtime_ns, seen.st_ino)
                if mark == self._seen or seen.st_size == 0:
                    return None
                routes = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None
        self._seen = mark
        try:
            return Solution(
                data,
                [
                    Route(
                        data,
                        [Activity(_KINDS[kind], idx) for kind, idx in visits],
                        vehicle_type,
                    )
                    for vehicle_type, visits in routes
                ],
            )
        except (ValueError, IndexError, KeyError, RuntimeError):
            return None  # routes that do not fit ``data`` (another model's)

    def close(self) -> None:
        """Remove the board's file."""
        for path in (self.path, self.path + ".new"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Poster(IteratedLocalSearchCallbacks):
    """Posts a search's new best solutions on a board: at most one every
    ``_POST_EVERY`` seconds (a search finds many in its first second), and the
    last one when the search ends."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.pending: Solution | None = None
        self.next_post = 0.0

    def on_best(self, best: Solution) -> None:
        self.pending = best

    def on_iteration(self, *_: object) -> None:
        if self.pending is not None and time.monotonic() >= self.next_post:
            self.board.post(self.pending)
            self.pending = None
            self.next_post = time.monotonic() + _POST_EVERY

    def on_end(self, _: object) -> None:
        if self.pending is not None:
            self.board.post(self.pending)
            self.pending = None


_POST_EVERY = 0.05
_KINDS = {kind.name: kind for kind in ActivityType.__members__.values()}


@dataclass(slots=True)
class _Watch(Deadline):
    """A deadline that also ends the run when a board holds a better solution
    than the run's best (looked at every ``_LOOK_EVERY`` seconds)."""

    board: Board | None = None
    data: ProblemData | None = None
    better: Solution | None = None
    next_look: float = 0.0  # first look at the board then

    def __call__(self, best_cost: float) -> bool:
        if Deadline.__call__(self, best_cost):
            return True
        now = time.monotonic()
        if self.board is None or self.data is None or now < self.next_look:
            return False
        self.next_look = now + _LOOK_EVERY
        posted = self.board.read(self.data)
        if posted is not None and objective(self.data, posted) < best_cost:
            self.better = posted
            return True
        return False


_LOOK_EVERY = 0.2
# A search racing PyVRP's own takes up the other's better solution only in the
# last quarter of its time: until then its own course is worth more. Adopting
# all along, at 10 s, lost the second search's lead over PyVRP's own where it
# has one: X-n200-k36 came out 58,974 · 59,814 · 59,791 (seeds 1-3) against
# 58,684 · 58,869 · 58,876 without, and lagos-400 404.1 km against 395.8 (seed 3).
ADOPT_AFTER = 0.75


def run(
    data: ProblemData,
    *,
    seed: int,
    deadline: float,
    max_iterations: int | None = None,
    initial: Solution | None = None,
    trial: float | None = None,
    search: Search = PYVRP,
    post_to: Board | None = None,
    adopt_from: Board | None = None,
) -> Solution:
    """Solve ``data`` with PyVRP until ``deadline``; return the best solution found.

    With ``trial``, give up when no feasible solution is found in that share of
    the run (see :class:`Deadline`). ``search`` sets how PyVRP searches.

    With ``post_to``, each new best solution is posted on that board, for other
    processes; the search itself is unchanged by it. With ``adopt_from``, in
    the last ``1 - ADOPT_AFTER`` of the time, a solution posted there that is
    better than this search's best is taken up: the search starts again from
    it (with the next seed). Adopting depends on timing, so it is off when
    ``max_iterations`` asks for a reproducible run.
    """
    if max_iterations is not None:
        adopt_from = None
    now = time.monotonic()
    first_look = now + ADOPT_AFTER * (deadline - now)
    best = initial
    while True:
        stop = _Watch(
            deadline,
            max_iterations,
            trial,
            board=adopt_from,
            data=data,
            next_look=first_look,
        )
        result = _ils.solve(
            data,
            stop,
            seed=seed,
            params=search.params(post_to),
            initial_solution=best,
        )
        found = result.best
        if best is None or objective(data, found) <= objective(data, best):
            best = found
        if stop.better is None or time.monotonic() >= deadline:
            return best
        best = stop.better
        seed += 1


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
    job: tuple[ProblemData, int, float, int | None, Search, Board | None, bool],
) -> Solution:
    data, seed, deadline, max_iterations, search, board, posts = job
    return run(
        data,
        seed=seed,
        deadline=deadline,
        max_iterations=max_iterations,
        search=search,
        post_to=board if posts else None,
        adopt_from=None if posts else board,
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
    board: Board | None = None,
) -> Solution:
    """Solve with each seed (in parallel when given a pool) and keep the best.

    ``searches`` says how each search runs (see :func:`portfolio`); by default
    all keep PyVRP's own setting. Ties go to the earlier seed, so the choice
    does not depend on timing. With ``first_here`` the first search runs in
    this process while the pool runs the others: it starts at once, with no
    process to start or data to copy (for a caller that would only wait).

    With ``board``, the first search posts its best solutions there and the
    others take up one that is better than theirs (see :func:`run`): the
    first keeps its own course, the others follow the lead when they lag.
    """
    if searches is None:
        searches = [PYVRP] * len(seeds)
    if pool is None or len(seeds) == 1:
        board = None  # one after the other: nothing to follow
    jobs = [
        (data, seed, deadline, max_iterations, how, board, i == 0)
        for i, (seed, how) in enumerate(zip(seeds, searches, strict=True))
    ]
    if pool is None or len(jobs) == 1:
        solutions = [_run_job(job) for job in jobs]
    elif first_here:
        others = [pool.submit(_run_job, job) for job in jobs[1:]]
        solutions = [_run_job(jobs[0])] + [f.result() for f in others]
    else:
        solutions = list(pool.map(_run_job, jobs))
    return min(solutions, key=lambda sol: objective(data, sol))

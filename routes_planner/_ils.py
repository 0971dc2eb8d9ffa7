"""PyVRP's iterated local search, driven with less Python per iteration.

:func:`solve` takes the same data, stopping criterion, seed, parameters and
initial solution as ``pyvrp.solve`` and follows the very same trajectory: the
same random numbers drawn in the same order, the same penalties updated at the
same iterations, the same candidates accepted (tested against ``pyvrp.solve``
iteration for iteration). What it leaves out is work whose result it already
knows:

- a new cost evaluator is built only when a penalty changes (at most once in
  ``solutions_between_updates`` iterations), not at every iteration;
- a solution's penalised cost is worked out once for each evaluator, not again
  at each iteration while it stays the current solution or the one in the
  late-acceptance history (an evaluator walks the routes: about a microsecond
  for 40 routes);
- the cost of the best solution, which does not depend on the penalties (a
  feasible solution pays none; an infeasible one costs the largest integer),
  only when a new best is found;
- statistics (PyVRP's ``collect_stats``; the planner never reads them).

On 200 to 500 customers that is 12 to 17 microseconds of the 30 to 45 that
PyVRP's loop spends outside the local search at each iteration, about 2% more
iterations in the same time (measured on X-n200-k36 and X-n502-k39).
"""

from __future__ import annotations

import time
from statistics import fmean
from warnings import warn

from pyvrp import CostEvaluator, ProblemData, RandomNumberGenerator, Solution
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.PenaltyManager import PenaltyParams
from pyvrp.Result import Result
from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
from pyvrp.solve import SolveParams
from pyvrp.Statistics import Statistics
from pyvrp.stop import StoppingCriterion


class _Penalties:
    """PyVRP's penalty manager: the penalty of each load dimension, of time
    warp and of excess distance, raised or lowered after each
    ``solutions_between_updates`` solutions by the share of them that was
    feasible in that respect. Same arithmetic as ``pyvrp.PenaltyManager``, so
    the same penalties at the same iterations."""

    def __init__(self, data: ProblemData, params: PenaltyParams) -> None:
        self.params = params
        loads, duration, distance = params.midpoint_penalties(data)
        self.values = [
            min(max(value, params.min_penalty), params.max_penalty)
            for value in [*loads, duration, distance]
        ]
        self.violations: list[list[int]] = [[] for _ in self.values]
        self.previous_average = [float("inf")] * len(self.values)

    def evaluator(self) -> CostEvaluator:
        """A cost evaluator with the current penalties."""
        *loads, duration, distance = self.values
        return CostEvaluator(loads, duration, distance)

    def worst(self) -> CostEvaluator:
        """A cost evaluator with every penalty at its maximum."""
        top = self.params.max_penalty
        return CostEvaluator([top] * (len(self.values) - 2), top, top)

    def register(self, solution: Solution) -> bool:
        """Count ``solution``'s violations; True when the penalties changed."""
        lists = self.violations
        for kind, amount in enumerate(solution.excess_load()):
            lists[kind].append(amount)
        lists[-2].append(solution.time_warp())
        lists[-1].append(solution.excess_distance())
        if len(lists[0]) < self.params.solutions_between_updates:
            return False
        changed = False
        for kind, violations in enumerate(lists):
            changed |= self._update(kind, violations)
            violations.clear()
        return changed

    def _update(self, kind: int, violations: list[int]) -> bool:
        params = self.params
        feasible = fmean(amount == 0 for amount in violations)
        average = fmean(violations)
        penalty = self.values[kind]
        diff = params.target_feasible - feasible
        if (
            penalty >= params.max_penalty
            and diff >= params.feas_tolerance
            and average >= self.previous_average[kind]
        ):
            warn(
                "A penalty has reached its maximum: PyVRP struggles to find a "
                "feasible solution (there may be none).",
                PenaltyBoundWarning,
                stacklevel=4,
            )
        self.previous_average[kind] = average
        if abs(diff) < params.feas_tolerance:
            return False
        factor = params.penalty_increase if diff > 0 else params.penalty_decrease
        new = min(max(factor * penalty, params.min_penalty), params.max_penalty)
        self.values[kind] = new
        return new != penalty


def solve(
    data: ProblemData,
    stop: StoppingCriterion,
    *,
    seed: int,
    params: SolveParams,
    initial_solution: Solution | None = None,
) -> Result:
    """Search ``data`` as ``pyvrp.solve`` does (without statistics) until
    ``stop``; the result holds the best solution and the iteration count.

    The callbacks in ``params.ils`` hear of each iteration, new best solution,
    restart and the end, as in PyVRP; ``on_start`` is not called (it would be
    handed PyVRP's search object, which there is none of here)."""
    started = time.perf_counter()
    rng = RandomNumberGenerator(seed=seed)
    neighbours = compute_neighbours(data, params.neighbourhood)
    search = LocalSearch(
        data, rng, neighbours, PerturbationManager(params.perturbation)
    )
    for operator in params.operators:
        if operator.supports(data):
            search.add_operator(operator(data))
    penalties = _Penalties(data, params.penalty)
    initial = initial_solution
    if initial is None:
        # From a random solution, as PyVRP does (an empty one is hard to start from).
        random = Solution.make_random(data, rng)
        initial = search(random, penalties.worst(), exhaustive=True)

    ils = params.ils
    callbacks = ils.callbacks
    size = ils.history_length
    # Late acceptance: the solution of ``size`` iterations ago (None before
    # there is one) and its penalised cost under the current evaluator (None:
    # not worked out yet).
    history: list[Solution | None] = [None] * size
    history_cost: list[float | None] = [None] * size
    slot = 0

    evaluator = penalties.evaluator()
    initial_cost: float | None = None
    best = current = initial
    best_cost = evaluator.cost(best)
    current_cost: float | None = None
    iterations = since_best = 0
    while not stop(best_cost):
        iterations += 1
        if since_best == ils.num_iters_no_improvement:
            history = [None] * size
            history_cost = [None] * size
            slot = 0
            current, current_cost = best, None
            since_best = 0
            callbacks.on_restart(best)

        candidate = search(current, evaluator, exhaustive=False)
        changed = penalties.register(candidate)

        since_best += 1
        if evaluator.cost(candidate) < best_cost:
            best = candidate
            since_best = 0
            if ils.exhaustive_on_best:
                # Polish the new best; the polished one may be infeasible, and
                # is then the candidate but not the best.
                candidate = search(candidate, evaluator, exhaustive=True)
                if candidate.is_feasible():
                    best = candidate
            best_cost = evaluator.cost(best)
            callbacks.on_best(best)

        candidate_cost = evaluator.penalised_cost(candidate)
        if current_cost is None:
            current_cost = evaluator.penalised_cost(current)
        late = history[slot]
        if late is None:
            if initial_cost is None:
                initial_cost = evaluator.penalised_cost(initial)
            late_cost = initial_cost
        else:
            cached = history_cost[slot]
            late_cost = evaluator.penalised_cost(late) if cached is None else cached
        # Late-acceptance hill climbing (Burke and Bykov, 2017) with both
        # enhancements of their section 4.2: also accept a candidate better
        # than the current solution, and update the history only with a
        # current solution better than the one there.
        if candidate_cost < late_cost or candidate_cost < current_cost:
            current, current_cost = candidate, candidate_cost
        if late is None or current_cost < late_cost:
            history[slot], history_cost[slot] = current, current_cost
        else:
            history_cost[slot] = late_cost
        slot = slot + 1 if slot + 1 < size else 0

        callbacks.on_iteration(current, candidate, best, evaluator)
        if changed:
            evaluator = penalties.evaluator()
            history_cost = [None] * size
            initial_cost = current_cost = None

    result = Result(
        best, Statistics(collect_stats=False), iterations, time.perf_counter() - started
    )
    callbacks.on_end(result)
    return result

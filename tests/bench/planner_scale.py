"""Scale benchmark: a generated Lagos day of 10,000 and 20,000 stops, decomposed.

Run: .venv/bin/python tests/bench/planner_scale.py [--stops 10000 20000]
     [--seconds-per-1000 6]
Prints, per size: wall time, peak memory (parent and largest worker), stops served,
left out by reason, km and the feasibility check; then the 20k/10k time ratio.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter

from routes_planner import GreatCircle, PlannerParams, check_feasible, plan
from routes_planner.synthetic import lagos_day


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stops", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--hubs", type=int, default=5)
    parser.add_argument("--bikes-per-1000", type=float, default=15.0)
    parser.add_argument("--seconds-per-1000", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    times: dict[int, float] = {}
    for n in args.stops:
        bikes = round(n * args.bikes_per_1000 / 1000)
        problem = lagos_day(n, args.hubs, bikes, seed=args.seed, capacity_kg=150.0)
        budget = args.seconds_per_1000 * n / 1000
        started = time.perf_counter()
        result = plan(problem, PlannerParams(), seed=args.seed, time_limit_s=budget)
        elapsed = time.perf_counter() - started
        times[n] = elapsed
        errors = check_feasible(problem, result, distances=GreatCircle())
        served = len(result.served_ids)
        reasons = Counter(u.reason for u in result.unplanned)
        me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        trips = sum(len(r.trips) for r in result.rounds)
        print(
            f"{n:>6} stops, {args.hubs} hubs, {bikes} bikes, budget {budget:.0f} s: "
            f"{elapsed:.1f} s wall, peak RSS parent {me:.0f} MB / largest worker "
            f"{kids:.0f} MB; served {served} ({100 * served / n:.2f}%), "
            f"left out {dict(reasons)}; {len(result.rounds)} rounds, {trips} trips, "
            f"{result.distance_m / 1000:.0f} km "
            f"({result.distance_m / max(served, 1):.0f} m/stop); "
            f"feasibility errors: {len(errors)}",
            flush=True,
        )
    if len(times) >= 2:
        small, large = sorted(times)[:2]
        print(f"time ratio {large}/{small}: {times[large] / times[small]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

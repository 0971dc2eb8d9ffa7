"""Benchmark: solve_file against plain PyVRP at the same wall-clock time.

Run: .venv/bin/python tests/bench/planner_vrplib.py [FILES...] [--seconds 10] [--seeds 0 1]
(files first: --seeds takes every number after it)
Plain PyVRP is one ``pyvrp.solve`` (what ``Model.solve`` runs) stopped when
the budget is up, its set-up included but not reading the file; ours gets the
same budget for the whole call, reading included. Prints cost, gap to the best known (.sol) and the
ratio of gaps.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import vrplib
from planner import (  # tests/bench/planner.py, beside this script
    WallClock,
    run_on_wheel,
    wheel_child_input,
    wheel_child_output,
)
from pyvrp import solve

from routes_planner.build_info import pyvrp_build, wheel_copy
from routes_planner.vrplib import read_file, solve_file

SHARED = Path(__file__).resolve().parents[3] / "shared" / "vrp"


def _instances(paths: list[str]) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    return sorted(p for p in SHARED.iterdir() if p.suffix in {".vrp", ".txt"})


def _plain_here(path: Path, seconds: float, seed: int) -> float:
    """One ``pyvrp.solve`` in this process, stopped when the budget is up."""
    instance = read_file(path)
    plain = solve(
        instance.data,
        WallClock(time.perf_counter() + seconds),
        seed=seed,
        collect_stats=False,
        display=False,
    ).best
    return plain.distance() / instance.scale if plain.is_feasible() else math.inf


def _plain(path: Path, seconds: float, seed: int) -> float:
    """Plain PyVRP as installed from PyPI: in a child on the wheel's package when
    this process runs the build made for this machine (see planner.run_pyvrp)."""
    if wheel_copy() is None:
        return _plain_here(path, seconds, seed)
    cost: float = run_on_wheel(__file__, (path, seconds, seed))
    return cost


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--plain-child"]:
        wheel_child_output(_plain_here(*wheel_child_input()))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    print(f"# ours runs {pyvrp_build().detail}", end="")
    print("; plain PyVRP the wheel, in a child process" if wheel_copy() else "")

    print(
        f"{'instance':<16}{'BKS':>10}{'plain':>11}{'gap':>8}{'ours':>11}{'gap':>8}"
        f"{'wall':>7}"
    )
    gaps: dict[str, list[float]] = {"plain": [], "ours": []}
    for path in _instances(args.files):
        bks = float(vrplib.read_solution(str(path.with_suffix(".sol")))["cost"])
        for seed in args.seeds:
            plain_cost = _plain(path, args.seconds, seed)
            started = time.perf_counter()
            ours = solve_file(path, args.seconds, seed=seed)
            wall = time.perf_counter() - started
            ours_cost = ours.cost if ours.feasible else float("inf")
            plain_gap = 100 * (plain_cost - bks) / bks
            ours_gap = 100 * (ours_cost - bks) / bks
            gaps["plain"].append(plain_gap)
            gaps["ours"].append(ours_gap)
            print(
                f"{path.name:<16}{bks:>10.1f}{plain_cost:>11.1f}{plain_gap:>7.2f}%"
                f"{ours_cost:>11.1f}{ours_gap:>7.2f}%{wall:>6.1f}s",
                flush=True,
            )
    plain_avg = statistics.fmean(gaps["plain"])
    ours_avg = statistics.fmean(gaps["ours"])
    print(
        f"average gap: plain PyVRP {plain_avg:.2f}%, ours {ours_avg:.2f}%, "
        f"ratio ours/plain {ours_avg / plain_avg if plain_avg else float('nan'):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

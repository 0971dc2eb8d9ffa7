"""PyVRP built for this machine (deploy/native_pyvrp.py) against the wheel: speed.

Run from the repository root, after `make native`:
    .venv/bin/python tests/bench/native_pyvrp.py [FILES...] [--iterations 2000] [--rounds 3]

Each round runs ``pyvrp.solve`` for a fixed number of iterations on every file,
once in a child process on the wheel's package (set aside by the build) and
once in a child on the native build, in turns, so both see the same machine.
Prints iterations per second (median over the rounds), the ratio native/wheel,
and whether both reached the same cost (they follow the same search, so they
must).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from routes_planner.build_info import pyvrp_build, wheel_copy

SHARED = Path(__file__).resolve().parents[3] / "shared" / "vrp"
DEFAULT = ("X-n101-k25.vrp", "X-n502-k39.vrp", "X-n1001-k43.vrp", "C101.txt",
           "RC1_10_1.vrp")  # fmt: skip


def _child(path: str, iterations: int) -> None:
    from pyvrp import solve
    from pyvrp.stop import MaxIterations

    from routes_planner.vrplib import read_file

    data = read_file(Path(path)).data
    started = time.perf_counter()
    result = solve(data, MaxIterations(iterations), seed=1, display=False)
    seconds = time.perf_counter() - started
    build = pyvrp_build()
    print(
        json.dumps({"seconds": seconds, "cost": result.cost(), "native": build.native})
    )


def _run(path: Path, iterations: int, pythonpath: Path | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    cmd = [sys.executable, __file__, "--child", str(path), str(iterations)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    out: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return 0
    wheel = wheel_copy()
    if wheel is None:
        print("no native build in this venv: run `make native` first", file=sys.stderr)
        return 2
    files = args.files or [SHARED / name for name in DEFAULT]
    print(f"# {pyvrp_build().detail}\n# against the wheel from PyPI; "
          f"{args.iterations} iterations, {args.rounds} rounds, median")  # fmt: skip
    print(
        f"{'instance':<18}{'wheel it/s':>12}{'native it/s':>13}{'ratio':>8}  same cost"
    )
    ratios = []
    for path in files:
        speed: dict[str, list[float]] = {"wheel": [], "native": []}
        costs: dict[str, set[float]] = {"wheel": set(), "native": set()}
        for _ in range(args.rounds):
            for name, folder in (("wheel", wheel), ("native", None)):
                run = _run(path, args.iterations, folder)
                assert bool(run["native"]) == (name == "native"), "wrong build loaded"
                speed[name].append(args.iterations / run["seconds"])
                costs[name].add(run["cost"])
        w, n = statistics.median(speed["wheel"]), statistics.median(speed["native"])
        ratios.append(n / w)
        same = "yes" if costs["wheel"] == costs["native"] else "NO"
        print(f"{path.name:<18}{w:>12.0f}{n:>13.0f}{n / w:>8.2f}  {same}", flush=True)
    print(f"geometric mean of the ratios: {statistics.geometric_mean(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Planner knobs as one dataclass, with defaults and loading from a TOML file."""

from __future__ import annotations

import argparse
import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class PlannerParams:
    """Parameters of :func:`routes_planner.plan`.

    Parameters
    ----------
    time_limit_s
        Wall-clock budget of a plan in seconds, when ``plan`` is not given one.
    seed
        Random seed, when ``plan`` is not given one.
    max_iterations
        Iteration budget per solver run. When set, and reached before the time
        limit, the same inputs and seed give exactly the same plan; with only a
        time limit the search depends on the machine's speed.
    n_workers
        Processes used to solve in parallel (parts of a big day, or several
        seeds of a small one).
    decompose_above
        Days with more stops than this are split into parts. Measured at 6-10 ms
        of budget per stop: 1,000- and 1,200-stop days came out 0.3-4% shorter
        whole, 1,500 stops even or 2.5% longer, 2,000 stops 2% longer.
    part_size
        Target number of stops per part when a day is split.
    balance_weight
        Cost, in metres of riding, of each minute a bike's day runs over the
        fleet's average day; ``0`` plans for distance only. At 12 km/h, 200
        weighs a minute over the average like a minute of riding.
    must_serve_after_days
        A stop waiting this many days or more must be served.
    base_prize_m
        Value of serving an ordinary stop, in metres of riding: a stop is left
        out only when it would cost more than this, or does not fit. The default
        (40 km) covers a trip of its own to a household 15 km from its hub, so
        a bike with the time serves it rather than leave it waiting a day.
    priority_weight
        Extra prize per priority level, as a fraction of ``base_prize_m``.
    waiting_weight
        Extra prize per day waited, as a fraction of ``base_prize_m``.
    must_serve_prize_m
        Prize of a must-serve stop; large enough that only infeasibility
        leaves one out.
    """

    time_limit_s: float = 5.0
    seed: int = 0
    max_iterations: int | None = None
    n_workers: int = 2
    decompose_above: int = 1200
    part_size: int = 500
    balance_weight: float = 0.0
    must_serve_after_days: int = 3
    base_prize_m: int = 40_000
    priority_weight: float = 0.5
    waiting_weight: float = 0.25
    must_serve_prize_m: int = 100_000_000

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be > 0")
        if self.max_iterations is not None and self.max_iterations <= 0:
            raise ValueError("max_iterations must be > 0 or None")
        if self.n_workers < 1:
            raise ValueError("n_workers must be >= 1")
        if self.part_size < 10:
            raise ValueError("part_size must be >= 10")
        if self.decompose_above < self.part_size:
            raise ValueError("decompose_above must be >= part_size")
        if self.balance_weight < 0:
            raise ValueError("balance_weight must be >= 0")
        if self.must_serve_after_days < 0:
            raise ValueError("must_serve_after_days must be >= 0")
        if self.base_prize_m <= 0 or self.must_serve_prize_m <= self.base_prize_m:
            raise ValueError("need 0 < base_prize_m < must_serve_prize_m")
        if self.priority_weight < 0 or self.waiting_weight < 0:
            raise ValueError("priority_weight and waiting_weight must be >= 0")

    @classmethod
    def from_file(cls, path: str | Path) -> PlannerParams:
        """Load parameters from a TOML file of top-level ``key = value`` pairs.

        Parameters
        ----------
        path
            TOML file; keys are field names of this class, missing keys keep
            their defaults, and unknown keys are an error.

        Returns
        -------
        PlannerParams
            The parameters read.
        """
        with Path(path).open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown planner parameters: {', '.join(unknown)}")
        for name, value in data.items():
            wanted = _KINDS[name]
            # TOML has no int/float mix-up to forgive except an int for a float.
            ok = not isinstance(value, bool) and (
                isinstance(value, int) or (wanted == "a number" and _is_float(value))
            )
            if not ok:
                raise ValueError(f"{name} must be {wanted}, not {value!r}")
        return cls(**data)

    def replace(self, **changes: Any) -> PlannerParams:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _is_float(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value)


# What each field takes in a file: whole numbers, or any (finite) number.
_KINDS = {
    f.name: "a number" if "float" in str(f.type) else "a whole number"
    for f in dataclasses.fields(PlannerParams)
}


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value

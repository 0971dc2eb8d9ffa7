"""Generated Lagos days for tests, benchmarks and demos (seeded, reproducible)."""

from __future__ import annotations

import numpy as np

from routes_planner.models import Bike, Hub, Problem, Stop

# Lagos mainland and the island, roughly Ikeja to Lekki Phase 1.
_LAT = (6.43, 6.62)
_LON = (3.30, 3.50)
_HUB_SITES = (
    ("yaba", 6.5095, 3.3711),
    ("ikeja", 6.6018, 3.3515),
    ("surulere", 6.4969, 3.3534),
    ("ikoyi", 6.4541, 3.4347),
    ("oshodi", 6.5550, 3.3465),
    ("ajegunle", 6.4590, 3.3320),
    ("bariga", 6.5390, 3.3880),
    ("lekki", 6.4474, 3.4720),
)


def lagos_day(
    n_stops: int,
    n_hubs: int = 3,
    n_bikes: int = 10,
    *,
    seed: int = 0,
    capacity_kg: float = 120.0,
    windows: float = 0.3,
) -> Problem:
    """A day of pickups in neighbourhood clusters around Lagos hubs.

    Parameters
    ----------
    n_stops
        Number of stops.
    n_hubs
        Number of hubs (at most 8), each with a share of the bikes.
    n_bikes
        Number of bikes, spread over the hubs in turn.
    seed
        Seed of the generator: the same seed gives the same day.
    capacity_kg
        Capacity of every bike.
    windows
        Fraction of stops with a two-hour window.

    Returns
    -------
    Problem
        Stops of 1-10 kg, 3-6 minutes' service; bikes on 08:00-18:00 shifts.
    """
    if not 1 <= n_hubs <= len(_HUB_SITES):
        raise ValueError(f"n_hubs must be in 1..{len(_HUB_SITES)}")
    rng = np.random.default_rng(seed)
    hubs = tuple(Hub(name, lat, lon) for name, lat, lon in _HUB_SITES[:n_hubs])
    # Households cluster in neighbourhoods; a fifth are scattered.
    centres = np.column_stack(
        [
            rng.uniform(*_LAT, size=max(4, n_stops // 150)),
            rng.uniform(*_LON, size=max(4, n_stops // 150)),
        ]
    )
    pick = rng.integers(0, len(centres), size=n_stops)
    points = centres[pick] + rng.normal(0, 0.006, size=(n_stops, 2))
    scattered = rng.random(n_stops) < 0.2
    points[scattered] = np.column_stack(
        [
            rng.uniform(*_LAT, size=scattered.sum()),
            rng.uniform(*_LON, size=scattered.sum()),
        ]
    )
    points[:, 0] = points[:, 0].clip(*_LAT)
    points[:, 1] = points[:, 1].clip(*_LON)
    kg = np.round(rng.gamma(2.0, 2.0, size=n_stops).clip(0.5, 10.0), 1)
    service = rng.integers(3, 7, size=n_stops)
    has_window = rng.random(n_stops) < windows
    window_start = rng.integers(8, 16, size=n_stops) * 60
    priority = rng.choice([0, 0, 0, 1, 2], size=n_stops)
    waiting = rng.choice([0, 0, 0, 1, 2, 3], size=n_stops)
    stops = tuple(
        Stop(
            id=f"s{i}",
            lat=float(points[i, 0]),
            lon=float(points[i, 1]),
            expected_kg=float(kg[i]),
            service_min=float(service[i]),
            window=(int(window_start[i]), int(window_start[i]) + 120)
            if has_window[i]
            else None,
            priority=int(priority[i]),
            waiting_days=int(waiting[i]),
        )
        for i in range(n_stops)
    )
    bikes = tuple(
        Bike(
            id=f"b{j}",
            hub_id=hubs[j % n_hubs].id,
            capacity_kg=capacity_kg,
            shift_start_min=8 * 60,
            shift_end_min=18 * 60,
        )
        for j in range(n_bikes)
    )
    return Problem(stops, bikes, hubs)

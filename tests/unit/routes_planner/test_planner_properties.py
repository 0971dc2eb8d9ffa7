"""Properties of plan() on generated days: whatever the day, the plan is feasible
and accounts for every stop exactly once (served, or left out with a reason)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routes_planner import (
    NO_CAPACITY,
    OUTSIDE_SHIFT,
    TOO_HEAVY,
    WINDOW_UNREACHABLE,
    Bike,
    GreatCircle,
    Hub,
    PlannerParams,
    Problem,
    Stop,
    check_feasible,
    plan,
)

REASONS = {NO_CAPACITY, OUTSIDE_SHIFT, TOO_HEAVY, WINDOW_UNREACHABLE}
# One process and a small iteration budget: each example plans in well under 1 s.
QUICK = PlannerParams(n_workers=1, max_iterations=300)
HUBS = [Hub("yaba", 6.5095, 3.3711), Hub("surulere", 6.4969, 3.3547)]


@st.composite
def days(draw: st.DrawFn) -> Problem:
    """1-2 hubs, 1-3 bikes, 1-18 stops within about 3 km of the hubs: any load,
    windows or none, priorities and waiting, some stops too heavy for every bike."""
    hubs = HUBS[: draw(st.integers(1, 2))]
    bikes = []
    for i in range(draw(st.integers(1, 3))):
        start = draw(st.integers(420, 600))
        bikes.append(
            Bike(
                f"b{i}",
                draw(st.sampled_from(hubs)).id,
                capacity_kg=draw(st.floats(20, 150)),
                shift_start_min=start,
                shift_end_min=start + draw(st.integers(90, 600)),
                speed_kmh=draw(st.floats(6, 20)),
                max_reloads=draw(st.one_of(st.none(), st.integers(0, 2))),
            )
        )
    stops = []
    for i in range(draw(st.integers(1, 18))):
        window = None
        if draw(st.booleans()):
            early = draw(st.integers(420, 1000))
            window = (early, min(1439, early + draw(st.integers(20, 240))))
        stops.append(
            Stop(
                f"s{i}",
                HUBS[0].lat + draw(st.floats(-0.03, 0.03)),
                HUBS[0].lon + draw(st.floats(-0.03, 0.03)),
                expected_kg=draw(st.floats(0, 180)),
                service_min=draw(st.floats(0, 15)),
                window=window,
                priority=draw(st.integers(0, 3)),
                waiting_days=draw(st.integers(0, 4)),
            )
        )
    return Problem(stops, bikes, hubs)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(days(), st.integers(0, 3))
def test_every_plan_is_feasible_and_accounts_for_every_stop(
    problem: Problem, seed: int
) -> None:
    result = plan(problem, QUICK, seed=seed, time_limit_s=2.0)
    assert (
        check_feasible(
            problem, result, distances=GreatCircle(), allow_unplanned_must_serve=True
        )
        == []
    )
    served = [v.stop_id for r in result.rounds for t in r.trips for v in t.visits]
    left = [u.stop_id for u in result.unplanned]
    assert sorted(served + left) == sorted(s.id for s in problem.stops)
    assert {u.reason for u in result.unplanned} <= REASONS
    heaviest = max(b.capacity_kg for b in problem.bikes)
    for stop in problem.stops:
        if stop.expected_kg > heaviest:
            assert (stop.id, TOO_HEAVY) in {
                (u.stop_id, u.reason) for u in result.unplanned
            }

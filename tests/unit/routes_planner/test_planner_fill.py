"""fill_left_out(): stops a part left out go into rounds with room, never breaking one."""

import dataclasses

import pytest

from routes_planner import (
    NO_CAPACITY,
    Bike,
    GreatCircle,
    Hub,
    Plan,
    PlannerParams,
    Problem,
    Stop,
    Unplanned,
    check_feasible,
    plan,
)
from routes_planner.fill import fill_left_out
from routes_planner.synthetic import lagos_day

YABA = Hub("yaba", 6.5095, 3.3711)
IKEJA = Hub("ikeja", 6.6018, 3.3515)
QUICK = PlannerParams(n_workers=1, max_iterations=1_000)
FOREVER = float("inf")


def _fill(problem, result, left):
    unplanned = [Unplanned(s.id, NO_CAPACITY) for s in left]
    rounds, still = fill_left_out(
        problem,
        result.rounds,
        [*result.unplanned, *unplanned],
        GreatCircle(),
        value=lambda s: s.priority,
        deadline=FOREVER,
    )
    filled = Plan(tuple(rounds), tuple(still))
    # As in plan(): a must-serve stop nobody can reach is left out with a reason.
    errors = check_feasible(
        problem, filled, distances=GreatCircle(), allow_unplanned_must_serve=True
    )
    assert errors == []
    return filled


def _bike(bike_id, hub="yaba", **fields):
    base = {"capacity_kg": 100.0, "shift_start_min": 480, "shift_end_min": 1080}
    return Bike(bike_id, hub, **{**base, **fields})


def _near(i, hub=YABA, kg=10.0, **fields):
    return Stop(f"s{i}", hub.lat + 0.003 * i, hub.lon + 0.002, kg, **fields)


def test_a_round_with_room_takes_the_stop_left_out():
    """A stop left out by its part goes into a nearby round that has time and room."""
    stops = [_near(i) for i in range(1, 6)]
    problem = Problem(stops, [_bike("b1")], [YABA])
    result = plan(Problem(stops[:4], [_bike("b1")], [YABA]), QUICK, time_limit_s=0.5)
    filled = _fill(problem, result, stops[4:])
    assert filled.unplanned == ()
    assert len(filled.served_ids) == 5


def test_a_full_round_stays_as_it_was():
    """No room (load) and no time for another trip: the stop stays left out, the
    round is returned untouched."""
    stops = [_near(i, kg=50.0) for i in range(1, 4)]
    bike = _bike("b1", shift_end_min=560, max_reloads=0)
    problem = Problem(stops, [bike], [YABA])
    result = plan(Problem(stops[:2], [bike], [YABA]), QUICK, time_limit_s=0.5)
    filled = _fill(problem, result, stops[2:])
    assert [u.stop_id for u in filled.unplanned] == ["s3"]
    assert filled.rounds == result.rounds


def test_a_bike_from_another_hub_with_no_round_gets_one():
    """An idle bike of another hub serves a stop its own hub's part could not."""
    stops = [_near(i, hub=IKEJA) for i in range(1, 3)]
    bikes = [_bike("b1", shift_end_min=500), _bike("b2", hub="ikeja")]
    problem = Problem(stops, bikes, [YABA, IKEJA])
    filled = _fill(problem, Plan(()), stops)
    assert filled.unplanned == ()
    assert {r.bike_id for r in filled.rounds} == {"b2"}


def test_windows_are_kept_and_the_valuable_go_first():
    """With room for one more, the higher-priority stop is served, in its window."""
    stops = [_near(1, kg=60.0)]
    extra = [
        _near(2, kg=30.0, window=(600, 660), priority=1),
        _near(3, kg=30.0, window=(600, 660), priority=5),
    ]
    bike = _bike("b1", max_reloads=0)
    problem = Problem(stops + extra, [bike], [YABA])
    result = plan(Problem(stops, [bike], [YABA]), QUICK, time_limit_s=0.5)
    filled = _fill(problem, result, extra)
    assert [u.stop_id for u in filled.unplanned] == ["s2"]
    (visit,) = [v for v in filled.rounds[0].visits if v.stop_id == "s3"]
    assert 600 <= visit.start_min <= 660


@pytest.mark.parametrize("seed", range(8))
def test_filled_plans_are_always_feasible(seed):
    """Random days, a third of the stops held back and then filled in: every plan
    passes the independent check, and no stop is lost or doubled."""
    problem = lagos_day(90, n_hubs=2, n_bikes=3, seed=seed, capacity_kg=60.0)
    result, filled = _hold_back_a_third(problem)
    assert len(filled.served_ids) > len(result.served_ids)


def _hold_back_a_third(problem):
    """Plan without every third stop, fill those in; the plan before and after.
    Every stop ends up served or left out, once."""
    held = problem.stops[::3]
    rest = [s for s in problem.stops if s not in held]
    result = plan(dataclasses.replace(problem, stops=rest), QUICK, time_limit_s=0.5)
    filled = _fill(problem, result, held)
    accounted = filled.served_ids | {u.stop_id for u in filled.unplanned}
    assert accounted == {s.id for s in problem.stops}
    assert len(accounted) == len(filled.served_ids) + len(filled.unplanned)
    return result, filled


def test_a_stop_no_round_has_time_for_gets_one_by_a_swap():
    """The only bike that can reach a stop in its window is full for the day, and
    the other bike starts too late for the window. The pass moves the full bike's
    unhurried stop to the late bike and serves the stop in its window."""
    east = 2000 / 111_320  # about 2 km east of the hub, 10 minutes' ride
    slow = Stop("slow", YABA.lat, YABA.lon + east, 10.0, service_min=60)
    timed = Stop("timed", YABA.lat + 0.001, YABA.lon + east, 10.0, window=(500, 520))
    early = _bike("early", shift_end_min=560)
    late = _bike("late", shift_start_min=530, shift_end_min=700)
    problem = Problem([slow, timed], [early, late], [YABA])
    # The early bike's day: out to the slow stop at 490, an hour there, back at 560.
    result = plan(Problem([slow], [early], [YABA]), QUICK, time_limit_s=0.5)
    assert result.rounds[0].end_min > 550

    filled = _fill(problem, result, [timed])

    assert filled.unplanned == ()
    visits = {r.bike_id: [v.stop_id for v in r.visits] for r in filled.rounds}
    assert visits == {"early": ["timed"], "late": ["slow"]}
    (served,) = next(r for r in filled.rounds if r.bike_id == "early").visits
    assert 500 <= served.start_min <= 520


@pytest.mark.parametrize("seed", range(6))
def test_filled_plans_with_bikes_already_out_are_always_feasible(seed):
    """As above, mid-day: some bikes are out with a load and must keep their first
    trip's start where they are, also when the pass swaps their stops."""
    problem = lagos_day(90, n_hubs=2, n_bikes=4, seed=seed, capacity_kg=60.0)
    out = problem.stops[0]
    bikes = [
        dataclasses.replace(
            b, shift_start_min=720, start_at=(out.lat, out.lon), load_kg=20.0
        )
        if i % 2 == 0
        else b
        for i, b in enumerate(problem.bikes)
    ]
    problem = dataclasses.replace(problem, stops=problem.stops[1:], bikes=bikes)
    result, filled = _hold_back_a_third(problem)
    assert len(filled.served_ids) >= len(result.served_ids)

"""check_feasible() catches each kind of violation in hand-built plans."""

import dataclasses

import pytest

from routes_planner import (
    NO_CAPACITY,
    Bike,
    GreatCircle,
    Hub,
    Plan,
    Problem,
    Round,
    Stop,
    Trip,
    Unplanned,
    Visit,
    check_feasible,
)

HUB = Hub("yaba", 6.5095, 3.3711)
# Two stops a few hundred metres from the hub: a couple of minutes' ride.
A = Stop("a", 6.5120, 3.3730, expected_kg=30.0, service_min=5)
B = Stop("b", 6.5140, 3.3700, expected_kg=40.0, service_min=5, window=(540, 600))
BIKE = Bike("bike", "yaba", capacity_kg=100.0, shift_start_min=480, shift_end_min=720)
PROBLEM = Problem([A, B], [BIKE], [HUB])


def _good_round() -> Round:
    visits = (
        Visit("a", arrival_min=500.0, start_min=500.0, load_kg_after=30.0),
        Visit("b", arrival_min=520.0, start_min=540.0, load_kg_after=70.0),
    )
    trip = Trip(
        visits, depart_min=490.0, return_min=560.0, load_kg=70.0, distance_m=900
    )
    return Round(
        "bike", "yaba", (trip,), start_min=490.0, end_min=560.0, distance_m=900
    )


def _with_trip(rnd: Round, **changes) -> Round:
    return dataclasses.replace(
        rnd, trips=(dataclasses.replace(rnd.trips[0], **changes),)
    )


def test_good_plan_is_feasible():
    """A plan keeping every rule yields no messages, also with travel times checked."""
    plan = Plan((_good_round(),), ())
    assert check_feasible(PROBLEM, plan) == []
    assert check_feasible(PROBLEM, plan, distances=GreatCircle()) == []


def test_over_capacity_trip_is_caught():
    """A trip carrying more than the bike's capacity is reported."""
    heavy = dataclasses.replace(BIKE, capacity_kg=60.0)
    problem = Problem([A, B], [heavy], [HUB])
    errors = check_feasible(problem, Plan((_good_round(),), ()))
    assert any("capacity" in e for e in errors)


def test_late_return_past_shift_is_caught():
    """A round ending after the shift is reported."""
    early_bike = dataclasses.replace(BIKE, shift_end_min=550)
    problem = Problem([A, B], [early_bike], [HUB])
    errors = check_feasible(problem, Plan((_good_round(),), ()))
    assert any("after its shift" in e for e in errors)


def test_start_before_shift_is_caught():
    """A round starting before the shift is reported."""
    late_bike = dataclasses.replace(BIKE, shift_start_min=495)
    problem = Problem([A, B], [late_bike], [HUB])
    errors = check_feasible(problem, Plan((_good_round(),), ()))
    assert any("before its shift" in e for e in errors)


def test_service_outside_window_is_caught():
    """Serving a stop outside its window is reported."""
    rnd = _good_round()
    visits = (
        rnd.trips[0].visits[0],
        Visit("b", arrival_min=520.0, start_min=520.0, load_kg_after=70.0),
    )
    errors = check_feasible(PROBLEM, Plan((_with_trip(rnd, visits=visits),), ()))
    assert any("outside its window" in e for e in errors)


def test_stop_visited_twice_is_caught():
    """The same stop in two places is reported."""
    rnd = _good_round()
    first = rnd.trips[0].visits[0]
    again = Visit("a", arrival_min=545.0, start_min=545.0, load_kg_after=100.0)
    visits = (*rnd.trips[0].visits, again)
    plan = Plan((_with_trip(rnd, visits=visits, load_kg=100.0),), ())
    errors = check_feasible(PROBLEM, plan)
    assert any("more than once" in e for e in errors)
    assert first.stop_id == "a"


def test_dropped_stop_is_caught():
    """A stop neither served nor listed as unplanned is reported."""
    rnd = _good_round()
    only_a = (rnd.trips[0].visits[0],)
    plan = Plan((_with_trip(rnd, visits=only_a, load_kg=30.0),), ())
    errors = check_feasible(PROBLEM, plan)
    assert any("neither served nor unplanned" in e for e in errors)


def test_must_serve_stop_left_out_is_caught():
    """A must-serve (or long-waiting) stop left out is reported unless allowed."""
    waiting = dataclasses.replace(B, waiting_days=3)
    problem = Problem([A, waiting], [BIKE], [HUB])
    rnd = _good_round()
    only_a = (rnd.trips[0].visits[0],)
    plan = Plan(
        (_with_trip(rnd, visits=only_a, load_kg=30.0),), (Unplanned("b", NO_CAPACITY),)
    )
    assert any("must-serve" in e for e in check_feasible(problem, plan))
    assert check_feasible(problem, plan, allow_unplanned_must_serve=True) == []


def test_too_many_trips_is_caught():
    """More trips than max_reloads allows is reported."""
    single = dataclasses.replace(BIKE, max_reloads=0)
    problem = Problem([A, B], [single], [HUB])
    rnd = _good_round()
    first = Trip(
        (rnd.trips[0].visits[0],),
        depart_min=490,
        return_min=510,
        load_kg=30,
        distance_m=1,
    )
    second = Trip(
        (Visit("b", 530.0, 540.0, 40.0),),
        depart_min=515,
        return_min=560,
        load_kg=40,
        distance_m=1,
    )
    plan = Plan((dataclasses.replace(rnd, trips=(first, second)),), ())
    assert check_feasible(Problem([A, B], [BIKE], [HUB]), plan) == []
    assert any("unloads" in e for e in check_feasible(problem, plan))


def test_impossible_travel_time_is_caught():
    """Arriving sooner than the ride allows is reported when distances are given."""
    rnd = _good_round()
    visits = (
        Visit("a", arrival_min=490.0, start_min=490.0, load_kg_after=30.0),
        rnd.trips[0].visits[1],
    )
    plan = Plan((_with_trip(rnd, visits=visits),), ())
    assert check_feasible(PROBLEM, plan) == []
    errors = check_feasible(PROBLEM, plan, distances=GreatCircle())
    assert any("too early to have ridden" in e for e in errors)


@pytest.mark.parametrize("field", ["load_kg_after", "load_kg"])
def test_misreported_load_is_caught(field):
    """Loads that do not add up are reported."""
    rnd = _good_round()
    if field == "load_kg":
        bad = _with_trip(rnd, load_kg=10.0)
    else:
        visits = (dataclasses.replace(rnd.trips[0].visits[0], load_kg_after=1.0),)
        visits += rnd.trips[0].visits[1:]
        bad = _with_trip(rnd, visits=visits)
    assert any("misreported" in e for e in check_feasible(PROBLEM, Plan((bad,), ())))


def test_unknown_bike_and_wrong_hub_are_caught():
    """Rounds for unknown bikes, or from the wrong hub, are reported."""
    rnd = _good_round()
    errors = check_feasible(PROBLEM, Plan((dataclasses.replace(rnd, bike_id="x"),), ()))
    assert any("unknown bike" in e for e in errors)
    errors = check_feasible(
        PROBLEM, Plan((dataclasses.replace(rnd, hub_id="ikeja"),), ())
    )
    assert any("hub" in e for e in errors)


# A bike already out: 1.5 km north of the hub with 20 kg on board.
OUT = dataclasses.replace(BIKE, start_at=(6.5230, 3.3711), load_kg=20.0)


def _round_from_out(carried: float = 20.0) -> Round:
    visits = (
        Visit("a", arrival_min=500.0, start_min=500.0, load_kg_after=carried + 30),
        Visit("b", arrival_min=520.0, start_min=540.0, load_kg_after=carried + 70),
    )
    trip = Trip(visits, 490.0, 560.0, load_kg=carried + 70, distance_m=2000)
    return Round("bike", "yaba", (trip,), 490.0, 560.0, 2000, start_at=OUT.start_at)


def test_round_of_a_bike_already_out_counts_its_load_and_start():
    """A round leaving from where the bike is carries its load until the hub."""
    problem = Problem([A, B], [OUT], [HUB])
    plan = Plan((_round_from_out(),), ())
    assert check_feasible(problem, plan, distances=GreatCircle()) == []
    # The load on board is part of the first trip: forgetting it is caught...
    errors = check_feasible(problem, Plan((_round_from_out(carried=0.0),), ()))
    assert any("misreported" in e for e in errors)
    # ...and so is a trip that would overflow because of it.
    small = dataclasses.replace(OUT, capacity_kg=80.0)
    errors = check_feasible(Problem([A, B], [small], [HUB]), plan)
    assert any("carries 90.0 kg" in e for e in errors)
    # A round cannot start somewhere the bike is not.
    elsewhere = dataclasses.replace(_round_from_out(), start_at=(6.60, 3.40))
    errors = check_feasible(problem, Plan((elsewhere,), ()))
    assert any("not where the bike is" in e for e in errors)


def test_bike_out_that_unloads_first_must_ride_to_the_hub():
    """Without ``start_at`` the round's first trip leaves the hub, empty, after the
    ride there from where the bike was."""
    far = dataclasses.replace(OUT, start_at=(6.60, 3.3711))  # 10 km away
    problem = Problem([A, B], [far], [HUB])
    rnd = dataclasses.replace(_good_round(), start_min=480.0)
    errors = check_feasible(problem, Plan((rnd,), ()), distances=GreatCircle())
    assert any("leaves before" in e for e in errors)
    later = dataclasses.replace(_good_round(), start_min=430.0)
    ok = Problem([A, B], [dataclasses.replace(far, shift_start_min=420)], [HUB])
    assert check_feasible(ok, Plan((later,), ()), distances=GreatCircle()) == []

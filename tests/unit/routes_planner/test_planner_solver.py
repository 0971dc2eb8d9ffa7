"""plan(): capacity, windows, shifts, reloads, must-serve, reasons, seeds, scale."""

import dataclasses
import time

from routes_planner import (
    NO_CAPACITY,
    OUTSIDE_SHIFT,
    TOO_HEAVY,
    WINDOW_UNREACHABLE,
    Bike,
    GreatCircle,
    Hub,
    Plan,
    PlannerParams,
    PrecomputedTable,
    Problem,
    Stop,
    check_feasible,
    plan,
)
from routes_planner.synthetic import lagos_day

HUB = Hub("yaba", 6.5095, 3.3711)
# One process and an iteration cap keep these small tests quick and reproducible.
QUICK = PlannerParams(n_workers=1, max_iterations=2_000)


def _ring(n: int, kg: float = 10.0, **stop_fields) -> list[Stop]:
    """Stops on a small grid around the Yaba hub (within about 2 km)."""
    return [
        Stop(
            f"s{i}",
            HUB.lat + 0.004 * ((i % 5) - 2),
            HUB.lon + 0.004 * ((i // 5) - 2),
            expected_kg=kg,
            **stop_fields,
        )
        for i in range(n)
    ]


def _bike(bike_id: str = "b1", **fields) -> Bike:
    base = {"capacity_kg": 100.0, "shift_start_min": 480, "shift_end_min": 1080}
    return Bike(bike_id, "yaba", **{**base, **fields})


def _assert_feasible(problem, result):
    assert check_feasible(problem, result, distances=GreatCircle()) == []


def test_small_day_is_served_feasibly():
    """A light day is served completely, within capacity, windows and shift."""
    stops = _ring(12, window=None)
    stops[3] = dataclasses.replace(stops[3], window=(600, 630))
    stops[7] = dataclasses.replace(stops[7], window=(540, 560))
    problem = Problem(stops, [_bike("b1"), _bike("b2")], [HUB])
    result = plan(problem, QUICK, time_limit_s=1.0)
    _assert_feasible(problem, result)
    assert result.unplanned == ()
    assert len(result.served_ids) == 12
    served_at = {v.stop_id: v for r in result.rounds for v in r.visits}
    assert 600 <= served_at["s3"].start_min <= 630
    assert 540 <= served_at["s7"].start_min <= 560


def test_bike_reloads_at_hub_when_capacity_is_short():
    """One bike of 50 kg collects 150 kg by unloading at the hub between trips."""
    problem = Problem(_ring(15, kg=10.0), [_bike(capacity_kg=50.0)], [HUB])
    result = plan(problem, QUICK, time_limit_s=1.0)
    _assert_feasible(problem, result)
    assert result.unplanned == ()
    (rnd,) = result.rounds
    assert len(rnd.trips) >= 3
    assert all(trip.load_kg <= 50.0 for trip in rnd.trips)


def test_max_reloads_limits_trips_and_leaves_the_rest():
    """Without reloads a bike makes one trip; stops beyond it wait for another day."""
    problem = Problem(
        _ring(15, kg=10.0), [_bike(capacity_kg=50.0, max_reloads=0)], [HUB]
    )
    result = plan(problem, QUICK, time_limit_s=1.0)
    _assert_feasible(problem, result)
    (rnd,) = result.rounds
    assert len(rnd.trips) == 1
    assert len(result.served_ids) == 5
    assert {u.reason for u in result.unplanned} == {NO_CAPACITY}


def test_shift_length_is_respected():
    """A one-hour shift serves only what fits in the hour; the round ends in time."""
    stops = _ring(25, kg=1.0, service_min=10)
    problem = Problem(stops, [_bike(shift_start_min=480, shift_end_min=540)], [HUB])
    result = plan(problem, QUICK, time_limit_s=1.0)
    _assert_feasible(problem, result)
    assert all(r.end_min <= 540 for r in result.rounds)
    assert 0 < len(result.served_ids) < 25


def test_must_serve_and_priority_win_when_capacity_is_short():
    """When not all fit, stops waiting 3+ days and high priorities are served first."""
    stops = _ring(10, kg=10.0)
    stops[0] = dataclasses.replace(stops[0], waiting_days=3)
    stops[9] = dataclasses.replace(stops[9], must_serve=True)
    stops[5] = dataclasses.replace(stops[5], priority=5)
    problem = Problem(stops, [_bike(capacity_kg=30.0, max_reloads=0)], [HUB])
    result = plan(problem, QUICK, time_limit_s=1.0)
    assert check_feasible(problem, result, distances=GreatCircle()) == []
    assert {"s0", "s9", "s5"} <= result.served_ids
    assert len(result.served_ids) == 3


def test_reasons_for_stops_that_cannot_be_served():
    """Each impossible stop is left out with the reason that applies."""
    near = _ring(2)
    heavy = Stop("heavy", HUB.lat, HUB.lon + 0.001, expected_kg=500.0)
    evening = Stop("evening", HUB.lat, HUB.lon + 0.002, 5.0, window=(1200, 1260))
    # 30 km away: 2.5 hours' ride, so an 8:00-8:30 window cannot be reached.
    far_early = Stop("far", HUB.lat + 0.27, HUB.lon, 5.0, window=(480, 510))
    problem = Problem([*near, heavy, evening, far_early], [_bike()], [HUB])
    result = plan(problem, QUICK, time_limit_s=0.5)
    _assert_feasible(problem, result)
    reasons = {u.stop_id: u.reason for u in result.unplanned}
    assert reasons == {
        "heavy": TOO_HEAVY,
        "evening": OUTSIDE_SHIFT,
        "far": WINDOW_UNREACHABLE,
    }


def test_a_household_far_from_the_hub_is_served_when_a_bike_has_the_time():
    """A stop 14 km out costs a trip of about 28 km of its own; a bike with the
    time serves it rather than leave the household waiting another day."""
    far = Stop("far", HUB.lat + 0.126, HUB.lon, 5.0, window=(600, 720))
    problem = Problem([*_ring(5), far], [_bike()], [HUB])
    result = plan(problem, QUICK, time_limit_s=0.5)
    _assert_feasible(problem, result)
    assert result.unplanned == ()
    assert result.distance_m > 2 * 13_900


def test_no_bikes_leaves_every_stop_with_a_reason():
    """A day without bikes plans nothing and explains every stop."""
    problem = Problem(_ring(3), [], [HUB])
    result = plan(problem, QUICK, time_limit_s=0.5)
    assert result.rounds == ()
    assert {u.reason for u in result.unplanned} == {NO_CAPACITY}
    assert len(result.unplanned) == 3
    assert check_feasible(problem, result, allow_unplanned_must_serve=True) == []


def test_several_hubs_each_bike_returns_home():
    """Bikes of two hubs each start and end at their own hub."""
    ikeja = Hub("ikeja", 6.6018, 3.3515)
    stops = _ring(8) + [
        Stop(f"k{i}", ikeja.lat + 0.003 * i, ikeja.lon, 5.0) for i in range(6)
    ]
    bikes = [_bike("y1"), Bike("k1", "ikeja", 100.0, 480, 1080)]
    problem = Problem(stops, bikes, [HUB, ikeja])
    result = plan(problem, QUICK, time_limit_s=1.0)
    _assert_feasible(problem, result)
    assert result.unplanned == ()
    hub_of = {r.bike_id: r.hub_id for r in result.rounds}
    assert hub_of.get("k1", "ikeja") == "ikeja"
    assert hub_of.get("y1", "yaba") == "yaba"


def test_plan_with_a_precomputed_road_table():
    """A table fetched ahead (as from OSRM) is used instead of great-circle."""
    stops = _ring(6)
    problem = Problem(stops, [_bike()], [HUB])
    points = tuple([(HUB.lat, HUB.lon)] + [(s.lat, s.lon) for s in stops])
    # Roads half as long again as the straight line.
    road = GreatCircle(detour_factor=1.5)
    source = PrecomputedTable(points, road.table(points, 12.0))
    result = plan(problem, QUICK, time_limit_s=0.5, distances=source)
    assert check_feasible(problem, result, distances=road) == []
    assert result.unplanned == ()


def test_same_seed_same_plan():
    """With an iteration budget, the same inputs and seed give the same plan."""
    problem = lagos_day(60, n_hubs=2, n_bikes=3, seed=4)
    params = PlannerParams(n_workers=1, max_iterations=500)
    first = plan(problem, params, seed=7, time_limit_s=20.0)
    second = plan(problem, params, seed=7, time_limit_s=20.0)
    assert first == second


def test_balancing_shortens_the_longest_day():
    """With balancing the plan stays feasible and both days are close in length."""
    problem = Problem(
        _ring(20, kg=5.0, service_min=15), [_bike("b1"), _bike("b2")], [HUB]
    )
    params = PlannerParams(n_workers=1, max_iterations=3_000, balance_weight=5)
    balanced = plan(problem, params, time_limit_s=5.0)
    _assert_feasible(problem, balanced)
    durations = sorted(r.duration_min for r in balanced.rounds)
    assert len(durations) == 2
    assert durations[-1] - durations[0] < 0.5 * durations[-1]


def test_decomposed_day_is_complete_and_feasible():
    """A 1,000-stop, 3-hub day is split into parts, solved in 2 processes, stitched."""
    problem = lagos_day(1_000, n_hubs=3, n_bikes=24, seed=2, capacity_kg=150.0)
    params = PlannerParams(decompose_above=300, part_size=200)
    result = plan(problem, params, time_limit_s=8.0)
    _assert_feasible(problem, result)
    accounted = result.served_ids | {u.stop_id for u in result.unplanned}
    assert accounted == {s.id for s in problem.stops}
    assert len(result.served_ids) >= 0.98 * len(problem.stops)
    assert len({r.hub_id for r in result.rounds}) == 3


def test_bike_already_out_starts_where_it_is_with_its_load():
    """A re-plan at 11:00 starts a bike from its last stop with what it carries:
    it first serves what fits beside its load, and never overflows a trip."""
    stops = _ring(10, kg=10.0)
    here = (HUB.lat + 0.02, HUB.lon)  # about 2.2 km north of the hub
    out = _bike(capacity_kg=50.0, shift_start_min=660, start_at=here, load_kg=40.0)
    problem = Problem(stops, [out], [HUB])
    result = plan(problem, QUICK, time_limit_s=1.0)
    _assert_feasible(problem, result)
    assert result.unplanned == ()
    (rnd,) = result.rounds
    assert rnd.start_min >= 660
    first = rnd.trips[0]
    if rnd.start_at == here:
        # Rode on: at most one more 10 kg stop fits beside the 40 kg on board.
        assert len(first.visits) <= 1 and first.load_kg <= 50.0
        assert first.visits[0].load_kg_after == 50.0
    else:
        # Unloaded first: the first trip leaves the hub after the ride there.
        assert first.depart_min >= 660 + 2.2 / 12 * 60 - 1
    assert all(t.load_kg <= 50.0 for t in rnd.trips)


def test_bike_already_out_with_room_rides_straight_on():
    """An empty bike out near its stops serves them from where it is, not via the hub."""
    far = [
        Stop(f"n{i}", HUB.lat + 0.03 + 0.002 * i, HUB.lon, expected_kg=5.0)
        for i in range(4)
    ]
    here = (HUB.lat + 0.03, HUB.lon + 0.001)
    out = _bike(shift_start_min=660, start_at=here)
    problem = Problem(far, [out, _bike("b2", shift_start_min=660)], [HUB])
    result = plan(problem, QUICK, time_limit_s=1.0)
    _assert_feasible(problem, result)
    assert result.unplanned == ()
    by_bike = {r.bike_id: r for r in result.rounds}
    # The bike already there takes them all: the one at the hub would ride 3.3 km out.
    assert set(by_bike) == {"b1"}
    assert by_bike["b1"].start_at == here
    # Its first stop is under 1 km away (5 min); from the hub it would be 16 min.
    assert by_bike["b1"].trips[0].visits[0].arrival_min < 660 + 5


def test_two_processes_race_the_plain_model_and_keep_a_feasible_plan():
    """With two workers both processes search the plain model (every stop
    required, one trip per bike). When that has no answer (here the one-hour shift
    cannot take every stop) they turn to the full model, whose plan leaves stops
    out."""
    race = PlannerParams(n_workers=2, max_iterations=3_000)
    easy = Problem(_ring(20, kg=4.0), [_bike("b1"), _bike("b2")], [HUB])
    result = plan(easy, race, time_limit_s=2.0)
    _assert_feasible(easy, result)
    assert result.unplanned == ()

    stops = _ring(25, kg=1.0, service_min=10)
    short = Problem(stops, [_bike(shift_start_min=480, shift_end_min=540)], [HUB])
    result = plan(short, race, time_limit_s=2.0)
    _assert_feasible(short, result)
    assert 0 < len(result.served_ids) < 25
    assert {u.reason for u in result.unplanned} == {NO_CAPACITY}


def test_rerouting_lets_a_passing_bike_reorder_its_day_for_a_stop_left_out():
    """A stop left out by its part, next to a round that passes at the wrong hour:
    solving those rounds again with it lets the bike come by earlier as well."""
    from concurrent.futures import ProcessPoolExecutor

    from routes_planner import Unplanned
    from routes_planner.solver import _Part, _PartResult, _reroute

    late = Stop("late", HUB.lat + 0.02, HUB.lon, 5.0, window=(900, 960))
    early = Stop("early", HUB.lat + 0.021, HUB.lon, 5.0, window=(480, 600))
    bike = _bike()
    served = plan(Problem([late], [bike], [HUB]), QUICK, time_limit_s=0.5)
    assert served.served_ids == {"late"}
    part = _Part((HUB,), (bike,), (late, early), GreatCircle(), 0, 1.0)
    result = _PartResult(served.rounds, (Unplanned("early", NO_CAPACITY),), 0.0)
    with ProcessPoolExecutor(max_workers=1) as pool:
        after = _reroute([part], [result], QUICK, 0, time.monotonic() + 2.0, pool)
    rounds = tuple(r for res in after for r in res.rounds)
    left = tuple(u for res in after for u in res.unplanned)
    problem = Problem([late, early], [bike], [HUB])
    whole = Plan(rounds, left)
    _assert_feasible(problem, whole)
    assert whole.served_ids == {"late", "early"} and left == ()


def test_bike_out_and_full_unloads_first_within_its_reload_limit():
    """A full bike already out must ride to the hub before taking more; that ride
    uses one of its reloads. Warm starts of such rounds (the repair and
    improvement passes of a day in parts) rebuild them with one unload, not two."""
    ikeja = Hub("ikeja", 6.6018, 3.3515)
    stops = [
        Stop(
            f"{h.id}{i}",
            h.lat + 0.003 * (i % 4 - 1.5),
            h.lon + 0.003 * (i // 4 - 1),
            5.0,
        )
        for h in (HUB, ikeja)
        for i in range(12)
    ]
    out = Bike(
        "b1", "yaba", 50.0, 660, 1080, max_reloads=1,
        start_at=(HUB.lat + 0.02, HUB.lon), load_kg=50.0,
    )  # fmt: skip
    other = Bike("b2", "ikeja", 50.0, 660, 780)
    problem = Problem(stops, [out, other], [HUB, ikeja])
    params = PlannerParams(
        n_workers=1, max_iterations=500, decompose_above=12, part_size=12
    )
    result = plan(problem, params, time_limit_s=3.0)
    _assert_feasible(problem, result)
    (rnd,) = [r for r in result.rounds if r.bike_id == "b1"]
    assert rnd.start_at is None  # full: it unloads before its first visit
    assert len(rnd.trips) == 1  # and that was its one reload


def test_plain_model_search_serves_every_stop_in_one_trip_or_gives_up():
    """The plain model answers with a plan of the full model's data in which every
    stop is served on one trip per bike, or with None when it finds none (and the
    full model gets the rest of the time)."""
    from routes_planner.solver import _Fleet, _plain_search, _problem_data

    def data_for(problem):
        fleet = _Fleet.of(problem.bikes)
        table = GreatCircle().table(
            [(h.lat, h.lon) for h in problem.hubs]
            + [(s.lat, s.lon) for s in problem.stops],
            fleet.speeds[0],
        )
        hub_index = {h.id: i for i, h in enumerate(problem.hubs)}
        tables = {fleet.speeds[0]: table}
        return _problem_data(
            problem.stops, problem.hubs, fleet, tables, hub_index, PlannerParams()
        )

    easy = Problem(_ring(12, kg=4.0), [_bike("b1"), _bike("b2")], [HUB])
    found = _plain_search(data_for(easy), 0, time.monotonic() + 5, 500)
    assert found.is_feasible()
    assert sum(r.num_clients() for r in found.routes()) == 12
    assert all(r.num_trips() == 1 for r in found.routes())

    short = Problem(
        _ring(25, kg=1.0, service_min=10),
        [_bike(shift_start_min=480, shift_end_min=540)],
        [HUB],
    )
    assert _plain_search(data_for(short), 0, time.monotonic() + 5, 500) is None

    # A day one trip cannot carry: the plain model gives up; with reloads kept,
    # the same search serves every stop on several trips.
    heavy = Problem(_ring(12, kg=4.0), [_bike(capacity_kg=20.0)], [HUB])
    assert _plain_search(data_for(heavy), 0, time.monotonic() + 5, 500) is None
    found = _plain_search(data_for(heavy), 0, time.monotonic() + 5, 500, reloads=True)
    assert found is not None and found.is_feasible()
    assert sum(r.num_clients() for r in found.routes()) == 12
    assert sum(r.num_trips() for r in found.routes()) >= 3


def test_a_search_with_a_trial_gives_up_without_a_plan_and_only_then():
    """The plain model's stopping rule: with no feasible solution after its trial
    share of the iterations it stops early (and says so); with one it runs on."""
    from routes_planner._engine import _NO_PLAN, Deadline

    stuck = Deadline(time.monotonic() + 60, max_iterations=400, trial=0.25)
    calls = 1
    while not stuck(_NO_PLAN):
        calls += 1
    assert calls == 101 and stuck.gave_up

    going = Deadline(time.monotonic() + 60, max_iterations=400, trial=0.25)
    calls = 1
    while not going(12_345):
        calls += 1
    assert calls == 401 and not going.gave_up


def _small_groups(monkeypatch) -> None:
    """Groups of rounds from 40 stops and 1 s on, regrouped every 0.5 s."""
    from routes_planner import solver

    monkeypatch.setattr(solver, "_GROUP_ABOVE", 40)
    monkeypatch.setattr(solver, "_MIN_GROUP_SECONDS", 1.0)
    monkeypatch.setattr(solver, "_GROUP_TURN_SECONDS", 0.5)


def _count_groups(monkeypatch) -> list[int]:
    """How many groups each turn of _improve_groups cut the rounds into."""
    from routes_planner import solver

    counts: list[int] = []
    cut = solver._round_groups

    def counted(*args, **kwargs):
        groups = cut(*args, **kwargs)
        counts.append(len(groups))
        return groups

    monkeypatch.setattr(solver, "_round_groups", counted)
    return counts


def test_rounds_are_grouped_with_their_neighbours_into_even_groups():
    """The groups a big day's rounds are improved in: by the angle of each round's
    centre, about equal in stops, every round in exactly one; turning the cut
    lines puts other neighbours together."""
    from routes_planner import Round, Trip, Visit
    from routes_planner.solver import _round_groups

    # Four bikes, one per side of the hub (north, east, south, west), 5 stops each.
    sides = {"n": (0.02, 0.0), "e": (0.0, 0.02), "s": (-0.02, 0.0), "w": (0.0, -0.02)}
    stop_of, rounds = {}, []
    for side, (dlat, dlon) in sides.items():
        visits = []
        for i in range(5):
            stop = Stop(f"{side}{i}", HUB.lat + dlat, HUB.lon + dlon + 0.001 * i, 5.0)
            stop_of[stop.id] = stop
            visits.append(Visit(stop.id, 500.0 + i, 500.0 + i, 5.0 * (i + 1)))
        trip = Trip(tuple(visits), 480.0, 600.0, 25.0, 5_000)
        rounds.append(Round(f"bike-{side}", HUB.id, (trip,), 480.0, 600.0, 5_000))

    def sides_of(groups):
        return sorted("".join(sorted(r.bike_id[-1] for r in g)) for g in groups)

    for offset in (0.0, 0.125, 0.3, 0.5, 0.9):
        groups = _round_groups(rounds, stop_of, 2, offset)
        assert sorted(r.bike_id for g in groups for r in g) == sorted(
            r.bike_id for r in rounds
        )
        assert [len(g) for g in groups] == [2, 2]
        # Each group is two neighbouring sides, never two opposite ones.
        assert all(pair not in ("ns", "ew") for pair in sides_of(groups))
    assert sides_of(_round_groups(rounds, stop_of, 2, 0.0)) != sides_of(
        _round_groups(rounds, stop_of, 2, 0.25)
    )
    assert _round_groups(rounds[:1], stop_of, 2, 0.0) == []  # too few to split
    # A big round and small ones still make two groups, whatever the cut.
    uneven = {"n": 30, "e": 3, "s": 20, "w": 2}
    for side, count in uneven.items():
        for i in range(5, count):
            stop_of[f"{side}{i}"] = dataclasses.replace(
                stop_of[f"{side}0"], id=f"{side}{i}"
            )
    lopsided = [
        dataclasses.replace(
            r,
            trips=(
                dataclasses.replace(
                    r.trips[0],
                    visits=tuple(
                        dataclasses.replace(r.trips[0].visits[0], stop_id=f"{s}{i}")
                        for i in range(uneven[s])
                    ),
                ),
            ),
        )
        for r, s in zip(rounds, "nesw", strict=True)
    ]
    for offset in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        assert len(_round_groups(lopsided, stop_of, 2, offset)) == 2


def test_a_big_day_goes_on_in_groups_of_rounds_and_never_gets_worse(monkeypatch):
    """After its first search, a day solved whole improves groups of neighbouring
    rounds in parallel, each as a day of its own, and keeps the merged rounds only
    when they are better: the plan stays complete and feasible, and its objective
    never rises above the first search's."""
    from routes_planner import solver

    seen = []
    improve = solver._improve_groups

    def spy(part, best, *args, **kwargs):
        after = improve(part, best, *args, **kwargs)
        seen.append((best.objective, after.objective))
        return after

    _small_groups(monkeypatch)
    monkeypatch.setattr(solver, "_improve_groups", spy)
    cuts = _count_groups(monkeypatch)
    problem = lagos_day(60, n_hubs=2, n_bikes=6, seed=5)
    result = plan(problem, PlannerParams(n_workers=2), time_limit_s=3.0)
    _assert_feasible(problem, result)
    assert result.unplanned == ()
    ((first, final),) = seen
    assert final <= first
    assert cuts and all(n == 2 for n in cuts)  # the groups were searched

    # Too small a day (or too little time) skips the groups.
    seen.clear()
    monkeypatch.setattr(solver, "_GROUP_ABOVE", 61)
    plan(problem, PlannerParams(n_workers=2), time_limit_s=3.0)
    assert seen == []

    # A day the fleet cannot carry goes on whole: the prizes of the stops left
    # out count in no group's objective.
    monkeypatch.setattr(solver, "_GROUP_ABOVE", 40)
    short = lagos_day(60, n_hubs=2, n_bikes=2, seed=5, capacity_kg=30.0)
    short = dataclasses.replace(
        short, bikes=[dataclasses.replace(b, max_reloads=0) for b in short.bikes]
    )
    result = plan(short, PlannerParams(n_workers=2), time_limit_s=3.0)
    _assert_feasible(short, result)
    assert seen == []
    assert result.unplanned and {u.reason for u in result.unplanned} == {NO_CAPACITY}


def test_groups_of_a_day_on_road_distances_use_the_roads(monkeypatch):
    """A big day on a road table fetched ahead: each group of rounds is searched on
    its own rows of that table, so the plan holds on the roads."""
    from routes_planner import solver

    calls = []
    improve = solver._improve_groups

    def spy(*args, **kwargs):
        calls.append(1)
        return improve(*args, **kwargs)

    _small_groups(monkeypatch)
    monkeypatch.setattr(solver, "_improve_groups", spy)
    cuts = _count_groups(monkeypatch)
    problem = lagos_day(60, n_hubs=2, n_bikes=6, seed=6)
    points = tuple(
        [(h.lat, h.lon) for h in problem.hubs] + [(s.lat, s.lon) for s in problem.stops]
    )
    road = GreatCircle(detour_factor=1.5)
    speed = problem.bikes[0].speed_kmh
    source = PrecomputedTable(points, road.table(points, speed))
    result = plan(
        problem, PlannerParams(n_workers=2), time_limit_s=3.0, distances=source
    )
    assert calls and cuts and all(n == 2 for n in cuts)
    assert check_feasible(problem, result, distances=road) == []
    assert result.unplanned == ()


def test_a_day_in_groups_with_an_iteration_budget_is_reproducible(monkeypatch):
    """With an iteration budget the groups take a fixed number of turns, each with
    its share of the iterations, so the same day and seed give the same plan."""
    _small_groups(monkeypatch)
    cuts = _count_groups(monkeypatch)
    problem = lagos_day(60, n_hubs=2, n_bikes=6, seed=7)
    params = PlannerParams(n_workers=2, max_iterations=400)
    first = plan(problem, params, seed=3, time_limit_s=20.0)
    second = plan(problem, params, seed=3, time_limit_s=20.0)
    assert cuts == [2] * 8  # four turns per plan
    _assert_feasible(problem, first)
    assert first == second


def test_a_search_that_ends_without_a_plan_keeps_its_feasible_rounds():
    """Two must-serve stops of 21 kg, one bike of 21 kg without reloads and one of
    20 kg: a short search ends with the second stop on the small bike; the plan
    keeps the feasible round and leaves that stop out (found by hypothesis)."""
    bikes = [
        _bike("small", capacity_kg=20.0, shift_end_min=510),
        _bike("big", capacity_kg=21.0, shift_end_min=510, max_reloads=0),
    ]
    stops = [
        Stop(f"s{i}", HUB.lat + 0.001 * i, HUB.lon, expected_kg=21.0, waiting_days=3)
        for i in range(2)
    ]
    problem = Problem(stops, bikes, [HUB])
    result = plan(problem, PlannerParams(n_workers=1, max_iterations=300), seed=0)
    assert (
        check_feasible(
            problem, result, distances=GreatCircle(), allow_unplanned_must_serve=True
        )
        == []
    )
    assert [(r.bike_id, len(r.visits)) for r in result.rounds] == [("big", 1)]
    assert [u.reason for u in result.unplanned] == [NO_CAPACITY]


def test_service_times_in_fractions_of_a_second_never_bring_a_bike_back_early():
    """The model works in whole seconds; a service of 2.3 s counts as 3 s, so the
    plan never has a bike back sooner than it could be (found by hypothesis)."""
    stop = Stop("s0", HUB.lat, HUB.lon, expected_kg=1.0, service_min=0.0390625)
    problem = Problem([stop], [_bike()], [HUB])
    result = plan(problem, QUICK, seed=0)
    _assert_feasible(problem, result)
    assert result.unplanned == ()

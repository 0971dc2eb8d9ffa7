"""Validation of the planner's input models and loading of its parameters."""

import dataclasses

import pytest

from routes_planner import Bike, Hub, PlannerParams, Problem, Stop


def test_valid_models_build():
    """Well-formed hubs, stops and bikes build a problem."""
    hub = Hub("yaba", 6.5095, 3.3711)
    stop = Stop("s1", 6.51, 3.37, expected_kg=4.5, window=(540, 660), priority=1)
    bike = Bike("b1", "yaba", capacity_kg=120, shift_start_min=480, shift_end_min=1080)
    problem = Problem([stop], [bike], [hub])
    assert problem.stops == (stop,)
    assert bike.shift_min == 600


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lat": 91.0},
        {"lon": -181.0},
        {"expected_kg": -1.0},
        {"service_min": -0.5},
        {"window": (700, 600)},
        {"window": (-10, 600)},
        {"priority": -1},
        {"waiting_days": -2},
        {"id": ""},
        {"expected_kg": float("nan")},
    ],
)
def test_invalid_stop_is_refused(kwargs):
    """A stop with an impossible field raises ValueError."""
    fields = {"id": "s1", "lat": 6.5, "lon": 3.4, "expected_kg": 2.0, **kwargs}
    with pytest.raises(ValueError):
        Stop(**fields)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capacity_kg": 0},
        {"shift_start_min": 600, "shift_end_min": 600},
        {"speed_kmh": 0},
        {"max_reloads": -1},
        {"start_at": (91.0, 3.3)},
        {"start_at": (6.5,)},
        {"start_at": (6.5, 3.3), "load_kg": 101.0},
        {"start_at": (6.5, 3.3), "load_kg": -1.0},
        {"load_kg": 5.0},  # a load on board, but no idea where the bike is
    ],
)
def test_invalid_bike_is_refused(kwargs):
    """A bike with no capacity, an empty shift, no speed, a start off the map or a
    load it cannot carry raises ValueError."""
    fields = {
        "id": "b1",
        "hub_id": "h",
        "capacity_kg": 100.0,
        "shift_start_min": 480,
        "shift_end_min": 1080,
        **kwargs,
    }
    with pytest.raises(ValueError):
        Bike(**fields)


def test_problem_refuses_unknown_hub_and_duplicates():
    """Bikes must belong to a listed hub, and ids must be unique."""
    hub = Hub("h", 6.5, 3.4)
    bike = Bike("b", "elsewhere", 100, 480, 1080)
    with pytest.raises(ValueError, match="unknown hub"):
        Problem([], [bike], [hub])
    stop = Stop("s", 6.5, 3.4, 1.0)
    with pytest.raises(ValueError, match="duplicate stop"):
        Problem([stop, stop], [], [hub])


def test_models_are_frozen():
    """Models cannot be changed after construction."""
    hub = Hub("h", 6.5, 3.4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hub.lat = 7.0  # type: ignore[misc]


def test_params_from_toml(tmp_path):
    """PlannerParams.from_file reads TOML, keeping defaults for missing keys."""
    path = tmp_path / "planner.toml"
    path.write_text("time_limit_s = 30.0\nbalance_weight = 2\nn_workers = 1\n")
    params = PlannerParams.from_file(path)
    assert params.time_limit_s == 30.0
    assert params.balance_weight == 2
    assert params.n_workers == 1
    assert params.must_serve_after_days == PlannerParams().must_serve_after_days


def test_params_from_toml_refuses_unknown_keys(tmp_path):
    """A misspelt key in the TOML file is an error, not silently ignored."""
    path = tmp_path / "planner.toml"
    path.write_text("time_limt_s = 30.0\n")
    with pytest.raises(ValueError, match="time_limt_s"):
        PlannerParams.from_file(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("n_workers = 1.5", "n_workers must be a whole number, not 1.5"),
        ("balance_weight = 'high'", "balance_weight must be a number"),
        ("must_serve_after_days = true", "must be a whole number, not True"),
        ("balance_weight = nan", "balance_weight must be a number, not nan"),
        ("max_iterations = 2.0", "max_iterations must be a whole number"),
    ],
)
def test_params_from_toml_refuses_wrong_types(tmp_path, line, message):
    """A value of the wrong kind is refused by name, not found at planning time."""
    path = tmp_path / "planner.toml"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        PlannerParams.from_file(path)


def test_params_from_toml_takes_an_int_for_a_float(tmp_path):
    """`balance_weight = 2` is a number as good as 2.0."""
    path = tmp_path / "planner.toml"
    path.write_text("balance_weight = 2\npriority_weight = 0.75\n")
    params = PlannerParams.from_file(path)
    assert (params.balance_weight, params.priority_weight) == (2, 0.75)


def test_params_validation():
    """Nonsense parameters are refused."""
    with pytest.raises(ValueError):
        PlannerParams(time_limit_s=0)
    with pytest.raises(ValueError):
        PlannerParams(n_workers=0)

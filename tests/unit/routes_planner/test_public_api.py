"""The public API of routes_planner: names in __all__ do not drift."""

import routes_planner

EXPECTED = {
    "NO_CAPACITY",
    "OUTSIDE_SHIFT",
    "REASONS",
    "TOO_HEAVY",
    "WINDOW_UNREACHABLE",
    "Bike",
    "DistanceSource",
    "GreatCircle",
    "Hub",
    "OsrmError",
    "OsrmTable",
    "Plan",
    "PlannerParams",
    "PlanningError",
    "PrecomputedTable",
    "Problem",
    "Round",
    "Stop",
    "Table",
    "Trip",
    "Unplanned",
    "Visit",
    "check_feasible",
    "haversine_m",
    "plan",
}


def test_all_lists_exactly_the_public_names():
    """__all__ holds the agreed names, each importable from the package."""
    assert set(routes_planner.__all__) == EXPECTED
    for name in routes_planner.__all__:
        assert getattr(routes_planner, name) is not None


def test_public_names_live_in_public_modules():
    """Nothing public is re-exported from a private module."""
    for name in routes_planner.__all__:
        module = getattr(getattr(routes_planner, name), "__module__", "routes_planner")
        assert not module.split(".")[-1].startswith("_"), name

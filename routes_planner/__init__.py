"""Route planning for cargo-bike collection: stops, bikes and hubs in; rounds out."""

from routes_planner.distances import (
    DistanceSource,
    GreatCircle,
    OsrmError,
    OsrmTable,
    PrecomputedTable,
    Table,
    haversine_m,
)
from routes_planner.feasibility import check_feasible
from routes_planner.models import (
    NO_CAPACITY,
    OUTSIDE_SHIFT,
    REASONS,
    TOO_HEAVY,
    WINDOW_UNREACHABLE,
    Bike,
    Hub,
    Plan,
    Problem,
    Round,
    Stop,
    Trip,
    Unplanned,
    Visit,
)
from routes_planner.params import PlannerParams
from routes_planner.solver import PlanningError, plan

__all__ = [
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
]

"""Input and output models of the route planner: frozen, validated on construction."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

MINUTES_PER_DAY = 24 * 60
# Windows and shifts may run past midnight (a late round), but never past two days.
_LATEST_MINUTE = 2 * MINUTES_PER_DAY


def _check_id(kind: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{kind} id must be a non-empty string, got {value!r}")


def _check_coords(kind: str, ident: str, lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"{kind} {ident}: latitude {lat!r} outside [-90, 90]")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"{kind} {ident}: longitude {lon!r} outside [-180, 180]")


def _check_minute(what: str, value: float) -> None:
    if not (math.isfinite(value) and 0 <= value <= _LATEST_MINUTE):
        raise ValueError(f"{what} {value!r} is not a minute in [0, {_LATEST_MINUTE}]")


@dataclass(frozen=True, slots=True)
class Hub:
    """A depot where bikes start, unload between trips, and end their day."""

    id: str
    lat: float
    lon: float

    def __post_init__(self) -> None:
        _check_id("hub", self.id)
        _check_coords("hub", self.id, self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class Stop:
    """A household pickup: where, how much, how long, and when it may be served.

    ``window`` is ``(earliest, latest)`` service start in minutes from midnight.
    A stop with ``must_serve``, or waiting at least
    ``PlannerParams.must_serve_after_days``, is planned whenever it can be served.
    """

    id: str
    lat: float
    lon: float
    expected_kg: float
    service_min: float = 5.0
    window: tuple[int, int] | None = None
    priority: int = 0
    waiting_days: int = 0
    must_serve: bool = False

    def __post_init__(self) -> None:
        _check_id("stop", self.id)
        _check_coords("stop", self.id, self.lat, self.lon)
        if not (math.isfinite(self.expected_kg) and self.expected_kg >= 0):
            raise ValueError(f"stop {self.id}: expected_kg must be >= 0")
        if not (math.isfinite(self.service_min) and self.service_min >= 0):
            raise ValueError(f"stop {self.id}: service_min must be >= 0")
        if self.window is not None:
            if len(self.window) != 2:
                raise ValueError(f"stop {self.id}: window must be (from, to)")
            early, late = self.window
            _check_minute(f"stop {self.id}: window start", early)
            _check_minute(f"stop {self.id}: window end", late)
            if early > late:
                raise ValueError(f"stop {self.id}: window {self.window} ends first")
            object.__setattr__(self, "window", (int(early), int(late)))
        if self.priority < 0:
            raise ValueError(f"stop {self.id}: priority must be >= 0")
        if self.waiting_days < 0:
            raise ValueError(f"stop {self.id}: waiting_days must be >= 0")


@dataclass(frozen=True, slots=True)
class Bike:
    """A cargo bike: its hub, capacity per trip, shift, and riding speed.

    ``max_reloads`` caps the returns to the hub to unload between trips
    (``None``: as many as the shift allows; ``0``: a single trip).

    A bike already out (a re-plan during the day) has ``start_at``, the
    ``(lat, lon)`` where it is at ``shift_start_min``, and ``load_kg`` on board,
    which counts against its first trip until it unloads at the hub. It always
    ends its day at its hub.
    """

    id: str
    hub_id: str
    capacity_kg: float
    shift_start_min: int
    shift_end_min: int
    speed_kmh: float = 12.0
    max_reloads: int | None = None
    start_at: tuple[float, float] | None = None
    load_kg: float = 0.0

    def __post_init__(self) -> None:
        _check_id("bike", self.id)
        _check_id("hub", self.hub_id)
        if not (math.isfinite(self.capacity_kg) and self.capacity_kg > 0):
            raise ValueError(f"bike {self.id}: capacity_kg must be > 0")
        _check_minute(f"bike {self.id}: shift start", self.shift_start_min)
        _check_minute(f"bike {self.id}: shift end", self.shift_end_min)
        if self.shift_start_min >= self.shift_end_min:
            raise ValueError(f"bike {self.id}: shift must end after it starts")
        if not (math.isfinite(self.speed_kmh) and 0 < self.speed_kmh <= 60):
            raise ValueError(f"bike {self.id}: speed_kmh must be in (0, 60]")
        if self.max_reloads is not None and self.max_reloads < 0:
            raise ValueError(f"bike {self.id}: max_reloads must be >= 0 or None")
        if self.start_at is not None:
            if len(self.start_at) != 2:
                raise ValueError(f"bike {self.id}: start_at must be (lat, lon)")
            lat, lon = (float(x) for x in self.start_at)
            _check_coords("bike", self.id, lat, lon)
            object.__setattr__(self, "start_at", (lat, lon))
        if not (math.isfinite(self.load_kg) and 0 <= self.load_kg <= self.capacity_kg):
            raise ValueError(f"bike {self.id}: load_kg must be in [0, capacity_kg]")
        if self.load_kg > 0 and self.start_at is None:
            raise ValueError(f"bike {self.id}: a load on board needs start_at")

    @property
    def shift_min(self) -> int:
        """Length of the shift in minutes."""
        return self.shift_end_min - self.shift_start_min


@dataclass(frozen=True, slots=True)
class Problem:
    """One day to plan: the stops to visit, the bikes available, and their hubs."""

    stops: Sequence[Stop]
    bikes: Sequence[Bike]
    hubs: Sequence[Hub]

    def __post_init__(self) -> None:
        object.__setattr__(self, "stops", tuple(self.stops))
        object.__setattr__(self, "bikes", tuple(self.bikes))
        object.__setattr__(self, "hubs", tuple(self.hubs))
        for kind, items in (("stop", self.stops), ("bike", self.bikes)):
            ids = [item.id for item in items]
            if len(set(ids)) != len(ids):
                raise ValueError(f"duplicate {kind} ids")
        hub_ids = {hub.id for hub in self.hubs}
        if len(hub_ids) != len(self.hubs):
            raise ValueError("duplicate hub ids")
        for bike in self.bikes:
            if bike.hub_id not in hub_ids:
                raise ValueError(f"bike {bike.id}: unknown hub {bike.hub_id!r}")

    def hub(self, hub_id: str) -> Hub:
        """Return the hub with this id."""
        for hub in self.hubs:
            if hub.id == hub_id:
                return hub
        raise KeyError(hub_id)


@dataclass(frozen=True, slots=True)
class Visit:
    """A planned stop: arrival, service start (after any wait) and load after pickup."""

    stop_id: str
    arrival_min: float
    start_min: float
    load_kg_after: float


@dataclass(frozen=True, slots=True)
class Trip:
    """One loop from the hub and back; the bike unloads at the hub when it ends.

    The first trip of a round with ``start_at`` leaves from there instead, and
    its loads include what the bike already carried.
    """

    visits: tuple[Visit, ...]
    depart_min: float
    return_min: float
    load_kg: float
    distance_m: int


@dataclass(frozen=True, slots=True)
class Round:
    """A bike's day: one or more trips from its hub, in visiting order.

    ``start_at`` is set when the first trip leaves from where the bike already
    was (its ``Bike.start_at``) rather than from the hub. A bike that starts
    out but rides to the hub to unload before its first visit has a round
    without ``start_at`` whose first trip leaves the hub.
    """

    bike_id: str
    hub_id: str
    trips: tuple[Trip, ...]
    start_min: float
    end_min: float
    distance_m: int
    start_at: tuple[float, float] | None = None

    @property
    def duration_min(self) -> float:
        """Time from leaving the hub to the final return, in minutes."""
        return self.end_min - self.start_min

    @property
    def visits(self) -> tuple[Visit, ...]:
        """All visits of the day in order, trips concatenated."""
        return tuple(visit for trip in self.trips for visit in trip.visits)


# Reasons a stop is left for another day (``Unplanned.reason``).
TOO_HEAVY = "too heavy for any bike"
WINDOW_UNREACHABLE = "window unreachable"
OUTSIDE_SHIFT = "outside shift"
NO_CAPACITY = "not enough capacity today"
REASONS = (TOO_HEAVY, WINDOW_UNREACHABLE, OUTSIDE_SHIFT, NO_CAPACITY)


@dataclass(frozen=True, slots=True)
class Unplanned:
    """A stop left for another day, and why (one of ``REASONS``)."""

    stop_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Rounds for the day plus the stops left out."""

    rounds: tuple[Round, ...]
    unplanned: tuple[Unplanned, ...] = field(default=())

    @property
    def distance_m(self) -> int:
        """Total distance ridden over all rounds, in metres."""
        return sum(r.distance_m for r in self.rounds)

    @property
    def served_ids(self) -> frozenset[str]:
        """Ids of all stops visited in some round."""
        return frozenset(v.stop_id for r in self.rounds for v in r.visits)

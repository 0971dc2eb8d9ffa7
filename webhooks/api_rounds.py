"""Planning endpoints: hubs, bikes and collectors, plans and rounds, re-plans,
household locations."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from aiohttp import web

from service.app_keys import DEPS
from service.domain.commands import (
    AddBike,
    AddHub,
    PinLocation,
    PlanDay,
    SetWeeklyDay,
    UpdateBike,
    UpdateCollector,
    UpdateHub,
)
from webhooks.api_money import iso_date, run
from webhooks.api_v1 import (
    ApiError,
    _json_body,
    body_id,
    optional_body_id,
    path_id,
    requires,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _number(
    body: dict[str, Any],
    name: str,
    *,
    default: float | None = None,
    lo: float | None = None,
    hi: float,
    above: float | None = None,
) -> float:
    """A finite JSON number from lo (or above `above`) to hi; 400 otherwise."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, "invalid_body", f"{name} must be a number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    if (
        not math.isfinite(number)
        or (lo is not None and number < lo)
        or (above is not None and number <= above)
        or number > hi
    ):
        low = f"more than {above:g}" if above is not None else f"at least {lo:g}"
        raise ApiError(
            400, "invalid_body", f"{name} must be a number {low} and at most {hi:g}"
        )
    return number


def _minutes(body: dict[str, Any], name: str, default: str) -> int:
    value = body.get(name, default)
    try:
        if not isinstance(value, str) or not value.isascii():
            raise ValueError(value)
        hours, minutes = (int(x) for x in value.split(":"))
    except ValueError:
        raise ApiError(400, "invalid_body", f"{name} must be HH:MM") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60):
        raise ApiError(400, "invalid_body", f"{name} must be HH:MM")
    return hours * 60 + minutes


def _seconds(body: dict[str, Any], default: float | None) -> float | None:
    """The planner's time budget (it is spent in full): more than 0, at most 120 s."""
    if body.get("seconds") is None:
        return default
    return _number(body, "seconds", above=0, hi=120)


def _query_day(value: str) -> date:
    try:
        return iso_date(value, "day")
    except ApiError as exc:
        raise ApiError(400, "invalid_parameter", exc.message) from None


@requires("operator")
async def post_hub(request: web.Request) -> web.Response:
    """Add a hub where bikes start, unload and reload."""
    body = _only(await _json_body(request), HUB_FIELDS)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "invalid_body", "name is required")
    lat = _number(body, "lat", lo=-90, hi=90)
    lon = _number(body, "lon", lo=-180, hi=180)
    hub_id = await run(request, AddHub(name, lat, lon))
    return web.json_response({"id": hub_id, "name": name.strip()}, status=201)


@requires("operator")
async def list_hubs(request: web.Request) -> web.Response:
    return web.json_response({"items": await request.app[DEPS].planning.hubs()})


@requires("operator")
async def post_bike(request: web.Request) -> web.Response:
    """Add a bike: hub, capacity, shift (HH:MM local), speed, optional collector."""
    body = _only(await _json_body(request), NEW_BIKE_FIELDS)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "invalid_body", "name is required")
    hub_id = body_id(body, "hub_id")
    collector_id = optional_body_id(body, "collector_id")
    bike_id = await run(
        request,
        AddBike(
            name=name,
            hub_id=hub_id,
            capacity_kg=_number(body, "capacity_kg", above=0, hi=1000),
            shift_start_min=_minutes(body, "shift_start", "08:00"),
            shift_end_min=_minutes(body, "shift_end", "16:00"),
            speed_kmh=_number(body, "speed_kmh", default=12.0, above=0, hi=100),
            collector_id=collector_id,
        ),
    )
    return web.json_response({"id": bike_id, "name": name.strip()}, status=201)


@requires("operator")
async def list_bikes(request: web.Request) -> web.Response:
    return web.json_response({"items": await request.app[DEPS].planning.bikes()})


def _new_name(body: dict[str, Any]) -> str | None:
    """The name to change to, if the body gives one."""
    if "name" not in body:
        return None
    name = body["name"]
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "invalid_body", "name must be a non-empty string")
    return name


def _flag(body: dict[str, Any], name: str) -> bool | None:
    """``body[name]`` when given (true or false; null is refused), else None."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, bool):
        raise ApiError(400, "invalid_body", f"{name} must be true or false")
    return value


def _only(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """``body`` if it names only ``fields``; else 400, so that a misspelt field
    is not silently ignored while the rest of the change goes through."""
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ApiError(
            400,
            "invalid_body",
            f"unknown field(s) {', '.join(unknown)}; "
            f"this endpoint takes {', '.join(fields)}",
        )
    if not body:
        raise ApiError(400, "invalid_body", f"give at least one of {', '.join(fields)}")
    return body


HUB_FIELDS = ("name", "lat", "lon")
BIKE_FIELDS = (
    "name",
    "hub_id",
    "capacity_kg",
    "shift_start",
    "shift_end",
    "speed_kmh",
    "collector_id",
    "active",
)
NEW_BIKE_FIELDS = tuple(f for f in BIKE_FIELDS if f != "active")
COLLECTOR_FIELDS = ("name", "active")
_DAY_NAMES = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
)  # fmt: skip


def _one(items: list[dict[str, Any]], item_id: int) -> dict[str, Any]:
    return next(item for item in items if item["id"] == item_id)


@requires("operator")
async def patch_hub(request: web.Request) -> web.Response:
    """Rename or move a hub; fields not given stay as they are."""
    hub_id = path_id(request, "hub id")
    body = _only(await _json_body(request), HUB_FIELDS)
    lat = _number(body, "lat", lo=-90, hi=90) if "lat" in body else None
    lon = _number(body, "lon", lo=-180, hi=180) if "lon" in body else None
    await run(request, UpdateHub(hub_id, _new_name(body), lat, lon))
    hubs = await request.app[DEPS].planning.hubs()
    return web.json_response(_one(hubs, hub_id))


@requires("operator")
async def patch_bike(request: web.Request) -> web.Response:
    """Change a bike: hub, capacity, shift, speed, collector (null: none), or
    ``active`` (false keeps it out of the next plans; today's stops move with a
    re-plan). Fields not given stay as they are."""
    bike_id = path_id(request, "bike id")
    body = _only(await _json_body(request), BIKE_FIELDS)
    change = UpdateBike(
        bike_id,
        name=_new_name(body),
        hub_id=body_id(body, "hub_id") if "hub_id" in body else None,
        capacity_kg=(
            _number(body, "capacity_kg", above=0, hi=1000)
            if "capacity_kg" in body
            else None
        ),
        shift_start_min=(
            _minutes(body, "shift_start", "") if "shift_start" in body else None
        ),
        shift_end_min=_minutes(body, "shift_end", "") if "shift_end" in body else None,
        speed_kmh=(
            _number(body, "speed_kmh", above=0, hi=100) if "speed_kmh" in body else None
        ),
        active=_flag(body, "active"),
        set_collector="collector_id" in body,
        collector_id=optional_body_id(body, "collector_id"),
    )
    await run(request, change)
    bikes = await request.app[DEPS].planning.bikes()
    return web.json_response(_one(bikes, bike_id))


@requires("operator")
async def list_collectors(request: web.Request) -> web.Response:
    """Collectors, with the bikes they ride."""
    return web.json_response({"items": await request.app[DEPS].planning.collectors()})


@requires("operator")
async def patch_collector(request: web.Request) -> web.Response:
    """Rename a collector, or stop (``active`` false) or restore their phone's
    access: a stopped collector can no longer sign in, log or miss."""
    collector_id = path_id(request, "collector id")
    body = _only(await _json_body(request), COLLECTOR_FIELDS)
    await run(
        request,
        UpdateCollector(collector_id, _new_name(body), _flag(body, "active")),
    )
    found = await request.app[DEPS].planning.collectors()
    return web.json_response(_one(found, collector_id))


@requires("operator")
async def post_plan(request: web.Request) -> web.Response:
    """Plan a day now (the evening job does tomorrow by itself)."""
    body = _only(await _json_body(request), ("day", "seconds"))
    day = iso_date(body.get("day"), "day")
    summary = await run(request, PlanDay(day, seconds=_seconds(body, None)))
    return web.json_response(summary.to_json())


@requires("operator")
async def post_replan(request: web.Request) -> web.Response:
    """A bike dropped out: spread its remaining stops over the others, tell households."""
    body = _only(await _json_body(request), ("bike_id", "day", "seconds"))
    bike_id = body_id(body, "bike_id")
    deps = request.app[DEPS]
    now_local = deps.clock.now().astimezone(deps.clock.tz)
    day = iso_date(body.get("day", now_local.date().isoformat()), "day")
    from_min = (
        now_local.hour * 60 + now_local.minute if day == now_local.date() else None
    )
    seconds = _seconds(body, 3.0)
    summary = await run(
        request,
        PlanDay(day, seconds=seconds, without_bikes=(bike_id,), from_min=from_min),
    )
    return web.json_response(summary.to_json())


@requires("operator", "collector")
async def get_rounds(request: web.Request) -> web.Response:
    """The day's rounds with their stops in visiting order."""
    deps = request.app[DEPS]
    day = _query_day(request.query.get("day", deps.clock.today().isoformat()))
    return web.json_response({"items": await deps.planning.rounds(day)})


@requires("operator")
async def unlocated(request: web.Request) -> web.Response:
    """Households without a usable location: they are kept out of rounds until fixed."""
    return web.json_response({"items": await request.app[DEPS].planning.unlocated()})


@requires("operator", "collector")
async def post_location(request: web.Request) -> web.Response:
    """Pin a household's location (a collector's GPS on the doorstep, or an operator)."""
    household_id = path_id(request, "household id")
    body = _only(await _json_body(request), ("lat", "lon"))
    lat = _number(body, "lat", lo=-90, hi=90)
    lon = _number(body, "lon", lo=-180, hi=180)
    await run(request, PinLocation(household_id, lat, lon))
    return web.json_response({"household_id": household_id, "location_source": "gps"})


@requires("operator")
async def put_weekly(request: web.Request) -> web.Response:
    """Set a household's standing weekly pickup day ("mon".."sun"), or null to stop."""
    household_id = path_id(request, "household id")
    body = _only(await _json_body(request), ("weekday",))
    value = body["weekday"]
    if isinstance(value, str):
        # "mon", "Mon", "MON" or "monday", as SMS takes them.
        value = value.strip().lower()
        value = value[:3] if value in _DAY_NAMES else value
    if value is not None and value not in WEEKDAYS:
        raise ApiError(
            400,
            "invalid_body",
            "weekday must be one of mon..sun (or the full name) or null",
        )
    weekday = None if value is None else WEEKDAYS.index(value)
    await run(request, SetWeeklyDay(household_id, weekday))
    return web.json_response({"household_id": household_id, "weekday": value})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/hubs", post_hub)
    app.router.add_get("/api/v1/hubs", list_hubs)
    app.router.add_post("/api/v1/bikes", post_bike)
    app.router.add_get("/api/v1/bikes", list_bikes)
    app.router.add_patch("/api/v1/hubs/{id}", patch_hub)
    app.router.add_patch("/api/v1/bikes/{id}", patch_bike)
    app.router.add_get("/api/v1/collectors", list_collectors)
    app.router.add_patch("/api/v1/collectors/{id}", patch_collector)
    app.router.add_post("/api/v1/plan", post_plan)
    app.router.add_get("/api/v1/rounds", get_rounds)
    app.router.add_post("/api/v1/rounds/replan", post_replan)
    app.router.add_get("/api/v1/households/unlocated", unlocated)
    app.router.add_post("/api/v1/households/{id}/location", post_location)
    app.router.add_put("/api/v1/households/{id}/weekly", put_weekly)

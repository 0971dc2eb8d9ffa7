"""Planning endpoints: hubs, bikes, plans and rounds, re-plans, household locations."""

from __future__ import annotations

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
)
from webhooks.api_money import run
from webhooks.api_v1 import ApiError, _json_body, requires

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _number(body: dict[str, Any], name: str, *, default: float | None = None) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, "invalid_body", f"{name} must be a number")
    return float(value)


def _minutes(body: dict[str, Any], name: str, default: str) -> int:
    value = body.get(name, default)
    try:
        hours, minutes = (int(x) for x in str(value).split(":"))
    except ValueError:
        raise ApiError(400, "invalid_body", f"{name} must be HH:MM") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60):
        raise ApiError(400, "invalid_body", f"{name} must be HH:MM")
    return hours * 60 + minutes


def _day(value: Any, name: str = "day") -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, "invalid_body", f"{name} must be YYYY-MM-DD") from None


def _path_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise ApiError(400, "invalid_parameter", "id must be an integer") from None


@requires("operator")
async def post_hub(request: web.Request) -> web.Response:
    """Add a hub where bikes start, unload and reload."""
    body = await _json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "invalid_body", "name is required")
    hub_id = await run(
        request, AddHub(name, _number(body, "lat"), _number(body, "lon"))
    )
    return web.json_response({"id": hub_id, "name": name.strip()}, status=201)


@requires("operator")
async def list_hubs(request: web.Request) -> web.Response:
    return web.json_response({"items": await request.app[DEPS].planning.hubs()})


@requires("operator")
async def post_bike(request: web.Request) -> web.Response:
    """Add a bike: hub, capacity, shift (HH:MM local), speed, optional collector."""
    body = await _json_body(request)
    name, hub_id, collector_id = (
        body.get("name"),
        body.get("hub_id"),
        body.get("collector_id"),
    )
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "invalid_body", "name is required")
    if isinstance(hub_id, bool) or not isinstance(hub_id, int):
        raise ApiError(400, "invalid_body", "hub_id must be an integer")
    if collector_id is not None and (
        isinstance(collector_id, bool) or not isinstance(collector_id, int)
    ):
        raise ApiError(400, "invalid_body", "collector_id must be an integer or null")
    bike_id = await run(
        request,
        AddBike(
            name=name,
            hub_id=hub_id,
            capacity_kg=_number(body, "capacity_kg"),
            shift_start_min=_minutes(body, "shift_start", "08:00"),
            shift_end_min=_minutes(body, "shift_end", "16:00"),
            speed_kmh=_number(body, "speed_kmh", default=12.0),
            collector_id=collector_id,
        ),
    )
    return web.json_response({"id": bike_id, "name": name.strip()}, status=201)


@requires("operator")
async def list_bikes(request: web.Request) -> web.Response:
    return web.json_response({"items": await request.app[DEPS].planning.bikes()})


@requires("operator")
async def post_plan(request: web.Request) -> web.Response:
    """Plan a day now (the evening job does tomorrow by itself)."""
    body = await _json_body(request)
    seconds = body.get("seconds")
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 < seconds <= 120
    ):
        raise ApiError(400, "invalid_body", "seconds must be between 0 and 120")
    summary = await run(request, PlanDay(_day(body.get("day")), seconds=seconds))
    return web.json_response(summary.to_json())


@requires("operator")
async def post_replan(request: web.Request) -> web.Response:
    """A bike dropped out: spread its remaining stops over the others, tell households."""
    body = await _json_body(request)
    bike_id = body.get("bike_id")
    if isinstance(bike_id, bool) or not isinstance(bike_id, int):
        raise ApiError(400, "invalid_body", "bike_id must be an integer")
    deps = request.app[DEPS]
    now_local = deps.clock.now().astimezone(deps.clock.tz)
    day = _day(body.get("day", now_local.date().isoformat()))
    from_min = (
        now_local.hour * 60 + now_local.minute if day == now_local.date() else None
    )
    seconds = float(body.get("seconds", 3.0))
    summary = await run(
        request,
        PlanDay(day, seconds=seconds, without_bikes=(bike_id,), from_min=from_min),
    )
    return web.json_response(summary.to_json())


@requires("operator", "collector")
async def get_rounds(request: web.Request) -> web.Response:
    """The day's rounds with their stops in visiting order."""
    deps = request.app[DEPS]
    day = _day(request.query.get("day", deps.clock.today().isoformat()))
    return web.json_response({"items": await deps.planning.rounds(day)})


@requires("operator")
async def unlocated(request: web.Request) -> web.Response:
    """Households without a usable location: they are kept out of rounds until fixed."""
    return web.json_response({"items": await request.app[DEPS].planning.unlocated()})


@requires("operator", "collector")
async def post_location(request: web.Request) -> web.Response:
    """Pin a household's location (a collector's GPS on the doorstep, or an operator)."""
    body = await _json_body(request)
    household_id = _path_id(request)
    await run(
        request, PinLocation(household_id, _number(body, "lat"), _number(body, "lon"))
    )
    return web.json_response({"household_id": household_id, "location_source": "gps"})


@requires("operator")
async def put_weekly(request: web.Request) -> web.Response:
    """Set a household's standing weekly pickup day ("mon".."sun"), or null to stop."""
    body = await _json_body(request)
    value = body.get("weekday")
    if value is not None and value not in WEEKDAYS:
        raise ApiError(400, "invalid_body", "weekday must be one of mon..sun or null")
    weekday = None if value is None else WEEKDAYS.index(value)
    household_id = _path_id(request)
    await run(request, SetWeeklyDay(household_id, weekday))
    return web.json_response({"household_id": household_id, "weekday": value})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/hubs", post_hub)
    app.router.add_get("/api/v1/hubs", list_hubs)
    app.router.add_post("/api/v1/bikes", post_bike)
    app.router.add_get("/api/v1/bikes", list_bikes)
    app.router.add_post("/api/v1/plan", post_plan)
    app.router.add_get("/api/v1/rounds", get_rounds)
    app.router.add_post("/api/v1/rounds/replan", post_replan)
    app.router.add_get("/api/v1/households/unlocated", unlocated)
    app.router.add_post("/api/v1/households/{id}/location", post_location)
    app.router.add_put("/api/v1/households/{id}/weekly", put_weekly)

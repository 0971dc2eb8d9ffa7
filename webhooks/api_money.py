"""Money endpoints of the JSON API: weighings, balances, ledger, payouts, rates, disputes."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from service.app_keys import DEPS
from service.domain.commands import (
    Command,
    LogWeights,
    RegisterCollector,
    RegisterShop,
    RequestRedemption,
    ReverseWeighing,
    SetRate,
)
from service.domain.errors import Conflict, InvalidInput, NotFound
from service.domain.sms_parser import MATERIAL_SYNONYMS, MATERIALS, normalise_code
from service.ledger.postings import IdempotencyConflict, InsufficientFunds
from service.ledger.reconcile import (
    LedgerPayout,
    StatementError,
    parse_sandbox_statement,
    reconcile,
)
from service.money import AlreadyCollected
from service.money_batch import MAX_BATCH, LogWeightsBatch, answer_json
from webhooks.api_v1 import (
    ApiError,
    _choice,
    _json_body,
    _page_response,
    _paging,
    body_id,
    path_id,
    requires,
)
from webhooks.openapi import MAX_AMOUNT_KOBO

PAYOUT_STATUSES = ("held", "submitted", "succeeded", "failed", "released")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


async def run(request: web.Request, command: Command) -> Any:
    """Hand a command to the bus; domain refusals become JSON 4xx answers."""
    try:
        return await request.app[DEPS].bus.handle(command)
    except IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from None
    except AlreadyCollected as exc:
        raise ApiError(409, "already_collected", str(exc)) from None
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except InvalidInput as exc:
        raise ApiError(400, "invalid_body", str(exc)) from None
    except (Conflict, InsufficientFunds) as exc:
        raise ApiError(409, "conflict", str(exc)) from None


def _material(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(400, "invalid_body", "material must be a string")
    name = MATERIAL_SYNONYMS.get(value.strip().lower(), value.strip().upper())
    if name not in MATERIALS:
        raise ApiError(
            400,
            "invalid_body",
            f"material must be one of {', '.join(sorted(MATERIALS))}",
        )
    return name


def _grams(value: Any) -> int:
    """kg as a JSON number or string -> whole grams, exactly (no float truncation)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ApiError(400, "invalid_body", "kg must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ApiError(400, "invalid_body", "kg must be a finite number")
    try:
        kg = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ApiError(400, "invalid_body", "kg must be a number") from None
    # Exact comparisons only: arithmetic on sNaN or on a huge exponent would raise.
    if not kg.is_finite() or not 0 < kg <= 1000:
        raise ApiError(400, "invalid_body", "kg must be more than 0 and at most 1000")
    if kg != kg.quantize(Decimal("0.001")):
        raise ApiError(400, "invalid_body", "kg must have at most 3 decimals")
    return int(kg * 1000)


def iso_date(value: Any, name: str) -> date:
    """A JSON string YYYY-MM-DD (date.fromisoformat alone also takes 20261124 and
    week dates, which the document does not allow)."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ApiError(400, "invalid_body", f"{name} must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_body", f"{name} is not a real date") from None


def _when(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise ApiError(400, "invalid_body", "collected_at must be an ISO 8601 string")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid_body", "collected_at must be ISO 8601") from None
    if when.tzinfo is None:
        raise ApiError(
            400, "invalid_body", "collected_at needs a timezone, e.g. +01:00"
        )
    if when.year < 2000:  # also keeps UTC conversion off year 0
        raise ApiError(400, "invalid_body", "collected_at is before the year 2000")
    if when > now + timedelta(hours=1):
        raise ApiError(400, "invalid_body", "collected_at is in the future")
    return when


def _coordinate(body: dict[str, Any], name: str, limit: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not -limit <= value <= limit
    ):
        raise ApiError(
            400, "invalid_body", f"{name} must be a number within ±{limit:g}"
        )
    return float(value)


@requires("collector", "operator")
async def post_collection(request: web.Request) -> web.Response:
    """Record a weighing; the same idempotency_key replays the first answer."""
    body = await _json_body(request)
    command = _weighing_command(body, request.app[DEPS].clock.now())
    answer = await run(request, command)
    return web.json_response(answer.body, status=answer.status_code)


def _weighing_command(entry: Any, now: datetime) -> LogWeights:
    """One batch entry (the single endpoint's body) -> LogWeights; ApiError if bad."""
    if not isinstance(entry, dict):
        raise ApiError(400, "invalid_body", "each weighing is a JSON object")
    code, key, items = (
        entry.get("pickup_code"),
        entry.get("idempotency_key"),
        entry.get("items"),
    )
    if not isinstance(code, str) or not 4 <= len(normalise_code(code)) <= 8:
        raise ApiError(400, "invalid_body", "pickup_code must be a 4-8 character code")
    if not isinstance(key, str) or not 1 <= len(key) <= 120:
        raise ApiError(
            400, "invalid_body", "idempotency_key must be a string of 1-120 characters"
        )
    if not isinstance(items, list) or not 1 <= len(items) <= 20:
        raise ApiError(
            400, "invalid_body", "items must be a list of 1-20 {material, kg}"
        )
    parsed: list[tuple[str, int]] = []
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(
                400, "invalid_body", 'each item is {"material": ..., "kg": ...}'
            )
        parsed.append((_material(item.get("material")), _grams(item.get("kg"))))
    return LogWeights(
        pickup_code=normalise_code(code),
        items=tuple(parsed),
        collected_at=_when(entry.get("collected_at"), now),
        idempotency_key=key,
        scope="api",
        source="api",
        collector="api",
        lat=_coordinate(entry, "lat", 90),
        lon=_coordinate(entry, "lon", 180),
    )


@requires("collector", "operator")
async def post_collections_batch(request: web.Request) -> web.Response:
    """Record up to 500 weighings in one transaction; each gets its own answer."""
    body = await _json_body(request)
    deps = request.app[DEPS]
    entries = body.get("weighings")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_BATCH:
        raise ApiError(
            400, "invalid_body", f"weighings must be a list of 1-{MAX_BATCH} weighings"
        )
    now = deps.clock.now()
    results: list[dict[str, Any] | None] = [None] * len(entries)
    commands: list[LogWeights] = []
    positions: list[int] = []
    for i, entry in enumerate(entries):
        try:
            commands.append(_weighing_command(entry, now))
            positions.append(i)
        except ApiError as exc:
            results[i] = {
                "status": exc.status,
                "body": {"error": {"code": exc.code, "message": exc.message}},
            }
    if commands:
        answers = await run(
            request, LogWeightsBatch(tuple(commands), scope="api", collector="api")
        )
        for i, answer in zip(positions, answers, strict=True):
            status, payload = answer_json(answer)
            results[i] = {"status": status, "body": payload}
    return web.json_response({"results": results}, status=200)


@requires("operator")
async def get_balance(request: web.Request) -> web.Response:
    """A household's posted, held and available credit."""
    household_id = path_id(request, "household id")
    balance = await request.app[DEPS].money.balance(household_id)
    if balance is None:
        raise ApiError(404, "not_found", f"no household {household_id}")
    return web.json_response(balance)


@requires("operator")
async def post_redemption(request: web.Request) -> web.Response:
    """Redeem a household's credit as airtime, mobile money or a voucher."""
    household_id = path_id(request, "household id")
    body = await _json_body(request)
    kind, amount, key = (
        body.get("kind"),
        body.get("amount_kobo"),
        body.get("idempotency_key"),
    )
    if kind not in ("airtime", "mobile_money", "voucher"):
        raise ApiError(
            400, "invalid_body", "kind must be airtime, mobile_money or voucher"
        )
    amount = _amount(amount)
    if not isinstance(key, str) or not 1 <= len(key) <= 120:
        raise ApiError(400, "invalid_body", "idempotency_key must be 1-120 characters")
    result = await run(request, RequestRedemption(household_id, kind, amount, key))
    status = 201 if result.status == "accepted" else 409
    return web.json_response(result.to_json(), status=status)


def _amount(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_AMOUNT_KOBO
    ):
        raise ApiError(
            400,
            "invalid_body",
            f"amount_kobo must be an integer from 1 to {MAX_AMOUNT_KOBO:,}",
        )
    return value


@requires("operator")
async def get_trial_balance(request: web.Request) -> web.Response:
    """Every account's signed balance (debit-normal positive); the total is 0."""
    return web.json_response(await request.app[DEPS].money.trial_balance())


@requires("operator")
async def list_payouts(request: web.Request) -> web.Response:
    limit, after = _paging(request)
    status = _choice(request, "status", PAYOUT_STATUSES)
    page = await request.app[DEPS].money.payouts(
        status=status, after=after, limit=limit
    )
    return _page_response(request, page)


@requires("operator")
async def get_rates(request: web.Request) -> web.Response:
    return web.json_response({"items": await request.app[DEPS].money.rates()})


@requires("operator")
async def put_rate(request: web.Request) -> web.Response:
    """Add the rate version for (material, date); replaces only that same pair."""
    body = await _json_body(request)
    material = _material(body.get("material"))
    rate = body.get("kobo_per_kg")
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int)
        or not 0 <= rate <= 10_000_000
    ):
        raise ApiError(
            400, "invalid_body", "kobo_per_kg must be an integer from 0 to 10,000,000"
        )
    day = iso_date(body.get("effective_from"), "effective_from")
    await run(request, SetRate(material, rate, day, set_by="api"))
    return web.json_response(
        {"material": material, "kobo_per_kg": rate, "effective_from": day.isoformat()}
    )


@requires("operator")
async def list_disputes(request: web.Request) -> web.Response:
    """Disputes (WRONG replies); open ones unless ?status=resolved or all."""
    limit, after = _paging(request)
    status = _choice(request, "status", ("open", "resolved", "all")) or "open"
    page = await request.app[DEPS].money.disputes(
        status=None if status == "all" else status, after=after, limit=limit
    )
    return _page_response(request, page)


@requires("operator")
async def resolve_dispute(request: web.Request) -> web.Response:
    """Correct the disputed weighing by a reversing transfer (amount_kobo > 0)."""
    dispute_id = path_id(request, "dispute id")
    body = await _json_body(request)
    amount = _amount(body.get("amount_kobo"))
    weighing_id = body_id(body, "weighing_id")
    note = body.get("note", "")
    if not isinstance(note, str):
        raise ApiError(400, "invalid_body", "note must be a string")
    transfer_id = await run(
        request,
        ReverseWeighing(weighing_id, amount, note[:400], "api", dispute_id=dispute_id),
    )
    return web.json_response(
        {"dispute_id": dispute_id, "reversal_transfer_id": transfer_id}
    )


async def _register(
    request: web.Request, kind: type[RegisterShop] | type[RegisterCollector]
) -> web.Response:
    body = await _json_body(request)
    name, phone = body.get("name"), body.get("phone")
    if not isinstance(name, str) or not name.strip() or not isinstance(phone, str):
        raise ApiError(400, "invalid_body", "name and phone are required strings")
    new_id = await run(request, kind(name.strip(), phone))
    return web.json_response({"id": new_id, "name": name.strip()}, status=201)


@requires("operator")
async def post_shop(request: web.Request) -> web.Response:
    """Register a partner shop (its phone may CLAIM vouchers)."""
    return await _register(request, RegisterShop)


@requires("operator")
async def post_collector(request: web.Request) -> web.Response:
    """Register a collector (its phone may LOG and MISS by SMS)."""
    return await _register(request, RegisterCollector)


@requires("operator")
async def post_reconcile(request: web.Request) -> web.Response:
    """Reconcile a provider statement (CSV body) against our payouts."""
    provider = request.query.get("provider", "sandbox")
    if provider != "sandbox":
        raise ApiError(
            400,
            "unsupported_provider",
            "only the sandbox statement format is read so far",
        )
    try:
        text = await request.text()
    except (UnicodeDecodeError, LookupError):
        raise ApiError(
            400, "invalid_statement", "the statement is not UTF-8 text"
        ) from None
    try:
        rows = parse_sandbox_statement(text)
    except StatementError as exc:
        raise ApiError(400, "invalid_statement", str(exc)) from None
    ours = [
        LedgerPayout(*p)
        for p in await request.app[DEPS].money.all_payouts_for(provider)
    ]
    return web.json_response(reconcile(rows, ours).to_json())


@requires("operator")
async def sandbox_statement(request: web.Request) -> web.Response:
    """The sandbox provider's statement: every payout it received, final status."""
    from service.gateways.sandbox_payouts import SandboxPayouts

    sandbox = request.app[DEPS].payouts.get("sandbox")
    if not isinstance(sandbox, SandboxPayouts):
        raise ApiError(404, "not_found", "the sandbox provider is not configured")
    return web.Response(
        text=await sandbox.statement_csv(),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="sandbox-statement.csv"'},
    )


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/collections", post_collection)
    app.router.add_post("/api/v1/collections/batch", post_collections_batch)
    app.router.add_get("/api/v1/households/{id}/balance", get_balance)
    app.router.add_post("/api/v1/households/{id}/redemptions", post_redemption)
    app.router.add_get("/api/v1/ledger/trial-balance", get_trial_balance)
    app.router.add_get("/api/v1/payouts", list_payouts)
    app.router.add_get("/api/v1/rates", get_rates)
    app.router.add_put("/api/v1/rates", put_rate)
    app.router.add_get("/api/v1/disputes", list_disputes)
    app.router.add_post("/api/v1/disputes/{id}/resolve", resolve_dispute)
    app.router.add_post("/api/v1/shops", post_shop)
    app.router.add_post("/api/v1/collectors", post_collector)
    app.router.add_post("/api/v1/reconcile", post_reconcile)
    app.router.add_get("/api/v1/sandbox/statement.csv", sandbox_statement)

"""The OpenAPI document served at /api/v1/openapi.json.

Every operation lists each status code it can answer with and the body of each; the
schemathesis test (tests/e2e/test_schemathesis.py) holds the server to this document.
"""

from __future__ import annotations

from typing import Any

# Ids are INTEGER columns (32-bit on PostgreSQL): an id outside 1..MAX_ID names nothing.
MAX_ID = 2**31 - 1
# Money amounts a caller may ask for, in kobo: ₦10,000,000 (as the SMS parser's cap).
MAX_AMOUNT_KOBO = 1_000_000_000
MAX_LIMIT = 10_000
MATERIALS = ["PET", "HDPE", "ALU", "SACHET", "GLASS"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


_INT = {"type": "integer"}
_STR = {"type": "string"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_DAY = {"type": "string", "format": "date"}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_HHMM = {"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}$", "example": "08:00"}


def _object(
    properties: dict[str, Any], required: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """An object schema; every property is required unless `required` says otherwise."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        **extra,
    }


def _page(item: str) -> dict[str, Any]:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "next": _nullable("string", description="URL of the next page"),
        }
    )


def _items(item: str) -> dict[str, Any]:
    return _object({"items": {"type": "array", "items": _ref(item)}})


_ERROR = _object(
    {"error": _object({"code": _STR, "message": _STR}, additionalProperties=True)}
)
_ERROR_REF = _ref("Error")
_ERROR_TEXT = {
    "400": "bad input: an invalid parameter or body",
    "401": "no token, or an unknown or revoked one",
    "403": "a token of a role that may not make this call",
    "404": "no such thing (the message names it)",
    "409": "conflict: a reused idempotency key, already collected, ...",
    "413": "the body is larger than 256 KiB",
}

SCHEMAS: dict[str, Any] = {
    "Error": _ERROR,
    "Household": _object(
        {
            "id": _INT,
            "phone": {"type": "string", "description": "E.164"},
            "name": _STR,
            "address": _STR,
            "language": {"type": "string", "enum": ["en", "pcm", "yo", "ha", "ig"]},
            "status": {"type": "string", "enum": ["active", "opted_out"]},
            "created_at": _TIME,
            "lat": _nullable("number"),
            "lon": _nullable("number"),
            "location_source": {
                "type": ["string", "null"],
                "enum": ["pluscode", "geocoded", "failed", "gps", "operator", None],
                "description": "where the location came from; null: not looked up "
                "yet. geocoded and failed are rough: the first weighing with a GPS "
                "fix replaces them",
            },
        }
    ),
    "Pickup": _object(
        {
            "id": _INT,
            "code": _STR,
            "household_id": _INT,
            "phone": _STR,
            "name": _STR,
            "address": _STR,
            "status": {
                "type": "string",
                "enum": ["open", "scheduled", "done", "cancelled"],
            },
            "created_at": _TIME,
            "updated_at": _TIME,
        }
    ),
    "UnparsedMessage": _object(
        {
            "id": _INT,
            "provider": _STR,
            "phone": _STR,
            "body": _STR,
            "reply": _nullable("string"),
            "household_id": _nullable("integer"),
            "reviewed": _BOOL,
            "received_at": _TIME,
        }
    ),
    "OutboundMessage": _object(
        {
            "id": _INT,
            "key": _STR,
            "phone": _STR,
            "body": _STR,
            "status": {
                "type": "string",
                "enum": [
                    "pending",
                    "sending",
                    "sent",
                    "failed",
                    "expired",
                    "suppressed",
                ],
            },
            "delivery_status": _nullable("string"),
            "attempts": _INT,
            "provider_id": _nullable("string"),
            "last_error": _nullable("string"),
            "created_at": _TIME,
            "sent_at": _nullable("string", format="date-time"),
        }
    ),
    "Weighing": _object(
        {
            "id": _INT,
            "credited_kobo": _INT,
            "household_id": _INT,
            "pickup_code": _STR,
            "status": {"type": "string", "enum": ["credited", "capped"]},
            "total_grams": _INT,
        }
    ),
    "Balance": _object(
        {
            "household_id": _INT,
            "posted_kobo": _INT,
            "held_kobo": _INT,
            "available_kobo": _INT,
        }
    ),
    "Redemption": _object(
        {
            "status": {
                "type": "string",
                "enum": ["accepted", "below_minimum", "paused", "insufficient"],
            },
            "kind": {"type": "string", "enum": ["airtime", "mobile_money", "voucher"]},
            "amount_kobo": _INT,
            "reference": _nullable("string"),
            "voucher_code": _nullable("string"),
            "message": {"type": "string", "description": "the household's SMS"},
        }
    ),
    "TrialBalance": _object(
        {
            "total_kobo": {"type": "integer", "description": "always 0"},
            "by_type": {"type": "object", "additionalProperties": _INT},
            "accounts": {
                "type": "array",
                "items": _object({"account": _STR, "type": _STR, "balance_kobo": _INT}),
            },
        }
    ),
    "Payout": _object(
        {
            "id": _INT,
            "reference": _STR,
            "household_id": _INT,
            "kind": {"type": "string", "enum": ["airtime", "mobile_money"]},
            "provider": _STR,
            "amount_kobo": _INT,
            "status": {
                "type": "string",
                "enum": ["held", "submitted", "succeeded", "failed", "released"],
            },
            "attempts": _INT,
            "failure_reason": _nullable("string"),
            "provider_txn": _nullable("string"),
            "created_at": _TIME,
            "completed_at": _nullable("string", format="date-time"),
        }
    ),
    "Rate": _object(
        {
            "material": {"type": "string", "enum": MATERIALS},
            "kobo_per_kg": _INT,
            "effective_from": _DAY,
            "set_by": _STR,
        },
        required=["material", "kobo_per_kg", "effective_from"],
    ),
    "Dispute": _object(
        {
            "id": _INT,
            "household_id": _INT,
            "phone": _STR,
            "weighing_id": _nullable("integer"),
            "credited_kobo": _nullable("integer"),
            "total_grams": _nullable("integer"),
            "note": _nullable("string"),
            "status": {"type": "string", "enum": ["open", "resolved"]},
            "resolution": _nullable("string"),
            "created_at": _TIME,
        }
    ),
    "Created": _object({"id": _INT, "name": _STR}),
    "Reconciliation": _object(
        {
            "matched": _INT,
            **{
                name: {"type": "array", "items": _STR}
                for name in (
                    "missing_in_ledger",
                    "missing_in_statement",
                    "amount_mismatch",
                    "duplicate_reference",
                    "status_mismatch",
                )
            },
            "totals": _object(
                {
                    name: _INT
                    for name in (
                        "statement_rows",
                        "statement_kobo",
                        "ledger_kobo",
                        "matched_kobo",
                        "difference_kobo",
                    )
                }
            ),
        }
    ),
    "Hub": _object({"id": _INT, "name": _STR, "lat": _NUM, "lon": _NUM}),
    "Bike": _object(
        {
            "id": _INT,
            "name": _STR,
            "hub_id": _INT,
            "capacity_kg": _NUM,
            "shift_start_min": _INT,
            "shift_end_min": _INT,
            "speed_kmh": _NUM,
            "collector_id": _nullable("integer"),
            "active": _BOOL,
        }
    ),
    "Collector": _object(
        {
            "id": _INT,
            "name": _STR,
            "phone": {"type": "string", "description": "E.164"},
            "active": _BOOL,
            "bike_ids": {"type": "array", "items": _INT},
            "created_at": _TIME,
        }
    ),
    "PlanSummary": _object(
        {
            "day": _DAY,
            "rounds": _INT,
            "scheduled": _INT,
            "unplanned": {
                "type": "array",
                "items": _object({"code": _STR, "reason": _STR}),
            },
            "unlocated": _INT,
            "weekly_created": _INT,
            "notified": _INT,
        }
    ),
    "Round": _object(
        {
            "id": _INT,
            "day": _DAY,
            "bike_id": _INT,
            "bike": _STR,
            "hub_id": {
                "type": "integer",
                "description": "The bike's hub when the round was planned",
            },
            "collector_id": _nullable(
                "integer",
                description="Who rides the round: the bike's collector when it "
                "was planned, or the one given to the bike since",
            ),
            "stops": _INT,
            "trips": _INT,
            "distance_m": _INT,
            "load_kg": _NUM,
            "start": _nullable("string"),
            "end": _nullable("string"),
            "visits": {
                "type": "array",
                "items": _object(
                    {
                        "seq": _INT,
                        "trip": _INT,
                        "arrival": _nullable("string"),
                        "window": _nullable("string", example="10:00-12:00"),
                        "pickup_id": _INT,
                        "code": _STR,
                        "status": _STR,
                        "name": _STR,
                        "address": _STR,
                        "lat": _nullable("number"),
                        "lon": _nullable("number"),
                        "expected_kg": _nullable("number"),
                    }
                ),
            },
        }
    ),
    "UnlocatedHousehold": _object(
        {
            "id": _INT,
            "phone": _STR,
            "name": _STR,
            "address": _STR,
            "location_source": _nullable("string"),
            "reason": {
                "type": "string",
                "enum": ["no location", "too far from any hub"],
            },
        }
    ),
}

_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": 100,
        },
    },
    {
        "name": "after",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        "description": "continue after this id",
    },
]
_PATH_ID = [{"name": "id", "in": "path", "required": True, "schema": _ID}]
# A PATCH body names at least one field, and only fields the resource has.
_PATCH: dict[str, Any] = {"minProperties": 1, "additionalProperties": False}
# A bike's fields, as POST /api/v1/bikes adds them and PATCH changes them.
_BIKE_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1},
    "hub_id": _ID,
    "capacity_kg": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
    "shift_start": _HHMM,
    "shift_end": _HHMM,
    "speed_kmh": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    "collector_id": {
        **_ID,
        "type": ["integer", "null"],
        "description": "null: no collector",
    },
}


def _status_param(values: list[str], description: str = "") -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": "status",
        "in": "query",
        "schema": {"type": "string", "enum": values},
    }
    if description:
        param["description"] = description
    return param


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    ok_status: str = "200",
    errors: tuple[str, ...] = (),
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    roles: tuple[str, ...] = ("operator",),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation: bearer token, its success answer, and its error answers.

    401 and 403 are on every operation; 400 and 413 on every one with a body."""
    codes = set(errors) | {"401", "403"}
    if body is not None:
        codes |= {"400", "413"}
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Token role: {' or '.join(roles)}.",
        "security": [{"bearer": []}],
        "responses": {
            ok_status: ok,
            **{c: _json(_ERROR_REF, _ERROR_TEXT[c]) for c in sorted(codes)},
            **(extra or {}),
        },
    }
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return op


def _list(summary: str, item: str, *extra_params: dict[str, Any]) -> dict[str, Any]:
    return _op(
        summary,
        _json(_page(item), "a page"),
        errors=("400",),
        params=[*_PAGING, *extra_params],
    )


_COLLECTION = _object(
    {
        "pickup_code": {
            "type": "string",
            "description": "the household's code, e.g. K7Q2",
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": _object(
                {
                    "material": {
                        "type": "string",
                        "enum": MATERIALS,
                        "description": "case-insensitive; common names (bottle, can, "
                        "sachet, ...) are accepted too",
                    },
                    "kg": {
                        "type": ["number", "string"],
                        "description": "more than 0 and at most 1000, at most 3 decimals",
                    },
                }
            ),
        },
        "collected_at": {
            "type": "string",
            "format": "date-time",
            "description": "with a timezone; from 2000 on, not more than an hour ahead",
        },
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 120},
    },
    required=["pickup_code", "items", "collected_at", "idempotency_key"],
)
_NAMED = _object(
    {"name": {"type": "string", "minLength": 1}, "phone": _STR},
    description="name must not be blank; phone in E.164 or a Nigerian local form",
)
_LAT_LON = _object(
    {
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
    },
    additionalProperties=False,
)
_SECONDS = {
    "type": ["number", "null"],
    "exclusiveMinimum": 0,
    "maximum": 120,
    "description": "the planner's time budget, used in full (null: the default)",
}

PATHS: dict[str, Any] = {
    "/api/v1/households": {"get": _list("Registered households", "Household")},
    "/api/v1/pickups": {
        "get": _list(
            "Pickup requests",
            "Pickup",
            _status_param(["open", "scheduled", "done", "cancelled"]),
        )
    },
    "/api/v1/messages/unparsed": {
        "get": _list("Messages not understood, for review", "UnparsedMessage")
    },
    "/api/v1/messages/outbound": {
        "get": _list(
            "Outbound messages and delivery status",
            "OutboundMessage",
            _status_param(
                ["pending", "sending", "sent", "failed", "expired", "suppressed"]
            ),
        )
    },
    "/api/v1/sms": {
        "post": _op(
            "Queue an SMS (idempotent by key)",
            _json(_object({"queued": _BOOL, "key": _STR}), "queued, or already was"),
            ok_status="202",
            body=_object(
                {
                    "to": {"type": "string", "description": "a phone number"},
                    "body": {"type": "string", "minLength": 1, "maxLength": 1600},
                    "key": {"type": "string", "minLength": 1, "maxLength": 64},
                }
            ),
        )
    },
    "/api/v1/collections": {
        "post": _op(
            "Record a weighing; the same key replays, another body is 409",
            _json(_ref("Weighing"), "recorded (or the first answer, replayed)"),
            ok_status="201",
            errors=("404", "409"),
            body=_COLLECTION,
            roles=("collector", "operator"),
        )
    },
    "/api/v1/collections/batch": {
        "post": _op(
            "Record up to 500 weighings at once (an offline collector syncing)",
            _json(
                _object(
                    {
                        "results": {
                            "type": "array",
                            "items": _object(
                                {
                                    "status": {
                                        "type": "integer",
                                        "enum": [201, 400, 404, 409],
                                    },
                                    "body": {"oneOf": [_ref("Weighing"), _ERROR_REF]},
                                }
                            ),
                        }
                    }
                ),
                "one result per weighing, in order: the status and body "
                "POST /api/v1/collections would have answered (an invalid weighing "
                "gets its own 400 here; the others are still recorded)",
            ),
            errors=("409",),
            body=_object(
                {
                    "weighings": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 500,
                        "items": {
                            **_COLLECTION,
                            "description": "as for POST /api/v1/collections; each is "
                            "checked on its own",
                        },
                    }
                }
            ),
            roles=("collector", "operator"),
        )
    },
    "/api/v1/households/{id}/balance": {
        "get": _op(
            "A household's posted, held and available credit",
            _json(_ref("Balance"), "the balance"),
            errors=("400", "404"),
            params=_PATH_ID,
        )
    },
    "/api/v1/households/{id}/redemptions": {
        "post": _op(
            "Redeem credit (airtime, mobile_money, voucher)",
            _json(_ref("Redemption"), "accepted: held (or a voucher issued)"),
            ok_status="201",
            errors=("404",),
            params=_PATH_ID,
            body=_object(
                {
                    "kind": {
                        "type": "string",
                        "enum": ["airtime", "mobile_money", "voucher"],
                    },
                    "amount_kobo": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_AMOUNT_KOBO,
                    },
                    "idempotency_key": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 120,
                    },
                }
            ),
            extra={
                "409": {
                    "description": "refused (status says why: below_minimum, paused, "
                    "insufficient), or the key was used for another request",
                    "content": {
                        "application/json": {
                            "schema": {"oneOf": [_ref("Redemption"), _ERROR_REF]}
                        }
                    },
                }
            },
        )
    },
    "/api/v1/ledger/trial-balance": {
        "get": _op(
            "Signed balance per account (debit-normal positive); total_kobo is 0",
            _json(_ref("TrialBalance"), "the trial balance"),
        )
    },
    "/api/v1/payouts": {
        "get": _list(
            "Payouts by status",
            "Payout",
            _status_param(["held", "submitted", "succeeded", "failed", "released"]),
        )
    },
    "/api/v1/rates": {
        "get": _op("Every rate version", _json(_items("Rate"), "the rates")),
        "put": _op(
            "Add or replace the rate for (material, effective_from)",
            _json(_ref("Rate"), "the rate as stored"),
            body=_object(
                {
                    "material": {
                        "type": "string",
                        "enum": MATERIALS,
                        "description": "case-insensitive; common names accepted too",
                    },
                    "kobo_per_kg": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 10_000_000,
                    },
                    "effective_from": _DAY,
                }
            ),
        ),
    },
    "/api/v1/disputes": {
        "get": _list(
            "Disputed receipts (WRONG replies)",
            "Dispute",
            _status_param(["open", "resolved", "all"], "open unless asked (default)"),
        )
    },
    "/api/v1/disputes/{id}/resolve": {
        "post": _op(
            "Correct the weighing with a reversing transfer",
            _json(
                _object({"dispute_id": _INT, "reversal_transfer_id": _INT}),
                "reversed",
            ),
            errors=("404", "409"),
            params=_PATH_ID,
            body=_object(
                {
                    "weighing_id": _ID,
                    "amount_kobo": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_AMOUNT_KOBO,
                    },
                    "note": {"type": "string", "description": "kept to 400 characters"},
                },
                required=["weighing_id", "amount_kobo"],
            ),
        )
    },
    "/api/v1/shops": {
        "post": _op(
            "Register a partner shop (one per phone)",
            _json(_ref("Created"), "registered"),
            ok_status="201",
            errors=("409",),
            body=_NAMED,
        )
    },
    "/api/v1/collectors": {
        "get": _op(
            "Collectors, with the bikes they ride",
            _json(_items("Collector"), "the collectors"),
        ),
        "post": _op(
            "Register a collector (one per phone)",
            _json(_ref("Created"), "registered"),
            ok_status="201",
            errors=("409",),
            body=_NAMED,
        ),
    },
    "/api/v1/reconcile": {
        "post": {
            **_op(
                "Reconcile a provider statement (CSV body) against our payouts",
                _json(_ref("Reconciliation"), "the report"),
                errors=("400", "413"),
                params=[
                    {
                        "name": "provider",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["sandbox"]},
                    }
                ],
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "text/csv": {
                        "schema": {
                            "type": "string",
                            "description": "header reference,amount_kobo,currency,"
                            "status,completed_at",
                        }
                    }
                },
            },
        }
    },
    "/api/v1/sandbox/statement.csv": {
        "get": _op(
            "The sandbox provider's statement",
            {
                "description": "every payout the sandbox received, final status",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            errors=("404",),
        )
    },
    "/api/v1/hubs": {
        "get": _op("Hubs", _json(_items("Hub"), "the hubs")),
        "post": _op(
            "Add a hub (names are unique)",
            _json(_ref("Created"), "added"),
            ok_status="201",
            errors=("409",),
            body=_object(
                {
                    "name": {"type": "string", "minLength": 1},
                    "lat": {"type": "number", "minimum": -90, "maximum": 90},
                    "lon": {"type": "number", "minimum": -180, "maximum": 180},
                },
                additionalProperties=False,
            ),
        ),
    },
    "/api/v1/bikes": {
        "get": _op("Bikes", _json(_items("Bike"), "the bikes")),
        "post": _op(
            "Add a bike (names are unique; hub and collector must exist)",
            _json(_ref("Created"), "added"),
            ok_status="201",
            errors=("404", "409"),
            body=_object(
                {
                    **_BIKE_FIELDS,
                    "shift_start": {**_HHMM, "default": "08:00"},
                    "shift_end": {**_HHMM, "default": "16:00", "example": "16:00"},
                    "speed_kmh": {**_BIKE_FIELDS["speed_kmh"], "default": 12},
                },
                required=["name", "hub_id", "capacity_kg"],
                additionalProperties=False,
            ),
        ),
    },
    "/api/v1/hubs/{id}": {
        "patch": _op(
            "Rename or move a hub (fields not given stay)",
            _json(_ref("Hub"), "the hub as it is now"),
            errors=("404", "409"),
            params=_PATH_ID,
            body=_object(
                {
                    "name": {"type": "string", "minLength": 1},
                    "lat": {"type": "number", "minimum": -90, "maximum": 90},
                    "lon": {"type": "number", "minimum": -180, "maximum": 180},
                },
                required=[],
                **_PATCH,
            ),
        )
    },
    "/api/v1/bikes/{id}": {
        "patch": _op(
            "Change a bike (fields not given stay); active false keeps it out of "
            "the next plans, and a re-plan moves the stops of a day already "
            "planned. A new collector_id hands the bike's rounds from today on to "
            "that collector (texted each round's link); a stopped collector is "
            "refused (409)",
            _json(_ref("Bike"), "the bike as it is now"),
            errors=("404", "409"),
            params=_PATH_ID,
            body=_object({**_BIKE_FIELDS, "active": _BOOL}, required=[], **_PATCH),
        )
    },
    "/api/v1/collectors/{id}": {
        "patch": _op(
            "Rename a collector, or stop (active false) or restore their access",
            _json(_ref("Collector"), "the collector as they are now"),
            errors=("404",),
            params=_PATH_ID,
            body=_object(
                {"name": {"type": "string", "minLength": 1}, "active": _BOOL},
                required=[],
                **_PATCH,
            ),
        )
    },
    "/api/v1/plan": {
        "post": _op(
            "Plan a day's rounds now and text households and collectors",
            _json(_ref("PlanSummary"), "planned"),
            errors=("409",),
            body=_object(
                {"day": _DAY, "seconds": _SECONDS},
                required=["day"],
                additionalProperties=False,
            ),
        )
    },
    "/api/v1/rounds": {
        "get": _op(
            "A day's rounds with stops in visiting order",
            _json(_items("Round"), "the rounds"),
            errors=("400",),
            params=[{"name": "day", "in": "query", "schema": _DAY}],
            roles=("operator", "collector"),
        )
    },
    "/api/v1/rounds/replan": {
        "post": _op(
            "A bike dropped out: re-plan its remaining stops over the others",
            _json(_ref("PlanSummary"), "re-planned"),
            errors=("404", "409"),
            body=_object(
                {
                    "bike_id": _ID,
                    "day": {**_DAY, "description": "today unless given"},
                    "seconds": {**_SECONDS, "default": 3},
                },
                required=["bike_id"],
                additionalProperties=False,
            ),
        )
    },
    "/api/v1/households/unlocated": {
        "get": _op(
            "Households without a usable location",
            _json(_items("UnlocatedHousehold"), "the households"),
        )
    },
    "/api/v1/households/{id}/location": {
        "post": _op(
            "Pin a household's GPS location",
            _json(
                _object({"household_id": _INT, "location_source": {"enum": ["gps"]}}),
                "pinned",
            ),
            errors=("404",),
            params=_PATH_ID,
            body=_LAT_LON,
            roles=("operator", "collector"),
        )
    },
    "/api/v1/households/{id}/weekly": {
        "put": _op(
            "Set the standing weekly pickup day (null stops it)",
            _json(
                _object({"household_id": _INT, "weekday": {"enum": [*WEEKDAYS, None]}}),
                "set",
            ),
            errors=("404",),
            params=_PATH_ID,
            body=_object(
                {
                    "weekday": {
                        "type": ["string", "null"],
                        "description": "mon..sun (any case, or the full name), or null",
                        "examples": ["mon", "Saturday", None],
                    }
                },
                additionalProperties=False,
            ),
        )
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Recoop operator API", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
    },
    "paths": PATHS,
}

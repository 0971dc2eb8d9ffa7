"""The OpenAPI document served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next": {"type": ["string", "null"], "description": "URL of the next page"},
        },
    }


_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100},
    },
    {
        "name": "after",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0},
        "description": "continue after this id",
    },
]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_ERRORS = {
    "400": {
        "description": "bad input",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    },
    "401": {
        "description": "no or unknown token",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    },
    "403": {
        "description": "token of the wrong role",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    },
}

_HOUSEHOLD = {
    "type": "object",
    "required": ["id", "phone", "name", "language", "status", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "phone": {"type": "string", "description": "E.164"},
        "name": {"type": "string"},
        "address": {"type": "string"},
        "language": {"type": "string", "enum": ["en", "pcm", "yo", "ha", "ig"]},
        "status": {"type": "string", "enum": ["active", "opted_out"]},
        "created_at": {"type": "string", "format": "date-time"},
    },
}

_PICKUP = {
    "type": "object",
    "required": ["id", "code", "household_id", "phone", "status", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "code": {"type": "string"},
        "household_id": {"type": "integer"},
        "phone": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["open", "scheduled", "done", "cancelled"],
        },
        "created_at": {"type": "string", "format": "date-time"},
    },
}


def _get(
    summary: str, schema: dict[str, Any], extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": _PAGING + (extra or []),
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": _list(schema)}},
                },
                **_ERRORS,
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Recoop operator API", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": _ERROR, "Household": _HOUSEHOLD, "Pickup": _PICKUP},
    },
    "paths": {
        "/api/v1/households": _get(
            "Registered households", {"$ref": "#/components/schemas/Household"}
        ),
        "/api/v1/pickups": _get(
            "Pickup requests",
            {"$ref": "#/components/schemas/Pickup"},
            [
                {
                    "name": "status",
                    "in": "query",
                    "schema": {
                        "type": "string",
                        "enum": ["open", "scheduled", "done", "cancelled"],
                    },
                }
            ],
        ),
        "/api/v1/messages/unparsed": _get(
            "Messages not understood, for review", {"type": "object"}
        ),
        "/api/v1/messages/outbound": _get(
            "Outbound messages and delivery status", {"type": "object"}
        ),
        "/api/v1/sms": {
            "post": {
                "summary": "Queue an SMS (idempotent by key)",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["to", "body", "key"],
                                "properties": {
                                    "to": {"type": "string"},
                                    "body": {"type": "string", "maxLength": 1600},
                                    "key": {"type": "string", "maxLength": 64},
                                },
                            }
                        }
                    },
                },
                "responses": {"202": {"description": "queued"}, **_ERRORS},
            }
        },
    },
}


def _op(
    method: str,
    summary: str,
    *,
    body: dict[str, Any] | None = None,
    ok: str = "200",
    params: list[dict[str, Any]] | None = None,
    response: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": {
            ok: {
                "description": "OK",
                "content": {
                    "application/json": {"schema": response or {"type": "object"}}
                },
            },
            **_ERRORS,
            "404": {"description": "not found"},
            "409": {"description": "conflict (reused key, already collected, ...)"},
        },
    }
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return {method: op}


_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_COLLECTION = {
    "type": "object",
    "required": ["pickup_code", "items", "collected_at", "idempotency_key"],
    "properties": {
        "pickup_code": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["material", "kg"],
                "properties": {
                    "material": {
                        "type": "string",
                        "enum": ["PET", "HDPE", "ALU", "SACHET", "GLASS"],
                    },
                    "kg": {"type": ["number", "string"]},
                },
            },
        },
        "collected_at": {"type": "string", "format": "date-time"},
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "idempotency_key": {"type": "string", "maxLength": 120},
    },
}
_NAMED = {
    "type": "object",
    "required": ["name", "phone"],
    "properties": {"name": {"type": "string"}, "phone": {"type": "string"}},
}

OPENAPI["paths"].update(
    {
        "/api/v1/collections": _op(
            "post",
            "Record a weighing (collector token); the same key replays, another body is 409",
            body=_COLLECTION,
            ok="201",
            response={
                "type": "object",
                "required": ["id", "credited_kobo", "household_id"],
                "properties": {
                    "id": {"type": "integer"},
                    "credited_kobo": {"type": "integer"},
                    "household_id": {"type": "integer"},
                    "status": {"type": "string", "enum": ["credited", "capped"]},
                },
            },
        ),
        "/api/v1/collections/batch": _op(
            "post",
            "Record up to 500 weighings at once (an offline collector syncing); each "
            "item is answered as POST /api/v1/collections would answer it",
            body={
                "type": "object",
                "required": ["weighings"],
                "properties": {
                    "weighings": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 500,
                        "items": _COLLECTION,
                    }
                },
            },
        ),
        "/api/v1/households/{id}/balance": _op(
            "get",
            "A household's posted, held and available credit",
            params=_ID,
            response={
                "type": "object",
                "properties": {
                    k: {"type": "integer"}
                    for k in (
                        "household_id",
                        "posted_kobo",
                        "held_kobo",
                        "available_kobo",
                    )
                },
            },
        ),
        "/api/v1/households/{id}/redemptions": _op(
            "post",
            "Redeem credit (airtime, mobile_money, voucher); 409 when refused",
            params=_ID,
            ok="201",
            body={
                "type": "object",
                "required": ["kind", "amount_kobo", "idempotency_key"],
                "properties": {
                    "kind": {
                        "type": "string",
                        "enum": ["airtime", "mobile_money", "voucher"],
                    },
                    "amount_kobo": {"type": "integer", "minimum": 1},
                    "idempotency_key": {"type": "string"},
                },
            },
        ),
        "/api/v1/ledger/trial-balance": _op(
            "get", "Signed balance per account (debit-normal positive); total_kobo is 0"
        ),
        "/api/v1/payouts": _op(
            "get",
            "Payouts by status",
            params=[
                *_PAGING,
                {
                    "name": "status",
                    "in": "query",
                    "schema": {
                        "type": "string",
                        "enum": [
                            "held",
                            "submitted",
                            "succeeded",
                            "failed",
                            "released",
                        ],
                    },
                },
            ],
        ),
        "/api/v1/rates": {
            **_op("get", "Every rate version"),
            **_op(
                "put",
                "Add or replace the rate for (material, effective_from)",
                body={
                    "type": "object",
                    "required": ["material", "kobo_per_kg", "effective_from"],
                    "properties": {
                        "material": {"type": "string"},
                        "kobo_per_kg": {"type": "integer", "minimum": 0},
                        "effective_from": {"type": "string", "format": "date"},
                    },
                },
            ),
        },
        "/api/v1/disputes": _op(
            "get", "Disputed receipts (WRONG replies)", params=_PAGING
        ),
        "/api/v1/disputes/{id}/resolve": _op(
            "post",
            "Correct the weighing with a reversing transfer",
            params=_ID,
            body={
                "type": "object",
                "required": ["weighing_id", "amount_kobo"],
                "properties": {
                    "weighing_id": {"type": "integer"},
                    "amount_kobo": {"type": "integer", "minimum": 1},
                    "note": {"type": "string"},
                },
            },
        ),
        "/api/v1/shops": _op("post", "Register a partner shop", body=_NAMED, ok="201"),
        "/api/v1/collectors": _op(
            "post", "Register a collector", body=_NAMED, ok="201"
        ),
        "/api/v1/reconcile": _op(
            "post",
            "Reconcile a provider statement (CSV body; ?provider=sandbox)",
            params=[{"name": "provider", "in": "query", "schema": {"type": "string"}}],
        ),
        "/api/v1/sandbox/statement.csv": _op(
            "get", "The sandbox provider's statement (CSV)"
        ),
    }
)

_HUB = {
    "type": "object",
    "required": ["name", "lat", "lon"],
    "properties": {
        "name": {"type": "string"},
        "lat": {"type": "number"},
        "lon": {"type": "number"},
    },
}
_BIKE = {
    "type": "object",
    "required": ["name", "hub_id", "capacity_kg"],
    "properties": {
        "name": {"type": "string"},
        "hub_id": {"type": "integer"},
        "capacity_kg": {"type": "number"},
        "shift_start": {"type": "string", "example": "08:00"},
        "shift_end": {"type": "string", "example": "16:00"},
        "speed_kmh": {"type": "number"},
        "collector_id": {"type": ["integer", "null"]},
    },
}
_DAY = {
    "type": "object",
    "properties": {
        "day": {"type": "string", "format": "date"},
        "seconds": {"type": "number"},
    },
}
OPENAPI["paths"].update(
    {
        "/api/v1/hubs": {
            **_op("get", "Hubs"),
            **_op("post", "Add a hub", body=_HUB, ok="201"),
        },
        "/api/v1/bikes": {
            **_op("get", "Bikes"),
            **_op("post", "Add a bike", body=_BIKE, ok="201"),
        },
        "/api/v1/plan": _op(
            "post",
            "Plan a day's rounds now and text households and collectors",
            body=_DAY,
        ),
        "/api/v1/rounds": _op(
            "get",
            "A day's rounds with stops in visiting order",
            params=[
                {
                    "name": "day",
                    "in": "query",
                    "schema": {"type": "string", "format": "date"},
                }
            ],
        ),
        "/api/v1/rounds/replan": _op(
            "post",
            "A bike dropped out: re-plan its remaining stops over the others",
            body={
                "type": "object",
                "required": ["bike_id"],
                "properties": {
                    "bike_id": {"type": "integer"},
                    "day": {"type": "string", "format": "date"},
                },
            },
        ),
        "/api/v1/households/unlocated": _op(
            "get", "Households without a usable location"
        ),
        "/api/v1/households/{id}/location": _op(
            "post",
            "Pin a household's GPS location",
            params=_ID,
            body={
                "type": "object",
                "required": ["lat", "lon"],
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
            },
        ),
        "/api/v1/households/{id}/weekly": _op(
            "put",
            "Set the standing weekly pickup day",
            params=_ID,
            body={
                "type": "object",
                "properties": {
                    "weekday": {
                        "type": ["string", "null"],
                        "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun", None],
                    }
                },
            },
        ),
    }
)

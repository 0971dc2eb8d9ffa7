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

"""The operator JSON API: bearer tokens, lists, paging, JSON errors, OpenAPI; health."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.commands import CreateApiToken
from tests.builders import random_phone


@pytest.fixture
async def operator(deps: Any) -> dict[str, str]:
    """Headers with a fresh operator token."""
    token = await deps.bus.handle(CreateApiToken("operator", "test"))
    return {"Authorization": f"Bearer {token}"}


async def test_households_and_pickups_lists(
    client: Any, text: Any, operator: dict[str, str]
) -> None:
    """Lists carry the contract fields, phones in E.164."""
    phone = "+2348031112233"
    await text("JOIN Ada Obi, Tejuosho Market", "08031112233")
    await text("PICKUP", phone)
    resp = await client.get("/api/v1/households", headers=operator)
    assert resp.status == 200
    body = await resp.json()
    [h] = body["items"]
    assert {"id", "phone", "name", "language", "status", "created_at"} <= h.keys()
    assert h["phone"] == phone and h["name"] == "Ada Obi" and body["next"] is None
    resp = await client.get("/api/v1/pickups?status=open", headers=operator)
    [p] = (await resp.json())["items"]
    assert {"id", "code", "household_id", "phone", "status", "created_at"} <= p.keys()
    assert (
        p["phone"] == phone and p["status"] == "open" and p["household_id"] == h["id"]
    )
    resp = await client.get("/api/v1/pickups?status=done", headers=operator)
    assert (await resp.json())["items"] == []


async def test_paging_follows_next_links(
    client: Any, text: Any, operator: dict[str, str]
) -> None:
    """limit + next walk every item once."""
    for i in range(5):
        await text(f"JOIN Person {i}, Yaba", random_phone())
    seen, url = [], "/api/v1/households?limit=2"
    while url:
        body = await (await client.get(url, headers=operator)).json()
        seen += [h["id"] for h in body["items"]]
        url = body["next"]
    assert len(seen) == 5 == len(set(seen))


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/pickups?status=lost", 400, "invalid_parameter"),
        ("/api/v1/households?limit=0", 400, "invalid_parameter"),
        ("/api/v1/households?limit=10001", 400, "invalid_parameter"),
        ("/api/v1/households?limit=abc", 400, "invalid_parameter"),
        ("/api/v1/households?after=-1", 400, "invalid_parameter"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ],
)
async def test_bad_input_gets_json_4xx(
    client: Any, operator: dict[str, str], path: str, status: int, code: str
) -> None:
    """Bad parameters are JSON 4xx errors, never 500."""
    resp = await client.get(path, headers=operator)
    assert resp.status == status
    assert (await resp.json())["error"]["code"] == code


async def test_tokens_are_required_and_roles_enforced(client: Any, deps: Any) -> None:
    """No token 401, unknown token 401, collector token 403 on operator calls."""
    assert (await client.get("/api/v1/households")).status == 401
    bad = {"Authorization": "Bearer nope"}
    assert (await client.get("/api/v1/households", headers=bad)).status == 401
    token = await deps.bus.handle(CreateApiToken("collector", "bike 1"))
    resp = await client.get(
        "/api/v1/households", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"


async def test_unparsed_queue(client: Any, text: Any, operator: dict[str, str]) -> None:
    """Messages not understood are listed for review."""
    await text("who be this abeg", random_phone())
    items = (
        await (await client.get("/api/v1/messages/unparsed", headers=operator)).json()
    )["items"]
    assert [m["body"] for m in items] == ["who be this abeg"]


async def test_send_sms_is_idempotent_and_validated(
    client: Any, deps: Any, operator: dict[str, str], fake_sms: Any
) -> None:
    """POST /api/v1/sms queues once per key; bad JSON and numbers are 400."""
    body = {
        "to": "08031234567",
        "body": "Collection day moved to Friday",
        "key": "notice-1",
    }
    first = await client.post("/api/v1/sms", json=body, headers=operator)
    again = await client.post("/api/v1/sms", json=body, headers=operator)
    assert first.status == again.status == 202
    assert (await first.json())["queued"] is True and (await again.json())[
        "queued"
    ] is False
    await deps.dispatcher.run_once()
    assert fake_sms.to("+2348031234567") == ["Collection day moved to Friday"]
    resp = await client.post("/api/v1/sms", data="{nope", headers=operator)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    resp = await client.post(
        "/api/v1/sms", json={**body, "to": "hello", "key": "k2"}, headers=operator
    )
    assert resp.status == 400


async def test_openapi_document(client: Any) -> None:
    """The OpenAPI document lists the endpoints."""
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert {
        "/api/v1/households",
        "/api/v1/pickups",
        "/api/v1/messages/unparsed",
    } <= doc["paths"].keys()


async def test_health_ready_metrics(client: Any, text: Any) -> None:
    """/healthz, /readyz answer; /metrics counts inbound SMS by intent."""
    await text("HELP", random_phone())
    assert (await client.get("/healthz")).status == 200
    assert (await (await client.get("/readyz")).json())["status"] == "ready"
    metrics = await (await client.get("/metrics")).text()
    assert 'recoop_inbound_sms_total{intent="help"} 1.0' in metrics


async def test_readyz_fails_when_database_is_gone(client: Any, deps: Any) -> None:
    """/readyz is 503 when the database cannot be reached."""
    from service.persistence.db import create_database

    deps.views.db = create_database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    resp = await client.get("/readyz")
    assert resp.status == 503


async def test_every_api_route_is_documented(client: Any) -> None:
    """Each /api/v1 route and method appears in the OpenAPI document."""
    doc = await (await client.get("/api/v1/openapi.json")).json()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if not path.startswith("/api/v1/") or path.endswith("openapi.json"):
            continue
        if route.method == "HEAD":
            continue
        assert route.method.lower() in doc["paths"].get(path, {}), (
            f"{route.method} {path}"
        )


async def test_api_writes_are_audited_with_the_token_name(
    client: Any, deps: Any
) -> None:
    """Who, when, what: a write with a bearer token lands in the audit log."""
    from service.domain.commands import CreateApiToken

    token = await deps.bus.handle(CreateApiToken("operator", "ops-laptop"))
    headers = {"Authorization": f"Bearer {token}"}
    body = {"material": "PET", "kobo_per_kg": 5000, "effective_from": "2026-11-23"}
    assert (await client.put("/api/v1/rates", json=body, headers=headers)).status < 300
    assert (await client.get("/api/v1/rates", headers=headers)).status == 200
    [entry] = await deps.auth.audit_entries()
    assert entry["actor"].startswith("token:") and entry["actor"].endswith(
        ":ops-laptop"
    )
    assert entry["action"] == "PUT /api/v1/rates"

"""Schemathesis against /api/v1/openapi.json on a live server: no 5xx, no schema violations.

The real app listens on a loopback port in a thread of its own (its own event loop and
database); schemathesis reads the document the server serves and calls every operation
over HTTP with generated requests, valid and invalid, and checks each answer against the
document: no 5xx, a documented status code, the documented content type and body schema,
and invalid input refused with a 4xx. A second pass calls every operation without a token,
with an unknown token and with a collector token: documented 401s and 403s.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema_rs import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import create_async_engine

from service.app import create_app
from service.bootstrap import Deps, build
from service.clock import FixedClock
from service.domain.commands import CreateApiToken
from service.persistence.db import create_database
from service.persistence.tables import metadata
from service.settings import Settings
from tests.builders import AUTH_TOKEN, BASE_URL, sms_form, twilio_signature
from tests.conftest import PG_URL
from tests.fakes import FakeSms
from webhooks.openapi import OPENAPI

# Every operation in the document, known at collection time; the test itself loads the
# document the live server serves (and checks it is this one).
LABELS = [
    f"{method.upper()} {path}"
    for path, item in OPENAPI["paths"].items()
    for method in item
]
# Operations a collector's token may call; every other one is for operators only.
COLLECTOR_OPS = {
    "POST /api/v1/collections",
    "POST /api/v1/collections/batch",
    "GET /api/v1/rounds",
    "POST /api/v1/households/{id}/location",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Per operation and pass; a deeper local hunt: RECOOP_SCHEMATHESIS_EXAMPLES=500.
EXAMPLES = int(os.environ.get("RECOOP_SCHEMATHESIS_EXAMPLES", "30"))
NEGATIVE = GenerationMode.NEGATIVE
# Tokens are sent by the tests (operator, collector, none, unknown), not generated; an
# unknown query parameter is ignored, as HTTP APIs do, rather than refused.
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"allow-extra-parameters": False, "with-security-parameters": False}}
)

# Planning runs the solver until its time budget is spent (by design, PyVRP has no
# early stop): a generated `seconds` of 120 would be two minutes of one test. The
# planning calls are still generated; only their budget is cut to a fraction of a second.
PLAN_OPS = {"POST /api/v1/plan", "POST /api/v1/rounds/replan"}
PLAN_SECONDS = 0.2


class LiveServer:
    """The app on 127.0.0.1:<free port>, served from a thread with its own loop."""

    def __init__(self, url: str, connect_args: dict[str, Any]) -> None:
        self.db_url, self.connect_args = url, connect_args
        self.loop = asyncio.new_event_loop()
        self.base_url = ""
        self.deps: Deps | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="live-app", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the live app did not start within 60 s")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            self.loop.close()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._stop())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    async def _start(self) -> None:
        db = create_database(self.db_url, connect_args=self.connect_args)
        async with db.writer.begin() as conn:
            await conn.run_sync(metadata.create_all)
        settings = Settings.from_env(
            {},
            twilio_auth_token=AUTH_TOKEN,
            public_base_url=BASE_URL,
            africastalking_webhook_token="at-secret",
            plan_seconds=PLAN_SECONDS,
        )
        clock = FixedClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        self.deps = build(settings, clock=clock, sms=FakeSms(), db=db, background=[])
        app = create_app(self.deps)
        app.cleanup_ctx.clear()  # the deps are closed in _stop
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.deps is not None:
            await self.deps.close()


class Api:
    """The live server, tokens for each role, and an HTTP session."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.url = server.base_url
        self.session = requests.Session()
        assert server.deps is not None
        bus = server.deps.bus
        self.operator = server.run(
            bus.handle(CreateApiToken("operator", "schemathesis"))
        )
        self.collector = server.run(bus.handle(CreateApiToken("collector", "bike 1")))
        self.schema = schemathesis.openapi.from_url(
            f"{self.url}/api/v1/openapi.json", config=CONFIG
        )

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=60, **kwargs)

    def text(self, body: str, phone: str) -> None:
        """An inbound SMS through the signed Twilio webhook."""
        form = sms_form(body, phone)
        path = "/webhooks/twilio/sms"
        sig = twilio_signature(BASE_URL + path, form)
        resp = self.call("POST", path, data=form, headers={"X-Twilio-Signature": sig})
        assert resp.status_code == 200, resp.text

    def seed(self) -> None:
        """Households, open and collected pickups, a rate, a dispute, a hub and a bike:
        generated ids and codes then often reach a real row, not only 404s."""
        ops = self.auth(self.operator)
        for material, kobo in (("PET", 6000), ("ALU", 30000), ("SACHET", 2000)):
            resp = self.call(
                "PUT",
                "/api/v1/rates",
                json={
                    "material": material,
                    "kobo_per_kg": kobo,
                    "effective_from": "2026-01-01",
                },
                headers=ops,
            )
            assert resp.status_code == 200, resp.text
        phones = [f"+23480300000{i:02d}" for i in range(1, 7)]
        for i, phone in enumerate(phones):
            self.text(f"JOIN Person {i}, 12 Herbert Macaulay Way Yaba", phone)
            self.text("PICKUP", phone)
        pickups = self.call("GET", "/api/v1/pickups?status=open", headers=ops).json()
        for n, pickup in enumerate(pickups["items"][:3]):
            resp = self.call(
                "POST",
                "/api/v1/collections",
                json={
                    "pickup_code": pickup["code"],
                    "items": [
                        {"material": "PET", "kg": 2.5},
                        {"material": "ALU", "kg": "0.4"},
                    ],
                    "collected_at": "2026-11-23T08:30:00+01:00",
                    "idempotency_key": f"seed-{n}",
                },
                headers=ops,
            )
            assert resp.status_code == 201, resp.text
            self.text("WRONG", pickup["phone"])
        for path, body in (
            ("/api/v1/collectors", {"name": "Tunde", "phone": "08039990001"}),
            ("/api/v1/shops", {"name": "Mama Put", "phone": "08039990002"}),
            ("/api/v1/hubs", {"name": "Yaba hub", "lat": 6.5095, "lon": 3.3711}),
            ("/api/v1/bikes", {"name": "Bike 1", "hub_id": 1, "capacity_kg": 80}),
        ):
            resp = self.call("POST", path, json=body, headers=ops)
            assert resp.status_code == 201, resp.text


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Api]:
    """The live app on SQLite (a temporary file) or on a fresh PostgreSQL schema."""
    kind = request.param
    if kind == "postgres" and not PG_URL:
        pytest.skip("RECOOP_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    schema_name = ""
    if kind == "sqlite":
        url, connect_args = (
            f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('st')}/st.db",
            {},
        )
    else:
        schema_name = "st_" + uuid.uuid4().hex[:12]
        asyncio.run(_pg_schema(f'CREATE SCHEMA "{schema_name}"'))
        url, connect_args = PG_URL, {"server_settings": {"search_path": schema_name}}
    server = LiveServer(url, connect_args)
    try:
        server.start()
        api = Api(server)
        api.seed()
        yield api
        api.session.close()
    finally:
        server.stop()
        if schema_name:
            asyncio.run(_pg_schema(f'DROP SCHEMA "{schema_name}" CASCADE'))


async def _pg_schema(sql: str) -> None:
    engine = create_async_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


def _steer(case: Any) -> Any:
    """Keep generated requests off one cost, leaving everything else as generated:
    a valid planning budget is cut to PLAN_SECONDS (an invalid one is left to be
    refused); a re-plan without one would take its default of 3 s.
    """
    label, body = case.operation.label, case.body
    if not isinstance(body, dict):
        return case
    if label in PLAN_OPS:
        seconds = body.get("seconds")
        if "seconds" not in body:
            if label == "POST /api/v1/rounds/replan":
                body["seconds"] = PLAN_SECONDS
        elif (
            isinstance(seconds, int | float)
            and not isinstance(seconds, bool)
            and PLAN_SECONDS < seconds <= 120
        ):
            body["seconds"] = PLAN_SECONDS
    return case


BATCH = "POST /api/v1/collections/batch"
_BATCH_BODY = OPENAPI["paths"]["/api/v1/collections/batch"]["post"]["requestBody"]
_BATCH_SCHEMA = _BATCH_BODY["content"]["application/json"]["schema"]
_BATCH_OUTER = Draft202012Validator(
    {
        **_BATCH_SCHEMA,
        "properties": {
            "weighings": {
                k: v
                for k, v in _BATCH_SCHEMA["properties"]["weighings"].items()
                if k != "items"
            }
        },
    },
    validate_formats=True,
)
_BATCH_ITEM = Draft202012Validator(
    _BATCH_SCHEMA["properties"]["weighings"]["items"],
    validate_formats=True,
)


def _unstorable(body: Any) -> bool:
    """Text with NUL or a lone surrogate (the API refuses the whole body)."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\\u0000" in json.dumps(body)


def _check_batch(case: Any, response: requests.Response) -> None:
    """The batch's own negative-data rule: a body whose outer shape breaks the
    document is refused as a whole (4xx); otherwise every weighing that breaks the
    document gets its own 4xx result while the others are answered."""
    body = case.body
    if isinstance(body, bytes | str):  # a raw body: JSON or not
        try:
            body = json.loads(body)
        except ValueError:
            assert response.status_code == 400, response.text
            return
    if _unstorable(body):  # refused as a whole: no column can hold it
        assert response.status_code == 400, response.text
        return
    if not isinstance(body, dict) or not _BATCH_OUTER.is_valid(body):
        assert 400 <= response.status_code < 500, response.text
        return
    if response.status_code != 200:
        return
    results = response.json()["results"]
    assert len(results) == len(body["weighings"])
    for weighing, result in zip(body["weighings"], results, strict=True):
        if not _BATCH_ITEM.is_valid(weighing):
            assert 400 <= result["status"] < 500, (weighing, result)


def test_served_document_is_the_source(api: Api) -> None:
    """The server serves webhooks.openapi.OPENAPI, and it is a valid OpenAPI 3.1 document."""
    assert api.call("GET", "/api/v1/openapi.json").json() == OPENAPI
    api.schema.validate()  # against the OpenAPI 3.1 meta-schema
    assert len(list(api.schema.get_all_operations())) == len(LABELS)
    for label in LABELS:
        assert api.schema.find_operation_by_label(label) is not None, label


@pytest.mark.parametrize("label", LABELS)
def test_operator_calls_conform(api: Api, label: str) -> None:
    """Valid and invalid requests with an operator token: answers as documented."""
    operation = api.schema.find_operation_by_label(label)
    assert operation is not None
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    negative = operation.as_strategy(GenerationMode.NEGATIVE)
    headers = api.auth(api.operator)

    @_settings(EXAMPLES)
    @given(case=st.one_of(positive, negative).map(_steer))
    def run(case: Any) -> None:
        response = case.call(base_url=api.url, session=api.session, headers=headers)
        checks = list(CHECKS)
        negative = case.meta is not None and case.meta.generation.mode == NEGATIVE
        if label == BATCH:
            # Invalid weighings are answered one by one inside a 200 (documented).
            _check_batch(case, response)
        elif negative:
            checks.append(negative_data_rejection)
        case.validate_response(response, checks=checks, headers=headers)

    run()


@pytest.mark.parametrize("label", LABELS)
def test_tokens_and_roles_are_enforced(api: Api, label: str) -> None:
    """No token or an unknown one: 401; a collector's token on an operator call: 403."""
    operation = api.schema.find_operation_by_label(label)
    assert operation is not None

    @_settings(3)
    @given(case=operation.as_strategy(GenerationMode.POSITIVE).map(_steer))
    def run(case: Any) -> None:
        for headers, expected in (
            ({}, 401),
            ({"Authorization": "Bearer not-a-token"}, 401),
            ({"Authorization": "Basic b3A6b3A="}, 401),
            (api.auth(api.collector), None if label in COLLECTOR_OPS else 403),
        ):
            response = case.call(base_url=api.url, session=api.session, headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)
            if expected is None:
                assert response.status_code not in (401, 403), response.text
            else:
                assert response.status_code == expected, response.text
                error = response.json()["error"]
                assert error["code"] == (
                    "unauthorized" if expected == 401 else "forbidden"
                )

    run()


@pytest.mark.parametrize(
    ("path", "bodies", "status"),
    [
        pytest.param(
            "/api/v1/hubs",
            [{"name": "Twin hub", "lat": 6.5, "lon": 3.4}] * 2,
            409,
            id="hub name taken",
        ),
        pytest.param(
            "/api/v1/bikes",
            [{"name": "Twin bike", "hub_id": 1, "capacity_kg": 50}] * 2,
            409,
            id="bike name taken",
        ),
        pytest.param(
            "/api/v1/bikes",
            [
                {
                    "name": "Lone bike",
                    "hub_id": 1,
                    "capacity_kg": 50,
                    "collector_id": 999,
                }
            ],
            404,
            id="bike collector unknown",
        ),
        pytest.param(
            "/api/v1/collectors",
            [{"name": "Twin collector", "phone": "08037770001"}] * 2,
            409,
            id="collector phone taken",
        ),
        pytest.param(
            "/api/v1/shops",
            [{"name": "Twin shop", "phone": "08037770002"}] * 2,
            409,
            id="shop phone taken",
        ),
    ],
)
def test_conflicts_are_4xx_not_500(
    api: Api, path: str, bodies: list[dict[str, Any]], status: int
) -> None:
    """Found by the runs above: a taken name or phone is 409, an unknown collector 404
    (each as documented, with the JSON error shape)."""
    headers = api.auth(api.operator)
    *first, last = bodies
    for body in first:
        assert api.call("POST", path, json=body, headers=headers).status_code == 201
    response = api.call("POST", path, json=last, headers=headers)
    operation = api.schema.find_operation_by_label(f"POST {path}")
    assert operation is not None
    case = operation.Case(body=last, media_type="application/json")
    case.validate_response(response, checks=CHECKS, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] in ("conflict", "not_found")

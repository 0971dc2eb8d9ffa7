"""Shared fixtures: settings, a fixed clock, fake SMS, a database on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from service.bootstrap import Deps, build
from service.clock import FixedClock
from service.persistence.db import Database, create_database
from service.persistence.tables import metadata
from service.settings import Settings
from tests.builders import AUTH_TOKEN, BASE_URL, sms_form, twilio_signature
from tests.fakes import FakeSms

PG_URL = os.environ.get("RECOOP_TEST_POSTGRES_URL", "")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "[postgres" in item.nodeid:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "postgres" and not PG_URL:
        pytest.skip("RECOOP_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    return str(request.param)


@pytest.fixture
async def db_target(
    db_kind: str, tmp_path: Any
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A URL and driver arguments for an empty database (a fresh PG schema per test)."""
    if db_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/recoop-test.db", {}
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield PG_URL, {"server_settings": {"search_path": schema}}
    finally:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.dispose()


@pytest.fixture
async def database(db_target: tuple[str, dict[str, Any]]) -> AsyncIterator[Database]:
    """An empty schema built from the table metadata."""
    url, connect_args = db_target
    db = create_database(url, connect_args=connect_args)
    async with db.writer.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """Monday 23 November 2026, 09:00 in Lagos."""
    return FixedClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))


@pytest.fixture
def fake_sms() -> FakeSms:
    """An SMS gateway that records sends."""
    return FakeSms()


@pytest.fixture
def settings() -> Settings:
    """Settings with a Twilio token for signature checks and the console gateway."""
    return Settings.from_env(
        {},
        twilio_auth_token=AUTH_TOKEN,
        public_base_url=BASE_URL,
        africastalking_webhook_token="at-secret",
        # Its own scheduler lock, so parallel runs on one PostgreSQL never collide.
        leader_lock_id=uuid.uuid4().int >> 65,
    )


@pytest.fixture
def deps(
    settings: Settings, clock: FixedClock, fake_sms: FakeSms, database: Database
) -> Deps:
    """The service wired with fakes, no background tasks."""
    return build(settings, clock=clock, sms=fake_sms, db=database, background=[])


@pytest.fixture
async def client(deps: Deps, aiohttp_client: Any) -> Any:
    """A test client on the real app."""
    from service.app import create_app

    app = create_app(deps)
    # The database belongs to the fixture: do not let the app close it.
    app.cleanup_ctx.clear()
    return await aiohttp_client(app)


SendSmsFn = Callable[..., Awaitable[Any]]


@pytest.fixture
def text(client: Any) -> SendSmsFn:
    """Post a signed inbound SMS and return (status, reply text or None)."""

    async def send(
        body: str, phone: str, sid: str | None = None
    ) -> tuple[int, str | None]:
        form = sms_form(body, phone, sid)
        path = "/webhooks/twilio/sms"
        headers = {"X-Twilio-Signature": twilio_signature(BASE_URL + path, form)}
        resp = await client.post(path, data=form, headers=headers)
        xml = await resp.text()
        return resp.status, extract_message(xml)

    return send


def extract_message(xml: str) -> str | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    node = root.find("Message")
    return node.text if node is not None else None

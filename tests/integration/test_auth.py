"""Operator passwords, collector codes and browser sessions (service.auth)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from service.auth import CODES_PER_WINDOW, GUESSES_PER_CODE
from service.domain.commands import RegisterCollector
from service.domain.errors import InvalidInput
from service.persistence.tables import audit_log, login_codes, operators, outbox

PHONE = "+2348031112222"


async def test_operator_signs_in_with_the_right_password_only(deps: Any) -> None:
    await deps.auth.create_operator("  Ada ", "a long enough secret")
    async with deps.db.reader.connect() as conn:
        stored = (await conn.execute(sa.select(operators.c.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$") and "secret" not in stored
    assert await deps.auth.operator_login("ada", "wrong password!") is None
    assert await deps.auth.operator_login("nobody", "a long enough secret") is None
    token = await deps.auth.operator_login("ADA", "a long enough secret")
    assert token is not None
    session = await deps.auth.session(token)
    assert session is not None
    assert (session.kind, session.name, session.actor) == (
        "operator",
        "ada",
        "operator:ada",
    )
    assert len(session.csrf) >= 32


async def test_operator_names_are_unique_and_passwords_long(deps: Any) -> None:
    await deps.auth.create_operator("ada", "a long enough secret")
    with pytest.raises(InvalidInput, match="already exists"):
        await deps.auth.create_operator("ADA", "another long secret")
    with pytest.raises(InvalidInput, match="at least 10"):
        await deps.auth.create_operator("bola", "short")


async def test_sessions_expire_and_log_out(deps: Any, clock: Any) -> None:
    await deps.auth.create_operator("ada", "a long enough secret")
    token = await deps.auth.operator_login("ada", "a long enough secret")
    assert await deps.auth.session(token) is not None
    assert await deps.auth.session("not-a-token") is None
    clock.advance(hours=13)
    assert await deps.auth.session(token) is None
    fresh = await deps.auth.operator_login("ada", "a long enough secret")
    await deps.auth.logout(fresh)
    assert await deps.auth.session(fresh) is None


async def test_a_disabled_operator_loses_sessions(deps: Any, clock: Any) -> None:
    await deps.auth.create_operator("ada", "a long enough secret")
    token = await deps.auth.operator_login("ada", "a long enough secret")
    async with deps.db.writer.begin() as conn:
        await conn.execute(operators.update().values(disabled_at=clock.now()))
    assert await deps.auth.session(token) is None
    assert await deps.auth.operator_login("ada", "a long enough secret") is None


async def _texted_code(deps: Any) -> str:
    async with deps.db.reader.connect() as conn:
        body = (
            await conn.execute(sa.select(outbox.c.body).order_by(outbox.c.id.desc()))
        ).first()[0]
    return "".join(ch for ch in body if ch.isdigit())[:6]


async def test_collector_code_is_single_use_and_expires(deps: Any, clock: Any) -> None:
    await deps.bus.handle(RegisterCollector("Musa", PHONE))
    await deps.auth.request_code("0803 111 2222")
    code = await _texted_code(deps)
    token = await deps.auth.verify_code(PHONE, code)
    assert token is not None
    session = await deps.auth.session(token)
    assert session is not None and (session.kind, session.name) == ("collector", "Musa")
    assert await deps.auth.verify_code(PHONE, code) is None  # used up

    await deps.auth.request_code(PHONE)
    late = await _texted_code(deps)
    clock.advance(minutes=11)
    assert await deps.auth.verify_code(PHONE, late) is None


async def test_wrong_guesses_burn_the_code(deps: Any) -> None:
    await deps.bus.handle(RegisterCollector("Musa", PHONE))
    await deps.auth.request_code(PHONE)
    code = await _texted_code(deps)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(GUESSES_PER_CODE):
        assert await deps.auth.verify_code(PHONE, wrong) is None
    assert await deps.auth.verify_code(PHONE, code) is None


async def test_codes_are_rate_limited_and_silent_for_strangers(
    deps: Any, clock: Any
) -> None:
    await deps.bus.handle(RegisterCollector("Musa", PHONE))
    for _ in range(CODES_PER_WINDOW + 2):
        await deps.auth.request_code(PHONE)
    await deps.auth.request_code("+2348099990000")  # not a collector: nothing sent
    async with deps.db.reader.connect() as conn:
        sent = (
            await conn.execute(sa.select(sa.func.count()).select_from(outbox))
        ).scalar_one()
        codes = (
            await conn.execute(sa.select(sa.func.count()).select_from(login_codes))
        ).scalar_one()
    assert (sent, codes) == (CODES_PER_WINDOW, CODES_PER_WINDOW)
    clock.advance(minutes=16)
    await deps.auth.request_code(PHONE)
    assert await deps.auth.verify_code(PHONE, await _texted_code(deps)) is not None
    with pytest.raises(InvalidInput):
        await deps.auth.request_code("not a phone")


async def test_issued_code_for_the_demo_link(deps: Any) -> None:
    from datetime import timedelta

    await deps.bus.handle(RegisterCollector("Musa", PHONE))
    assert await deps.auth.issue_code("+2348099990000") is None
    code = await deps.auth.issue_code(PHONE, ttl=timedelta(hours=24))
    assert code is not None
    assert await deps.auth.verify_code(PHONE, code) is not None


async def test_audit_entries_are_kept_newest_first(deps: Any, clock: Any) -> None:
    await deps.auth.audit("operator:ada", "POST /ops/setup/rates", 303, "PET")
    clock.advance(seconds=5)
    await deps.auth.audit("collector:3", "POST /collector/api/weighings", 201)
    entries = await deps.auth.audit_entries()
    assert [e["actor"] for e in entries] == ["collector:3", "operator:ada"]
    async with deps.db.reader.connect() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(audit_log))
        ).scalar_one() == 2

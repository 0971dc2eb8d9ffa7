"""People who sign in through a browser: operators by password, collectors by texted code.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults follow RFC 9106's
low-memory profile). A session is a random token in an HttpOnly cookie; the database
keeps its SHA-256, its kind, its subject and the CSRF token that forms must echo.
Collector codes are six digits, single use, valid ten minutes, at most five guesses
each and three codes per collector per quarter hour; asking for a code never says
whether a number is registered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncConnection

from service import phones
from service.clock import Clock
from service.domain.errors import InvalidInput
from service.gateways._masking import mask_phone
from service.persistence import outbox as outbox_repo
from service.persistence.db import Database
from service.persistence.tables import (
    audit_log,
    collectors,
    login_codes,
    operators,
    web_sessions,
)
from service.settings import Settings

log = logging.getLogger(__name__)

OPERATOR_SESSION = timedelta(hours=12)
COLLECTOR_SESSION = timedelta(days=14)  # a phone in the field signs in rarely
CODE_TTL = timedelta(minutes=10)
CODE_WINDOW = timedelta(minutes=15)
CODES_PER_WINDOW = 3
GUESSES_PER_CODE = 5
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _new_id(result: sa.CursorResult[Any]) -> int:
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


async def _active_collector(conn: AsyncConnection, e164: str) -> int | None:
    found = await conn.execute(
        sa.select(collectors.c.id).where(
            collectors.c.phone == e164, collectors.c.active.is_(True)
        )
    )
    collector_id: int | None = found.scalar_one_or_none()
    return collector_id


async def _new_code(
    conn: AsyncConnection, collector_id: int, now: datetime, ttl: timedelta
) -> tuple[int, str]:
    """Store a fresh six-digit code's hash; (row id, the code itself)."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    result = await conn.execute(
        login_codes.insert().values(
            collector_id=collector_id,
            code_hash=_sha(f"{collector_id}:{code}"),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return _new_id(result), code


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: who (kind and id), their name and the form token."""

    kind: str  # operator | collector
    subject_id: int
    name: str
    csrf: str

    @property
    def actor(self) -> str:
        return (
            f"{self.kind}:{self.name if self.kind == 'operator' else self.subject_id}"
        )


class Auth:
    """Operator accounts, collector codes, sessions and the audit log."""

    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings

    # operators -------------------------------------------------------------

    async def create_operator(self, username: str, password: str) -> int:
        """Add an operator; InvalidInput for a taken name or a short password."""
        username = username.strip().lower()
        if not username or len(username) > 60 or not username.isprintable():
            raise InvalidInput("username must be 1–60 printable characters")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"password must be at least {MIN_PASSWORD} characters")
        hashed = await asyncio.to_thread(_hasher.hash, password)
        async with self.db.writer.begin() as conn:
            taken = (
                await conn.execute(
                    sa.select(operators.c.id).where(operators.c.username == username)
                )
            ).first()
            if taken is not None:
                raise InvalidInput(f"operator {username!r} already exists")
            result = await conn.execute(
                operators.insert().values(
                    username=username,
                    password_hash=hashed,
                    created_at=self.clock.now(),
                )
            )
            return _new_id(result)

    async def operator_login(self, username: str, password: str) -> str | None:
        """A new session token when the password matches an active operator."""
        username = username.strip().lower()
        async with self.db.reader.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(operators.c.id, operators.c.password_hash).where(
                        operators.c.username == username,
                        operators.c.disabled_at.is_(None),
                    )
                )
            ).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(stored):
            rehashed = await asyncio.to_thread(_hasher.hash, password)
            async with self.db.writer.begin() as conn:
                await conn.execute(
                    operators.update()
                    .where(operators.c.id == row.id)
                    .values(password_hash=rehashed)
                )
        return await self._new_session("operator", int(row.id), OPERATOR_SESSION)

    # collectors ------------------------------------------------------------

    async def request_code(self, phone: str) -> None:
        """Text a sign-in code to an active collector's phone, within the rate limit.

        Silent for unknown numbers and when the limit is reached, so the form cannot
        be used to find out who is a collector or to pump SMS.
        """
        try:
            e164 = phones.to_e164(phone, self.settings.default_region)
        except phones.BadPhoneNumber as exc:
            raise InvalidInput(str(exc)) from exc
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            collector_id = await _active_collector(conn, e164)
            if collector_id is None:
                log.info(
                    "sign-in code asked for an unknown number %s", mask_phone(e164)
                )
                return
            recent = (
                await conn.execute(
                    sa.select(sa.func.count()).where(
                        login_codes.c.collector_id == collector_id,
                        login_codes.c.created_at > now - CODE_WINDOW,
                    )
                )
            ).scalar_one()
            if recent >= CODES_PER_WINDOW:
                log.warning("sign-in code limit reached for collector %s", collector_id)
                return
            code_id, code = await _new_code(conn, collector_id, now, CODE_TTL)
            await outbox_repo.enqueue(
                conn,
                key=f"login-code:{code_id}",
                to_phone=e164,
                body=f"Recoop collector sign-in code: {code}. It expires in 10 minutes.",
                now=now,
                expires_at=now + CODE_TTL,
                max_attempts=self.settings.sms_max_attempts,
            )

    async def issue_code(self, phone: str, ttl: timedelta = CODE_TTL) -> str | None:
        """A code for an active collector without texting it (the demo prints a
        sign-in link with it); None for an unknown number."""
        e164 = phones.to_e164(phone, self.settings.default_region)
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            collector_id = await _active_collector(conn, e164)
            if collector_id is None:
                return None
            _, code = await _new_code(conn, collector_id, now, ttl)
        return code

    async def verify_code(self, phone: str, code: str) -> str | None:
        """A new collector session when `code` is the newest live code for `phone`."""
        try:
            e164 = phones.to_e164(phone, self.settings.default_region)
        except phones.BadPhoneNumber:
            return None
        code = "".join(ch for ch in code if ch.isdigit())
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        login_codes.c.id,
                        login_codes.c.collector_id,
                        login_codes.c.code_hash,
                        login_codes.c.attempts,
                    )
                    .join(collectors, collectors.c.id == login_codes.c.collector_id)
                    .where(
                        collectors.c.phone == e164,
                        collectors.c.active.is_(True),
                        login_codes.c.used_at.is_(None),
                        login_codes.c.expires_at > now,
                    )
                    .order_by(login_codes.c.id.desc())
                    .limit(1)
                )
            ).first()
            if row is None or row.attempts >= GUESSES_PER_CODE:
                return None
            good = hmac.compare_digest(
                row.code_hash, _sha(f"{row.collector_id}:{code}")
            )
            # Used up on success; one guess spent either way (claimed atomically).
            claimed = await conn.execute(
                login_codes.update()
                .where(
                    login_codes.c.id == row.id,
                    login_codes.c.used_at.is_(None),
                    login_codes.c.attempts == row.attempts,
                )
                .values(attempts=row.attempts + 1, used_at=now if good else None)
            )
            if not good or claimed.rowcount != 1:
                return None
            collector_id = int(row.collector_id)
        return await self._new_session("collector", collector_id, COLLECTOR_SESSION)

    # sessions --------------------------------------------------------------

    async def _new_session(self, kind: str, subject_id: int, ttl: timedelta) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            await conn.execute(
                web_sessions.insert().values(
                    token_hash=_sha(token),
                    kind=kind,
                    subject_id=subject_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    async def session(self, token: str) -> Session | None:
        """The live session behind a cookie's token, with the person's display name."""
        if not token or len(token) > 100:
            return None
        name = sa.func.coalesce(operators.c.username, collectors.c.name)
        stmt = (
            sa.select(
                web_sessions.c.kind,
                web_sessions.c.subject_id,
                web_sessions.c.csrf_token,
                name.label("name"),
            )
            .outerjoin(
                operators,
                sa.and_(
                    web_sessions.c.kind == "operator",
                    operators.c.id == web_sessions.c.subject_id,
                    operators.c.disabled_at.is_(None),
                ),
            )
            .outerjoin(
                collectors,
                sa.and_(
                    web_sessions.c.kind == "collector",
                    collectors.c.id == web_sessions.c.subject_id,
                    collectors.c.active.is_(True),
                ),
            )
            .where(
                web_sessions.c.token_hash == _sha(token),
                web_sessions.c.revoked_at.is_(None),
                web_sessions.c.expires_at > self.clock.now(),
            )
        )
        async with self.db.reader.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None or row.name is None:
            return None
        return Session(row.kind, int(row.subject_id), str(row.name), row.csrf_token)

    async def logout(self, token: str) -> None:
        async with self.db.writer.begin() as conn:
            await conn.execute(
                web_sessions.update()
                .where(web_sessions.c.token_hash == _sha(token))
                .values(revoked_at=self.clock.now())
            )

    # audit -----------------------------------------------------------------

    async def audit(
        self,
        actor: str,
        action: str,
        status: int,
        detail: str = "",
        at: datetime | None = None,
    ) -> None:
        """Record one accepted write (who, what, when)."""
        async with self.db.writer.begin() as conn:
            await conn.execute(
                audit_log.insert().values(
                    at=at or self.clock.now(),
                    actor=actor[:80],
                    action=action[:120],
                    status=status,
                    detail=detail[:400],
                )
            )

    async def audit_entries(self, limit: int = 200) -> list[dict[str, object]]:
        async with self.db.reader.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
                )
            ).all()
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "status": r.status,
                "detail": r.detail,
            }
            for r in rows
        ]

"""One transaction per command; outgoing events become outbox rows in that transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection

from service.domain.events import Event, SmsQueued
from service.persistence import outbox
from service.persistence.db import READONLY, Database
from service.persistence.repositories import Households, Inbox, OptOuts, Pickups


class UnitOfWork(Protocol):
    households: Households
    pickups: Pickups
    inbox: Inbox
    opt_outs: OptOuts
    conn: AsyncConnection

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def emit(self, event: Event) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def collect_new_events(self) -> list[Event]: ...


class SqlUnitOfWork:
    """A write transaction on the writer engine (BEGIN IMMEDIATE on SQLite)."""

    def __init__(
        self,
        db: Database,
        *,
        now: datetime,
        sms_ttl: timedelta,
        max_attempts: int,
        readonly: bool = False,
    ) -> None:
        self._db = db
        self._now = now
        self._sms_ttl = sms_ttl
        self._max_attempts = max_attempts
        self._readonly = readonly
        self._events: list[Event] = []
        self._published: list[Event] = []
        self._done = False

    async def __aenter__(self) -> Self:
        engine = self._db.reader if self._readonly else self._db.writer
        conn = await engine.connect()
        if self._readonly:
            conn = await conn.execution_options(**{READONLY: True})
        self.conn = conn
        await conn.begin()
        self.households = Households(conn)
        self.pickups = Pickups(conn)
        self.inbox = Inbox(conn)
        self.opt_outs = OptOuts(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._done:
                await self.conn.rollback()
        finally:
            await self.conn.close()

    def emit(self, event: Event) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        others: list[Event] = []
        for event in self._events:
            if isinstance(event, SmsQueued):
                await outbox.enqueue(
                    self.conn,
                    key=event.key,
                    to_phone=event.to_phone,
                    body=event.body,
                    now=self._now,
                    expires_at=event.expires_at or self._now + self._sms_ttl,
                    is_reply=event.is_reply,
                    max_attempts=self._max_attempts,
                )
            else:
                others.append(event)
        await self.conn.commit()
        self._done = True
        self._published, self._events = others, []

    async def rollback(self) -> None:
        await self.conn.rollback()
        self._done = True
        self._events = []

    def collect_new_events(self) -> list[Event]:
        events, self._published = self._published, []
        return events

"""One transaction per command; outgoing events become outbox rows in that transaction.

Two kinds: `SqlUnitOfWork` on an SQLAlchemy connection, for everything, and the lean
`DriverUnitOfWork` straight on the database driver, for the inbound-SMS hot path. The
lean one has the same repositories but no SQLAlchemy `conn`: code that asks for it
(the ledger, money intents) raises `NeedsFullUnitOfWork`, the transaction is rolled
back whole, and the bus runs the command again on a `SqlUnitOfWork`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection

from service.domain.events import Event, SmsQueued
from service.persistence import outbox
from service.persistence.db import READONLY, Database
from service.persistence.driver import (
    Driver,
    DriverUnavailable,
    Executor,
    Transaction,
)
from service.persistence.repositories import Households, Inbox, OptOuts, Pickups


class NeedsFullUnitOfWork(Exception):
    """A lean unit of work was asked for SQLAlchemy; run the command on a full one."""


class UnitOfWork(Protocol):
    households: Households
    pickups: Pickups
    inbox: Inbox
    opt_outs: OptOuts

    @property
    def conn(self) -> AsyncConnection: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def emit(self, event: Event) -> None: ...

    def queues_sms(self) -> bool: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def collect_new_events(self) -> list[Event]: ...


class _Base:
    """What both kinds share: the repositories on the transaction, and the events
    collected (SMS become outbox rows at commit; the rest go to the bus after it)."""

    def __init__(self, *, now: datetime, sms_ttl: timedelta, max_attempts: int) -> None:
        self._now = now
        self._sms_ttl = sms_ttl
        self._max_attempts = max_attempts
        self._events: list[Event] = []
        self._published: list[Event] = []

    def _open_repositories(self, db: AsyncConnection | Executor) -> None:
        self.households = Households(db)
        self.pickups = Pickups(db)
        self.inbox = Inbox(db)
        self.opt_outs = OptOuts(db)

    def emit(self, event: Event) -> None:
        self._events.append(event)

    def queues_sms(self) -> bool:
        """Whether commit() will write outbox rows (a write after any other)."""
        return any(isinstance(event, SmsQueued) for event in self._events)

    async def _write_outbox(self, db: AsyncConnection | Executor) -> list[Event]:
        """Queue every SmsQueued in `db`'s transaction; the other events."""
        others: list[Event] = []
        for event in self._events:
            if isinstance(event, SmsQueued):
                await outbox.enqueue(
                    db,
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
        return others

    def _committed(self, others: list[Event]) -> None:
        self._published, self._events = others, []

    def collect_new_events(self) -> list[Event]:
        events, self._published = self._published, []
        return events


class SqlUnitOfWork(_Base):
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
        super().__init__(now=now, sms_ttl=sms_ttl, max_attempts=max_attempts)
        self._db = db
        self._readonly = readonly
        self._done = False

    async def __aenter__(self) -> Self:
        engine = self._db.reader if self._readonly else self._db.writer
        conn = await engine.connect()
        if self._readonly:
            conn = await conn.execution_options(**{READONLY: True})
        self.conn = conn
        await conn.begin()
        self._open_repositories(conn)
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

    async def commit(self) -> None:
        others = await self._write_outbox(self.conn)
        await self.conn.commit()
        self._done = True
        self._committed(others)

    async def rollback(self) -> None:
        await self.conn.rollback()
        self._done = True
        self._events = []


class DriverUnitOfWork(_Base):
    """A write transaction straight on the driver: the hot path's unit of work."""

    def __init__(
        self,
        driver: Driver,
        *,
        now: datetime,
        sms_ttl: timedelta,
        max_attempts: int,
    ) -> None:
        super().__init__(now=now, sms_ttl=sms_ttl, max_attempts=max_attempts)
        self._driver = driver
        self._tx: Transaction | None = None

    @property
    def conn(self) -> AsyncConnection:
        raise NeedsFullUnitOfWork("this command needs SQLAlchemy's connection")

    async def __aenter__(self) -> Self:
        try:
            self._tx = await self._driver.begin()
        except DriverUnavailable as exc:
            raise NeedsFullUnitOfWork(str(exc)) from exc
        self._open_repositories(self._tx)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tx is not None:
            tx, self._tx = self._tx, None
            await tx.rollback()

    async def commit(self) -> None:
        assert self._tx is not None, "commit outside the unit of work"
        others = await self._write_outbox(self._tx)
        tx, self._tx = self._tx, None
        await tx.commit()
        self._committed(others)

    async def rollback(self) -> None:
        if self._tx is not None:
            tx, self._tx = self._tx, None
            await tx.rollback()
        self._events = []

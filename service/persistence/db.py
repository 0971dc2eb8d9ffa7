"""Async engines: SQLite (WAL, BEGIN IMMEDIATE, busy timeout) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.persistence.driver import Driver, make_driver

# Execution option that marks a connection as read-only: SQLite then starts a
# deferred transaction, which never takes the write lock.
READONLY = "recoop_readonly"


@dataclass(frozen=True, slots=True)
class Database:
    """The writer engine, a reader engine (the same one on PostgreSQL), and the
    lean driver the inbound-SMS hot path writes through (None: no hot path)."""

    writer: AsyncEngine
    reader: AsyncEngine
    dialect: str
    driver: Driver | None = None

    async def dispose(self) -> None:
        if self.driver is not None:
            await self.driver.close()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _sqlite_engine(url: str, pool_size: int, **kw: Any) -> AsyncEngine:
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, connect_args={"timeout": 30}, **kw
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads then writes fails at once with
        # "database is locked" (aiosqlite#251): writers take the lock up front.
        if conn.get_execution_options().get(READONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_database(
    url: str,
    *,
    pool_size: int = 20,
    max_overflow: int = 5,
    echo: bool = False,
    connect_args: dict[str, Any] | None = None,
) -> Database:
    """Build engines for `url`; nothing connects until first use.

    On PostgreSQL `pool_size` connections stay open, split between the engine and
    the hot path's driver pool (which opens them as needed), and a small
    `max_overflow` lets the engine absorb bursts (overflow connections are opened and
    closed per checkout, so a large overflow churns connections under load). SQLite
    ignores both.
    `connect_args` go to the driver (tests give asyncpg a per-test search_path).
    """
    if url.startswith("sqlite"):
        # One writer connection: SQLite has one write lock anyway, and waiting in
        # the pool's asyncio queue is fairer and faster than SQLite's busy sleeps.
        writer = _sqlite_engine(url, pool_size=1, echo=echo)
        reader = _sqlite_engine(url, pool_size=4, echo=echo)
        driver = make_driver(url, pool_size=1)
        return Database(writer, reader, "sqlite", driver)
    hot = max(1, pool_size // 2)
    engine = create_async_engine(
        url,
        pool_size=max(1, pool_size - hot),
        max_overflow=max_overflow,
        echo=echo,
        connect_args=connect_args or {},
    )
    driver = make_driver(url, pool_size=hot, connect_args=connect_args)
    return Database(engine, engine, engine.dialect.name, driver)

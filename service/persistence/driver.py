"""The hot path's lean database access: Core statements compiled once, run on the driver.

Every inbound SMS costs a few statements. Through SQLAlchemy's execution machinery
each one costs about 0.1 ms of Python; straight through the driver (asyncpg's
prepared statements, or the stdlib sqlite3 module) it costs a few microseconds. So the
repositories the hot path uses are written as SQLAlchemy Core statements on the
SQLModel tables, wrapped in a `Query` that compiles each statement once per dialect.
The same `Query` then runs on either:

- `SqlExecutor`: an SQLAlchemy `AsyncConnection` (every other caller), or
- a `Driver` transaction: a raw asyncpg connection from a small pool of its own, or
  one sqlite3 connection used inline on the event loop. A SQLite write transaction
  of the hot path takes a few hundred microseconds and never awaits anything real
  while it holds the lock, so running it inline is cheaper than two thread hops per
  statement; `BEGIN IMMEDIATE` does not wait inline for another writer (busy timeout
  0) but yields to the loop and tries again.

Values are bound with the statement's own type processors (UTC datetimes, booleans).
Rows come back as plain tuples, without result processing: hot-path queries select
integers and strings only.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol, cast

import asyncpg
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.expression import Executable

from service.domain.errors import Conflict

Row = Sequence[Any]

log = logging.getLogger(__name__)


class DriverUnavailable(Exception):
    """The lean driver cannot be used here (closed, or SQLite not in WAL mode)."""


_DIALECTS: dict[str, Dialect] = {
    "postgresql": postgresql.asyncpg.dialect(),  # type: ignore[no-untyped-call]
    "sqlite": sqlite.pysqlite.dialect(),
}


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    reads: bool  # a SELECT: it changes nothing
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    fixed: Mapping[str, Any]  # values written into the statement itself

    def bind(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        if self.fixed:
            params = {**self.fixed, **params}
        return tuple(
            value if process is None else process(value)
            for value, process in zip(
                (params[name] for name in self.names), self.processors, strict=True
            )
        )


class Query:
    """A Core statement (or one per dialect) with named bind parameters.

    Write values as `sa.bindparam(...)`, never as literals in `.values(...)`, so
    that the statement is the same whatever the values: it is compiled once.
    """

    __slots__ = ("_compiled", "_statements")

    def __init__(self, statement: Executable | Mapping[str, Executable]) -> None:
        self._statements = statement
        self._compiled: dict[str, _Compiled] = {}

    def statement(self, dialect: str) -> Executable:
        if isinstance(self._statements, Executable):
            return self._statements
        return self._statements[dialect]

    def compiled(self, dialect: str) -> _Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = self._compile(dialect)
        return found

    def _compile(self, dialect_name: str) -> _Compiled:
        dialect = _DIALECTS[dialect_name]
        element = cast(ClauseElement, self.statement(dialect_name))
        compiled = cast(SQLCompiler, element.compile(dialect=dialect))
        names = tuple(compiled.positiontup or ())
        if dialect.paramstyle == "numeric_dollar":
            # asyncpg: $n is numbered by first appearance, and a name used twice
            # keeps its number, so the positional values are the distinct names.
            names = tuple(dict.fromkeys(names))
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("hot-path queries cannot expand IN lists: use sa.text")
        binds = {name: compiled.binds[name] for name in names}
        processors = tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        fixed = {
            name: bind.value
            for name, bind in binds.items()
            if bind.value is not None and not bind.required
        }
        # A plain SELECT changes nothing; text is trusted only when it is one.
        reads = not (compiled.isinsert or compiled.isupdate or compiled.isdelete)
        if isinstance(element, TextClause):
            reads = compiled.string.lstrip().upper().startswith("SELECT")
        reads = reads and "FOR UPDATE" not in compiled.string.upper()
        return _Compiled(compiled.string, reads, names, processors, fixed)


class Executor(Protocol):
    """Runs a `Query`: SQLAlchemy's connection or the driver's.

    `final=True` promises that the unit of work writes nothing after this
    statement and commits next: a driver may then run a lone write on its own.
    """

    dialect: str

    async def fetchrow(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> Row | None:
        """The first row, or None."""
        ...

    async def execute(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        ...


class SqlExecutor:
    """A `Query` on an SQLAlchemy connection (and its transaction)."""

    __slots__ = ("conn", "dialect")

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    async def fetchrow(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> Row | None:
        result = await self.conn.execute(query.statement(self.dialect), dict(params))
        row = result.first()
        return None if row is None else tuple(row)

    async def execute(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> int:
        result = await self.conn.execute(query.statement(self.dialect), dict(params))
        return int(result.rowcount)


def as_executor(conn: AsyncConnection | Executor) -> Executor:
    return SqlExecutor(conn) if isinstance(conn, AsyncConnection) else conn


class Transaction(Protocol):
    """A driver transaction: an `Executor` that must end in commit or rollback."""

    dialect: str

    async def fetchrow(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> Row | None: ...

    async def execute(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> int: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Driver(Protocol):
    """Opens lean write transactions straight on the database driver."""

    dialect: str

    async def begin(self) -> Transaction: ...

    async def close(self) -> None: ...


# --- PostgreSQL: asyncpg ------------------------------------------------------------


class _PgTransaction:
    """A transaction that starts at its first write: reads before it, and a lone
    final write, run on their own (PostgreSQL makes each statement atomic), which
    saves the BEGIN and COMMIT round trips of a message that changes nothing."""

    __slots__ = ("_begun", "_conn", "_ended", "_pool", "dialect")

    dialect: str

    def __init__(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        self._pool, self._conn = pool, conn
        self._begun = self._ended = False
        self.dialect = "postgresql"

    async def _before(self, c: _Compiled, final: bool) -> None:
        if c.reads or self._begun:
            return
        if self._ended:
            raise RuntimeError("a write after this transaction's final write")
        if final:
            self._ended = True
        else:
            await self._conn.execute("BEGIN")
            self._begun = True

    async def fetchrow(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> Row | None:
        c = query.compiled("postgresql")
        await self._before(c, final)
        try:
            row: Row | None = await self._conn.fetchrow(c.sql, *c.bind(params))
        except _PG_RACES as exc:
            raise Conflict(f"lost a race: {type(exc).__name__}") from exc
        return row

    async def execute(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> int:
        c = query.compiled("postgresql")
        await self._before(c, final)
        try:
            status: str = await self._conn.execute(c.sql, *c.bind(params))
        except _PG_RACES as exc:
            raise Conflict(f"lost a race: {type(exc).__name__}") from exc
        tail = status.rsplit(" ", 1)[-1]  # "UPDATE 1", "INSERT 0 1", "DELETE 0"
        return int(tail) if tail.isdigit() else 0

    async def commit(self) -> None:
        try:
            if self._begun:
                await self._conn.execute("COMMIT")
        finally:
            self._begun = False
            await self._pool.release(self._conn)

    async def rollback(self) -> None:
        try:
            if self._begun and not self._conn.is_closed():
                await self._conn.execute("ROLLBACK")
        finally:
            self._begun = False
            await self._pool.release(self._conn)


# Another transaction got there first (a unique key, a serialization failure, a
# deadlock): the bus runs the command again from the start, as with SQLAlchemy.
_PG_RACES = (
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


async def _reset(conn: asyncpg.Connection) -> None:
    # Our transactions always end in commit or rollback, and we set no session
    # state: asyncpg's default reset (RESET ALL, UNLISTEN, unlock all advisory
    # locks) would be a fourth of the hot path's round trips.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class PgDriver:
    """A small asyncpg pool of its own, opened on first use."""

    dialect = "postgresql"

    def __init__(
        self, url: str, *, size: int, connect_args: Mapping[str, Any] | None = None
    ) -> None:
        parsed = make_url(url).set(drivername="postgresql")
        self._dsn = parsed.render_as_string(hide_password=False)
        self._size = size
        self._connect_args = dict(connect_args or {})
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._closed:
                raise DriverUnavailable("the database driver is closed")
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._size,
                    reset=_reset,
                    **self._connect_args,
                )
        return self._pool

    async def begin(self) -> Transaction:
        pool = self._pool or await self._open()
        # The transaction gives its connection back to this pool, even if the
        # driver is closed meanwhile (close() waits for it).
        return _PgTransaction(pool, await pool.acquire())

    async def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


# --- SQLite: sqlite3 inline ---------------------------------------------------------


class _SqliteTransaction:
    __slots__ = ("_conn", "_driver", "dialect")

    dialect: str

    def __init__(self, driver: SqliteDriver, conn: sqlite3.Connection) -> None:
        self._driver, self._conn = driver, conn
        self.dialect = "sqlite"

    async def fetchrow(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> Row | None:
        c = query.compiled("sqlite")
        try:
            row: Row | None = self._conn.execute(c.sql, c.bind(params)).fetchone()
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"lost a race: {exc}") from exc
        return row

    async def execute(
        self, query: Query, params: Mapping[str, Any], *, final: bool = False
    ) -> int:
        c = query.compiled("sqlite")
        try:
            return self._conn.execute(c.sql, c.bind(params)).rowcount
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"lost a race: {exc}") from exc

    async def commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            # SQLite can keep the transaction open after a failed COMMIT (busy,
            # disk full): end it, or it would hold the write lock for good.
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._driver.release()
        self._driver.committed()

    async def rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            self._driver.release()


class SqliteDriver:
    """One sqlite3 connection for the hot path's write transactions, used inline."""

    dialect = "sqlite"

    def __init__(
        self, path: str, *, busy_wait_s: float = 30.0, checkpoint_every: int = 1000
    ) -> None:
        self._path = path
        self._busy_wait_s = busy_wait_s
        self._checkpoint_every = checkpoint_every
        self._commits = 0
        self._checkpointing: asyncio.Future[None] | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def _connect(self) -> sqlite3.Connection:
        # timeout=0: never wait inside the event loop; begin() retries instead.
        conn = sqlite3.connect(
            self._path, timeout=0, isolation_level=None, check_same_thread=False
        )
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise DriverUnavailable(f"SQLite journal mode is {mode}, not WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Checkpoints copy the WAL into the database and fsync: that is done
            # in a thread (see committed()), never inline in a COMMIT.
            conn.execute("PRAGMA wal_autocheckpoint=0")
        except BaseException:
            conn.close()
            raise
        return conn

    async def begin(self) -> Transaction:
        await self._lock.acquire()
        try:
            deadline = time.monotonic() + self._busy_wait_s
            pause = 0.0005
            while True:
                try:
                    conn = self._conn = self._conn or self._connect()
                    if conn.in_transaction:  # never expected; never left open
                        conn.execute("ROLLBACK")
                    conn.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    # Another connection (a worker loop, a CLI) holds the write
                    # lock: give the loop back and try again.
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 0.02)
        except BaseException:
            self._lock.release()
            raise
        return _SqliteTransaction(self, conn)

    def release(self) -> None:
        self._lock.release()

    def committed(self) -> None:
        """Count a commit; every so often checkpoint the WAL in a thread."""
        self._commits += 1
        if self._commits % self._checkpoint_every or self._checkpointing is not None:
            return
        future = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
        self._checkpointing = future
        future.add_done_callback(self._checkpoint_done)

    def _checkpoint(self) -> None:
        # Its own connection: PASSIVE never blocks writers, and gives up on pages a
        # reader still needs (the next checkpoint gets them).
        with closing(sqlite3.connect(self._path, timeout=5)) as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpoint_done(self, future: asyncio.Future[None]) -> None:
        self._checkpointing = None
        if not future.cancelled() and (exc := future.exception()) is not None:
            log.warning("WAL checkpoint failed: %s", exc)

    async def close(self) -> None:
        if self._checkpointing is not None:
            await asyncio.wait([self._checkpointing])
        async with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()


def make_driver(
    url: str, *, pool_size: int, connect_args: Mapping[str, Any] | None = None
) -> Driver | None:
    """The lean driver for `url`, or None where there is none (in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or parsed.query.get("mode") == "memory":
            return None
        return SqliteDriver(path)
    if parsed.get_backend_name() == "postgresql":
        return PgDriver(url, size=pool_size, connect_args=connect_args)
    return None

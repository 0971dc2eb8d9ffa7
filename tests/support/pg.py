"""PostgreSQL for process-level tests: scratch databases and private clusters.

A scratch database lives on the shared server (RECOOP_TEST_POSTGRES_URL) under a
unique name and is dropped afterwards. A private cluster is a whole server of our
own (initdb into a temporary directory, run as the `postgres` OS user), for tests
that stop and restart PostgreSQL: the shared server is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

PG_BIN = Path(os.environ.get("RECOOP_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


@dataclass(frozen=True, slots=True)
class ScratchDb:
    name: str
    dsn: str  # for asyncpg
    url: str  # for RECOOP_DATABASE_URL (SQLAlchemy + asyncpg)


def urls_for(server_url: str, database: str) -> ScratchDb:
    base = make_url(server_url).set(database=database)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    url = base.set(drivername="postgresql+asyncpg").render_as_string(
        hide_password=False
    )
    return ScratchDb(database, dsn, url)


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[ScratchDb]:
    """CREATE DATABASE with a unique name on the server of `server_url`; dropped after."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = urls_for(server_url, make_url(server_url).database or "postgres")
    conn = await asyncpg.connect(admin.dsn, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield urls_for(server_url, name)
    finally:
        conn = await asyncpg.connect(admin.dsn, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    """A PostgreSQL server of our own on 127.0.0.1:port, run as the postgres user.

    Needs root (to run as `postgres` with runuser) or to be run as `postgres`.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        # Not under pytest's tmp_path: its parent is private to root, and the
        # server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="recoop-pgcluster-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.started = False

    @staticmethod
    def available() -> str | None:
        """None when a private cluster can run here, else the reason it cannot."""
        if not (PG_BIN / "initdb").exists():
            return f"no initdb in {PG_BIN}"
        if os.geteuid() != 0 and _whoami() != "postgres":
            return "a private PostgreSQL needs root (runuser -u postgres) or postgres"
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            return "runuser is missing"
        return None

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            tail = (
                self.log.read_text(errors="replace")[-2000:]
                if self.log.exists()
                else ""
            )
            raise RuntimeError(
                f"{what} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{tail}"
            )

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._check(
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--no-sync",
            ),
            "initdb",
        )  # fmt: skip
        options = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.dir}'",
            "max_connections": "60",
            "shared_buffers": "32MB",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            for key, value in options.items():
                conf.write(f"{key} = {value}\n")

    def start(self) -> None:
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "start",
        )  # fmt: skip
        self._check(result, "pg_ctl start")
        self.started = True

    def stop(self, mode: str = "fast") -> None:
        self._check(
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"),
            "pg_ctl stop",
        )
        self.started = False

    def restart(self, mode: str = "fast") -> float:
        """Restart the server; returns how long it was unavailable (seconds)."""
        begun = time.monotonic()
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w",
            "-t", "60", "restart",
        )  # fmt: skip
        self._check(result, "pg_ctl restart")
        return time.monotonic() - begun

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def cleanup(self) -> None:
        if self.started:
            with suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


def _whoami() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name

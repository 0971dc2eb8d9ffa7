"""Apply Alembic migrations from code (`recoop db upgrade`, and serve/demo on SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations folder (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade_sync(connection: Connection, revision: str = "head") -> None:
    """Upgrade over an open sync connection (from AsyncConnection.run_sync)."""
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(engine: Any, revision: str = "head") -> None:
    """Bring the database behind `engine` (an AsyncEngine) up to `revision`."""
    async with engine.connect() as conn:
        await conn.run_sync(upgrade_sync, revision)
        await conn.commit()


async def current_and_head(engine: Any) -> tuple[str | None, str | None]:
    """The database's migration revision and the newest one in the code."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        current = await conn.run_sync(read)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return current, head

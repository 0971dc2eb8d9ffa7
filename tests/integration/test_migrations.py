"""Alembic migrations build the same schema as the table definitions."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from service.persistence.migrate import current_and_head, upgrade
from service.persistence.tables import metadata


async def test_upgrade_to_head_matches_models(
    db_target: tuple[str, dict[str, Any]],
) -> None:
    """`recoop db upgrade` leaves no difference between the database and the models."""
    url, connect_args = db_target
    engine = create_async_engine(url, connect_args=connect_args)
    try:
        await upgrade(engine)
        current, head = await current_and_head(engine)
        assert current == head

        def diff(connection: Any) -> list[Any]:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True}
            )
            return list(compare_metadata(context, metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
        await upgrade(engine)  # running it again is harmless
    finally:
        await engine.dispose()

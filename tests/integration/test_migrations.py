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


async def test_rounds_planned_before_0007_keep_their_bike_hub_and_rider(
    db_target: tuple[str, dict[str, Any]],
) -> None:
    """Revision 0007 gives rounds their own hub and collector: an existing round
    takes its bike's, so nobody's page changes by the upgrade."""
    url, connect_args = db_target
    engine = create_async_engine(url, connect_args=connect_args)
    try:
        await upgrade(engine, "0006")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO hubs (id, name, lat, lon, created_at) "
                "VALUES (7, 'Yaba', 6.5, 3.37, '2026-11-20 10:00:00')",
                "INSERT INTO collectors (id, name, phone, active, created_at) "
                "VALUES (3, 'Musa', '+2348030000001', true, '2026-11-20 10:00:00')",
                "INSERT INTO bikes (id, name, hub_id, capacity_kg, shift_start_min, "
                "shift_end_min, speed_kmh, collector_id, active, created_at) "
                "VALUES (5, 'bike-1', 7, 120, 480, 960, 12, 3, true, "
                "'2026-11-20 10:00:00')",
                "INSERT INTO bikes (id, name, hub_id, capacity_kg, shift_start_min, "
                "shift_end_min, speed_kmh, collector_id, active, created_at) "
                "VALUES (6, 'bike-2', 7, 120, 480, 960, 12, NULL, true, "
                "'2026-11-20 10:00:00')",
                "INSERT INTO rounds (id, day, bike_id, status, stops, trips, "
                "distance_m, load_kg, start_min, end_min, planned_at) VALUES "
                "(1, '2026-11-21', 5, 'planned', 3, 1, 4000, 12, 480, 600, "
                "'2026-11-20 18:00:00'), "
                "(2, '2026-11-21', 6, 'planned', 2, 1, 3000, 8, 480, 560, "
                "'2026-11-20 18:00:00')",
            ):
                await conn.exec_driver_sql(sql)
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.exec_driver_sql(
                    "SELECT id, hub_id, collector_id FROM rounds ORDER BY id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [(1, 7, 3), (2, 7, None)]
    finally:
        await engine.dispose()

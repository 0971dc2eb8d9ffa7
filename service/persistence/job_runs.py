"""The `job_runs` guard: one row per (job, due time), claimed before the job runs."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from service.persistence.db import Database
from service.persistence.tables import job_runs


async def claim(
    db: Database, job: str, due_at: datetime, owner: str, now: datetime
) -> bool:
    """True when this process may run `job` for `due_at` (no one else has)."""
    try:
        async with db.writer.begin() as conn:
            await conn.execute(
                job_runs.insert().values(
                    job=job, due_at=due_at, owner=owner, started_at=now
                )
            )
    except IntegrityError:
        return False
    return True


async def finish(
    db: Database, job: str, due_at: datetime, now: datetime, outcome: str
) -> None:
    async with db.writer.begin() as conn:
        await conn.execute(
            job_runs.update()
            .where(job_runs.c.job == job, job_runs.c.due_at == due_at)
            .values(finished_at=now, outcome=outcome[:200])
        )


async def prune(db: Database, before: datetime) -> int:
    """Forget runs started before `before` (the guard only matters near due times)."""
    async with db.writer.begin() as conn:
        result = await conn.execute(
            job_runs.delete().where(job_runs.c.started_at < before)
        )
    return int(result.rowcount or 0)


async def recent(db: Database, limit: int = 100) -> list[dict[str, object]]:
    async with db.reader.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(job_runs).order_by(job_runs.c.started_at.desc()).limit(limit)
            )
        ).all()
    return [dict(r._mapping) for r in rows]

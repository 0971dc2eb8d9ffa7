"""SQL for the money path: rates, idempotency keys, weighings, payouts, vouchers, disputes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service.persistence.repositories import insert_for
from service.persistence.tables import (
    accounts,
    collectors,
    disputes,
    households,
    idempotency_keys,
    material_rates,
    payouts,
    pickups,
    shops,
    vouchers,
    weighing_items,
    weighings,
)

# --- rates -------------------------------------------------------------------------


async def upsert_rate(
    conn: AsyncConnection,
    *,
    material: str,
    day: date,
    kobo_per_kg: int,
    set_by: str,
    now: datetime,
) -> None:
    stmt = insert_for(conn, material_rates).values(
        material=material,
        effective_from=day,
        kobo_per_kg=kobo_per_kg,
        set_by=set_by,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["material", "effective_from"],
        set_={
            "kobo_per_kg": stmt.excluded.kobo_per_kg,
            "set_by": stmt.excluded.set_by,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    await conn.execute(stmt)


async def rates_in_force(
    conn: AsyncConnection, materials: set[str], day: date
) -> dict[str, int]:
    """The latest version on or before `day` for each material that has one."""
    rows = (
        await conn.execute(
            sa.select(
                material_rates.c.material,
                material_rates.c.effective_from,
                material_rates.c.kobo_per_kg,
            )
            .where(
                material_rates.c.material.in_(sorted(materials)),
                material_rates.c.effective_from <= day,
            )
            .order_by(material_rates.c.material, material_rates.c.effective_from)
        )
    ).all()
    return {r.material: int(r.kobo_per_kg) for r in rows}  # later dates overwrite


async def list_rates(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            sa.select(material_rates).order_by(
                material_rates.c.material, material_rates.c.effective_from
            )
        )
    ).all()
    return [
        {
            "material": r.material,
            "kobo_per_kg": r.kobo_per_kg,
            "effective_from": r.effective_from.isoformat(),
            "set_by": r.set_by,
        }
        for r in rows
    ]


# --- idempotency keys ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    fingerprint: str
    status_code: int | None
    response: str | None


async def claim_key(
    conn: AsyncConnection, *, scope: str, key: str, fingerprint: str, now: datetime
) -> Seen | None:
    """Take `key` for this request; the earlier request's record if it was taken.

    On PostgreSQL a concurrent duplicate waits here until the first commits, then
    sees its answer: later duplicates replay the first, as Stripe does.
    """
    got = (
        await conn.execute(
            insert_for(conn, idempotency_keys)
            .values(scope=scope, key=key, fingerprint=fingerprint, created_at=now)
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(idempotency_keys.c.id)
        )
    ).scalar_one_or_none()
    if got is not None:
        return None
    row = (
        await conn.execute(
            sa.select(
                idempotency_keys.c.fingerprint,
                idempotency_keys.c.status_code,
                idempotency_keys.c.response,
            ).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        )
    ).one()
    return Seen(row.fingerprint, row.status_code, row.response)


async def save_answer(
    conn: AsyncConnection, *, scope: str, key: str, status_code: int, response: str
) -> None:
    await conn.execute(
        idempotency_keys.update()
        .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        .values(status_code=status_code, response=response)
    )


# --- pickups and weighings -------------------------------------------------------------


async def pickup_by_code(conn: AsyncConnection, code: str) -> Any:
    return (
        await conn.execute(
            sa.select(
                pickups.c.id,
                pickups.c.status,
                pickups.c.household_id,
                households.c.phone,
                households.c.language,
            )
            .join(households, households.c.id == pickups.c.household_id)
            .where(pickups.c.code == code)
        )
    ).first()


async def household(conn: AsyncConnection, household_id: int) -> Any:
    return (
        await conn.execute(
            sa.select(households.c.id, households.c.phone, households.c.language).where(
                households.c.id == household_id
            )
        )
    ).first()


async def set_pickup_status(
    conn: AsyncConnection, pickup_id: int, status: str, now: datetime
) -> None:
    await conn.execute(
        pickups.update()
        .where(pickups.c.id == pickup_id)
        .values(status=status, updated_at=now)
    )


async def add_weighing(conn: AsyncConnection, **values: Any) -> int:
    return int(
        (
            await conn.execute(
                weighings.insert().values(**values).returning(weighings.c.id)
            )
        ).scalar_one()
    )


async def add_weighing_items(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await conn.execute(weighing_items.insert(), rows)


async def link_weighing_transfer(
    conn: AsyncConnection, weighing_id: int, transfer_id: int
) -> None:
    await conn.execute(
        weighings.update()
        .where(weighings.c.id == weighing_id)
        .values(transfer_id=transfer_id)
    )


async def outstanding_credit(conn: AsyncConnection) -> int:
    """What the programme owes all households together (posted credit not yet spent)."""
    total = (
        await conn.execute(
            sa.select(
                sa.func.coalesce(
                    sa.func.sum(accounts.c.credits_posted - accounts.c.debits_posted), 0
                )
            ).where(accounts.c.name.like("household:%"))
        )
    ).scalar_one()
    return int(total)


async def weighing(conn: AsyncConnection, weighing_id: int) -> Any:
    return (
        await conn.execute(
            sa.select(weighings, households.c.phone, households.c.language)
            .join(households, households.c.id == weighings.c.household_id)
            .where(weighings.c.id == weighing_id)
        )
    ).first()


async def last_weighing_id(conn: AsyncConnection, household_id: int) -> int | None:
    return (
        await conn.execute(
            sa.select(sa.func.max(weighings.c.id)).where(
                weighings.c.household_id == household_id
            )
        )
    ).scalar_one_or_none()


# --- payouts (the rows are their own outbox) -----------------------------------------


async def add_payout(conn: AsyncConnection, **values: Any) -> int:
    return int(
        (
            await conn.execute(
                payouts.insert().values(**values).returning(payouts.c.id)
            )
        ).scalar_one()
    )


async def paid_out_since(conn: AsyncConnection, since: datetime) -> int:
    """Payouts created since `since` that are not given back (for the daily cap)."""
    total = (
        await conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(payouts.c.amount_kobo), 0)).where(
                payouts.c.created_at >= since,
                payouts.c.status.notin_(("failed", "released")),
            )
        )
    ).scalar_one()
    return int(total)


async def find_payout(
    conn: AsyncConnection,
    *,
    provider: str,
    reference: str | None,
    provider_txn: str | None,
) -> Any:
    stmt = sa.select(payouts, households.c.language).join(
        households, households.c.id == payouts.c.household_id
    )
    if reference:
        stmt = stmt.where(payouts.c.reference == reference)
    elif provider_txn:
        stmt = stmt.where(
            payouts.c.provider == provider, payouts.c.provider_txn == provider_txn
        )
    else:
        return None
    return (await conn.execute(stmt)).first()


async def payout_by_id(conn: AsyncConnection, payout_id: int) -> Any:
    return (
        await conn.execute(
            sa.select(payouts, households.c.language)
            .join(households, households.c.id == payouts.c.household_id)
            .where(payouts.c.id == payout_id)
        )
    ).one()


async def move_payout(
    conn: AsyncConnection,
    payout_id: int,
    *,
    from_: tuple[str, ...],
    to: str,
    **values: Any,
) -> bool:
    """Change status only from one of `from_`: the exactly-once gate for results."""
    result = await conn.execute(
        payouts.update()
        .where(payouts.c.id == payout_id, payouts.c.status.in_(from_))
        .values(status=to, **values)
    )
    return result.rowcount == 1


async def claim_payouts(
    conn: AsyncConnection,
    *,
    statuses: tuple[str, ...],
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[Any]:
    """Lease due payouts in `statuses` (PostgreSQL skips rows another worker holds)."""
    due = sa.and_(
        payouts.c.status.in_(statuses),
        payouts.c.next_attempt_at <= now,
        sa.or_(payouts.c.lease_until.is_(None), payouts.c.lease_until <= now),
    )
    pick = (
        sa.select(payouts.c.id)
        .where(due)
        .order_by(payouts.c.next_attempt_at, payouts.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        payouts.update()
        .where(payouts.c.id.in_(pick.scalar_subquery()))
        .values(lease_until=now + lease, attempts=payouts.c.attempts + 1)
        .returning(payouts)
    )
    return sorted((await conn.execute(stmt)).all(), key=lambda r: r.id)


async def release_lease(conn: AsyncConnection, payout_id: int, **values: Any) -> None:
    await conn.execute(
        payouts.update()
        .where(payouts.c.id == payout_id)
        .values(lease_until=None, **values)
    )


async def expired_payouts(
    conn: AsyncConnection, now: datetime, limit: int = 500
) -> list[Any]:
    return list(
        (
            await conn.execute(
                sa.select(payouts.c.id)
                .where(payouts.c.status == "held", payouts.c.expires_at <= now)
                .limit(limit)
            )
        ).scalars()
    )


# --- vouchers, shops, collectors, disputes ----------------------------------------------


async def add_voucher(conn: AsyncConnection, **values: Any) -> int:
    return int(
        (
            await conn.execute(
                vouchers.insert().values(**values).returning(vouchers.c.id)
            )
        ).scalar_one()
    )


async def voucher_by_code(conn: AsyncConnection, code: str) -> Any:
    return (
        await conn.execute(
            sa.select(vouchers, households.c.phone, households.c.language)
            .join(households, households.c.id == vouchers.c.household_id)
            .where(vouchers.c.code == code)
        )
    ).first()


async def move_voucher(
    conn: AsyncConnection, voucher_id: int, *, from_: str, to: str, **values: Any
) -> bool:
    result = await conn.execute(
        vouchers.update()
        .where(vouchers.c.id == voucher_id, vouchers.c.status == from_)
        .values(status=to, **values)
    )
    return result.rowcount == 1


async def expired_vouchers(
    conn: AsyncConnection, now: datetime, limit: int = 500
) -> list[Any]:
    return list(
        (
            await conn.execute(
                sa.select(vouchers.c.id, vouchers.c.transfer_id)
                .where(vouchers.c.status == "issued", vouchers.c.expires_at <= now)
                .limit(limit)
            )
        ).all()
    )


async def shop_by_phone(conn: AsyncConnection, phone: str) -> Any:
    return (await conn.execute(sa.select(shops).where(shops.c.phone == phone))).first()


async def collector_by_phone(conn: AsyncConnection, phone: str) -> Any:
    return (
        await conn.execute(
            sa.select(collectors).where(
                collectors.c.phone == phone, collectors.c.active.is_(True)
            )
        )
    ).first()


async def add_shop(
    conn: AsyncConnection, *, name: str, phone: str, now: datetime
) -> int:
    return int(
        (
            await conn.execute(
                shops.insert()
                .values(name=name, phone=phone, created_at=now)
                .returning(shops.c.id)
            )
        ).scalar_one()
    )


async def add_collector(
    conn: AsyncConnection, *, name: str, phone: str, now: datetime
) -> int:
    return int(
        (
            await conn.execute(
                collectors.insert()
                .values(name=name, phone=phone, active=True, created_at=now)
                .returning(collectors.c.id)
            )
        ).scalar_one()
    )


async def add_dispute(conn: AsyncConnection, **values: Any) -> int:
    return int(
        (
            await conn.execute(
                disputes.insert().values(**values).returning(disputes.c.id)
            )
        ).scalar_one()
    )


async def resolve_dispute(
    conn: AsyncConnection, dispute_id: int, **values: Any
) -> bool:
    result = await conn.execute(
        disputes.update()
        .where(disputes.c.id == dispute_id, disputes.c.status == "open")
        .values(status="resolved", **values)
    )
    return result.rowcount == 1

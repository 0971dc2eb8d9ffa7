"""SQL for the money path: rates, idempotency keys, weighings, payouts, vouchers, disputes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from service.domain.errors import AlreadyExists
from service.logs import request_id
from service.persistence.ledger import STRIPE_NAMES
from service.persistence.outbox import OUTBOX_COLUMNS
from service.persistence.repositories import insert_for
from service.persistence.tables import (
    accounts,
    collectors,
    disputes,
    households,
    idempotency_keys,
    material_rates,
    outbox,
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
    in_force = {}
    for material, _, kobo_per_kg in await rate_history(conn, day):
        if material in materials:
            in_force[material] = kobo_per_kg  # later dates overwrite
    return in_force


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


_CLAIM = {
    name: ins(idempotency_keys)
    .on_conflict_do_nothing(index_elements=["scope", "key"])
    .returning(idempotency_keys.c.key)
    for name, ins in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_SEEN = sa.select(
    idempotency_keys.c.key,
    idempotency_keys.c.fingerprint,
    idempotency_keys.c.status_code,
    idempotency_keys.c.response,
).where(
    idempotency_keys.c.scope == sa.bindparam("s"),
    idempotency_keys.c.key.in_(sa.bindparam("keys", expanding=True)),
)
_SAVE_ANSWER = (
    idempotency_keys.update()
    .where(
        idempotency_keys.c.scope == sa.bindparam("s"),
        idempotency_keys.c.key == sa.bindparam("k"),
    )
    .values(status_code=sa.bindparam("code"), response=sa.bindparam("resp"))
)
_RELEASE_KEY = idempotency_keys.delete().where(
    idempotency_keys.c.scope == sa.bindparam("s"),
    idempotency_keys.c.key == sa.bindparam("k"),
)


async def claim_key(
    conn: AsyncConnection, *, scope: str, key: str, fingerprint: str, now: datetime
) -> Seen | None:
    """Take `key` for this request; the earlier request's record if it was taken.

    On PostgreSQL a concurrent duplicate waits here until the first commits, then
    sees its answer: later duplicates replay the first, as Stripe does.
    """
    got = (
        await conn.execute(
            _CLAIM[conn.dialect.name],
            {"scope": scope, "key": key, "fingerprint": fingerprint, "created_at": now},
        )
    ).scalar_one_or_none()
    if got is not None:
        return None
    return (await seen_keys(conn, scope=scope, keys=[key]))[key]


async def claim_keys(
    conn: AsyncConnection, *, scope: str, keys: dict[str, str], now: datetime
) -> set[str]:
    """Take each key (key -> fingerprint) in key order; the keys this call took."""
    if not keys:
        return set()
    rows = [
        {"scope": scope, "key": k, "fingerprint": keys[k], "created_at": now}
        for k in sorted(keys)
    ]
    return set((await conn.execute(_CLAIM[conn.dialect.name], rows)).scalars())


async def seen_keys(
    conn: AsyncConnection, *, scope: str, keys: list[str]
) -> dict[str, Seen]:
    """The stored record of each key that exists."""
    if not keys:
        return {}
    rows = await conn.execute(_SEEN, {"s": scope, "keys": keys})
    return {r.key: Seen(r.fingerprint, r.status_code, r.response) for r in rows}


async def save_answer(
    conn: AsyncConnection, *, scope: str, key: str, status_code: int, response: str
) -> None:
    await conn.execute(
        _SAVE_ANSWER, {"s": scope, "k": key, "code": status_code, "resp": response}
    )


async def save_answers(
    conn: AsyncConnection, *, scope: str, answers: list[tuple[str, int, str]]
) -> None:
    """(key, status code, response) for many keys in one executemany."""
    if answers:
        await conn.execute(
            _SAVE_ANSWER,
            [{"s": scope, "k": k, "code": c, "resp": r} for k, c, r in answers],
        )


async def release_keys(conn: AsyncConnection, *, scope: str, keys: list[str]) -> None:
    """Give back keys taken in this transaction whose request was refused."""
    if keys:
        await conn.execute(_RELEASE_KEY, [{"s": scope, "k": k} for k in keys])


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


def _of_household(column: Any) -> Any:
    return (
        sa.select(column)
        .where(households.c.id == pickups.c.household_id)
        .scalar_subquery()
        .label(column.name)
    )


# SQLite's RETURNING cannot name an UPDATE ... FROM table: correlated subqueries can.
_CLOSE_PICKUPS = (
    pickups.update()
    .where(
        pickups.c.code.in_(sa.bindparam("codes", expanding=True)),
        pickups.c.status != "done",
    )
    .values(status="done", updated_at=sa.bindparam("now"))
    .returning(
        pickups.c.code,
        pickups.c.id,
        pickups.c.household_id,
        _of_household(households.c.phone),
        _of_household(households.c.language),
    )
)
_KNOWN_CODES = sa.select(pickups.c.code).where(
    pickups.c.code.in_(sa.bindparam("codes", expanding=True))
)


_CLOSE_PICKUP = (
    pickups.update()
    .where(pickups.c.code == sa.bindparam("c"), pickups.c.status != "done")
    .values(status="done", updated_at=sa.bindparam("now"))
    .returning(
        pickups.c.code,
        pickups.c.id,
        pickups.c.household_id,
        _of_household(households.c.phone),
        _of_household(households.c.language),
    )
)


async def close_pickup(conn: AsyncConnection, code: str, now: datetime) -> Any:
    """`close_pickups` for one code (a statement without an IN list)."""
    return (await conn.execute(_CLOSE_PICKUP, {"c": code, "now": now})).first()


async def close_pickups(
    conn: AsyncConnection, codes: list[str], now: datetime
) -> dict[str, Any]:
    """Mark not-yet-weighed pickups done; code -> (id, household_id, phone, language).

    The conditional update is the "weighed once" gate: a concurrent weighing of the
    same pickup waits for this transaction and then finds nothing to close.
    """
    if not codes:
        return {}
    rows = await conn.execute(_CLOSE_PICKUPS, {"codes": codes, "now": now})
    return {r.code: r for r in rows}


_STATUSES = sa.select(pickups.c.code, pickups.c.status).where(
    pickups.c.code.in_(sa.bindparam("codes", expanding=True))
)


async def pickup_statuses(conn: AsyncConnection, codes: list[str]) -> dict[str, str]:
    """code -> status for the codes that name a pickup."""
    if not codes:
        return {}
    rows = await conn.execute(_STATUSES, {"codes": codes})
    return {r.code: r.status for r in rows}


_RATE_HISTORY = (
    sa.select(
        material_rates.c.material,
        material_rates.c.effective_from,
        material_rates.c.kobo_per_kg,
    )
    .where(material_rates.c.effective_from <= sa.bindparam("day"))
    .order_by(material_rates.c.effective_from, material_rates.c.material)
)


async def rate_history(
    conn: AsyncConnection, until: date
) -> list[tuple[str, date, int]]:
    """Every rate version that took effect on or before `until`, oldest first."""
    rows = await conn.execute(_RATE_HISTORY, {"day": until})
    return [(r.material, r.effective_from, int(r.kobo_per_kg)) for r in rows]


_WEIGHING_COLUMNS = (
    "pickup_id",
    "household_id",
    "collected_at",
    "lat",
    "lon",
    "total_grams",
    "credited_kobo",
    "credit_status",
    "transfer_id",
    "source",
    "collector",
    "created_at",
)
_ADD_WEIGHING = weighings.insert().returning(weighings.c.id)
_ADD_WEIGHINGS = weighings.insert().returning(
    weighings.c.id, sort_by_parameter_order=True
)
_ADD_ITEMS = weighing_items.insert()
_LINK = (
    weighings.update()
    .where(weighings.c.id == sa.bindparam("w"))
    .values(transfer_id=sa.bindparam("t"))
)
_CAP = (
    weighings.update()
    .where(weighings.c.id == sa.bindparam("w"))
    .values(credited_kobo=0, credit_status="capped", transfer_id=None)
)


_new_weighing = (
    weighings.insert()
    .values(
        {
            c: sa.bindparam(f"w_{c}", type_=weighings.c[c].type)
            for c in _WEIGHING_COLUMNS
        }
    )
    .returning(weighings.c.id)
    .cte("w")
)
_unnest = (
    sa.func.unnest(
        sa.bindparam("materials", type_=postgresql.ARRAY(sa.String)),
        sa.bindparam("grams", type_=postgresql.ARRAY(sa.BigInteger)),
        sa.bindparam("kobos", type_=postgresql.ARRAY(sa.BigInteger)),
    )
    .table_valued("material", "grams", "kobo")
    .render_derived(name="i")
)
# PostgreSQL: the weighing and its items in one round trip.
_ADD_WEIGHING_WITH_ITEMS_PG = (
    weighing_items.insert()
    .from_select(
        ["weighing_id", "material", "grams", "kobo_per_kg"],
        sa.select(
            _new_weighing.c.id, _unnest.c.material, _unnest.c.grams, _unnest.c.kobo
        )
        .select_from(_new_weighing)
        .join(_unnest, sa.true()),
    )
    .returning(weighing_items.c.weighing_id)
    .add_cte(_new_weighing)
)


async def add_weighing(
    conn: AsyncConnection, *, items: list[tuple[str, int, int]], **values: Any
) -> int:
    """A weighing row and its (material, grams, kobo per kg) items; the new id."""
    row = {c: values[c] for c in _WEIGHING_COLUMNS}
    if conn.dialect.name == "postgresql" and items:
        params = {f"w_{c}": v for c, v in row.items()}
        params["materials"] = [m for m, _, _ in items]
        params["grams"] = [g for _, g, _ in items]
        params["kobos"] = [k for _, _, k in items]
        result = await conn.execute(_ADD_WEIGHING_WITH_ITEMS_PG, params)
        return int(result.scalars().all()[0])
    weighing_id = int((await conn.execute(_ADD_WEIGHING, row)).scalar_one())
    await add_weighing_items(
        conn,
        [
            {"weighing_id": weighing_id, "material": m, "grams": g, "kobo_per_kg": k}
            for m, g, k in items
        ],
    )
    return weighing_id


async def add_weighings(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert weighing rows in one executemany; their ids in the same order."""
    if not rows:
        return []
    params = [{c: r[c] for c in _WEIGHING_COLUMNS} for r in rows]
    return [int(i) for i in (await conn.execute(_ADD_WEIGHINGS, params)).scalars()]


async def add_weighing_items(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_ADD_ITEMS, rows[0] if len(rows) == 1 else rows)


async def link_weighing_transfer(
    conn: AsyncConnection, weighing_id: int, transfer_id: int
) -> None:
    await conn.execute(_LINK, {"w": weighing_id, "t": transfer_id})


async def link_weighing_transfers(
    conn: AsyncConnection, pairs: list[tuple[int, int]]
) -> None:
    """(weighing id, transfer id) pairs in one executemany."""
    if pairs:
        await conn.execute(_LINK, [{"w": w, "t": t} for w, t in pairs])


async def cap_weighing(conn: AsyncConnection, weighing_id: int) -> None:
    """Mark a weighing recorded but not credited (the outstanding-credit cap)."""
    await conn.execute(_CAP, {"w": weighing_id})


_TOTAL = sa.select(
    sa.func.sum(accounts.c.credits_posted - accounts.c.debits_posted)
).where(accounts.c.name.in_(STRIPE_NAMES))


async def outstanding_credit(conn: AsyncConnection) -> int:
    """What the programme owes all households together (posted credit not yet spent).

    A few rows read: the households' total kept by the ledger; summed over household
    accounts only before the ledger first created it.
    """
    total = (await conn.execute(_TOTAL)).scalar_one()
    if total is not None:
        return int(total)
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


# --- receipts (straight into the outbox, so they are written before the cap gate) ---

_ENQUEUE = {
    name: ins(outbox).on_conflict_do_nothing(index_elements=["key"])
    for name, ins in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_SET_BODY = (
    outbox.update()
    .where(outbox.c.key == sa.bindparam("k"))
    .values(body=sa.bindparam("b"))
)


def sms_row(
    *, key: str, to_phone: str, body: str, now: datetime, ttl: timedelta, attempts: int
) -> dict[str, Any]:
    """An outbox row as `outbox.enqueue` writes it (kind sms, pending, not a reply)."""
    return {
        "key": key,
        "kind": "sms",
        "to_phone": to_phone,
        "body": body,
        "is_reply": False,
        "status": "pending",
        "attempts": 0,
        "max_attempts": attempts,
        "next_attempt_at": now,
        "expires_at": now + ttl,
        "created_at": now,
        "request_id": request_id.get(),
    }


async def enqueue_sms(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Queue SMS rows (see `sms_row`); a key already queued keeps its first row."""
    if rows:
        await conn.execute(
            _ENQUEUE[conn.dialect.name], rows[0] if len(rows) == 1 else rows
        )


# PostgreSQL: the answer and the receipt in one round trip (a data-modifying WITH
# runs once, whether or not the main statement reads it).
_ANSWER_AND_SMS_PG = (
    postgresql.insert(outbox)
    .values({c: sa.bindparam(f"o_{c}", type_=outbox.c[c].type) for c in OUTBOX_COLUMNS})
    .on_conflict_do_nothing(index_elements=["key"])
    .add_cte(
        idempotency_keys.update()
        .where(
            idempotency_keys.c.scope == sa.bindparam("s"),
            idempotency_keys.c.key == sa.bindparam("k"),
        )
        .values(status_code=sa.bindparam("code"), response=sa.bindparam("resp"))
        .cte("answer")
    )
)


async def save_answer_and_queue(
    conn: AsyncConnection,
    *,
    scope: str,
    key: str,
    status_code: int,
    response: str,
    sms: dict[str, Any],
) -> None:
    """`save_answer` and `enqueue_sms` of one row, in one statement on PostgreSQL."""
    if conn.dialect.name != "postgresql":
        await save_answer(
            conn, scope=scope, key=key, status_code=status_code, response=response
        )
        await enqueue_sms(conn, [sms])
        return
    params = {f"o_{c}": sms[c] for c in OUTBOX_COLUMNS}
    params |= {"s": scope, "k": key, "code": status_code, "resp": response}
    await conn.execute(_ANSWER_AND_SMS_PG, params)


async def set_sms_body(conn: AsyncConnection, key: str, body: str) -> None:
    await conn.execute(_SET_BODY, {"k": key, "b": body})


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
    """A new shop; AlreadyExists when the phone is taken."""
    await _unused(conn, shops, shops.c.phone, phone, "a shop with this phone")
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
    """A new collector; AlreadyExists when the phone is taken."""
    await _unused(
        conn, collectors, collectors.c.phone, phone, "a collector with this phone"
    )
    return int(
        (
            await conn.execute(
                collectors.insert()
                .values(name=name, phone=phone, active=True, created_at=now)
                .returning(collectors.c.id)
            )
        ).scalar_one()
    )


async def _unused(
    conn: AsyncConnection, table: sa.Table, column: Any, value: object, what: str
) -> None:
    """Raise AlreadyExists when `column` already holds `value` (a race still ends at
    the unique constraint, and the bus's retry then lands here)."""
    if (await conn.execute(sa.select(table.c.id).where(column == value))).first():
        raise AlreadyExists(f"{what} already exists")


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

"""The ledger in SQL: transfers, holds that post or void once, balances, trial balance."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from service.ledger import accounts as acc
from service.ledger.postings import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransition,
    Transfer,
)
from service.persistence.tables import accounts, transfers

# Memo rows, not ledger accounts: the households' total (every household account's
# posted credits and debits, summed) kept in STRIPES rows, each moved in the same
# transaction as the household rows it mirrors. A household's movements land on
# stripe (household id mod STRIPES), so concurrent weighings rarely share a row.
#
# The outstanding-credit cap is enforced exactly with escrow: each stripe holds an
# allowance (in its credits_pending column) and the cap it was cut from (in
# debits_pending); the allowances add up to that cap. A credit that fits its
# stripe's allowance takes one conditional UPDATE of one row. One that does not
# locks every stripe in name order, checks the true total against the cap and
# shares out what is left. The sum over stripes therefore never passes the cap.
# Stripes are always updated after household rows ("household:" sorts before
# "liability:"), and last in their transaction, so lock order never cycles.
HOUSEHOLDS_TOTAL = "liability:households_total"
STRIPES = 8
STRIPE_NAMES = tuple(f"{HOUSEHOLDS_TOTAL}:{i}" for i in range(STRIPES))
NO_CAP = 2**62
_HOUSEHOLD_PREFIX = "household:"


def stripe_of(household: str) -> str:
    """The households' total stripe that a household's movements go to."""
    return STRIPE_NAMES[int(household.removeprefix(_HOUSEHOLD_PREFIX)) % STRIPES]


_n: Any = sa.bindparam("n")
_amt: Any = sa.bindparam("amt", type_=sa.BigInteger)
_available = (
    accounts.c.credits_posted - accounts.c.debits_posted - accounts.c.debits_pending
)
_BALANCE_COLUMNS = (
    accounts.c.credits_posted,
    accounts.c.debits_posted,
    accounts.c.debits_pending,
)


def _per_dialect(build: Any) -> dict[str, Any]:
    return {"postgresql": build(postgresql.insert), "sqlite": build(sqlite.insert)}


# Hot statements are built once, so SQLAlchemy only looks them up in its cache.
_ENSURE = _per_dialect(
    lambda ins: ins(accounts).on_conflict_do_nothing(index_elements=["name"])
)
_INSERT_TRANSFER = _per_dialect(
    lambda ins: (
        ins(transfers)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(transfers.c.id)
    )
)
_INSERT_TRANSFERS = transfers.insert().returning(
    transfers.c.id, sort_by_parameter_order=True
)
_TRANSFER_BY_KEY = sa.select(
    transfers.c.id, transfers.c.fingerprint, transfers.c.state
).where(transfers.c.key == sa.bindparam("key"))
_CREDIT = {
    column: accounts.update()
    .where(accounts.c.name == _n)
    .values({column: accounts.c[column] + _amt})
    .returning(*_BALANCE_COLUMNS)
    for column in ("credits_posted", "credits_pending")
}
_expense = accounts.alias("expense")


def _credit_upsert(ins: Any) -> Any:
    stmt = ins(accounts)
    return stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "credits_posted": accounts.c.credits_posted + stmt.excluded.credits_posted
        },
    ).returning(
        *_BALANCE_COLUMNS,
        sa.select(_expense.c.name)
        .where(_expense.c.name == acc.CREDIT_EXPENSE)
        .scalar_subquery()
        .label("expense"),
    )


# Create-or-credit a household, its new balance and whether the credit-expense
# account exists, in one round trip (that account is made only the first time).
_CREDIT_UPSERT = _per_dialect(_credit_upsert)
_DEBIT = {
    column: accounts.update()
    .where(accounts.c.name == _n, _available >= _amt)
    .values({column: accounts.c[column] + _amt})
    .returning(*_BALANCE_COLUMNS)
    for column in ("debits_posted", "debits_pending")
}
_CREDIT_MANY = (
    accounts.update()
    .where(accounts.c.name == _n)
    .values(credits_posted=accounts.c.credits_posted + _amt)
)
_BALANCES = sa.select(accounts.c.name, *_BALANCE_COLUMNS).where(
    accounts.c.name.in_(sa.bindparam("names", expanding=True))
)
_BALANCE = sa.select(*_BALANCE_COLUMNS).where(accounts.c.name == _n)
_credit_delta: Any = sa.bindparam("credit", type_=sa.BigInteger)
_debit_delta: Any = sa.bindparam("debit", type_=sa.BigInteger)
_cap: Any = sa.bindparam("cap", type_=sa.BigInteger)
_is_stripe = accounts.c.name.in_(STRIPE_NAMES)
# Fast path: fits this stripe's allowance, cut from the same cap.
_STRIPE_CREDIT = (
    accounts.update()
    .where(
        accounts.c.name == _n,
        accounts.c.debits_pending == _cap,
        accounts.c.credits_posted + _credit_delta - accounts.c.debits_posted
        <= accounts.c.credits_pending,
    )
    .values(credits_posted=accounts.c.credits_posted + _credit_delta)
)
_STRIPE_DEBIT = (
    accounts.update()
    .where(accounts.c.name == _n)
    .values(debits_posted=accounts.c.debits_posted + _debit_delta)
)
_LOCK_STRIPES = (
    sa.select(accounts.c.name, accounts.c.credits_posted, accounts.c.debits_posted)
    .where(_is_stripe)
    .order_by(accounts.c.name)
)
_SET_STRIPE = (
    accounts.update()
    .where(accounts.c.name == _n)
    .values(
        credits_posted=accounts.c.credits_posted + _credit_delta,
        credits_pending=sa.bindparam("allow", type_=sa.BigInteger),
        debits_pending=_cap,
    )
)
_TOTAL = sa.select(
    sa.func.sum(accounts.c.credits_posted), sa.func.sum(accounts.c.debits_posted)
).where(_is_stripe)
_LOCK_STRIPES_PG = _LOCK_STRIPES.with_for_update()
_is_household = accounts.c.name.like(_HOUSEHOLD_PREFIX + "%")
_HOUSEHOLD_SUMS = sa.select(
    sa.func.coalesce(sa.func.sum(accounts.c.credits_posted), 0),
    sa.func.coalesce(sa.func.sum(accounts.c.debits_posted), 0),
).where(_is_household)
_INSERT_STRIPES = _per_dialect(
    lambda ins: ins(accounts).on_conflict_do_nothing(index_elements=["name"])
)
_SETTLE = (
    transfers.update()
    .where(transfers.c.id == sa.bindparam("tid"), transfers.c.state == "pending")
    .values(state=sa.bindparam("outcome"), settled_at=sa.bindparam("at"))
    .returning(
        transfers.c.debit_account, transfers.c.credit_account, transfers.c.amount
    )
)
_STATE = sa.select(transfers.c.state).where(transfers.c.id == sa.bindparam("tid"))
_SETTLE_ACCOUNT = {
    (side, outcome): accounts.update()
    .where(accounts.c.name == _n)
    .values(
        {f"{side}_pending": accounts.c[f"{side}_pending"] - _amt}
        | (
            {f"{side}_posted": accounts.c[f"{side}_posted"] + _amt}
            if outcome == "posted"
            else {}
        )
    )
    for side in ("debits", "credits")
    for outcome in ("posted", "voided")
}
_DELETE_TRANSFER = transfers.delete().where(transfers.c.id == sa.bindparam("tid"))
_UNCREDIT = (
    accounts.update()
    .where(accounts.c.name == _n)
    .values(credits_posted=accounts.c.credits_posted - _amt)
)


def is_household(name: str) -> bool:
    return name.startswith(_HOUSEHOLD_PREFIX)


def account_row(name: str, now: datetime) -> dict[str, Any]:
    """A new account row (all balances zero) for ensuring it exists."""
    return {
        "name": name,
        "type": acc.type_of(name).value,
        "no_overdraft": acc.is_cached(name),
        "debits_posted": 0,
        "credits_posted": 0,
        "debits_pending": 0,
        "credits_pending": 0,
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class Balance:
    """A household's money: posted credit, held for redemptions, and what is left."""

    posted: int
    held: int

    @property
    def available(self) -> int:
        return self.posted - self.held


def _balance(row: Any) -> Balance:
    return Balance(row.credits_posted - row.debits_posted, row.debits_pending)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A transfer's id; `replayed` when the key had been used with the same content.

    `balance` is the household's balance right after a new transfer that moved it.
    """

    id: int
    replayed: bool
    state: str
    balance: Balance | None = None


@dataclass(frozen=True, slots=True)
class Credit:
    """One weighing credit for `Ledger.credit_many`."""

    key: str
    household: str
    amount: int
    fingerprint: str


class Ledger:
    """Ledger operations inside the caller's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def ensure_accounts(self, *names: str, now: datetime) -> None:
        await self.conn.execute(
            _ENSURE[self.conn.dialect.name],
            [account_row(name, now) for name in sorted(set(names))],
        )

    async def record(
        self,
        t: Transfer,
        *,
        now: datetime,
        pending: bool = False,
        timeout_at: datetime | None = None,
        reverses_id: int | None = None,
    ) -> Recorded:
        """Record a transfer once per key; raise InsufficientFunds if a no-overdraft
        account would go below zero, IdempotencyConflict if the key meant something else.
        """
        await self.ensure_accounts(t.debit, t.credit, now=now)
        fp = t.fingerprint(pending=pending)
        state = "pending" if pending else "posted"
        new_id = (
            await self.conn.execute(
                _INSERT_TRANSFER[self.conn.dialect.name],
                {
                    "key": t.key,
                    "fingerprint": fp,
                    "debit_account": t.debit,
                    "credit_account": t.credit,
                    "amount": t.amount,
                    "kind": t.kind,
                    "state": state,
                    "reverses_id": reverses_id,
                    "timeout_at": timeout_at,
                    "created_at": now,
                },
            )
        ).scalar_one_or_none()
        if new_id is None:
            row = (await self.conn.execute(_TRANSFER_BY_KEY, {"key": t.key})).one()
            if row.fingerprint != fp:
                raise IdempotencyConflict(
                    f"transfer key {t.key!r} was used for another transfer"
                )
            return Recorded(row.id, True, state=row.state)
        balance = None
        moved: Any
        # Lock rows in name order so two transfers never wait on each other in a cycle.
        for name in sorted((t.debit, t.credit)):
            if not acc.is_cached(name):
                continue
            if name == t.debit:
                column = "debits_pending" if pending else "debits_posted"
                moved = (
                    await self.conn.execute(
                        _DEBIT[column], {"n": name, "amt": t.amount}
                    )
                ).first()
                if moved is None:
                    raise InsufficientFunds(
                        f"{name} has less than {t.amount} kobo available"
                    )
            else:
                column = "credits_pending" if pending else "credits_posted"
                moved = (
                    await self.conn.execute(
                        _CREDIT[column], {"n": name, "amt": t.amount}
                    )
                ).one()
            if is_household(name):
                balance = _balance(moved)
        if not pending:
            await self._mirror(t.debit, t.credit, t.amount, now)
        return Recorded(int(new_id), False, state, balance)

    async def _mirror(
        self, debit: str, credit: str, amount: int, now: datetime
    ) -> None:
        """Keep the households' total in step with a posted movement (stripe order)."""
        moves = []
        if is_household(debit):
            moves.append((stripe_of(debit), debit, 0, amount))
        if is_household(credit):
            moves.append((stripe_of(credit), credit, amount, 0))
        for _, household, plus, minus in sorted(moves):
            await self.add_to_total(household, credit=plus, debit=minus, now=now)

    async def add_to_total(
        self,
        household: str,
        *,
        credit: int = 0,
        debit: int = 0,
        now: datetime,
        cap: int = NO_CAP,
    ) -> bool:
        """Mirror a household's posted change in the households' total; False (and
        nothing changed) when a credit would take the total past `cap`.

        Call it after the household row changed and as the transaction's last lock.
        """
        stripe = stripe_of(household)
        if not credit:
            params = {"n": stripe, "debit": debit}
            if (await self.conn.execute(_STRIPE_DEBIT, params)).rowcount == 1:
                return True
            await self._create_stripes(now, credit=0, debit=debit)
            return (await self.conn.execute(_STRIPE_DEBIT, params)).rowcount == 1
        if debit:
            raise ValueError("credit and debit the total in two calls")
        params = {"n": stripe, "credit": credit, "cap": cap}
        if (await self.conn.execute(_STRIPE_CREDIT, params)).rowcount == 1:
            return True
        return await self.add_many_to_total({household: credit}, now=now, cap=cap)

    async def add_many_to_total(
        self, credits: dict[str, int], *, now: datetime, cap: int
    ) -> bool:
        """The slow path, and the batch's only path: lock every stripe in name order,
        check the true total against `cap`, add `credits` (household -> kobo) and
        share what is left of the cap out as new allowances; False if past the cap."""
        rows = (await self._lock_stripes()).all()
        if len(rows) < STRIPES:
            await self._create_stripes(now, credit=sum(credits.values()), debit=0)
            rows = (await self._lock_stripes()).all()
        total = sum(r.credits_posted - r.debits_posted for r in rows)
        adding = sum(credits.values())
        if total + adding > cap:
            return False
        per_stripe = dict.fromkeys(STRIPE_NAMES, 0)
        for household, amount in credits.items():
            per_stripe[stripe_of(household)] += amount
        share, extra = divmod(cap - total - adding, STRIPES)
        await self.conn.execute(
            _SET_STRIPE,
            [
                {
                    "n": r.name,
                    "credit": per_stripe[r.name],
                    "allow": r.credits_posted
                    + per_stripe[r.name]
                    - r.debits_posted
                    + share
                    + (extra if i == 0 else 0),
                    "cap": cap,
                }
                for i, r in enumerate(rows)
            ],
        )
        return True

    async def _lock_stripes(self) -> Any:
        stmt = _LOCK_STRIPES
        if self.conn.dialect.name == "postgresql":
            stmt = _LOCK_STRIPES_PG
        return await self.conn.execute(stmt)

    async def _create_stripes(self, now: datetime, *, credit: int, debit: int) -> None:
        """First movement on this database: build the stripes from the household
        rows, less this transaction's own change (the caller applies it next)."""
        credits, debits = (await self.conn.execute(_HOUSEHOLD_SUMS)).one()
        rows = [
            account_row(name, now) | {"no_overdraft": False} for name in STRIPE_NAMES
        ]
        rows[0]["credits_posted"] = int(credits) - credit
        rows[0]["debits_posted"] = int(debits) - debit
        await self.conn.execute(_INSERT_STRIPES[self.conn.dialect.name], rows)

    async def households_total(self) -> tuple[int, int] | None:
        """All households' posted (credits, debits), or None before the first credit."""
        credits, debits = (await self.conn.execute(_TOTAL)).one()
        return None if credits is None else (int(credits), int(debits))

    async def credit_household(
        self,
        *,
        key: str,
        household: str,
        amount: int,
        fingerprint: str,
        kind: str,
        now: datetime,
    ) -> tuple[int, Balance]:
        """A new posted credit from the credit-expense account (no key replay: the
        caller owns a fresh key); the households' total is left to the caller."""
        new = account_row(household, now) | {"credits_posted": amount}
        row = (
            await self.conn.execute(_CREDIT_UPSERT[self.conn.dialect.name], new)
        ).one()
        if row.expense is None:
            await self.ensure_accounts(acc.CREDIT_EXPENSE, now=now)
        transfer_id = (
            await self.conn.execute(
                _INSERT_TRANSFER[self.conn.dialect.name],
                {
                    "key": key,
                    "fingerprint": fingerprint,
                    "debit_account": acc.CREDIT_EXPENSE,
                    "credit_account": household,
                    "amount": amount,
                    "kind": kind,
                    "state": "posted",
                    "reverses_id": None,
                    "timeout_at": None,
                    "created_at": now,
                },
            )
        ).scalar_one()
        return int(transfer_id), _balance(row)

    async def undo_credit(self, transfer_id: int, household: str, amount: int) -> None:
        """Take back a credit made earlier in this same, uncommitted transaction.

        Nobody else can have seen it (the household row is still locked by us), so
        this is not an edit of history: the transaction commits as if it never was.
        """
        await self.conn.execute(_DELETE_TRANSFER, {"tid": transfer_id})
        await self.conn.execute(_UNCREDIT, {"n": household, "amt": amount})

    async def credit_many(
        self, credits: Sequence[Credit], *, kind: str, now: datetime
    ) -> tuple[list[int], dict[str, Balance]]:
        """New posted credits in a fixed number of statements: transfer ids in order,
        and each household's balance after all of them. The total is the caller's."""
        if not credits:
            return [], {}
        names = sorted({c.household for c in credits})
        await self.conn.execute(
            _ENSURE[self.conn.dialect.name],
            [account_row(n, now) for n in sorted({*names, acc.CREDIT_EXPENSE})],
        )
        per_account: dict[str, int] = {}
        for c in credits:
            per_account[c.household] = per_account.get(c.household, 0) + c.amount
        # executemany in name order: the same lock order as every other transaction.
        await self.conn.execute(
            _CREDIT_MANY, [{"n": n, "amt": per_account[n]} for n in names]
        )
        ids = (
            await self.conn.execute(
                _INSERT_TRANSFERS,
                [
                    {
                        "key": c.key,
                        "fingerprint": c.fingerprint,
                        "debit_account": acc.CREDIT_EXPENSE,
                        "credit_account": c.household,
                        "amount": c.amount,
                        "kind": kind,
                        "state": "posted",
                        "reverses_id": None,
                        "timeout_at": None,
                        "created_at": now,
                    }
                    for c in credits
                ],
            )
        ).scalars()
        balances = await self.balances(names)
        return [int(i) for i in ids], balances

    async def balances(self, names: Iterable[str]) -> dict[str, Balance]:
        rows = (await self.conn.execute(_BALANCES, {"names": list(names)})).all()
        return {r.name: _balance(r) for r in rows}

    async def settle(self, transfer_id: int, outcome: str, now: datetime) -> bool:
        """Post or void a pending transfer; True if this call did it, False if it was
        already settled the same way; InvalidTransition if it went the other way."""
        if outcome not in ("posted", "voided"):
            raise ValueError("outcome is posted or voided")
        row = (
            await self.conn.execute(
                _SETTLE, {"tid": transfer_id, "outcome": outcome, "at": now}
            )
        ).first()
        if row is None:
            current = (
                await self.conn.execute(_STATE, {"tid": transfer_id})
            ).scalar_one_or_none()
            if current == outcome:
                return False
            raise InvalidTransition(
                f"transfer {transfer_id} is {current}, cannot be {outcome}"
            )
        for name in sorted((row.debit_account, row.credit_account)):
            if not acc.is_cached(name):
                continue
            side = "debits" if name == row.debit_account else "credits"
            await self.conn.execute(
                _SETTLE_ACCOUNT[(side, outcome)], {"n": name, "amt": row.amount}
            )
        if outcome == "posted":
            await self._mirror(row.debit_account, row.credit_account, row.amount, now)
        return True

    async def balance(self, account: str) -> Balance:
        """Posted and held amounts of a liability account (household or shop)."""
        row = (await self.conn.execute(_BALANCE, {"n": account})).first()
        if row is None:
            return Balance(0, 0)
        return _balance(row)


async def trial_balance(conn: AsyncConnection) -> list[tuple[str, str, int]]:
    """(account, type, signed balance) from posted transfers: debit-normal positive."""
    debits = sa.select(
        transfers.c.debit_account.label("account"), transfers.c.amount.label("signed")
    ).where(transfers.c.state == "posted")
    credits = sa.select(
        transfers.c.credit_account.label("account"),
        (-transfers.c.amount).label("signed"),
    ).where(transfers.c.state == "posted")
    moves = sa.union_all(debits, credits).subquery()
    stmt = (
        sa.select(
            accounts.c.name,
            accounts.c.type,
            sa.func.coalesce(sa.func.sum(moves.c.signed), 0),
        )
        .select_from(accounts.outerjoin(moves, moves.c.account == accounts.c.name))
        .where(accounts.c.name.notin_(STRIPE_NAMES))
        .group_by(accounts.c.name, accounts.c.type)
        .order_by(accounts.c.name)
    )
    return [(r[0], r[1], int(r[2])) for r in (await conn.execute(stmt)).all()]


async def cached_balances_agree(conn: AsyncConnection) -> list[str]:
    """Accounts whose cached balance row differs from the sum of their transfers,
    and a households' total that differs from the sum over household rows."""
    problems = []
    sums: dict[tuple[str, str], int] = {}
    for side, column in (
        ("debits", transfers.c.debit_account),
        ("credits", transfers.c.credit_account),
    ):
        rows = await conn.execute(
            sa.select(column, transfers.c.state, sa.func.sum(transfers.c.amount))
            .where(transfers.c.state.in_(("posted", "pending")))
            .group_by(column, transfers.c.state)
        )
        for name, state, total in rows:
            sums[(name, f"{side}_{state}")] = int(total)
    household_sums = {"credits_posted": 0, "debits_posted": 0}
    stripe_sums = {"credits_posted": 0, "debits_posted": 0}
    stripes = 0
    for row in (await conn.execute(sa.select(accounts))).all():
        if row.name in STRIPE_NAMES:
            stripes += 1
            for column in stripe_sums:
                stripe_sums[column] += getattr(row, column)
            continue
        if not acc.is_cached(row.name):
            continue
        if is_household(row.name):
            household_sums["credits_posted"] += row.credits_posted
            household_sums["debits_posted"] += row.debits_posted
        for column in (
            "debits_posted",
            "debits_pending",
            "credits_posted",
            "credits_pending",
        ):
            expected = sums.get((row.name, column), 0)
            if getattr(row, column) != expected:
                problems.append(
                    f"{row.name}.{column}={getattr(row, column)} but transfers say {expected}"
                )
    if stripes not in (0, STRIPES):
        problems.append(f"{stripes} of {STRIPES} households' total stripes exist")
    if stripes and stripe_sums != household_sums:
        problems.append(
            f"households' total {stripe_sums} but household rows say {household_sums}"
        )
    if not stripes and any(household_sums.values()):
        problems.append("the households' total is missing while households hold credit")
    return problems

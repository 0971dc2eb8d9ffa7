"""The ledger in SQL: transfers, holds that post or void once, balances, trial balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service.ledger import accounts as acc
from service.ledger.postings import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransition,
    Transfer,
)
from service.persistence.repositories import insert_for
from service.persistence.tables import accounts, transfers


@dataclass(frozen=True, slots=True)
class Recorded:
    """A transfer's id; `replayed` when the key had been used with the same content."""

    id: int
    replayed: bool
    state: str


@dataclass(frozen=True, slots=True)
class Balance:
    """A household's money: posted credit, held for redemptions, and what is left."""

    posted: int
    held: int

    @property
    def available(self) -> int:
        return self.posted - self.held


class Ledger:
    """Ledger operations inside the caller's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def ensure_accounts(self, *names: str, now: datetime) -> None:
        rows = [
            {
                "name": name,
                "type": acc.type_of(name).value,
                "no_overdraft": acc.is_cached(name),
                "created_at": now,
            }
            for name in sorted(set(names))
        ]
        await self.conn.execute(
            insert_for(self.conn, accounts)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["name"])
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
                insert_for(self.conn, transfers)
                .values(
                    key=t.key,
                    fingerprint=fp,
                    debit_account=t.debit,
                    credit_account=t.credit,
                    amount=t.amount,
                    kind=t.kind,
                    state=state,
                    reverses_id=reverses_id,
                    timeout_at=timeout_at,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(transfers.c.id)
            )
        ).scalar_one_or_none()
        if new_id is None:
            row = (
                await self.conn.execute(
                    sa.select(
                        transfers.c.id, transfers.c.fingerprint, transfers.c.state
                    ).where(transfers.c.key == t.key)
                )
            ).one()
            if row.fingerprint != fp:
                raise IdempotencyConflict(
                    f"transfer key {t.key!r} was used for another transfer"
                )
            return Recorded(row.id, True, row.state)
        # Lock rows in name order so two transfers never wait on each other in a cycle.
        for name in sorted((t.debit, t.credit)):
            if not acc.is_cached(name):
                continue
            if name == t.debit:
                await self._debit(name, t.amount, pending=pending)
            else:
                column = "credits_pending" if pending else "credits_posted"
                await self.conn.execute(
                    accounts.update()
                    .where(accounts.c.name == name)
                    .values({column: accounts.c[column] + t.amount})
                )
        return Recorded(int(new_id), False, state)

    async def _debit(self, name: str, amount: int, *, pending: bool) -> None:
        column = "debits_pending" if pending else "debits_posted"
        available = (
            accounts.c.credits_posted
            - accounts.c.debits_posted
            - accounts.c.debits_pending
        )
        result = await self.conn.execute(
            accounts.update()
            .where(accounts.c.name == name, available >= amount)
            .values({column: accounts.c[column] + amount})
        )
        if result.rowcount != 1:
            raise InsufficientFunds(f"{name} has less than {amount} kobo available")

    async def settle(self, transfer_id: int, outcome: str, now: datetime) -> bool:
        """Post or void a pending transfer; True if this call did it, False if it was
        already settled the same way; InvalidTransition if it went the other way."""
        if outcome not in ("posted", "voided"):
            raise ValueError("outcome is posted or voided")
        row = (
            await self.conn.execute(
                transfers.update()
                .where(transfers.c.id == transfer_id, transfers.c.state == "pending")
                .values(state=outcome, settled_at=now)
                .returning(
                    transfers.c.debit_account,
                    transfers.c.credit_account,
                    transfers.c.amount,
                )
            )
        ).first()
        if row is None:
            current = (
                await self.conn.execute(
                    sa.select(transfers.c.state).where(transfers.c.id == transfer_id)
                )
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
            values = {f"{side}_pending": accounts.c[f"{side}_pending"] - row.amount}
            if outcome == "posted":
                values[f"{side}_posted"] = accounts.c[f"{side}_posted"] + row.amount
            await self.conn.execute(
                accounts.update().where(accounts.c.name == name).values(values)
            )
        return True

    async def balance(self, account: str) -> Balance:
        """Posted and held amounts of a liability account (household or shop)."""
        row = (
            await self.conn.execute(
                sa.select(
                    accounts.c.credits_posted,
                    accounts.c.debits_posted,
                    accounts.c.debits_pending,
                ).where(accounts.c.name == account)
            )
        ).first()
        if row is None:
            return Balance(0, 0)
        return Balance(row.credits_posted - row.debits_posted, row.debits_pending)


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
        .group_by(accounts.c.name, accounts.c.type)
        .order_by(accounts.c.name)
    )
    return [(r[0], r[1], int(r[2])) for r in (await conn.execute(stmt)).all()]


async def cached_balances_agree(conn: AsyncConnection) -> list[str]:
    """Accounts whose cached balance row differs from the sum of their transfers."""
    problems = []
    rows = (await conn.execute(sa.select(accounts))).all()
    for row in rows:
        if not acc.is_cached(row.name):
            continue
        sums = {}
        for side, column in (
            ("debits", transfers.c.debit_account),
            ("credits", transfers.c.credit_account),
        ):
            for state in ("posted", "pending"):
                total = (
                    await conn.execute(
                        sa.select(
                            sa.func.coalesce(sa.func.sum(transfers.c.amount), 0)
                        ).where(column == row.name, transfers.c.state == state)
                    )
                ).scalar_one()
                sums[f"{side}_{state}"] = int(total)
        for column, expected in sums.items():
            if getattr(row, column) != expected:
                problems.append(
                    f"{row.name}.{column}={getattr(row, column)} but transfers say {expected}"
                )
    return problems

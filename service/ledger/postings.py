"""Money as integers: transfers, credit for a weighing, and request fingerprints (pure)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NewType

Kobo = NewType("Kobo", int)


class LedgerError(Exception):
    """Base for ledger refusals."""


class InsufficientFunds(LedgerError):
    """The debit would take an account below zero."""


class IdempotencyConflict(LedgerError):
    """The same key was used before with different content."""


class InvalidTransition(LedgerError):
    """A pending transfer was already posted or voided the other way."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """One balanced movement of `amount` from `credit` to `debit`.

    Every transfer debits `debit` and credits `credit` by the same positive amount,
    so the ledger balances by construction.
    """

    key: str
    debit: str
    credit: str
    amount: Kobo
    kind: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("amounts are integers in kobo")
        if self.amount <= 0:
            raise ValueError("a transfer moves a positive amount")
        if self.debit == self.credit:
            raise ValueError("a transfer needs two different accounts")
        if not self.key or len(self.key) > 120:
            raise ValueError("a transfer needs an idempotency key of 1-120 characters")

    def fingerprint(self, *, pending: bool = False) -> str:
        return fingerprint(
            {
                "debit": self.debit,
                "credit": self.credit,
                "amount": self.amount,
                "kind": self.kind,
                "pending": pending,
            }
        )


def fingerprint(content: Mapping[str, Any] | Sequence[Any]) -> str:
    """A stable hash of a request's content, to tell a replay from a reused key."""
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def credit_for(items: Sequence[tuple[int, int]]) -> Kobo:
    """Credit for weighed items given as (grams, kobo per kg), rounded half up once.

    Integer arithmetic throughout: 2.5 kg of PET at 5,000 kobo/kg is
    2500 * 5000 / 1000 = 12,500 kobo exactly; fractions of a kobo are rounded once,
    on the total, so splitting a bag into two lines never changes the credit.
    """
    milli_kobo = sum(grams * rate for grams, rate in items)
    if milli_kobo < 0:
        raise ValueError("weights and rates are never negative")
    return Kobo((milli_kobo + 500) // 1000)

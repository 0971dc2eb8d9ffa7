"""Ledger accounts: names, types and which side is normal."""

from __future__ import annotations

from enum import StrEnum


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    EXPENSE = "expense"
    REVENUE = "revenue"


DEBIT_NORMAL = frozenset({AccountType.ASSET, AccountType.EXPENSE})

# Credit given to households for what they hand in: the programme's cost.
CREDIT_EXPENSE = "expense:household_credit"
# Money the programme put in (funds the provider floats).
PROGRAMME_FUNDING = "equity:programme_funding"
# Vouchers issued to households and not yet claimed by a shop.
VOUCHERS_OUTSTANDING = "liability:vouchers_outstanding"


def household(household_id: int) -> str:
    """What we owe one household (a liability; it can never go below zero)."""
    return f"household:{household_id}"


def shop(shop_id: int) -> str:
    """What we owe a partner shop for vouchers it has claimed."""
    return f"shop:{shop_id}"


def provider_float(provider: str) -> str:
    """Money held at a payout provider (an asset that payouts draw down)."""
    return f"float:{provider}"


def type_of(account: str) -> AccountType:
    """The type of an account from its name."""
    prefix = account.split(":", 1)[0]
    return {
        "household": AccountType.LIABILITY,
        "shop": AccountType.LIABILITY,
        "liability": AccountType.LIABILITY,
        "float": AccountType.ASSET,
        "asset": AccountType.ASSET,
        "expense": AccountType.EXPENSE,
        "equity": AccountType.EQUITY,
        "revenue": AccountType.REVENUE,
    }[prefix]


def is_cached(account: str) -> bool:
    """Households and shops keep a balance row (with the no-overdraft check);
    system accounts are summed from transfers so no single row becomes a hot lock."""
    return account.startswith(("household:", "shop:"))

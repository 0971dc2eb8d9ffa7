"""Provider statement rows against our payouts: every difference, by category (pure)."""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CATEGORIES",
    "LEDGER_STATUSES",
    "SANDBOX_HEADER",
    "STATEMENT_STATUSES",
    "LedgerPayout",
    "Report",
    "StatementError",
    "StatementRow",
    "parse_sandbox_statement",
    "reconcile",
    "render_text",
]

SANDBOX_HEADER = ("reference", "amount_kobo", "currency", "status", "completed_at")
LEDGER_STATUSES = frozenset({"held", "submitted", "succeeded", "failed", "released"})
STATEMENT_STATUSES = frozenset({"succeeded", "failed"})
# Payouts that reached the provider, so its statement must list them.
SENT_STATUSES = frozenset({"submitted", "succeeded", "failed"})
# Report order; also the keys of Report.to_json() besides "matched" and "totals".
CATEGORIES = (
    "missing_in_ledger",
    "missing_in_statement",
    "amount_mismatch",
    "duplicate_reference",
    "status_mismatch",
)
SHOWN_PER_CATEGORY = 20

_DIGITS = re.compile(r"[0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")


class StatementError(ValueError):
    """A statement file that cannot be read; the message names the line."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class LedgerPayout:
    """One of our payouts as the ledger sees it, keyed by the provider reference."""

    reference: str
    amount_kobo: int
    status: str  # held | submitted | succeeded | failed | released

    def __post_init__(self) -> None:
        if self.status not in LEDGER_STATUSES:
            raise ValueError(f"unknown payout status {self.status!r}")


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One line of a provider statement, with its line number in the file."""

    reference: str
    amount_kobo: int
    currency: str
    status: str  # succeeded | failed
    completed_at: str
    line: int

    def __post_init__(self) -> None:
        if self.status not in STATEMENT_STATUSES:
            raise ValueError(f"unknown statement status {self.status!r}")


@dataclass(frozen=True, slots=True)
class Report:
    """What a reconciliation found: sorted references per category, and totals in kobo."""

    matched: int
    missing_in_ledger: list[str]
    missing_in_statement: list[str]
    amount_mismatch: list[str]
    duplicate_reference: list[str]
    status_mismatch: list[str]
    totals: dict[str, int]

    @property
    def has_differences(self) -> bool:
        """True when any category lists a reference (the CLI then exits 1)."""
        return any(self.category(name) for name in CATEGORIES)

    def category(self, name: str) -> list[str]:
        """The references in one category, by its name in CATEGORIES.

        Parameters
        ----------
        name
            One of CATEGORIES, e.g. ``"amount_mismatch"``.

        Returns
        -------
        list[str]
            The sorted references in that category.
        """
        if name not in CATEGORIES:
            raise KeyError(name)
        found: list[str] = getattr(self, name)
        return found

    def to_json(self) -> dict[str, Any]:
        """The report in the shape DESIGN.md gives for ``recoop reconcile --json``.

        Returns
        -------
        dict
            ``matched``, one list per category, and a ``totals`` object in kobo.
        """
        body: dict[str, Any] = {"matched": self.matched}
        body.update({name: list(self.category(name)) for name in CATEGORIES})
        body["totals"] = dict(self.totals)
        return body


def parse_sandbox_statement(text: str) -> list[StatementRow]:
    """Read a sandbox provider statement (CSV) into rows.

    The header must be exactly ``reference,amount_kobo,currency,status,completed_at``.
    A byte-order mark, CRLF line ends and blank lines are tolerated; status and
    currency are case-insensitive and surrounding spaces are ignored.

    Parameters
    ----------
    text
        The whole file, decoded.

    Returns
    -------
    list[StatementRow]
        One row per data line, in file order, each with its 1-based line number.

    Raises
    ------
    StatementError
        For a wrong header, a wrong number of fields, an empty reference, an amount
        that is not a non-negative whole number of kobo, a malformed currency code or
        a status other than ``succeeded`` or ``failed``. The message names the line.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise StatementError("line 1: the statement is empty (no header)", line=1)
    header = tuple(field.strip() for field in next(csv.reader([lines[0]])))
    if header != SANDBOX_HEADER:
        raise StatementError(
            f"line 1: expected the header {','.join(SANDBOX_HEADER)!r}, "
            f"got {lines[0]!r}",
            line=1,
        )
    rows: list[StatementRow] = []
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            rows.append(_statement_row(line, number))
    return rows


def _statement_row(line: str, number: int) -> StatementRow:
    """One data line of a sandbox statement, checked field by field."""

    def fail(message: str) -> StatementError:
        return StatementError(f"line {number}: {message}", line=number)

    fields = [field.strip() for field in next(csv.reader([line]))]
    if len(fields) != len(SANDBOX_HEADER):
        raise fail(f"expected {len(SANDBOX_HEADER)} fields, got {len(fields)}")
    reference, amount, currency, status, completed_at = fields
    if not reference:
        raise fail("the reference is empty")
    if not _DIGITS.fullmatch(amount):
        raise fail(f"amount_kobo {amount!r} is not a non-negative whole number of kobo")
    currency = currency.upper()
    if not _CURRENCY.fullmatch(currency):
        raise fail(f"currency {currency!r} is not a three-letter code such as NGN")
    status = status.lower()
    if status not in STATEMENT_STATUSES:
        raise fail(f"status {status!r} is not 'succeeded' or 'failed'")
    return StatementRow(reference, int(amount), currency, status, completed_at, number)


def reconcile(
    statement: Sequence[StatementRow],
    payouts: Sequence[LedgerPayout],
    *,
    currency: str = "NGN",
) -> Report:
    """Match statement rows against our payouts and sort every difference.

    Each statement reference lands in exactly one place, in this order of precedence:
    ``duplicate_reference`` (it appears on more than one row; none of its rows is
    matched), ``missing_in_ledger`` (not one of our payouts), ``amount_mismatch``
    (another amount, or another currency), ``status_mismatch`` (same amount, but our
    status is not the statement's: ``submitted``, ``held`` or ``released`` never agree
    with a final status), or matched. A payout of ours that reached the provider
    (``submitted``, ``succeeded`` or ``failed``) but is on no row is
    ``missing_in_statement``; ``held`` and ``released`` payouts never reached the
    provider and are not expected.

    Parameters
    ----------
    statement
        The provider's rows, e.g. from `parse_sandbox_statement`.
    payouts
        Our payouts with that provider; references must be unique.
    currency
        The currency our amounts are in.

    Returns
    -------
    Report
        Counts, sorted references per category and totals. ``totals`` counts money
        that moved: ``statement_kobo`` sums the statement's succeeded rows (twice for
        a duplicated one), ``ledger_kobo`` our succeeded payouts, ``matched_kobo`` the
        matched succeeded rows, and ``difference_kobo`` is statement minus ledger.
        ``statement_rows`` is the number of rows read.

    Raises
    ------
    ValueError
        If two of our payouts share a reference.
    """
    ours = {payout.reference: payout for payout in payouts}
    if len(ours) != len(payouts):
        twice = sorted(
            r for r, n in Counter(p.reference for p in payouts).items() if n > 1
        )
        raise ValueError(f"payout references are not unique: {twice[:5]}")
    rows_per_reference = Counter(row.reference for row in statement)
    found: dict[str, set[str]] = {name: set() for name in CATEGORIES}
    matched = matched_kobo = 0
    for row in statement:
        payout = ours.get(row.reference)
        if rows_per_reference[row.reference] > 1:
            found["duplicate_reference"].add(row.reference)
        elif payout is None:
            found["missing_in_ledger"].add(row.reference)
        elif row.amount_kobo != payout.amount_kobo or row.currency != currency:
            found["amount_mismatch"].add(row.reference)
        elif row.status != payout.status:
            found["status_mismatch"].add(row.reference)
        else:
            matched += 1
            if row.status == "succeeded":
                matched_kobo += row.amount_kobo
    found["missing_in_statement"] = {
        payout.reference
        for payout in payouts
        if payout.status in SENT_STATUSES and payout.reference not in rows_per_reference
    }
    statement_kobo = sum(r.amount_kobo for r in statement if r.status == "succeeded")
    ledger_kobo = sum(p.amount_kobo for p in payouts if p.status == "succeeded")
    return Report(
        matched=matched,
        missing_in_ledger=sorted(found["missing_in_ledger"]),
        missing_in_statement=sorted(found["missing_in_statement"]),
        amount_mismatch=sorted(found["amount_mismatch"]),
        duplicate_reference=sorted(found["duplicate_reference"]),
        status_mismatch=sorted(found["status_mismatch"]),
        totals={
            "statement_rows": len(statement),
            "statement_kobo": statement_kobo,
            "ledger_kobo": ledger_kobo,
            "matched_kobo": matched_kobo,
            "difference_kobo": statement_kobo - ledger_kobo,
        },
    )


def render_text(report: Report, *, shown: int = SHOWN_PER_CATEGORY) -> str:
    """A short human summary of a report, for the terminal.

    Parameters
    ----------
    report
        What `reconcile` returned.
    shown
        How many references to list per category before "... and N more".

    Returns
    -------
    str
        Counts, totals in naira and the references per category, newline-terminated.
    """
    totals = report.totals
    differences = sum(len(report.category(name)) for name in CATEGORIES)
    verdict = f"{differences} differences" if differences else "no differences"
    lines = [
        f"Reconciliation: {report.matched} matched, {verdict}",
        f"  statement (succeeded)  {_naira(totals['statement_kobo'])}",
        f"  ledger (succeeded)     {_naira(totals['ledger_kobo'])}",
        f"  matched                {_naira(totals['matched_kobo'])}",
        f"  difference             {_naira(totals['difference_kobo'])}",
    ]
    for name in CATEGORIES:
        references = report.category(name)
        lines.append(f"{name.replace('_', ' ')}: {len(references)}")
        lines.extend(f"  {reference}" for reference in references[:shown])
        if len(references) > shown:
            lines.append(f"  ... and {len(references) - shown} more")
    return "\n".join(lines) + "\n"


def _naira(kobo: int) -> str:
    """Kobo as naira with two decimals: 123456 -> "N1,234.56", -5 -> "-N0.05"."""
    sign = "-" if kobo < 0 else ""
    naira, rest = divmod(abs(kobo), 100)
    return f"{sign}N{naira:,}.{rest:02d}"

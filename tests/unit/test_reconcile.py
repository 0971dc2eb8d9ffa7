"""Reconciliation: statement parsing, each difference category, and planted defects."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ledger.reconcile import (
    CATEGORIES,
    SANDBOX_HEADER,
    LedgerPayout,
    Report,
    StatementError,
    StatementRow,
    parse_sandbox_statement,
    reconcile,
    render_text,
)

HEADER = ",".join(SANDBOX_HEADER)
WHEN = "2024-12-03T10:15:00Z"


def row(
    reference: str,
    amount_kobo: int = 50_000,
    status: str = "succeeded",
    *,
    currency: str = "NGN",
    line: int = 2,
) -> StatementRow:
    """A statement row with sensible defaults."""
    return StatementRow(reference, amount_kobo, currency, status, WHEN, line)


def payout(
    reference: str, amount_kobo: int = 50_000, status: str = "succeeded"
) -> LedgerPayout:
    """One of our payouts with sensible defaults."""
    return LedgerPayout(reference, amount_kobo, status)


def differences(report: Report) -> dict[str, list[str]]:
    """The non-empty categories of a report."""
    return {name: report.category(name) for name in CATEGORIES if report.category(name)}


def to_csv(rows: list[StatementRow], *, bom: bool = False, newline: str = "\n") -> str:
    """A sandbox statement file holding `rows`."""
    lines = [HEADER] + [
        f"{r.reference},{r.amount_kobo},{r.currency},{r.status},{r.completed_at}"
        for r in rows
    ]
    return ("\ufeff" if bom else "") + newline.join(lines) + newline


# --- parsing -------------------------------------------------------------------------


def test_parse_reads_rows_with_line_numbers() -> None:
    """Each data line becomes a row carrying its 1-based line number in the file."""
    text = (
        f"{HEADER}\nPAY-1,50000,NGN,succeeded,{WHEN}\nPAY-2,120050,NGN,failed,{WHEN}\n"
    )
    assert parse_sandbox_statement(text) == [
        StatementRow("PAY-1", 50_000, "NGN", "succeeded", WHEN, 2),
        StatementRow("PAY-2", 120_050, "NGN", "failed", WHEN, 3),
    ]


def test_parse_tolerates_bom_crlf_spaces_case_and_trailing_blank_lines() -> None:
    """A BOM, CRLF, padded fields, upper-case status and trailing blank lines are fine."""
    text = (
        f"\ufeff{HEADER}\r\n PAY-1 , 50000 , ngn , SUCCEEDED , {WHEN}\r\n"
        f"PAY-2,0,NGN,Failed,\r\n\r\n  \r\n"
    )
    assert parse_sandbox_statement(text) == [
        StatementRow("PAY-1", 50_000, "NGN", "succeeded", WHEN, 2),
        StatementRow("PAY-2", 0, "NGN", "failed", "", 3),
    ]


def test_parse_header_only_is_an_empty_statement() -> None:
    """A statement with no payouts is valid and has no rows."""
    assert parse_sandbox_statement(HEADER + "\r\n") == []


def test_parse_reads_quoted_fields() -> None:
    """Fields may be quoted as CSV allows."""
    text = f'{HEADER}\n"PAY,1","50000",NGN,succeeded,"{WHEN}"\n'
    assert parse_sandbox_statement(text)[0].reference == "PAY,1"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty"),
        ("\ufeff\r\n\r\n", 1, "empty"),
        ("reference,amount,currency,status,completed_at\n", 1, "header"),
        ("reference,amount_kobo,currency,status\n", 1, "header"),
        ("completed_at,reference,amount_kobo,currency,status\n", 1, "header"),
        (f"{HEADER}\nPAY-1,12.50,NGN,succeeded,{WHEN}\n", 2, "'12.50'"),
        (
            f"{HEADER}\nPAY-1,50000,NGN,succeeded,{WHEN}\nPAY-2,-100,NGN,failed,\n",
            3,
            "'-100'",
        ),
        (f"{HEADER}\nPAY-1,,NGN,succeeded,{WHEN}\n", 2, "amount_kobo"),
        (f"{HEADER}\nPAY-1,1e3,NGN,succeeded,{WHEN}\n", 2, "'1e3'"),
        (f"{HEADER}\nPAY-1,500,NGN,pending,{WHEN}\n", 2, "'pending'"),
        (f"{HEADER}\nPAY-1,500,NGN,{WHEN}\n", 2, "5 fields"),
        (f"{HEADER}\nPAY-1,500,NGN,failed,{WHEN},extra\n", 2, "5 fields"),
        (f"{HEADER}\n,500,NGN,failed,{WHEN}\n", 2, "reference"),
        (f"{HEADER}\nPAY-1,500,naira,failed,{WHEN}\n", 2, "currency"),
        (f"{HEADER}\n\nPAY-1,500,NGN,failed,{WHEN}\nPAY-2,5x,NGN,failed,\n", 4, "'5x'"),
    ],
)
def test_parse_errors_name_the_line(text: str, line: int, words: str) -> None:
    """Every unreadable statement raises StatementError naming the line and the problem."""
    with pytest.raises(StatementError) as caught:
        parse_sandbox_statement(text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    assert words in str(caught.value)


def test_statement_types_reject_unknown_statuses() -> None:
    """Neither side can be built with a status outside its vocabulary."""
    with pytest.raises(ValueError, match="payout status"):
        payout("PAY-1", status="pending")
    with pytest.raises(ValueError, match="statement status"):
        row("PAY-1", status="submitted")


# --- each category by hand -----------------------------------------------------------


def test_agreeing_rows_are_matched() -> None:
    """Succeeded agrees with succeeded and failed with failed: both are matched."""
    report = reconcile(
        [row("A", 100), row("B", 200, "failed")],
        [payout("A", 100), payout("B", 200, "failed")],
    )
    assert report.matched == 2
    assert not report.has_differences
    assert report.totals == {
        "statement_rows": 2,
        "statement_kobo": 100,
        "ledger_kobo": 100,
        "matched_kobo": 100,
        "difference_kobo": 0,
    }


def test_a_reference_we_never_made_is_missing_in_ledger() -> None:
    """A statement row whose reference is not one of our payouts is missing in the ledger."""
    report = reconcile([row("A"), row("ZZZ", 7_000)], [payout("A")])
    assert report.matched == 1
    assert differences(report) == {"missing_in_ledger": ["ZZZ"]}
    assert report.totals["difference_kobo"] == 7_000


@pytest.mark.parametrize("status", ["submitted", "succeeded", "failed"])
def test_a_sent_payout_absent_from_the_statement_is_missing(status: str) -> None:
    """A payout that reached the provider but is on no row is missing in the statement."""
    report = reconcile([row("A")], [payout("A"), payout("B", status=status)])
    assert differences(report) == {"missing_in_statement": ["B"]}


@pytest.mark.parametrize("status", ["held", "released"])
def test_held_and_released_payouts_are_not_expected(status: str) -> None:
    """Held and released payouts never reached the provider, so their absence is fine."""
    report = reconcile([row("A")], [payout("A"), payout("B", status=status)])
    assert report.matched == 1
    assert not report.has_differences


def test_another_amount_is_an_amount_mismatch() -> None:
    """Same reference, another amount: an amount mismatch, whatever the statuses."""
    report = reconcile(
        [row("A", 50_001), row("B", 10, "failed")],
        [payout("A", 50_000), payout("B", 20, "succeeded")],
    )
    assert report.matched == 0
    assert differences(report) == {"amount_mismatch": ["A", "B"]}


def test_another_currency_is_an_amount_mismatch() -> None:
    """The same number in another currency is not the same amount."""
    report = reconcile([row("A", currency="USD")], [payout("A")])
    assert differences(report) == {"amount_mismatch": ["A"]}


def test_a_reference_twice_is_a_duplicate_and_never_matched() -> None:
    """A reference on two rows is a duplicate; neither row counts as matched."""
    report = reconcile(
        [row("A"), row("A", line=3), row("B")],
        [payout("A"), payout("B")],
    )
    assert report.matched == 1
    assert differences(report) == {"duplicate_reference": ["A"]}
    assert report.totals["statement_kobo"] == 150_000
    assert report.totals["difference_kobo"] == 50_000  # the provider paid A twice


def test_a_duplicate_is_reported_only_as_a_duplicate() -> None:
    """A duplicated reference lands in duplicate_reference alone, even if foreign or off."""
    report = reconcile(
        [row("X"), row("X", 9), row("A", 1), row("A", 2, "failed"), row("A", 3)],
        [payout("A", 1)],
    )
    assert report.matched == 0
    assert differences(report) == {"duplicate_reference": ["A", "X"]}


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("succeeded", "failed"),
        ("failed", "succeeded"),
        ("submitted", "succeeded"),
        ("submitted", "failed"),
        ("held", "succeeded"),  # the provider paid what we think never left
        ("released", "failed"),
    ],
)
def test_same_amount_other_status_is_a_status_mismatch(ours: str, theirs: str) -> None:
    """Same reference and amount with a status that disagrees is a status mismatch."""
    report = reconcile([row("A", status=theirs)], [payout("A", status=ours)])
    assert report.matched == 0
    assert differences(report) == {"status_mismatch": ["A"]}


def test_lists_are_sorted_and_each_reference_appears_once() -> None:
    """Category lists are sorted, and a reference is listed once however many rows."""
    report = reconcile(
        [row("c"), row("a"), row("b"), row("b"), row("b")],
        [payout("c", 1), payout("a", 1), payout("b")],
    )
    assert report.amount_mismatch == ["a", "c"]
    assert report.duplicate_reference == ["b"]


def test_our_references_must_be_unique() -> None:
    """Two payouts of ours with one reference is a ledger fault, not a statement finding."""
    with pytest.raises(ValueError, match="not unique"):
        reconcile([], [payout("A"), payout("A", 1)])


def test_to_json_has_exactly_the_design_shape_plus_totals() -> None:
    """to_json gives DESIGN.md's keys and a totals object, nothing else."""
    report = reconcile(
        [
            row("A"),
            row("B", 1),
            row("F"),
            row("D"),
            row("D"),
            row("S", status="failed"),
        ],
        [payout("A"), payout("B"), payout("M"), payout("D"), payout("S")],
    )
    assert report.to_json() == {
        "matched": 1,
        "missing_in_ledger": ["F"],
        "missing_in_statement": ["M"],
        "amount_mismatch": ["B"],
        "duplicate_reference": ["D"],
        "status_mismatch": ["S"],
        "totals": {
            "statement_rows": 6,
            "statement_kobo": 200_001,
            "ledger_kobo": 250_000,
            "matched_kobo": 50_000,
            "difference_kobo": -49_999,
        },
    }
    assert report.has_differences


def test_render_text_shows_counts_naira_and_references() -> None:
    """The text report gives counts, naira with kobo and the references per category."""
    report = reconcile(
        [row("A", 123_456), row("B", 99, "failed"), row("X", 5)],
        [payout("A", 123_456), payout("B", 99, "succeeded")],
    )
    text = render_text(report)
    assert text.startswith("Reconciliation: 1 matched, 2 differences\n")
    assert "statement (succeeded)  N1,234.61\n" in text
    assert "ledger (succeeded)     N1,235.55\n" in text
    assert "matched                N1,234.56\n" in text
    assert "difference             -N0.94\n" in text
    assert "missing in ledger: 1\n  X\n" in text
    assert "status mismatch: 1\n  B\n" in text
    assert "amount mismatch: 0\n" in text


def test_render_text_lists_twenty_then_counts_the_rest() -> None:
    """Past twenty references a category says how many more there are."""
    foreign = [row(f"F{i:02d}", 100) for i in range(23)]
    text = render_text(reconcile(foreign, []))
    assert "missing in ledger: 23\n" in text
    assert "  F19\n  ... and 3 more\n" in text
    assert "F20" not in text


def test_render_text_when_all_agree() -> None:
    """A clean report says so."""
    text = render_text(reconcile([row("A")], [payout("A")]))
    assert text.startswith("Reconciliation: 1 matched, no differences\n")


# --- planted defects -----------------------------------------------------------------

PLANTABLE = (
    "drop_row",  # -> missing_in_statement
    "foreign_row",  # -> missing_in_ledger
    "change_amount",  # -> amount_mismatch
    "flip_status",  # -> status_mismatch
    "duplicate_row",  # -> duplicate_reference
    "ours_still_submitted",  # -> status_mismatch
)
EXPECTED_CATEGORY = {
    "drop_row": "missing_in_statement",
    "foreign_row": "missing_in_ledger",
    "change_amount": "amount_mismatch",
    "flip_status": "status_mismatch",
    "duplicate_row": "duplicate_reference",
    "ours_still_submitted": "status_mismatch",
}
FLIP = {"succeeded": "failed", "failed": "succeeded"}


@dataclass
class World:
    """A statement and ledger built to agree, with defects planted and remembered."""

    statement: list[StatementRow]
    payouts: list[LedgerPayout]
    expected: dict[str, set[str]]  # category -> the references planted there
    untouched: int  # statement rows left as they agree with the ledger


def make_world(rng: random.Random, n: int, plant: Mapping[str, int]) -> World:
    """`n` agreeing payouts and rows, then `plant[kind]` defects of each kind.

    Each defect is planted on its own reference, so each planted reference belongs
    in exactly one category. Held and released payouts are added too: never sent,
    they must not be reported.
    """
    references = [f"RCP-{i:06d}-{rng.getrandbits(32):08x}" for i in range(n)]
    payouts = {
        r: LedgerPayout(
            r,
            rng.randrange(5_000, 5_000_000),
            rng.choice(("succeeded",) * 9 + ("failed",)),
        )
        for r in references
    }
    rows = {
        r: StatementRow(r, p.amount_kobo, "NGN", p.status, WHEN, 0)
        for r, p in payouts.items()
    }
    unsent = [
        LedgerPayout(
            f"HOLD-{i:05d}",
            rng.randrange(5_000, 100_000),
            rng.choice(("held", "released")),
        )
        for i in range(n // 20)
    ]
    internal = [kind for kind in PLANTABLE if kind != "foreign_row"]
    victims = iter(rng.sample(references, sum(plant.get(k, 0) for k in internal)))
    expected: dict[str, set[str]] = {name: set() for name in CATEGORIES}
    extra: list[StatementRow] = []
    for kind in internal:
        for _ in range(plant.get(kind, 0)):
            r = next(victims)
            expected[EXPECTED_CATEGORY[kind]].add(r)
            if kind == "drop_row":
                del rows[r]
                if rng.random() < 0.3:  # sent, and still waiting for its answer
                    payouts[r] = replace(payouts[r], status="submitted")
            elif kind == "change_amount":
                delta = rng.choice((-1, 1)) * rng.randrange(1, 4_000)
                rows[r] = replace(rows[r], amount_kobo=rows[r].amount_kobo + delta)
            elif kind == "flip_status":
                rows[r] = replace(rows[r], status=FLIP[rows[r].status])
            elif kind == "duplicate_row":
                again = rows[r]
                if rng.random() < 0.5:  # sometimes the copy differs, too
                    again = replace(again, amount_kobo=again.amount_kobo + 100)
                extra.append(again)
            elif kind == "ours_still_submitted":
                payouts[r] = replace(payouts[r], status="submitted")
    for i in range(plant.get("foreign_row", 0)):
        r = f"ALIEN-{i:05d}-{rng.getrandbits(32):08x}"
        expected["missing_in_ledger"].add(r)
        extra.append(
            StatementRow(r, rng.randrange(1, 900_000), "NGN", "succeeded", WHEN, 0)
        )
    statement = list(rows.values()) + extra
    rng.shuffle(statement)
    statement = [replace(s, line=i) for i, s in enumerate(statement, start=2)]
    all_payouts = list(payouts.values()) + unsent
    rng.shuffle(all_payouts)
    touched = sum(plant.get(k, 0) for k in internal) - plant.get("drop_row", 0)
    return World(statement, all_payouts, expected, untouched=len(rows) - touched)


def assert_found_exactly(report: Report, world: World) -> None:
    """Each category equals its planted set, and matched counts the untouched rows."""
    for name in CATEGORIES:
        assert set(report.category(name)) == world.expected[name], name
    assert report.matched == world.untouched


def test_planted_defects_in_ten_thousand_rows_are_all_found() -> None:
    """Every defect planted in a 10,000-payout statement is found, with no false positive."""
    plant = {
        "drop_row": 37,
        "foreign_row": 41,
        "change_amount": 53,
        "flip_status": 29,
        "duplicate_row": 31,
        "ours_still_submitted": 23,
    }
    world = make_world(random.Random(20241203), 10_000, plant)
    text = to_csv(world.statement, bom=True, newline="\r\n")
    statement = parse_sandbox_statement(text)
    assert statement == world.statement
    report = reconcile(statement, world.payouts)
    assert_found_exactly(report, world)
    assert report.matched == 10_000 - 37 - 53 - 29 - 31 - 23
    assert len(report.missing_in_statement) == 37
    assert len(report.missing_in_ledger) == 41
    assert len(report.status_mismatch) == 29 + 23
    totals = report.totals
    assert totals["statement_rows"] == 10_000 - 37 + 41 + 31
    assert totals["difference_kobo"] == totals["statement_kobo"] - totals["ledger_kobo"]
    assert render_text(report).count("... and") == len(CATEGORIES)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 80))
def test_consistent_data_matches_every_row(seed: int, n: int) -> None:
    """When statement and ledger agree, every row is matched and every list is empty."""
    world = make_world(random.Random(seed), n, {})
    report = reconcile(world.statement, world.payouts)
    assert report.matched == len(world.statement) == n
    assert not report.has_differences
    assert report.totals["difference_kobo"] == 0
    assert report.totals["matched_kobo"] == report.totals["statement_kobo"]


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 80),
    counts=st.lists(
        st.integers(0, 6), min_size=len(PLANTABLE), max_size=len(PLANTABLE)
    ),
)
def test_every_planted_reference_lands_in_exactly_one_category(
    seed: int, n: int, counts: list[int]
) -> None:
    """Random planted defects are all found, each in exactly one category, and no others."""
    plant = dict(zip(PLANTABLE, counts, strict=True))
    budget = n  # internal defects each need their own payout
    for kind in PLANTABLE:
        if kind != "foreign_row":
            plant[kind] = min(plant[kind], budget)
            budget -= plant[kind]
    world = make_world(random.Random(seed), n, plant)
    report = reconcile(world.statement, world.payouts)
    assert_found_exactly(report, world)
    seen = Counter(r for name in CATEGORIES for r in report.category(name))
    planted = set().union(*world.expected.values())
    assert set(seen) == planted
    assert all(times == 1 for times in seen.values())


_refs = st.sampled_from(["A", "B", "C", "D", "E", "F"])


@given(
    rows=st.lists(
        st.builds(
            row, _refs, st.integers(0, 3), st.sampled_from(["succeeded", "failed"])
        ),
        max_size=12,
    ),
    ours=st.dictionaries(
        _refs,
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(["held", "submitted", "succeeded", "failed", "released"]),
        ),
    ),
)
def test_any_input_is_partitioned(
    rows: list[StatementRow], ours: dict[str, tuple[int, str]]
) -> None:
    """For any input, each reference is in at most one category and matched rows are the rest."""
    payouts = [payout(r, amount, status) for r, (amount, status) in ours.items()]
    report = reconcile(rows, payouts)
    seen = Counter(r for name in CATEGORIES for r in report.category(name))
    assert all(times == 1 for times in seen.values())
    statement_refs = {r.reference for r in rows}
    unmatched = statement_refs & set(seen)
    assert report.matched == len(statement_refs - unmatched)
    assert set(report.missing_in_statement).isdisjoint(statement_refs)
    for name in CATEGORIES:
        assert report.category(name) == sorted(report.category(name))

"""The payout state machine: held -> submitted -> succeeded | failed; held -> released."""

from __future__ import annotations

from service.ledger.postings import InvalidTransition

# status -> the statuses it may move to
TRANSITIONS: dict[str, frozenset[str]] = {
    "held": frozenset({"submitted", "failed", "released", "succeeded"}),
    "submitted": frozenset({"succeeded", "failed", "held", "released"}),
    "succeeded": frozenset(),
    "failed": frozenset(),
    "released": frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# What each terminal status does to the pending transfer behind the payout.
SETTLES_AS = {"succeeded": "posted", "failed": "voided", "released": "voided"}


def check(current: str, new: str) -> None:
    """Raise InvalidTransition unless a payout may move from `current` to `new`."""
    if new not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"a payout cannot go from {current} to {new}")


def is_terminal(status: str) -> bool:
    return status in TERMINAL

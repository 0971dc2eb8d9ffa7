"""A statement built from a provider's own status API, for providers that publish no
statement file format (MTN MoMo, Africa's Talking airtime).

Each payout we sent is looked up with the provider's published status call (MoMo's
GET /disbursement/v1_0/transfer/{referenceId}, Africa's Talking's airtime status
query). What the provider reports as final (succeeded or failed, with its amount)
becomes a statement row; a payout it never received or has not finished is left
off, so the reconciliation lists it as missing from the statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from service.gateways import GatewayError, PayoutProvider
from service.ledger.reconcile import StatementRow

SENT = frozenset({"submitted", "succeeded", "failed"})


@dataclass(frozen=True, slots=True)
class SentPayout:
    reference: str
    amount_kobo: int
    status: str
    provider_txn: str | None


@dataclass(frozen=True, slots=True)
class ProviderStatement:
    rows: list[StatementRow]
    not_final: list[str]  # the provider still says pending
    unknown: list[str]  # the provider never received it
    unreachable: list[str]  # the status call failed; try again later


async def statement_from_provider(
    provider: PayoutProvider,
    payouts: Sequence[SentPayout],
    *,
    currency: str,
    concurrency: int = 8,
) -> ProviderStatement:
    """Ask `provider` about every payout that reached it; a bounded number at once."""
    gate = asyncio.Semaphore(concurrency)
    sent = [p for p in payouts if p.status in SENT]

    async def ask(payout: SentPayout) -> tuple[SentPayout, object]:
        async with gate:
            try:
                return payout, await provider.status(
                    payout.reference, payout.provider_txn
                )
            except GatewayError as exc:
                return payout, exc

    answers = await asyncio.gather(*(ask(p) for p in sent))
    rows: list[StatementRow] = []
    not_final: list[str] = []
    unknown: list[str] = []
    unreachable: list[str] = []
    for line, (payout, answer) in enumerate(answers, start=1):
        if isinstance(answer, GatewayError):
            unreachable.append(payout.reference)
            continue
        state = getattr(answer, "state", "unknown")
        if state in ("succeeded", "failed"):
            amount = getattr(answer, "amount_kobo", None)
            rows.append(
                StatementRow(
                    reference=payout.reference,
                    amount_kobo=payout.amount_kobo if amount is None else int(amount),
                    currency=currency,
                    status=state,
                    completed_at="",
                    line=line,
                )
            )
        elif state == "pending":
            not_final.append(payout.reference)
        else:
            unknown.append(payout.reference)
    return ProviderStatement(
        rows, sorted(not_final), sorted(unknown), sorted(unreachable)
    )

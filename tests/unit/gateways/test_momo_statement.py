"""Reconciling MoMo payouts from MoMo's own status API (it publishes no statement file)."""

from __future__ import annotations

from typing import Any

import httpx
import respx

from service.ledger.reconcile import LedgerPayout, reconcile
from service.provider_statement import SentPayout, statement_from_provider
from tests.unit.gateways.test_momo_payouts import (
    TOKEN_URL,
    TRANSFER_URL,
    make_provider,
    token_answer,
)


def answer(reference: str, status: str, amount: str, **extra: Any) -> dict[str, Any]:
    """MoMo's TransferResult for one of our references (amount in naira)."""
    return extra | {
        "amount": amount,
        "currency": "NGN",
        "externalId": reference,
        "payee": {"partyIdType": "MSISDN", "partyId": "2348031234567"},
        "status": status,
    }


async def test_statement_from_momo_finds_every_kind_of_difference() -> None:
    router = respx.Router(assert_all_called=False)
    router.post(TOKEN_URL).respond(200, json=token_answer())
    refs = {name: f"{name}-0000-4000-8000-000000000000" for name in "abcdefg"}
    router.get(f"{TRANSFER_URL}/{refs['a']}").respond(
        200, json=answer(refs["a"], "SUCCESSFUL", "500")
    )
    router.get(f"{TRANSFER_URL}/{refs['b']}").respond(  # pays less than we booked
        200, json=answer(refs["b"], "SUCCESSFUL", "450")
    )
    router.get(f"{TRANSFER_URL}/{refs['c']}").respond(  # we think it succeeded
        200,
        json=answer(
            refs["c"],
            "FAILED",
            "300",
            reason={"code": "PAYEE_NOT_FOUND", "message": "Payee not found"},
        ),
    )
    router.get(f"{TRANSFER_URL}/{refs['d']}").respond(404, json={})  # never received
    router.get(f"{TRANSFER_URL}/{refs['e']}").respond(
        200, json=answer(refs["e"], "PENDING", "100")
    )
    router.get(f"{TRANSFER_URL}/{refs['f']}").respond(503)  # try again later
    # refs["g"] is still held: never sent, so the provider is not asked.
    ledger = [
        SentPayout(refs["a"], 50_000, "succeeded", None),
        SentPayout(refs["b"], 50_000, "succeeded", None),
        SentPayout(refs["c"], 30_000, "succeeded", None),
        SentPayout(refs["d"], 20_000, "submitted", None),
        SentPayout(refs["e"], 10_000, "submitted", None),
        SentPayout(refs["f"], 10_000, "succeeded", None),
        SentPayout(refs["g"], 10_000, "held", None),
    ]
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(router.async_handler)
    ) as client:
        statement = await statement_from_provider(
            make_provider(client), ledger, currency="NGN"
        )
    assert [r.reference for r in statement.rows] == [refs["a"], refs["b"], refs["c"]]
    assert statement.unknown == [refs["d"]]
    assert statement.not_final == [refs["e"]]
    assert statement.unreachable == [refs["f"]]
    assert not any(refs["g"] in str(call.request.url) for call in router.calls)

    report = reconcile(
        statement.rows,
        [LedgerPayout(p.reference, p.amount_kobo, p.status) for p in ledger],
    )
    assert report.matched == 1
    assert report.amount_mismatch == [refs["b"]]
    assert report.status_mismatch == [refs["c"]]
    assert report.missing_in_statement == sorted([refs["d"], refs["e"], refs["f"]])
    assert report.missing_in_ledger == []

"""The money path over HTTP: weigh, credit, redeem through the sandbox, reconcile."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta
from typing import Any

import pytest

from service.domain.commands import (
    CreateApiToken,
    RegisterCollector,
    RegisterShop,
    SetRate,
)
from service.gateways.sandbox_payouts import SandboxPayouts
from tests.builders import random_phone


@pytest.fixture
async def operator(deps: Any) -> dict[str, str]:
    """Headers with an operator token."""
    token = await deps.bus.handle(CreateApiToken("operator", "ops"))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def collector(deps: Any) -> dict[str, str]:
    """Headers with a collector token."""
    token = await deps.bus.handle(CreateApiToken("collector", "bike-1"))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def rates(deps: Any, clock: Any) -> None:
    """PET at N50/kg and ALU at N120/kg from last week."""
    day = clock.today() - timedelta(days=7)
    await deps.bus.handle(SetRate("PET", 5000, day))
    await deps.bus.handle(SetRate("ALU", 12000, day))


@pytest.fixture
def sandbox(deps: Any, client: Any) -> SandboxPayouts:
    """The sandbox provider, calling back into the test app, with no randomness."""
    sb = deps.payouts["sandbox"]
    assert isinstance(sb, SandboxPayouts)

    async def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
        resp = await client.post(
            "/webhooks/payouts/sandbox", data=body, headers=headers
        )
        return resp.status

    sb.deliver = deliver
    sb.failure_rate = sb.lost_callback_rate = sb.timeout_rate = 0.0
    sb.max_settle_s = 0.0
    sb.rng = random.Random(4)
    return sb


async def household_with_pickup(text: Any, deps: Any) -> tuple[str, str, int]:
    phone = random_phone()
    await text("JOIN Ada Obi, Tejuosho Market", phone)
    await text("PICKUP", phone)
    page = await deps.views.pickups(status="open", limit=10000)
    pickup = next(p for p in page.items if p["phone"] == phone)
    return phone, pickup["code"], pickup["household_id"]


def weighing(
    code: str, clock: Any, key: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "pickup_code": code,
        "items": [{"material": "PET", "kg": 2.5}, {"material": "alu", "kg": "0.4"}],
        "collected_at": clock.now().isoformat(),
        "lat": 6.5063,
        "lon": 3.3726,
        "idempotency_key": key or str(uuid.uuid4()),
        **extra,
    }


async def test_weighing_credits_and_sends_receipt(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    operator: Any,
    fake_sms: Any,
) -> None:
    """2.5 kg PET + 0.4 kg ALU = N125 + N48 credited at once, receipt by SMS."""
    phone, code, household_id = await household_with_pickup(text, deps)
    resp = await client.post(
        "/api/v1/collections", json=weighing(code, clock), headers=collector
    )
    assert resp.status == 201
    body = await resp.json()
    assert (
        body["credited_kobo"] == 12500 + 4800 and body["household_id"] == household_id
    )
    balance = await (
        await client.get(f"/api/v1/households/{household_id}/balance", headers=operator)
    ).json()
    assert balance == {
        "household_id": household_id,
        "posted_kobo": 17300,
        "held_kobo": 0,
        "available_kobo": 17300,
    }
    await deps.dispatcher.run_once()
    [receipt] = fake_sms.to(phone)
    assert "2.9 kg" in receipt and "N173" in receipt
    assert (await deps.views.pickups(status="done")).items[0]["code"] == code
    tb = await (
        await client.get("/api/v1/ledger/trial-balance", headers=operator)
    ).json()
    assert tb["total_kobo"] == 0
    assert {
        "account": f"household:{household_id}",
        "type": "liability",
        "balance_kobo": -17300,
    } in tb["accounts"]


async def test_same_key_replays_other_body_conflicts(
    client: Any, text: Any, deps: Any, clock: Any, rates: None, collector: Any
) -> None:
    """The same key and body gets the same answer; the same key with another body is 409."""
    _, code, _ = await household_with_pickup(text, deps)
    body = weighing(code, clock, key="k-1")
    first = await client.post("/api/v1/collections", json=body, headers=collector)
    again = await client.post("/api/v1/collections", json=body, headers=collector)
    assert (first.status, await first.json()) == (again.status, await again.json())
    other = {**body, "items": [{"material": "PET", "kg": 9}]}
    resp = await client.post("/api/v1/collections", json=other, headers=collector)
    assert (
        resp.status == 409
        and (await resp.json())["error"]["code"] == "idempotency_conflict"
    )
    assert (await deps.money.money_summary())["weighings"] == 1


async def test_concurrent_retries_credit_once(
    client: Any, text: Any, deps: Any, clock: Any, rates: None, collector: Any
) -> None:
    """The same collection sent 10 times at once credits once, and all get one answer."""
    _, code, household_id = await household_with_pickup(text, deps)
    body = weighing(code, clock, key="retry-me")
    responses = await asyncio.gather(
        *[
            client.post("/api/v1/collections", json=body, headers=collector)
            for _ in range(10)
        ]
    )
    answers = [(r.status, await r.json()) for r in responses]
    assert {str(a) for a in answers} == {str(answers[0])} and answers[0][0] == 201
    assert (await deps.money.balance(household_id))["posted_kobo"] == 17300


async def test_rate_in_force_when_weighed(
    client: Any, text: Any, deps: Any, clock: Any, collector: Any, operator: Any
) -> None:
    """A weighing is credited at the rate version in force on its date."""
    today = clock.today()
    for day, rate in [
        (today - timedelta(days=10), 4000),
        (today - timedelta(days=2), 6000),
        (today + timedelta(days=1), 9000),
    ]:
        resp = await client.put(
            "/api/v1/rates",
            json={
                "material": "PET",
                "kobo_per_kg": rate,
                "effective_from": day.isoformat(),
            },
            headers=operator,
        )
        assert resp.status == 200
    # Replacing the same (material, date) replaces only that version.
    await client.put(
        "/api/v1/rates",
        json={
            "material": "PET",
            "kobo_per_kg": 5000,
            "effective_from": (today - timedelta(days=2)).isoformat(),
        },
        headers=operator,
    )
    assert (
        len(
            (await (await client.get("/api/v1/rates", headers=operator)).json())[
                "items"
            ]
        )
        == 3
    )
    _, code, _ = await household_with_pickup(text, deps)
    body = weighing(code, clock, items=[{"material": "PET", "kg": 1.333}])
    assert (
        await (
            await client.post("/api/v1/collections", json=body, headers=collector)
        ).json()
    )["credited_kobo"] == 6665
    _, code2, _ = await household_with_pickup(text, deps)
    past = weighing(
        code2,
        clock,
        items=[{"material": "PET", "kg": 1}],
        collected_at=(clock.now() - timedelta(days=5)).isoformat(),
    )
    assert (
        await (
            await client.post("/api/v1/collections", json=past, headers=collector)
        ).json()
    )["credited_kobo"] == 4000


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"pickup_code": "ZZZZ"}, 404, "not_found"),
        ({"items": []}, 400, "invalid_body"),
        ({"items": [{"material": "GOLD", "kg": 1}]}, 400, "invalid_body"),
        ({"items": [{"material": "PET", "kg": -1}]}, 400, "invalid_body"),
        ({"items": [{"material": "PET", "kg": "1.0001"}]}, 400, "invalid_body"),
        ({"items": [{"material": "PET", "kg": "NaN"}]}, 400, "invalid_body"),
        ({"collected_at": "2026-11-23T09:00:00"}, 400, "invalid_body"),
        ({"collected_at": "yesterday"}, 400, "invalid_body"),
        ({"idempotency_key": ""}, 400, "invalid_body"),
        ({"lat": 123}, 400, "invalid_body"),
        (
            {"items": [{"material": "GLASS", "kg": 1}]},
            400,
            "invalid_body",
        ),  # no rate for GLASS
    ],
)
async def test_bad_weighings_get_json_4xx(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    """Bad weighings are refused with a JSON 4xx and change nothing."""
    _, pickup_code, household_id = await household_with_pickup(text, deps)
    resp = await client.post(
        "/api/v1/collections",
        json={**weighing(pickup_code, clock), **change},
        headers=collector,
    )
    assert resp.status == status
    assert (await resp.json())["error"]["code"] == code
    assert (await deps.money.balance(household_id))["posted_kobo"] == 0


async def test_second_weighing_of_a_pickup_is_refused(
    client: Any, text: Any, deps: Any, clock: Any, rates: None, collector: Any
) -> None:
    """A pickup is weighed once; another key for it is 409 already_collected."""
    _, code, _ = await household_with_pickup(text, deps)
    assert (
        await client.post(
            "/api/v1/collections", json=weighing(code, clock), headers=collector
        )
    ).status == 201
    resp = await client.post(
        "/api/v1/collections", json=weighing(code, clock), headers=collector
    )
    assert (
        resp.status == 409
        and (await resp.json())["error"]["code"] == "already_collected"
    )


async def test_outstanding_credit_cap_records_without_crediting(
    settings: Any, clock: Any, database: Any, fake_sms: Any, aiohttp_client: Any
) -> None:
    """Past the outstanding-credit cap the weighing is recorded, not credited, and the household told."""
    from service.app import create_app
    from service.bootstrap import build
    from tests.conftest import BASE_URL, extract_message, sms_form, twilio_signature

    tight = settings.model_copy(update={"outstanding_credit_cap_kobo": 10000})
    deps = build(tight, clock=clock, sms=fake_sms, db=database, background=[])
    app = create_app(deps)
    app.cleanup_ctx.clear()
    client = await aiohttp_client(app)

    async def text(body: str, phone: str) -> str | None:
        form = sms_form(body, phone)
        sig = twilio_signature(BASE_URL + "/webhooks/twilio/sms", form)
        resp = await client.post(
            "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": sig}
        )
        return extract_message(await resp.text())

    await deps.bus.handle(SetRate("PET", 5000, clock.today()))
    token = await deps.bus.handle(CreateApiToken("collector", "c"))
    phone, code, household_id = await household_with_pickup(text, deps)
    resp = await client.post(
        "/api/v1/collections",
        json=weighing(code, clock, items=[{"material": "PET", "kg": 3}]),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (await resp.json())["status"] == "capped"
    assert (await deps.money.balance(household_id))["posted_kobo"] == 0
    await deps.dispatcher.run_once()
    assert "paused" in fake_sms.to(phone)[0]


async def test_collector_logs_by_sms(
    text: Any, deps: Any, clock: Any, rates: None
) -> None:
    """A registered collector's LOG credits the household; others are refused."""
    _, code, household_id = await household_with_pickup(text, deps)
    _, reply = await text(f"LOG {code} PET 2.5 ALU 0.4", random_phone())
    assert "collector" in reply.lower()
    collector_phone = random_phone()
    await deps.bus.handle(RegisterCollector("Musa", collector_phone))
    _, reply = await text(f"log {code} pet 2,5 alu 0.4", collector_phone)
    assert "N173" in reply and code in reply
    assert (await deps.money.balance(household_id))["posted_kobo"] == 17300
    _, reply = await text(f"LOG {code} PET 1", collector_phone)
    assert "already" in reply.lower()


async def credited(
    text: Any, deps: Any, client: Any, clock: Any, collector: Any, kg: float = 20
) -> tuple[str, int]:
    """A household with kg of PET credited (N50/kg)."""
    phone, code, household_id = await household_with_pickup(text, deps)
    body = weighing(code, clock, items=[{"material": "PET", "kg": kg}])
    assert (
        await client.post("/api/v1/collections", json=body, headers=collector)
    ).status == 201
    return phone, household_id


async def test_airtime_redemption_end_to_end(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    sandbox: SandboxPayouts,
    fake_sms: Any,
    operator: Any,
) -> None:
    """AIRTIME 500: held, submitted once, settled by callback, posted; SMS at each end."""
    phone, household_id = await credited(text, deps, client, clock, collector)  # N1,000
    _, reply = await text("AIRTIME 500", phone)
    assert "N500" in reply and "N500" in reply.split("Balance")[-1]
    assert (await deps.money.balance(household_id)) == {
        "household_id": household_id,
        "posted_kobo": 100000,
        "held_kobo": 50000,
        "available_kobo": 50000,
    }
    [payout] = (await deps.money.payouts()).items
    assert (payout["status"], payout["kind"], payout["amount_kobo"]) == (
        "held",
        "airtime",
        50000,
    )
    await deps.payout_dispatcher.submit_due()
    await sandbox.settle_due()
    [payout] = (await deps.money.payouts()).items
    assert payout["status"] == "succeeded"
    assert sandbox.creates == {payout["reference"]: 1}
    assert (await deps.money.balance(household_id))["posted_kobo"] == 50000
    resp = await client.get("/api/v1/payouts?status=succeeded", headers=operator)
    assert [p["reference"] for p in (await resp.json())["items"]] == [
        payout["reference"]
    ]
    await deps.dispatcher.run_once()
    assert any("has been paid" in m for m in fake_sms.to(phone))


async def test_failed_cashout_returns_funds_at_once(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    sandbox: SandboxPayouts,
    fake_sms: Any,
) -> None:
    """A failed mobile-money payout voids the hold and says airtime is an option."""
    sandbox.failure_rate = 1.0
    phone, household_id = await credited(text, deps, client, clock, collector)
    await text("CASHOUT 1,000", phone)
    await deps.payout_dispatcher.submit_due()
    await sandbox.settle_due()
    assert (await deps.money.payouts()).items[0]["status"] == "failed"
    assert (await deps.money.balance(household_id))["available_kobo"] == 100000
    await deps.dispatcher.run_once()
    assert any("AIRTIME" in m and "back" in m for m in fake_sms.to(phone))


async def test_lost_callback_is_resolved_by_the_poller(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    sandbox: SandboxPayouts,
) -> None:
    """When the callback never comes, polling settles the payout exactly once."""
    sandbox.lost_callback_rate = 1.0
    phone, household_id = await credited(text, deps, client, clock, collector)
    await text("AIRTIME 500", phone)
    await deps.payout_dispatcher.submit_due()
    await sandbox.settle_due()
    assert (await deps.money.payouts()).items[0]["status"] == "submitted"
    clock.advance(seconds=20)
    assert await deps.payout_dispatcher.poll_due() == 1
    assert (await deps.money.payouts()).items[0]["status"] == "succeeded"
    assert (await deps.money.balance(household_id))["posted_kobo"] == 50000


async def test_ambiguous_timeout_is_resolved_by_status_not_a_second_create(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    sandbox: SandboxPayouts,
) -> None:
    """A submit that times out after the provider recorded it is asked about, never re-sent."""
    sandbox.timeout_rate = 1.0
    sandbox.lost_callback_rate = 1.0
    phone, _ = await credited(text, deps, client, clock, collector)
    await text("AIRTIME 500", phone)
    await deps.payout_dispatcher.submit_due()
    [payout] = (await deps.money.payouts()).items
    assert payout["status"] == "submitted"
    await sandbox.settle_due()
    clock.advance(seconds=20)
    await deps.payout_dispatcher.poll_due()
    assert (await deps.money.payouts()).items[0]["status"] == "succeeded"
    assert sandbox.creates == {payout["reference"]: 1}


async def test_insufficient_and_minimum_get_clean_replies(
    client: Any, text: Any, deps: Any, clock: Any, rates: None, collector: Any
) -> None:
    """Too much, too little, or not registered: a clear SMS and no payout."""
    phone, _ = await credited(text, deps, client, clock, collector, kg=2)  # N100
    _, reply = await text("AIRTIME 500", phone)
    assert "N100" in reply and "not enough" in reply
    _, reply = await text("AIRTIME 10", phone)
    assert "N50" in reply
    _, reply = await text("AIRTIME 500", random_phone())
    assert "JOIN" in reply
    assert (await deps.money.payouts()).items == []


async def test_two_hundred_concurrent_redemptions_of_one(
    settings: Any, clock: Any, database: Any, fake_sms: Any, aiohttp_client: Any
) -> None:
    """Balance N100 and 200 concurrent AIRTIME 1: exactly 100 held, none below zero, clean refusals."""
    from service.app import create_app
    from service.bootstrap import build
    from tests.conftest import BASE_URL, extract_message, sms_form, twilio_signature

    loose = settings.model_copy(
        update={"min_redemption_kobo": 100, "inbound_per_number_per_hour": 1000}
    )
    deps = build(loose, clock=clock, sms=fake_sms, db=database, background=[])
    app = create_app(deps)
    app.cleanup_ctx.clear()
    client = await aiohttp_client(app)

    async def text(body: str, phone: str) -> str | None:
        form = sms_form(body, phone)
        sig = twilio_signature(BASE_URL + "/webhooks/twilio/sms", form)
        resp = await client.post(
            "/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": sig}
        )
        assert resp.status == 200
        return extract_message(await resp.text())

    await deps.bus.handle(SetRate("PET", 5000, clock.today()))
    token = await deps.bus.handle(CreateApiToken("collector", "c"))
    phone, household_id = await credited(
        text, deps, client, clock, {"Authorization": f"Bearer {token}"}, kg=2
    )
    replies = await asyncio.gather(*[text("AIRTIME 1", phone) for _ in range(200)])
    assert sum("on its way" in r for r in replies) == 100
    assert sum("not enough" in r for r in replies) == 100
    balance = await deps.money.balance(household_id)
    assert balance["available_kobo"] == 0 and balance["held_kobo"] == 10000
    assert len((await deps.money.payouts(limit=1000)).items) == 100


async def test_callback_and_poller_race_settles_once(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    sandbox: SandboxPayouts,
) -> None:
    """1,000 interleaved callbacks and polls for one payout post it exactly once."""
    sandbox.lost_callback_rate = 1.0
    phone, household_id = await credited(text, deps, client, clock, collector)
    await text("AIRTIME 500", phone)
    await deps.payout_dispatcher.submit_due()
    await sandbox.settle_due()
    [payout] = (await deps.money.payouts()).items
    import json as _json

    body = _json.dumps(
        {"reference": payout["reference"], "state": "succeeded"}
    ).encode()
    headers = {"X-Sandbox-Signature": sandbox.sign(body)}
    from service.domain.commands import RecordPayoutResult

    async def poll() -> Any:
        return await deps.bus.handle(
            RecordPayoutResult("sandbox", "succeeded", reference=payout["reference"])
        )

    async def callback() -> Any:
        return (
            await client.post("/webhooks/payouts/sandbox", data=body, headers=headers)
        ).status

    results = await asyncio.gather(
        *[(poll() if i % 2 else callback()) for i in range(1000)]
    )
    assert sum(1 for r in results if r is True) <= 1
    assert (await deps.money.balance(household_id))["posted_kobo"] == 50000
    tb = await deps.money.trial_balance()
    assert tb["total_kobo"] == 0
    assert (await deps.money.payouts()).items[0]["status"] == "succeeded"


async def test_bad_payout_callbacks_are_refused(
    client: Any, sandbox: SandboxPayouts
) -> None:
    """Unsigned, malformed, unknown provider or unknown payout: 4xx, nothing changes."""
    assert (
        await client.post(
            "/webhooks/payouts/sandbox",
            data=b"{}",
            headers={"X-Sandbox-Signature": "x"},
        )
    ).status == 403
    body = b"not json"
    assert (
        await client.post(
            "/webhooks/payouts/sandbox",
            data=body,
            headers={"X-Sandbox-Signature": sandbox.sign(body)},
        )
    ).status == 400
    assert (await client.post("/webhooks/payouts/nobody", data=b"{}")).status == 404
    body = b'{"reference": "no-such", "state": "succeeded"}'
    assert (
        await client.post(
            "/webhooks/payouts/sandbox",
            data=body,
            headers={"X-Sandbox-Signature": sandbox.sign(body)},
        )
    ).status == 404


async def test_voucher_claimed_once_by_a_shop(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    fake_sms: Any,
) -> None:
    """VOUCHER holds funds; the shop's CLAIM posts them to the shop once; strangers cannot claim."""
    phone, household_id = await credited(text, deps, client, clock, collector)
    _, reply = await text("VOUCHER 300", phone)
    code = reply.split("Voucher ")[1].split(":")[0]
    assert (await deps.money.balance(household_id))["held_kobo"] == 30000
    _, reply = await text(f"CLAIM {code}", random_phone())
    assert "partner" in reply
    shop_phone = random_phone()
    await deps.bus.handle(RegisterShop("Mama Ngozi Provisions", shop_phone))
    _, reply = await text(f"claim {code.lower()}", shop_phone)
    assert "N300" in reply and "give goods" in reply
    _, reply = await text(f"CLAIM {code}", shop_phone)
    assert "not valid" in reply
    assert (await deps.money.balance(household_id)) == {
        "household_id": household_id,
        "posted_kobo": 70000,
        "held_kobo": 0,
        "available_kobo": 70000,
    }
    accounts = {
        a["account"]: a["balance_kobo"]
        for a in (await deps.money.trial_balance())["accounts"]
    }
    assert (
        accounts["shop:1"] == -30000 and accounts["liability:vouchers_outstanding"] == 0
    )


async def test_expired_holds_and_vouchers_are_released(
    client: Any, text: Any, deps: Any, clock: Any, rates: None, collector: Any
) -> None:
    """A payout never submitted and an unclaimed voucher give their funds back on expiry."""
    from service.domain.commands import ExpireHolds

    phone, household_id = await credited(text, deps, client, clock, collector)
    await text("AIRTIME 500", phone)
    await text("VOUCHER 200", phone)
    clock.advance(days=8)
    assert await deps.bus.handle(ExpireHolds(clock.now())) == 2
    assert (await deps.money.payouts()).items[0]["status"] == "released"
    assert (await deps.money.balance(household_id))["available_kobo"] == 100000


async def test_wrong_opens_dispute_and_operator_reverses(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    operator: Any,
    fake_sms: Any,
) -> None:
    """WRONG queues a dispute; the operator's correction is a reversing transfer."""
    phone, household_id = await credited(text, deps, client, clock, collector)
    _, reply = await text("WRONG it was only 10 kg", phone)
    assert "operator" in reply
    [dispute] = (await (await client.get("/api/v1/disputes", headers=operator)).json())[
        "items"
    ]
    assert dispute["credited_kobo"] == 100000
    resp = await client.post(
        f"/api/v1/disputes/{dispute['id']}/resolve",
        json={
            "weighing_id": dispute["weighing_id"],
            "amount_kobo": 50000,
            "note": "re-weighed: 10 kg",
        },
        headers=operator,
    )
    assert resp.status == 200, await resp.text()
    assert (await deps.money.balance(household_id))["posted_kobo"] == 50000
    assert (await (await client.get("/api/v1/disputes", headers=operator)).json())[
        "items"
    ] == []
    resp = await client.post(
        f"/api/v1/disputes/{dispute['id']}/resolve",
        json={"weighing_id": dispute["weighing_id"], "amount_kobo": 999999},
        headers=operator,
    )
    assert resp.status == 400
    assert (await deps.money.trial_balance())["total_kobo"] == 0


async def test_reconcile_api_against_sandbox_statement(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    sandbox: SandboxPayouts,
    operator: Any,
) -> None:
    """The sandbox's own statement reconciles cleanly; a tampered one shows the defect."""
    for _ in range(3):
        phone, _ = await credited(text, deps, client, clock, collector)
        await text("AIRTIME 500", phone)
    await deps.payout_dispatcher.submit_due()
    await sandbox.settle_due()
    statement = await (
        await client.get("/api/v1/sandbox/statement.csv", headers=operator)
    ).text()
    report = await (
        await client.post(
            "/api/v1/reconcile?provider=sandbox", data=statement, headers=operator
        )
    ).json()
    assert report["matched"] == 3 and report["amount_mismatch"] == []
    lines = statement.splitlines()
    lines[1] = lines[1].replace(",50000,", ",50001,")
    report = await (
        await client.post("/api/v1/reconcile", data="\n".join(lines), headers=operator)
    ).json()
    assert report["matched"] == 2 and len(report["amount_mismatch"]) == 1
    resp = await client.post("/api/v1/reconcile", data="nonsense", headers=operator)
    assert resp.status == 400


async def test_operator_api_redemption(
    client: Any,
    text: Any,
    deps: Any,
    clock: Any,
    rates: None,
    collector: Any,
    operator: Any,
    fake_sms: Any,
) -> None:
    """POST /api/v1/households/{id}/redemptions holds once per key; refusals are 409 with the reason."""
    _, household_id = await credited(text, deps, client, clock, collector)
    path = f"/api/v1/households/{household_id}/redemptions"
    body = {"kind": "mobile_money", "amount_kobo": 60000, "idempotency_key": "r-1"}
    first = await client.post(path, json=body, headers=operator)
    again = await client.post(path, json=body, headers=operator)
    assert first.status == again.status == 201
    assert (await first.json()) == (await again.json())
    assert (await first.json())["reference"]
    resp = await client.post(path, json={**body, "amount_kobo": 1}, headers=operator)
    assert resp.status == 409
    resp = await client.post(
        path, json={**body, "idempotency_key": "r-2"}, headers=operator
    )
    assert resp.status == 409 and (await resp.json())["status"] == "insufficient"
    assert (
        await client.post(
            "/api/v1/households/999/redemptions",
            json={**body, "idempotency_key": "r-3"},
            headers=operator,
        )
    ).status == 404
    assert (await deps.money.balance(household_id))["held_kobo"] == 60000
    assert len((await deps.money.payouts()).items) == 1


async def test_batch_endpoint_answers_each_item(
    client: Any, text: Any, deps: Any, clock: Any, rates: None, collector: Any
) -> None:
    """POST /api/v1/collections/batch answers each weighing as the single call would."""
    _, code_a, household_a = await household_with_pickup(text, deps)
    _, code_b, _ = await household_with_pickup(text, deps)
    good = weighing(code_a, clock, key="b-1")
    batch = {
        "weighings": [
            good,
            weighing("ZZZZ", clock, key="b-2"),
            {"pickup_code": code_b, "items": "lots"},
            weighing(code_b, clock, key="b-3"),
        ]
    }
    resp = await client.post("/api/v1/collections/batch", json=batch, headers=collector)
    assert resp.status == 200
    results = (await resp.json())["results"]
    assert [r["status"] for r in results] == [201, 404, 400, 201]
    assert results[0]["body"]["credited_kobo"] == 17300
    again = await (
        await client.post("/api/v1/collections/batch", json=batch, headers=collector)
    ).json()
    assert again["results"][0] == results[0] and again["results"][3] == results[3]
    single = await client.post("/api/v1/collections", json=good, headers=collector)
    assert (single.status, await single.json()) == (201, results[0]["body"])
    assert (await deps.money.balance(household_a))["posted_kobo"] == 17300
    resp = await client.post(
        "/api/v1/collections/batch", json={"weighings": []}, headers=collector
    )
    assert resp.status == 400


async def test_refused_sms_log_leaves_no_claimed_key(
    text: Any, deps: Any, clock: Any, rates: None
) -> None:
    """A LOG for an unknown code is refused cleanly and claims no idempotency key."""
    import sqlalchemy as sa

    from service.persistence.tables import idempotency_keys

    collector_phone = random_phone()
    await deps.bus.handle(RegisterCollector("Musa", collector_phone))
    _, reply = await text("LOG KQ7X PET 2", collector_phone)
    assert "KQ7X" in reply and "no pickup" in reply
    async with deps.db.reader.connect() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys))
        ).scalar_one() == 0
    _, code, household_id = await household_with_pickup(text, deps)
    _, reply = await text(f"LOG {code} PET 2", collector_phone)
    assert "N100" in reply
    assert (await deps.money.balance(household_id))["posted_kobo"] == 10000

"""Contract tests for the MTN MoMo Disbursement provider against published payloads."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from service.gateways import (
    CallbackRejected,
    GatewayError,
    PayoutProvider,
    PayoutRequest,
    PayoutStatus,
)
from service.gateways.momo import (
    MomoDisbursement,
    amount_to_kobo,
    kobo_to_amount,
)

BASE = "https://sandbox.momodeveloper.mtn.com"
TOKEN_URL = f"{BASE}/disbursement/token/"
TRANSFER_URL = f"{BASE}/disbursement/v1_0/transfer"
SUBSCRIPTION_KEY = "f83c8d8e2e6749f19a26e2265aeadbcd"
API_USER = "053c6dea-dd68-4a1b-9f6e-c830dac9f401"
API_KEY = "b0431db58a9b41faa8f5860230aa1b2c"
CALLBACK_TOKEN = "cb-7Qz9x2LmN4pR8sT1vW6yB3dF5hJ0kA"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSMjU2In0.eyJjbGllbnRJZCI6IjA1M2MifQ.sig-one"
FRESH_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSMjU2In0.eyJjbGllbnRJZCI6IjA1M2MifQ.sig-two"
NUMBER = "+2348031234567"
MASKED = "+234803•••4567"
REFERENCE = "4f5e2a3c-8b1d-4e6f-9a7b-2c3d4e5f6a7b"
STATUS_URL = f"{TRANSFER_URL}/{REFERENCE}"
CALLBACK_URL = "https://recoop.example.ng/webhooks/payouts/momo"
SECRETS = (SUBSCRIPTION_KEY, API_USER, API_KEY, CALLBACK_TOKEN, ACCESS_TOKEN)


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_answer(token: str = ACCESS_TOKEN, expires_in: int = 3600) -> dict[str, Any]:
    """MoMo's CreateAccessToken answer."""
    return {
        "access_token": token,
        "token_type": "access_token",
        "expires_in": expires_in,
    }


def transfer_result(status: str = "SUCCESSFUL", **extra: Any) -> dict[str, Any]:
    """MoMo's TransferResult (GET transfer answer and callback body) for REFERENCE."""
    result: dict[str, Any] = {
        "amount": "500",
        "currency": "EUR",
        "externalId": REFERENCE,
        "payee": {"partyIdType": "MSISDN", "partyId": NUMBER.lstrip("+")},
        "payerMessage": "Recoop recycling payout",
        "payeeNote": "Recoop recycling credit",
        "status": status,
    }
    if status == "SUCCESSFUL":
        result["financialTransactionId"] = "363440463"
    result.update(extra)
    return result


def make_request(**overrides: Any) -> PayoutRequest:
    """A ₦500 mobile-money payout to a Lagos wallet."""
    fields: dict[str, Any] = {
        "reference": REFERENCE,
        "kind": "mobile_money",
        "amount_kobo": 50000,
        "currency": "NGN",
        "destination": NUMBER,
        "callback_url": CALLBACK_URL,
    }
    fields.update(overrides)
    return PayoutRequest(**fields)


@pytest.fixture
def router() -> respx.Router:
    """A respx router standing in for the MoMo API, with a working token endpoint."""
    router = respx.Router(assert_all_called=False)
    router.post(TOKEN_URL, name="token").respond(200, json=token_answer())
    return router


@pytest.fixture
async def client(router: respx.Router) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose transport is the router."""
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(router.async_handler)
    ) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    """The provider's token clock."""
    return FakeClock()


def make_provider(
    client: httpx.AsyncClient, clock: FakeClock | None = None, **overrides: Any
) -> MomoDisbursement:
    """A sandbox provider with test credentials."""
    options: dict[str, Any] = {
        "subscription_key": SUBSCRIPTION_KEY,
        "api_user": API_USER,
        "api_key": API_KEY,
        "callback_token": CALLBACK_TOKEN,
        "clock": clock or FakeClock(),
    }
    options.update(overrides)
    return MomoDisbursement(client, **options)


@pytest.fixture
def momo(client: httpx.AsyncClient, clock: FakeClock) -> MomoDisbursement:
    """The sandbox provider under test."""
    return make_provider(client, clock)


def assert_clean(text: str) -> None:
    """No full phone number and no credential appears in `text`."""
    assert NUMBER not in text
    assert NUMBER.lstrip("+") not in text
    for secret in SECRETS:
        assert secret not in text


async def submit_failing(momo: MomoDisbursement, **overrides: Any) -> GatewayError:
    """Submit, expecting a GatewayError that leaks no number or secret."""
    with pytest.raises(GatewayError) as caught:
        await momo.submit(make_request(**overrides))
    assert_clean(str(caught.value))
    return caught.value


async def status_failing(momo: MomoDisbursement) -> GatewayError:
    """Ask the status, expecting a GatewayError that leaks no number or secret."""
    with pytest.raises(GatewayError) as caught:
        await momo.status(REFERENCE)
    assert_clean(str(caught.value))
    return caught.value


def callback(
    momo: MomoDisbursement, body: bytes, token: str | None = CALLBACK_TOKEN
) -> PayoutStatus:
    """Deliver one callback as MoMo would, with the token in the query."""
    query = {} if token is None else {"token": token}
    headers = {"Content-Type": "application/json"}
    return momo.parse_callback(headers, query, body)


# --- token --------------------------------------------------------------------


async def test_token_request_uses_basic_auth_and_subscription_key(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """The token is fetched by POST /disbursement/token/ with basic auth and the key."""
    router.post(TRANSFER_URL).respond(202)

    await momo.submit(make_request())

    request = router["token"].calls.last.request
    expected = base64.b64encode(f"{API_USER}:{API_KEY}".encode()).decode()
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY
    assert request.content == b""


async def test_token_is_cached_until_shortly_before_expiry(
    router: respx.Router, momo: MomoDisbursement, clock: FakeClock
) -> None:
    """One token serves every call until ten minutes before its hour is up."""
    router.get(STATUS_URL).respond(200, json=transfer_result("PENDING"))

    await momo.status(REFERENCE)
    clock.now += 3600 - 600 - 1
    await momo.status(REFERENCE)
    assert router["token"].call_count == 1

    clock.now += 2
    await momo.status(REFERENCE)
    assert router["token"].call_count == 2


async def test_short_lived_token_keeps_half_its_life(
    router: respx.Router, momo: MomoDisbursement, clock: FakeClock
) -> None:
    """A token valid for 60 s is reused for 30 s, then renewed."""
    router.post(TOKEN_URL, name="token").respond(200, json=token_answer(expires_in=60))
    router.get(STATUS_URL).respond(200, json=transfer_result("PENDING"))

    await momo.status(REFERENCE)
    clock.now += 29
    await momo.status(REFERENCE)
    clock.now += 2
    await momo.status(REFERENCE)

    assert router["token"].call_count == 2


async def test_concurrent_calls_share_one_token_request(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """Ten status calls at once fetch the token only once."""
    router.get(STATUS_URL).respond(200, json=transfer_result("PENDING"))

    await asyncio.gather(*(momo.status(REFERENCE) for _ in range(10)))

    assert router["token"].call_count == 1


async def test_401_renews_the_token_once_and_resends_the_same_reference(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A 401 on a transfer fetches a fresh token and retries with the same reference."""
    router.post(TOKEN_URL, name="token").mock(
        side_effect=[
            httpx.Response(200, json=token_answer(ACCESS_TOKEN)),
            httpx.Response(200, json=token_answer(FRESH_TOKEN)),
        ]
    )
    transfer = router.post(TRANSFER_URL).mock(
        side_effect=[
            httpx.Response(401, json={"message": "Access token expired"}),
            httpx.Response(202),
        ]
    )

    result = await momo.submit(make_request())

    assert result.state == "pending"
    first, second = (call.request for call in transfer.calls)
    assert first.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert second.headers["Authorization"] == f"Bearer {FRESH_TOKEN}"
    assert first.headers["X-Reference-Id"] == second.headers["X-Reference-Id"]
    assert first.content == second.content


async def test_second_401_is_not_retryable(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A 401 that a fresh token does not cure is final, and shows no token."""
    transfer = router.post(TRANSFER_URL).respond(
        401, json={"message": f"Invalid token {ACCESS_TOKEN}"}
    )

    error = await submit_failing(momo)

    assert error.retryable is False
    assert transfer.call_count == 2
    assert router["token"].call_count == 2


async def test_refused_credentials_are_not_retryable(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A 401 from the token endpoint is final and leaks no credential."""
    router.post(TOKEN_URL, name="token").respond(
        401, json={"error": f"login_failed for {API_USER}:{API_KEY}"}
    )
    transfer = router.post(TRANSFER_URL).respond(202)

    error = await submit_failing(momo)

    assert error.retryable is False
    assert "login_failed" in str(error)
    assert not transfer.called


async def test_token_endpoint_outage_is_retryable(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A 500 from the token endpoint is worth retrying."""
    router.post(TOKEN_URL, name="token").respond(500)

    error = await submit_failing(momo)

    assert error.retryable is True


# --- submit -------------------------------------------------------------------


async def test_submit_posts_the_documented_transfer(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A transfer is POSTed with the bearer token, reference, environment and body."""
    transfer = router.post(TRANSFER_URL).respond(202)

    result = await momo.submit(make_request())

    assert result == PayoutStatus("pending", REFERENCE, amount_kobo=50000)
    request = transfer.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == TRANSFER_URL
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["X-Reference-Id"] == REFERENCE
    assert request.headers["X-Target-Environment"] == "sandbox"
    assert request.headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "amount": "500",
        "currency": "EUR",
        "externalId": REFERENCE,
        "payee": {"partyIdType": "MSISDN", "partyId": "2348031234567"},
        "payerMessage": "Recoop recycling payout",
        "payeeNote": "Recoop recycling credit",
    }


async def test_callback_url_carries_the_secret_token(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """X-Callback-Url is the request's URL with our token query parameter added."""
    transfer = router.post(TRANSFER_URL).respond(202)

    await momo.submit(make_request(callback_url=f"{CALLBACK_URL}?a=1&token=old"))

    url = urlsplit(transfer.calls.last.request.headers["X-Callback-Url"])
    assert url._replace(query="").geturl() == CALLBACK_URL
    assert parse_qs(url.query) == {"a": ["1"], "token": [CALLBACK_TOKEN]}


async def test_no_callback_url_sends_no_callback_header(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """Without a callback URL the header is left out and the poller resolves it."""
    transfer = router.post(TRANSFER_URL).respond(202)

    await momo.submit(make_request(callback_url=None))

    assert "X-Callback-Url" not in transfer.calls.last.request.headers


async def test_production_sends_the_request_currency(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """Outside the sandbox the payout goes in NGN to the named wallet environment."""
    base = "https://proxy.momoapi.mtn.com"
    router.post(f"{base}/disbursement/token/", name="token").respond(
        200, json=token_answer()
    )
    transfer = router.post(f"{base}/disbursement/v1_0/transfer").respond(202)
    momo = make_provider(client, base_url=base, target_environment="mtnnigeria")

    await momo.submit(make_request(amount_kobo=50050))

    request = transfer.calls.last.request
    assert request.headers["X-Target-Environment"] == "mtnnigeria"
    body = json.loads(request.content)
    assert (body["amount"], body["currency"]) == ("500.50", "NGN")


async def test_production_currency_mismatch_is_refused(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """A production wallet in one currency never pays a request in another."""
    transfer = router.post(f"{BASE}/disbursement/v1_0/transfer").respond(202)
    momo = make_provider(client, target_environment="mtnghana", currency="GHS")

    error = await submit_failing(momo)

    assert error.retryable is False
    assert not transfer.called


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "airtime"},
        {"destination": "not-a-number"},
        {"amount_kobo": 0},
        {"amount_kobo": -500},
    ],
)
async def test_unpayable_requests_are_refused_before_any_call(
    router: respx.Router, momo: MomoDisbursement, overrides: dict[str, Any]
) -> None:
    """Wrong kind, a non-numeric MSISDN or a non-positive amount never reach MoMo."""
    transfer = router.post(TRANSFER_URL).respond(202)

    error = await submit_failing(momo, **overrides)

    assert error.retryable is False
    assert not transfer.called


async def test_reused_reference_returns_the_status_without_a_second_create(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A 409 RESOURCE_ALREADY_EXIST is answered by GET status, not another POST."""
    transfer = router.post(TRANSFER_URL).respond(
        409,
        json={
            "code": "RESOURCE_ALREADY_EXIST",
            "message": "Duplicated reference id. Creation of resource failed.",
        },
    )
    status = router.get(STATUS_URL).respond(200, json=transfer_result("SUCCESSFUL"))

    result = await momo.submit(make_request())

    assert result == PayoutStatus(
        "succeeded", REFERENCE, provider_txn="363440463", amount_kobo=50000
    )
    assert transfer.call_count == 1
    assert status.call_count == 1


async def test_reused_reference_not_yet_visible_stays_pending(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A 409 followed by a 404 is pending, never "unknown" (MoMo has the reference)."""
    router.post(TRANSFER_URL).respond(409, json={"code": "RESOURCE_ALREADY_EXIST"})
    router.get(STATUS_URL).respond(404, json={"code": "RESOURCE_NOT_FOUND"})

    result = await momo.submit(make_request())

    assert result.state == "pending"
    assert result.reference == REFERENCE


async def test_every_retry_sends_the_same_reference_and_body(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A timeout, a 503 and a success carry one X-Reference-Id and one body."""
    transfer = router.post(TRANSFER_URL).mock(
        side_effect=[
            httpx.ReadTimeout("read timed out"),
            httpx.Response(503),
            httpx.Response(202),
        ]
    )

    for _ in range(2):
        error = await submit_failing(momo)
        assert error.retryable is True
    assert (await momo.submit(make_request())).state == "pending"

    requests = [call.request for call in transfer.calls]
    assert {r.headers["X-Reference-Id"] for r in requests} == {REFERENCE}
    assert len({r.content for r in requests}) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_server_errors_on_submit_are_retryable(
    router: respx.Router, momo: MomoDisbursement, status: int
) -> None:
    """Rate limits, timeouts and 5xx answers are worth retrying."""
    router.post(TRANSFER_URL).respond(status, text=f"upstream failed for {NUMBER}")

    error = await submit_failing(momo)

    assert error.retryable is True
    assert MASKED in str(error)


@pytest.mark.parametrize(
    "exception",
    [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ConnectError, httpx.ReadError],
)
async def test_network_failures_on_submit_are_retryable(
    router: respx.Router,
    momo: MomoDisbursement,
    exception: type[httpx.TransportError],
) -> None:
    """Timeouts and connection errors are worth retrying (then resolved by status)."""
    router.post(TRANSFER_URL).mock(side_effect=exception(f"failed for {NUMBER}"))

    error = await submit_failing(momo)

    assert error.retryable is True
    assert isinstance(error.__cause__, exception)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BAD_REQUEST"),
        (403, "FORBIDDEN IP"),
        (404, "RESOURCE_NOT_FOUND"),
    ],
)
async def test_client_errors_on_submit_are_not_retryable(
    router: respx.Router, momo: MomoDisbursement, status: int, code: str
) -> None:
    """400, 403 and 404 on a transfer are final; the body is kept, redacted."""
    router.post(TRANSFER_URL).respond(
        status,
        json={"code": code, "message": f"{NUMBER} key {SUBSCRIPTION_KEY} refused"},
    )

    error = await submit_failing(momo)

    assert error.retryable is False
    assert code in str(error)
    assert MASKED in str(error)


async def test_bad_base_url_is_not_retryable() -> None:
    """A base URL with no usable scheme is a configuration error, not an outage."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("Request URL has an unsupported protocol")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        momo = make_provider(client, base_url="ftp://momo.example")
        error = await submit_failing(momo)

    assert error.retryable is False


# --- status -------------------------------------------------------------------


async def test_status_gets_the_transfer_by_reference(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """Status is GET /disbursement/v1_0/transfer/{reference} with the usual headers."""
    route = router.get(STATUS_URL).respond(200, json=transfer_result("PENDING"))

    await momo.status(REFERENCE)

    request = route.calls.last.request
    assert request.method == "GET"
    assert str(request.url) == STATUS_URL
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["X-Target-Environment"] == "sandbox"
    assert request.headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            transfer_result("PENDING"),
            PayoutStatus("pending", REFERENCE, amount_kobo=50000),
        ),
        (
            transfer_result("SUCCESSFUL"),
            PayoutStatus(
                "succeeded", REFERENCE, provider_txn="363440463", amount_kobo=50000
            ),
        ),
        (
            transfer_result("SUCCESSFUL", financialTransactionId=363440463),
            PayoutStatus(
                "succeeded", REFERENCE, provider_txn="363440463", amount_kobo=50000
            ),
        ),
        (
            transfer_result("FAILED", reason="PAYEE_NOT_FOUND"),
            PayoutStatus(
                "failed", REFERENCE, reason="PAYEE_NOT_FOUND", amount_kobo=50000
            ),
        ),
        (
            transfer_result("FAILED", reason="NOT_ENOUGH_FUNDS"),
            PayoutStatus(
                "failed", REFERENCE, reason="NOT_ENOUGH_FUNDS", amount_kobo=50000
            ),
        ),
        (
            transfer_result(
                "FAILED",
                reason={"code": "PAYEE_NOT_FOUND", "message": "Payee does not exist"},
            ),
            PayoutStatus(
                "failed", REFERENCE, reason="PAYEE_NOT_FOUND", amount_kobo=50000
            ),
        ),
        (
            transfer_result("FAILED"),
            PayoutStatus("failed", REFERENCE, reason="FAILED", amount_kobo=50000),
        ),
        (
            transfer_result("SUCCESSFUL", amount=100),
            PayoutStatus(
                "succeeded", REFERENCE, provider_txn="363440463", amount_kobo=10000
            ),
        ),
    ],
    ids=[
        "pending",
        "successful",
        "numeric-txn-id",
        "payee-not-found",
        "not-enough-funds",
        "reason-object",
        "no-reason",
        "numeric-amount",
    ],
)
async def test_transfer_statuses_map_to_payout_states(
    router: respx.Router,
    momo: MomoDisbursement,
    result: dict[str, Any],
    expected: PayoutStatus,
) -> None:
    """PENDING, SUCCESSFUL and FAILED map to pending, succeeded and failed."""
    router.get(STATUS_URL).respond(200, json=result)

    assert await momo.status(REFERENCE) == expected


async def test_unrecognised_status_stays_pending(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A status MoMo does not document is kept pending, never guessed final."""
    router.get(STATUS_URL).respond(200, json=transfer_result("ONGOING"))

    result = await momo.status(REFERENCE)

    assert result.state == "pending"
    assert "ONGOING" in (result.reason or "")


async def test_status_404_means_never_received(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A 404 on status means MoMo never got the transfer: "unknown"."""
    router.get(STATUS_URL).respond(
        404,
        json={
            "code": "RESOURCE_NOT_FOUND",
            "message": "Requested resource was not found.",
        },
    )

    assert await momo.status(REFERENCE) == PayoutStatus("unknown", REFERENCE)


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(500), httpx.Response(503), httpx.ReadTimeout("slow")],
    ids=["500", "503", "timeout"],
)
async def test_status_outages_are_retryable(
    router: respx.Router, momo: MomoDisbursement, answer: Any
) -> None:
    """A 5xx or a timeout on status is retryable, never read as a failed payout."""
    router.get(STATUS_URL).mock(side_effect=[answer])

    error = await status_failing(momo)

    assert error.retryable is True


async def test_status_answer_without_status_is_retryable(
    router: respx.Router, momo: MomoDisbursement
) -> None:
    """A 200 that is not a TransferResult is not trusted."""
    router.get(STATUS_URL).respond(200, text="<html>maintenance</html>")

    error = await status_failing(momo)

    assert error.retryable is True


# --- callbacks ----------------------------------------------------------------


def test_successful_callback_is_read(momo: MomoDisbursement) -> None:
    """A SUCCESSFUL callback with our token names the payout by externalId."""
    body = json.dumps(transfer_result("SUCCESSFUL")).encode()

    assert callback(momo, body) == PayoutStatus(
        "succeeded", REFERENCE, provider_txn="363440463", amount_kobo=50000
    )


def test_failed_callback_keeps_the_reason(momo: MomoDisbursement) -> None:
    """A FAILED callback carries MoMo's reason."""
    body = json.dumps(transfer_result("FAILED", reason="NOT_ENOUGH_FUNDS")).encode()

    result = callback(momo, body)

    assert (result.state, result.reason) == ("failed", "NOT_ENOUGH_FUNDS")


@pytest.mark.parametrize(
    "token", [None, "", "wrong-token", CALLBACK_TOKEN[:-1], CALLBACK_TOKEN + "x"]
)
def test_callback_without_the_right_token_is_forbidden(
    momo: MomoDisbursement, token: str | None
) -> None:
    """A missing or wrong token is refused with 403 before the body is read."""
    with pytest.raises(CallbackRejected) as caught:
        callback(momo, b"not even json", token=token)

    assert caught.value.status == 403
    assert CALLBACK_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        json.dumps({"status": "SUCCESSFUL"}).encode(),
        json.dumps({"externalId": "", "status": "SUCCESSFUL"}).encode(),
        json.dumps({"externalId": REFERENCE}).encode(),
        json.dumps({"externalId": REFERENCE, "status": 1}).encode(),
    ],
    ids=[
        "bad-json",
        "not-utf8",
        "array",
        "no-external-id",
        "empty-external-id",
        "no-status",
        "numeric-status",
    ],
)
def test_malformed_callback_is_a_bad_request(
    momo: MomoDisbursement, body: bytes
) -> None:
    """Unreadable JSON or a body without externalId and status is refused with 400."""
    with pytest.raises(CallbackRejected) as caught:
        callback(momo, body)

    assert caught.value.status == 400


# --- amounts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kobo", "amount"),
    [
        (1, "0.01"),
        (50, "0.50"),
        (100, "1"),
        (50000, "500"),
        (50050, "500.50"),
        (123456789, "1234567.89"),
    ],
)
def test_kobo_become_exact_naira_strings(kobo: int, amount: str) -> None:
    """Whole naira have no decimals; anything else has exactly two."""
    assert kobo_to_amount(kobo) == amount


@given(st.integers(min_value=1, max_value=10**15))
def test_kobo_round_trip_through_the_amount_string(kobo: int) -> None:
    """kobo -> naira string -> kobo gives back the same integer."""
    assert amount_to_kobo(kobo_to_amount(kobo)) == kobo


@pytest.mark.parametrize(
    "amount",
    [
        "0.001",
        "500.005",
        "-1",
        "abc",
        "",
        "NaN",
        "Infinity",
        "1e999999999",
        True,
        None,
        [500],
    ],
)
def test_unreadable_amounts_give_no_kobo(amount: object) -> None:
    """Sub-kobo, negative, non-numeric and absurd amounts are not guessed."""
    assert amount_to_kobo(amount) is None


# --- the port -----------------------------------------------------------------


def test_satisfies_the_payout_provider_port(momo: MomoDisbursement) -> None:
    """MomoDisbursement is a PayoutProvider named "momo" paying mobile money."""
    port: PayoutProvider = momo

    assert port.name == "momo"
    assert port.kinds == frozenset({"mobile_money"})
    for secret in SECRETS:
        assert secret not in repr(momo)


def test_empty_callback_token_is_refused(client: httpx.AsyncClient) -> None:
    """An empty callback token would let any caller in, so it is refused."""
    with pytest.raises(ValueError, match="callback_token"):
        make_provider(client, callback_token="")

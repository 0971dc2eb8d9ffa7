"""Contract tests for the Africa's Talking airtime provider against published payloads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode

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
from service.gateways.africastalking_airtime import (
    AWAITING_ANSWER,
    AfricasTalkingAirtime,
    amount_to_kobo,
    kobo_to_amount,
)

API_KEY = "atsk_0123456789abcdef0123456789abcdef"
CALLBACK_TOKEN = "cb-Hq3mZ8rT2wX5yL9pD4vN7bK1sF6gJ0"
USERNAME = "recoop"
NUMBER = "+2348031234567"
MASKED = "+234803•••4567"
REFERENCE = "9b2d6c1e-3f4a-4b5c-8d7e-1a2b3c4d5e6f"
REQUEST_ID = "ATQid_1be914ac47845eef1a1dab5d89ec50ff"
LIVE = "https://api.africastalking.com"
SEND_URL = f"{LIVE}/version1/airtime/send"
FIND_URL = f"{LIVE}/query/transaction/find"
DUPLICATE = "A duplicate request was received within the last 5 minutes"


def send_answer(
    status: str = "Sent",
    error: str = "None",
    request_id: str = REQUEST_ID,
    amount: str = "NGN 500.0000",
) -> dict[str, Any]:
    """AT's answer to POST /version1/airtime/send for one recipient, as published."""
    sent = status == "Sent"
    return {
        "errorMessage": "None",
        "numSent": int(sent),
        "totalAmount": amount if sent else "NGN 0.0000",
        "totalDiscount": "NGN 20.0000" if sent else "NGN 0.0000",
        "responses": [
            {
                "phoneNumber": NUMBER,
                "errorMessage": error,
                "amount": amount,
                "status": status,
                "requestId": request_id,
                "discount": "NGN 20.0000" if sent else "NGN 0.0000",
            }
        ],
    }


def refusal(message: str) -> dict[str, Any]:
    """AT's answer when it refuses the whole request."""
    return {
        "errorMessage": message,
        "numSent": 0,
        "totalAmount": "0",
        "totalDiscount": "0",
        "responses": [],
    }


def found(status: str = "Success", **extra: Any) -> dict[str, Any]:
    """AT's answer to GET /query/transaction/find (the payments query's published shape)."""
    data: dict[str, Any] = {
        "requestMetadata": {},
        "sourceType": "Wallet",
        "source": "PaymentWallet",
        "provider": "Athena",
        "destinationType": "PhoneNumber",
        "description": "Airtime Delivered Successfully",
        "providerChannel": "airtime",
        "transactionFee": "NGN 0.0000",
        "providerRefId": "SOMXXXXX",
        "providerMetadata": {},
        "status": status,
        "productName": "Airtime",
        "category": "Airtime",
        "transactionDate": "12.05.2025 10:11:12",
        "destination": NUMBER,
        "value": "NGN 500.0000",
        "transactionId": REQUEST_ID,
        "creationTime": "2025-05-12 10:11:12",
    }
    data.update(extra)
    return {"status": "Success", "data": data}


def notification(status: str = "Success", **extra: str) -> dict[str, str]:
    """AT's airtime status callback fields."""
    fields = {
        "phoneNumber": NUMBER,
        "description": "Airtime Delivered Successfully",
        "status": status,
        "requestId": REQUEST_ID,
        "discount": "NGN 20.0000",
        "value": "NGN 500.0000",
    }
    fields.update(extra)
    return fields


def make_request(**overrides: Any) -> PayoutRequest:
    """A ₦500 airtime payout to a Lagos number."""
    fields: dict[str, Any] = {
        "reference": REFERENCE,
        "kind": "airtime",
        "amount_kobo": 50000,
        "currency": "NGN",
        "destination": NUMBER,
        "callback_url": None,
    }
    fields.update(overrides)
    return PayoutRequest(**fields)


@pytest.fixture
def router() -> respx.Router:
    """A respx router standing in for Africa's Talking."""
    return respx.Router(assert_all_called=False)


@pytest.fixture
async def client(router: respx.Router) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose transport is the router."""
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(router.async_handler)
    ) as client:
        yield client


def make_provider(client: httpx.AsyncClient, **overrides: Any) -> AfricasTalkingAirtime:
    """A live-account provider with test credentials."""
    options: dict[str, Any] = {
        "username": USERNAME,
        "api_key": API_KEY,
        "callback_token": CALLBACK_TOKEN,
    }
    options.update(overrides)
    return AfricasTalkingAirtime(client, **options)


@pytest.fixture
def airtime(client: httpx.AsyncClient) -> AfricasTalkingAirtime:
    """The provider under test."""
    return make_provider(client)


def form_of(request: httpx.Request) -> dict[str, str]:
    """The request's form fields, one value each."""
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def assert_clean(text: str) -> None:
    """No full phone number, API key or callback token appears in `text`."""
    assert NUMBER not in text
    assert NUMBER.lstrip("+") not in text
    assert API_KEY not in text
    assert CALLBACK_TOKEN not in text


async def submit_failing(
    airtime: AfricasTalkingAirtime, **overrides: Any
) -> GatewayError:
    """Submit, expecting a GatewayError that leaks no number or secret."""
    with pytest.raises(GatewayError) as caught:
        await airtime.submit(make_request(**overrides))
    assert_clean(str(caught.value))
    return caught.value


def form_callback(
    airtime: AfricasTalkingAirtime,
    fields: dict[str, str],
    token: str | None = CALLBACK_TOKEN,
) -> PayoutStatus:
    """Deliver one form-encoded notification with the token in the query."""
    query = {} if token is None else {"token": token}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return airtime.parse_callback(headers, query, urlencode(fields).encode())


# --- submit -------------------------------------------------------------------


async def test_submit_posts_the_documented_request(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """A send POSTs username and a JSON recipients list with the idempotency key."""
    route = router.post(SEND_URL).respond(201, json=send_answer())

    await airtime.submit(make_request())

    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == SEND_URL
    assert request.headers["apiKey"] == API_KEY
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Idempotency-Key"] == REFERENCE
    assert request.headers["Idempotence-Key"] == REFERENCE
    form = form_of(request)
    assert form.keys() == {"username", "recipients"}
    assert form["username"] == USERNAME
    assert json.loads(form["recipients"]) == [
        {"phoneNumber": NUMBER, "amount": "NGN 500"}
    ]


async def test_kobo_amounts_are_sent_exactly(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """₦500.50 is sent as "NGN 500.50", never through a float."""
    route = router.post(SEND_URL).respond(201, json=send_answer(amount="NGN 500.5000"))

    result = await airtime.submit(make_request(amount_kobo=50050))

    recipients = json.loads(form_of(route.calls.last.request)["recipients"])
    assert recipients[0]["amount"] == "NGN 500.50"
    assert result.amount_kobo == 50050


async def test_sent_is_pending_with_the_request_id(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """A "Sent" recipient is pending, identified by AT's requestId, which is stored."""
    router.post(SEND_URL).respond(201, json=send_answer())

    result = await airtime.submit(make_request())

    assert result == PayoutStatus(
        "pending", REFERENCE, provider_txn=REQUEST_ID, amount_kobo=50000
    )
    assert airtime.request_ids == {REFERENCE: REQUEST_ID}


async def test_failed_recipient_is_a_definitive_failure(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """A "Failed" recipient is state "failed" with AT's reason, not an exception."""
    router.post(SEND_URL).respond(
        201,
        json=send_answer(
            "Failed", error=f"Invalid phone number: {NUMBER}", request_id="None"
        ),
    )

    result = await airtime.submit(make_request())

    assert result.state == "failed"
    assert result.reference == REFERENCE
    assert result.provider_txn is None
    assert "Invalid phone number" in (result.reason or "")
    assert_clean(result.reason or "")
    assert await airtime.status(REFERENCE) == PayoutStatus("unknown", REFERENCE)


async def test_whole_request_refusal_is_not_retryable(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """A top-level errorMessage with no responses is a final GatewayError."""
    router.post(SEND_URL).respond(201, json=refusal(f"Invalid recipients {NUMBER}"))

    error = await submit_failing(airtime)

    assert error.retryable is False
    assert "Invalid recipients" in str(error)
    assert MASKED in str(error)
    assert REFERENCE not in airtime.request_ids


async def test_every_retry_sends_the_same_idempotency_key_and_body(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """A timeout, a 503 and a success carry one Idempotency-Key and one body."""
    route = router.post(SEND_URL).mock(
        side_effect=[
            httpx.ReadTimeout("read timed out"),
            httpx.Response(503, text="Service Unavailable"),
            httpx.Response(201, json=send_answer()),
        ]
    )

    for _ in range(2):
        error = await submit_failing(airtime)
        assert error.retryable is True
    assert (await airtime.submit(make_request())).state == "pending"

    requests = [call.request for call in route.calls]
    assert {r.headers["Idempotency-Key"] for r in requests} == {REFERENCE}
    assert len({r.content for r in requests}) == 1


async def test_accepted_reference_is_never_sent_twice(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """Submitting a reference AT already accepted asks its status instead of sending."""
    send = router.post(SEND_URL).respond(201, json=send_answer())
    find = router.get(FIND_URL).respond(200, json=found("Success"))

    await airtime.submit(make_request())
    result = await airtime.submit(make_request())

    assert result.state == "succeeded"
    assert send.call_count == 1
    assert find.call_count == 1


async def test_duplicate_refusal_after_a_lost_answer_stays_pending(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """AT's duplicate-key refusal after a timeout is pending, never a failure."""
    router.post(SEND_URL).mock(
        side_effect=[
            httpx.ReadTimeout("read timed out"),
            httpx.Response(201, json=send_answer("Failed", DUPLICATE, "None")),
        ]
    )

    await submit_failing(airtime)
    result = await airtime.submit(make_request())

    assert result.state == "pending"
    assert result.reference == REFERENCE
    assert airtime.request_ids == {REFERENCE: AWAITING_ANSWER}


async def test_whole_request_duplicate_refusal_is_not_an_error(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """A top-level duplicate refusal for a send still awaiting its answer is pending."""
    airtime = make_provider(client, request_ids={REFERENCE: AWAITING_ANSWER})
    send = router.post(SEND_URL).respond(201, json=refusal(DUPLICATE))

    result = await airtime.submit(make_request())

    assert result.state == "pending"
    assert send.call_count == 1
    assert airtime.request_ids == {REFERENCE: AWAITING_ANSWER}


async def test_unreadable_success_answer_is_retryable_and_pending(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """A 2xx that is not AT's JSON may hide a delivered payout: retryable, then pending."""
    router.post(SEND_URL).respond(201, text="<html>Gateway</html>")

    error = await submit_failing(airtime)

    assert error.retryable is True
    assert (await airtime.status(REFERENCE)).state == "pending"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_server_errors_are_retryable(
    router: respx.Router, airtime: AfricasTalkingAirtime, status: int
) -> None:
    """Rate limits, timeouts and 5xx answers are worth retrying."""
    router.post(SEND_URL).respond(status, text=f"Upstream error for {NUMBER}")

    error = await submit_failing(airtime)

    assert error.retryable is True
    assert MASKED in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_not_retryable(
    router: respx.Router, airtime: AfricasTalkingAirtime, status: int
) -> None:
    """4xx answers (bad request, bad key) are final and hide the key."""
    router.post(SEND_URL).respond(
        status, text=f"The supplied authentication is invalid ({API_KEY})"
    )

    error = await submit_failing(airtime)

    assert error.retryable is False
    assert "The supplied authentication is invalid" in str(error)
    assert await airtime.status(REFERENCE) == PayoutStatus("unknown", REFERENCE)


@pytest.mark.parametrize(
    ("exception", "then"),
    [
        (httpx.ConnectError, "unknown"),
        (httpx.ConnectTimeout, "unknown"),
        (httpx.ReadTimeout, "pending"),
        (httpx.WriteTimeout, "pending"),
        (httpx.ReadError, "pending"),
        (httpx.RemoteProtocolError, "pending"),
    ],
)
async def test_network_failures_are_retryable_and_remembered(
    router: respx.Router,
    airtime: AfricasTalkingAirtime,
    exception: type[httpx.TransportError],
    then: str,
) -> None:
    """Transport errors are retryable; only a failed connect reads as "unknown" after."""
    router.post(SEND_URL).mock(side_effect=exception(f"failed for {NUMBER}"))

    error = await submit_failing(airtime)

    assert error.retryable is True
    assert isinstance(error.__cause__, exception)
    assert (await airtime.status(REFERENCE)).state == then


@pytest.mark.parametrize(
    "overrides",
    [{"kind": "mobile_money"}, {"amount_kobo": 0}, {"amount_kobo": -100}],
)
async def test_unpayable_requests_are_refused_before_any_call(
    router: respx.Router, airtime: AfricasTalkingAirtime, overrides: dict[str, Any]
) -> None:
    """Wrong kind or a non-positive amount never reach AT."""
    route = router.post(SEND_URL).respond(201, json=send_answer())

    error = await submit_failing(airtime, **overrides)

    assert error.retryable is False
    assert not route.called


async def test_sandbox_username_uses_the_sandbox_api(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """Username "sandbox" sends and queries through api.sandbox.africastalking.com."""
    sandbox = "https://api.sandbox.africastalking.com"
    send = router.post(f"{sandbox}/version1/airtime/send").respond(
        201, json=send_answer()
    )
    find = router.get(f"{sandbox}/query/transaction/find").respond(200, json=found())
    airtime = make_provider(client, username="sandbox")

    await airtime.submit(make_request())
    await airtime.status(REFERENCE)

    assert form_of(send.calls.last.request)["username"] == "sandbox"
    assert find.called


async def test_explicit_base_urls_win(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """Explicit send and query roots (trailing slash allowed) replace the defaults."""
    send = router.post("https://at-proxy.internal/version1/airtime/send").respond(
        201, json=send_answer()
    )
    find = router.get("https://payments.africastalking.com/query/transaction/find")
    find.respond(200, json=found())
    airtime = make_provider(
        client,
        base_url="https://at-proxy.internal/",
        query_base_url="https://payments.africastalking.com",
    )

    await airtime.submit(make_request())
    await airtime.status(REFERENCE)

    assert send.called
    assert find.called


async def test_bad_base_url_is_not_retryable() -> None:
    """A base URL with no usable scheme is a configuration error, not an outage."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("Request URL has an unsupported protocol")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        airtime = make_provider(client, base_url="ftp://at.example")
        error = await submit_failing(airtime)

    assert error.retryable is False


# --- status -------------------------------------------------------------------


async def test_never_sent_reference_is_unknown_without_a_call(
    router: respx.Router, airtime: AfricasTalkingAirtime
) -> None:
    """A reference this provider never sent is "unknown", with no request to AT."""
    find = router.get(FIND_URL).respond(200, json=found())

    assert await airtime.status(REFERENCE) == PayoutStatus("unknown", REFERENCE)
    assert not find.called


async def test_status_queries_the_transaction_by_request_id(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """Status is GET /query/transaction/find?username=&transactionId=<requestId>."""
    airtime = make_provider(client, request_ids={REFERENCE: REQUEST_ID})
    find = router.get(FIND_URL).respond(200, json=found())

    await airtime.status(REFERENCE)

    request = find.calls.last.request
    assert request.method == "GET"
    assert request.url.copy_with(query=None) == httpx.URL(FIND_URL)
    assert dict(request.url.params) == {
        "username": USERNAME,
        "transactionId": REQUEST_ID,
    }
    assert request.headers["apiKey"] == API_KEY
    assert request.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            found("Success"),
            PayoutStatus(
                "succeeded",
                REFERENCE,
                provider_txn=REQUEST_ID,
                reason="Airtime Delivered Successfully",
                amount_kobo=50000,
            ),
        ),
        (
            found("Failed", description="Recipient is not subscribed"),
            PayoutStatus(
                "failed",
                REFERENCE,
                provider_txn=REQUEST_ID,
                reason="Recipient is not subscribed",
                amount_kobo=50000,
            ),
        ),
        (
            found("Sent", description=None),
            PayoutStatus(
                "pending", REFERENCE, provider_txn=REQUEST_ID, amount_kobo=50000
            ),
        ),
        (
            found("Queued", description=None),
            PayoutStatus(
                "pending", REFERENCE, provider_txn=REQUEST_ID, amount_kobo=50000
            ),
        ),
    ],
    ids=["success", "failed", "sent", "queued"],
)
async def test_transaction_statuses_map_to_payout_states(
    router: respx.Router,
    client: httpx.AsyncClient,
    answer: dict[str, Any],
    expected: PayoutStatus,
) -> None:
    """Success and Failed are final; anything else is still pending."""
    airtime = make_provider(client, request_ids={REFERENCE: REQUEST_ID})
    router.get(FIND_URL).respond(200, json=answer)

    assert await airtime.status(REFERENCE) == expected


async def test_transaction_not_found_is_pending_not_unknown(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """AT gave us the requestId, so a failed lookup is pending, never unknown or failed."""
    airtime = make_provider(client, request_ids={REFERENCE: REQUEST_ID})
    router.get(FIND_URL).respond(
        200, json={"status": "Failed", "errorMessage": "Transaction not found"}
    )

    result = await airtime.status(REFERENCE)

    assert result.state == "pending"
    assert result.provider_txn == REQUEST_ID
    assert result.reason == "Transaction not found"


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [
        (httpx.Response(500), True),
        (httpx.Response(503), True),
        (httpx.ReadTimeout("slow"), True),
        (httpx.Response(401, text=f"bad key {API_KEY}"), False),
    ],
    ids=["500", "503", "timeout", "401"],
)
async def test_status_failures_raise(
    router: respx.Router, client: httpx.AsyncClient, answer: Any, retryable: bool
) -> None:
    """Outages on the query are retryable, a refused key is not; neither is a failure."""
    airtime = make_provider(client, request_ids={REFERENCE: REQUEST_ID})
    router.get(FIND_URL).mock(side_effect=[answer])

    with pytest.raises(GatewayError) as caught:
        await airtime.status(REFERENCE)

    assert caught.value.retryable is retryable
    assert_clean(str(caught.value))


# --- callbacks ----------------------------------------------------------------


def test_success_notification_is_read(airtime: AfricasTalkingAirtime) -> None:
    """A form-encoded Success notification maps to succeeded with value in kobo."""
    assert form_callback(airtime, notification("Success")) == PayoutStatus(
        "succeeded",
        provider_txn=REQUEST_ID,
        reason="Airtime Delivered Successfully",
        amount_kobo=50000,
    )


def test_failed_notification_keeps_the_description(
    airtime: AfricasTalkingAirtime,
) -> None:
    """A Failed notification is failed with AT's description as the reason."""
    fields = notification("Failed", description="Airtime delivery failed")

    result = form_callback(airtime, fields)

    assert (result.state, result.reason) == ("failed", "Airtime delivery failed")
    assert result.provider_txn == REQUEST_ID


def test_json_notification_is_read(airtime: AfricasTalkingAirtime) -> None:
    """The same notification as a JSON body is read too."""
    body = json.dumps(notification("Success")).encode()

    result = airtime.parse_callback(
        {"content-type": "application/json"}, {"token": CALLBACK_TOKEN}, body
    )

    assert result.state == "succeeded"
    assert result.amount_kobo == 50000


@pytest.mark.parametrize(
    "token", [None, "", "wrong-token", CALLBACK_TOKEN[:-1], CALLBACK_TOKEN + "x"]
)
def test_notification_without_the_right_token_is_forbidden(
    airtime: AfricasTalkingAirtime, token: str | None
) -> None:
    """A missing or wrong token is refused with 403."""
    with pytest.raises(CallbackRejected) as caught:
        form_callback(airtime, notification(), token=token)

    assert caught.value.status == 403
    assert CALLBACK_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "application/x-www-form-urlencoded",
            urlencode({"status": "Success"}).encode(),
        ),
        (
            "application/x-www-form-urlencoded",
            urlencode({"requestId": REQUEST_ID}).encode(),
        ),
        (
            "application/x-www-form-urlencoded",
            urlencode(notification(requestId="None")).encode(),
        ),
        ("application/x-www-form-urlencoded", b"\xff\xfe"),
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
    ],
    ids=[
        "no-request-id",
        "no-status",
        "request-id-none",
        "not-utf8",
        "bad-json",
        "array",
    ],
)
def test_malformed_notification_is_a_bad_request(
    airtime: AfricasTalkingAirtime, content_type: str, body: bytes
) -> None:
    """A notification without requestId and status, or unreadable, is refused with 400."""
    with pytest.raises(CallbackRejected) as caught:
        airtime.parse_callback(
            {"Content-Type": content_type}, {"token": CALLBACK_TOKEN}, body
        )

    assert caught.value.status == 400


# --- amounts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kobo"),
    [
        ("NGN 500.0000", 50000),
        ("NGN 500.5000", 50050),
        ("NGN 0.0100", 1),
        ("KES 100.000", 10000),
        ("500", 50000),
    ],
)
def test_at_values_become_exact_kobo(value: str, kobo: int) -> None:
    """AT's "CCY 500.0000" values are read exactly with Decimal."""
    assert amount_to_kobo(value) == kobo


@pytest.mark.parametrize(
    "value", ["NGN 0.0050", "NGN -5", "NGN abc", "", "NGN", "NGN 1e999999999", None, 5]
)
def test_unreadable_values_give_no_kobo(value: object) -> None:
    """Sub-kobo, negative, non-numeric and absurd values are not guessed."""
    assert amount_to_kobo(value) is None


@given(st.integers(min_value=1, max_value=10**15))
def test_kobo_round_trip_through_the_amount_string(kobo: int) -> None:
    """kobo -> "NGN <naira>" -> kobo gives back the same integer."""
    assert amount_to_kobo(f"NGN {kobo_to_amount(kobo)}") == kobo


# --- the port -----------------------------------------------------------------


def test_satisfies_the_payout_provider_port(airtime: AfricasTalkingAirtime) -> None:
    """AfricasTalkingAirtime is a PayoutProvider named "africastalking" paying airtime."""
    port: PayoutProvider = airtime

    assert port.name == "africastalking"
    assert port.kinds == frozenset({"airtime"})
    assert API_KEY not in repr(airtime)
    assert CALLBACK_TOKEN not in repr(airtime)


def test_empty_callback_token_is_refused(client: httpx.AsyncClient) -> None:
    """An empty callback token would let any caller in, so it is refused."""
    with pytest.raises(ValueError, match="callback_token"):
        make_provider(client, callback_token="")


async def test_status_uses_the_stored_request_id_after_a_restart(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """A fresh adapter (empty map) still finds a payout by the requestId we stored."""
    fresh = AfricasTalkingAirtime(
        client, username="recoop", api_key="k", callback_token="t"
    )
    find = router.get(FIND_URL).respond(200, json=found())
    status = await fresh.status(REFERENCE, provider_txn="ATQid_stored")
    assert find.called
    assert find.calls.last.request.url.params["transactionId"] == "ATQid_stored"
    assert status.state in ("succeeded", "pending", "failed")

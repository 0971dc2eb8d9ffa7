"""Contract tests for the Africa's Talking SMS gateway against published payloads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from service.gateways import GatewayError, OutboundSms, SendResult, SmsGateway
from service.gateways.africastalking_sms import AfricasTalkingSms

API_KEY = "atsk_0123456789abcdef0123456789abcdef"
USERNAME = "recoop"
NUMBER = "+2348031234567"
MASKED = "+234803•••4567"
LIVE_URL = "https://api.africastalking.com/version1/messaging"
SANDBOX_URL = "https://api.sandbox.africastalking.com/version1/messaging"
BODY = "You were credited N250 for 5kg PET. Balance N1,200."

REFUSALS = {
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}


def sms_message_data(status_code: int = 101, **overrides: Any) -> dict[str, Any]:
    """AT's answer to a send, as in its SMS documentation, for one recipient."""
    accepted = status_code < 200
    recipient: dict[str, Any] = {
        "statusCode": status_code,
        "number": NUMBER,
        "status": "Success" if accepted else REFUSALS.get(status_code, "Unknown"),
        "cost": "NGN 2.2000" if accepted else "0",
        "messageId": "ATXid_4b6a1c0e9e1b6f5e8d2b5c8a7f3e2d1c" if accepted else "None",
    }
    recipient.update(overrides)
    return {
        "SMSMessageData": {
            "Message": f"Sent to {int(accepted)}/1 Total Cost: {recipient['cost']}",
            "Recipients": [recipient],
        }
    }


def make_sms() -> OutboundSms:
    """An outbound SMS to a Lagos number."""
    return OutboundSms(
        to=NUMBER,
        body=BODY,
        key="outbox-7",
        status_callback="https://recoop.example.ng/webhooks/twilio/status",
    )


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


@pytest.fixture
def gateway(client: httpx.AsyncClient) -> AfricasTalkingSms:
    """A live-account gateway with a registered sender id."""
    return AfricasTalkingSms(
        client, username=USERNAME, api_key=API_KEY, sender_id="RECOOP"
    )


def form_of(request: httpx.Request) -> dict[str, str]:
    """The request's form fields, one value each."""
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def send_failing(gateway: AfricasTalkingSms) -> GatewayError:
    """Send one SMS, expecting a GatewayError that leaks no number or API key."""
    with pytest.raises(GatewayError) as caught:
        await gateway.send(make_sms())
    text = str(caught.value)
    assert NUMBER not in text
    assert NUMBER.lstrip("+") not in text
    assert API_KEY not in text
    assert MASKED in text
    return caught.value


async def test_posts_the_documented_request(
    router: respx.Router, gateway: AfricasTalkingSms
) -> None:
    """A send POSTs username, to, message, from with apiKey and Accept headers."""
    route = router.post(LIVE_URL).respond(201, json=sms_message_data())

    await gateway.send(make_sms())

    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == LIVE_URL
    assert request.headers["apiKey"] == API_KEY
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "username": USERNAME,
        "to": NUMBER,
        "message": BODY,
        "from": "RECOOP",
    }


async def test_sent_recipient_maps_to_result(
    router: respx.Router, gateway: AfricasTalkingSms
) -> None:
    """statusCode 101 (Sent) becomes SendResult(messageId, "sent")."""
    router.post(LIVE_URL).respond(201, json=sms_message_data(101))

    result = await gateway.send(make_sms())

    assert result == SendResult(
        provider_id="ATXid_4b6a1c0e9e1b6f5e8d2b5c8a7f3e2d1c", status="sent"
    )


@pytest.mark.parametrize("status_code", [100, 102])
async def test_processed_and_queued_recipients_are_queued(
    router: respx.Router, gateway: AfricasTalkingSms, status_code: int
) -> None:
    """statusCode 100 (Processed) and 102 (Queued) are accepted with status "queued"."""
    router.post(LIVE_URL).respond(201, json=sms_message_data(status_code))

    result = await gateway.send(make_sms())

    assert result.status == "queued"
    assert result.provider_id == "ATXid_4b6a1c0e9e1b6f5e8d2b5c8a7f3e2d1c"


async def test_omits_from_without_sender_id(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """Without a sender id the from field is left out (the account default applies)."""
    route = router.post(LIVE_URL).respond(201, json=sms_message_data())
    gateway = AfricasTalkingSms(client, username=USERNAME, api_key=API_KEY)

    await gateway.send(make_sms())

    assert "from" not in form_of(route.calls.last.request)


async def test_sandbox_username_uses_sandbox_api(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """Username "sandbox" sends to api.sandbox.africastalking.com."""
    route = router.post(SANDBOX_URL).respond(201, json=sms_message_data())
    gateway = AfricasTalkingSms(client, username="sandbox", api_key=API_KEY)

    await gateway.send(make_sms())

    assert route.called
    assert form_of(route.calls.last.request)["username"] == "sandbox"


async def test_explicit_base_url_wins(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """An explicit base URL (trailing slash allowed) replaces the default root."""
    route = router.post("https://at-proxy.internal/version1/messaging").respond(
        201, json=sms_message_data()
    )
    gateway = AfricasTalkingSms(
        client,
        username="sandbox",
        api_key=API_KEY,
        base_url="https://at-proxy.internal/",
    )

    await gateway.send(make_sms())

    assert route.called


@pytest.mark.parametrize(
    ("status_code", "retryable", "opted_out"),
    [
        (401, False, False),
        (402, False, False),
        (403, False, False),
        (404, False, False),
        (405, True, False),
        (406, False, True),
        (407, False, False),
        (409, False, True),
        (500, True, False),
        (501, True, False),
        (502, True, False),
    ],
)
async def test_refused_recipient_codes_map_to_gateway_errors(
    router: respx.Router,
    gateway: AfricasTalkingSms,
    status_code: int,
    retryable: bool,
    opted_out: bool,
) -> None:
    """Each refusal statusCode raises GatewayError with its retry and opt-out flags."""
    router.post(LIVE_URL).respond(201, json=sms_message_data(status_code))

    error = await send_failing(gateway)

    assert (error.retryable, error.opted_out) == (retryable, opted_out)
    assert REFUSALS[status_code] in str(error)


async def test_unknown_refusal_code_is_not_retryable(
    router: respx.Router, gateway: AfricasTalkingSms
) -> None:
    """A 4xx statusCode missing from the published table is treated as final."""
    router.post(LIVE_URL).respond(201, json=sms_message_data(499, status="NewReason"))

    error = await send_failing(gateway)

    assert (error.retryable, error.opted_out) == (False, False)
    assert "NewReason" in str(error)


async def test_no_recipients_is_not_retryable(
    router: respx.Router, gateway: AfricasTalkingSms
) -> None:
    """An answer with no recipients is a refusal whose reason is kept, number masked."""
    router.post(LIVE_URL).respond(
        201,
        json={
            "SMSMessageData": {
                "Message": f"Invalid phone number: {NUMBER}",
                "Recipients": [],
            }
        },
    )

    error = await send_failing(gateway)

    assert error.retryable is False
    assert "Invalid phone number" in str(error)


async def test_bad_credentials_are_not_retryable(
    router: respx.Router, gateway: AfricasTalkingSms
) -> None:
    """An HTTP 401 (invalid username or API key) is final and hides the key."""
    router.post(LIVE_URL).respond(
        401, text=f"The supplied authentication is invalid ({API_KEY})"
    )

    error = await send_failing(gateway)

    assert error.retryable is False
    assert "The supplied authentication is invalid" in str(error)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_rate_limits_and_server_errors_are_retryable(
    router: respx.Router, gateway: AfricasTalkingSms, status: int
) -> None:
    """HTTP 429 and 5xx answers are worth retrying."""
    router.post(LIVE_URL).respond(status, text="Service temporarily unavailable")

    error = await send_failing(gateway)

    assert error.retryable is True


@pytest.mark.parametrize(
    "exception",
    [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ConnectError, httpx.ReadError],
)
async def test_network_failures_are_retryable(
    router: respx.Router,
    gateway: AfricasTalkingSms,
    exception: type[httpx.TransportError],
) -> None:
    """Timeouts and connection errors are worth retrying."""
    router.post(LIVE_URL).mock(side_effect=exception(f"failed to={NUMBER}"))

    error = await send_failing(gateway)

    assert error.retryable is True
    assert isinstance(error.__cause__, exception)


def test_satisfies_the_sms_gateway_port(gateway: AfricasTalkingSms) -> None:
    """AfricasTalkingSms is an SmsGateway named "africastalking" hiding its key."""
    port: SmsGateway = gateway

    assert port.name == "africastalking"
    assert API_KEY not in repr(gateway)

"""Contract tests for the Twilio SMS gateway against Twilio's published payloads."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from service.gateways import GatewayError, OutboundSms, SendResult, SmsGateway
from service.gateways.twilio_sms import TwilioSms

ACCOUNT_SID = "AC" + "c" * 32
AUTH_TOKEN = "f00dfacef00dfacef00dfacef00dface"
FROM = "+15017122661"
NUMBER = "+2348031234567"
MASKED = "+234803•••4567"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLBACK = "https://recoop.example.ng/webhooks/twilio/status"


def created_message(**overrides: Any) -> dict[str, Any]:
    """Twilio's 201 answer to a Message create, as in its API reference."""
    message: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": "Pickup booked Tue 9-11am, code K7Q2",
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
        "date_sent": None,
        "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": FROM,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "status": "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
            "SM1f0e8ae6ade43cb3c0ce4525424e404f/Media.json"
        },
        "to": NUMBER,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
        "SM1f0e8ae6ade43cb3c0ce4525424e404f.json",
    }
    message.update(overrides)
    return message


def twilio_error(status: int, code: int, message: str) -> httpx.Response:
    """Twilio's published error document: code, message, more_info, status."""
    return httpx.Response(
        status,
        json={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def make_sms(status_callback: str | None = CALLBACK) -> OutboundSms:
    """An outbound SMS to a Lagos number."""
    return OutboundSms(
        to=NUMBER,
        body="Pickup booked Tue 9-11am, code K7Q2",
        key="outbox-1",
        status_callback=status_callback,
    )


@pytest.fixture
def router() -> respx.Router:
    """A respx router standing in for api.twilio.com."""
    return respx.Router(assert_all_called=False)


@pytest.fixture
async def client(router: respx.Router) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose transport is the router."""
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(router.async_handler)
    ) as client:
        yield client


@pytest.fixture
def gateway(client: httpx.AsyncClient) -> TwilioSms:
    """A Twilio gateway sending from a phone number."""
    return TwilioSms(client, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_=FROM)


def form_of(request: httpx.Request) -> dict[str, str]:
    """The request's form fields, one value each."""
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def send_failing(gateway: TwilioSms) -> GatewayError:
    """Send one SMS, expecting a GatewayError that leaks no number or token."""
    with pytest.raises(GatewayError) as caught:
        await gateway.send(make_sms())
    text = str(caught.value)
    assert NUMBER not in text
    assert NUMBER.lstrip("+") not in text
    assert AUTH_TOKEN not in text
    assert MASKED in text
    return caught.value


async def test_posts_the_documented_request(
    router: respx.Router, gateway: TwilioSms
) -> None:
    """A send POSTs To, From, Body, StatusCallback with basic auth to Messages.json."""
    route = router.post(MESSAGES_URL).respond(201, json=created_message())

    await gateway.send(make_sms())

    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == MESSAGES_URL
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "To": NUMBER,
        "From": FROM,
        "Body": "Pickup booked Tue 9-11am, code K7Q2",
        "StatusCallback": CALLBACK,
    }


async def test_maps_created_message_to_result(
    router: respx.Router, gateway: TwilioSms
) -> None:
    """A 201 answer becomes SendResult(sid, status)."""
    router.post(MESSAGES_URL).respond(201, json=created_message())

    result = await gateway.send(make_sms())

    assert result == SendResult(
        provider_id="SM1f0e8ae6ade43cb3c0ce4525424e404f", status="queued"
    )


async def test_omits_status_callback_when_none(
    router: respx.Router, gateway: TwilioSms
) -> None:
    """Without a status callback URL the StatusCallback field is not sent."""
    route = router.post(MESSAGES_URL).respond(201, json=created_message())

    await gateway.send(make_sms(status_callback=None))

    assert "StatusCallback" not in form_of(route.calls.last.request)


async def test_messaging_service_sid_replaces_from(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """A from_ starting with MG is sent as MessagingServiceSid; "accepted" is queued."""
    service_sid = "MG" + "9" * 32
    route = router.post(MESSAGES_URL).respond(
        201,
        json=created_message(
            status="accepted", messaging_service_sid=service_sid, **{"from": None}
        ),
    )
    gateway = TwilioSms(
        client, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_=service_sid
    )

    result = await gateway.send(make_sms())

    form = form_of(route.calls.last.request)
    assert form["MessagingServiceSid"] == service_sid
    assert "From" not in form
    assert result.status == "queued"


async def test_base_url_is_configurable(
    router: respx.Router, client: httpx.AsyncClient
) -> None:
    """A custom base URL (with a trailing slash) still reaches Messages.json."""
    url = (
        f"https://twilio-proxy.internal/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    )
    route = router.post(url).respond(201, json=created_message())
    gateway = TwilioSms(
        client,
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_=FROM,
        base_url="https://twilio-proxy.internal/",
    )

    await gateway.send(make_sms())

    assert route.called


async def test_invalid_number_is_not_retryable(
    router: respx.Router, gateway: TwilioSms
) -> None:
    """Error 21211 (invalid To) is final, and the echoed number is masked."""
    router.post(MESSAGES_URL).mock(
        return_value=twilio_error(
            400, 21211, f"The 'To' number {NUMBER} is not a valid phone number."
        )
    )

    error = await send_failing(gateway)

    assert (error.retryable, error.opted_out) == (False, False)
    assert "21211" in str(error)


async def test_unsubscribed_recipient_is_opted_out(
    router: respx.Router, gateway: TwilioSms
) -> None:
    """Error 21610 (recipient replied STOP) is final and marks the number opted out."""
    router.post(MESSAGES_URL).mock(
        return_value=twilio_error(
            400, 21610, "Attempt to send to unsubscribed recipient"
        )
    )

    error = await send_failing(gateway)

    assert (error.retryable, error.opted_out) == (False, True)


async def test_authentication_failure_is_not_retryable(
    router: respx.Router, gateway: TwilioSms
) -> None:
    """A 401 with error 20003 is final and the message never holds the token."""
    router.post(MESSAGES_URL).mock(
        return_value=twilio_error(401, 20003, f"Authenticate (token {AUTH_TOKEN})")
    )

    error = await send_failing(gateway)

    assert (error.retryable, error.opted_out) == (False, False)
    assert "20003" in str(error)


async def test_other_client_errors_are_not_retryable(
    router: respx.Router, gateway: TwilioSms
) -> None:
    """Any other 4xx (here a 404 for an unknown account) is final."""
    router.post(MESSAGES_URL).mock(
        return_value=twilio_error(404, 20404, "The requested resource was not found")
    )

    error = await send_failing(gateway)

    assert error.retryable is False


async def test_too_many_requests_is_retryable(
    router: respx.Router, gateway: TwilioSms
) -> None:
    """A 429 (error 20429) is worth retrying later."""
    router.post(MESSAGES_URL).mock(
        return_value=twilio_error(429, 20429, "Too Many Requests")
    )

    error = await send_failing(gateway)

    assert (error.retryable, error.opted_out) == (True, False)


@pytest.mark.parametrize(
    "response",
    [
        twilio_error(500, 20500, "An internal server error has occurred"),
        httpx.Response(502, text="<html><body>Bad Gateway</body></html>"),
        httpx.Response(503),
    ],
    ids=["500-json", "502-html", "503-empty"],
)
async def test_server_errors_are_retryable(
    router: respx.Router, gateway: TwilioSms, response: httpx.Response
) -> None:
    """5xx answers, JSON or not, are worth retrying."""
    router.post(MESSAGES_URL).mock(return_value=response)

    error = await send_failing(gateway)

    assert error.retryable is True


@pytest.mark.parametrize(
    "exception",
    [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ConnectError, httpx.ReadError],
)
async def test_network_failures_are_retryable(
    router: respx.Router, gateway: TwilioSms, exception: type[httpx.TransportError]
) -> None:
    """Timeouts and connection errors are worth retrying."""
    router.post(MESSAGES_URL).mock(
        side_effect=exception(f"failed POST To={NUMBER} token={AUTH_TOKEN}")
    )

    error = await send_failing(gateway)

    assert error.retryable is True
    assert isinstance(error.__cause__, exception)


def test_satisfies_the_sms_gateway_port(gateway: TwilioSms) -> None:
    """TwilioSms is an SmsGateway named "twilio" whose repr hides the token."""
    port: SmsGateway = gateway

    assert port.name == "twilio"
    assert AUTH_TOKEN not in repr(gateway)

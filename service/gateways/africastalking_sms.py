"""Africa's Talking bulk SMS sender over an injected httpx.AsyncClient."""

from __future__ import annotations

from typing import Any

import httpx

from service.gateways import GatewayError, OutboundSms, SendResult
from service.gateways._masking import mask_phone, redact

LIVE_BASE_URL = "https://api.africastalking.com"
SANDBOX_BASE_URL = "https://api.sandbox.africastalking.com"

# Per-recipient statusCode from Africa's Talking's SMS documentation.
_ACCEPTED: dict[int, str] = {100: "queued", 101: "sent", 102: "queued"}
# code -> (name, retryable, opted_out)
_REFUSED: dict[int, tuple[str, bool, bool]] = {
    401: ("RiskHold", False, False),
    402: ("InvalidSenderId", False, False),
    403: ("InvalidPhoneNumber", False, False),
    404: ("UnsupportedNumberType", False, False),
    405: ("InsufficientBalance", True, False),  # succeeds once the account is topped up
    406: ("UserInBlacklist", False, True),
    407: ("CouldNotRoute", False, False),
    409: ("DoNotDisturbRejection", False, True),
    500: ("InternalServerError", True, False),
    501: ("GatewayError", True, False),
    502: ("RejectedByGateway", True, False),
}


class AfricasTalkingSms:
    """Sends SMS through Africa's Talking (`POST /version1/messaging`).

    Parameters
    ----------
    client
        Shared HTTP client; its timeouts apply. The gateway never closes it.
    username, api_key
        App credentials; username "sandbox" selects the sandbox API. The key never
        appears in errors.
    sender_id
        Registered shortcode or alphanumeric sender; the account default if None.
    base_url
        API root; by default the live or sandbox root, chosen from `username`.
    """

    name: str = "africastalking"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        username: str,
        api_key: str,
        sender_id: str | None = None,
        base_url: str | None = None,
    ) -> None:
        self._client = client
        self._username = username
        self._api_key = api_key
        self._sender_id = sender_id
        if base_url is None:
            base_url = SANDBOX_BASE_URL if username == "sandbox" else LIVE_BASE_URL
        self._url = f"{base_url.rstrip('/')}/version1/messaging"

    async def send(self, msg: OutboundSms) -> SendResult:
        """Send `msg` to its one recipient; raise GatewayError when AT refuses.

        Delivery reports go to the callback URL set in the AT dashboard, so
        `msg.status_callback` is not sent.
        """
        form = {"username": self._username, "to": msg.to, "message": msg.body}
        if self._sender_id:
            form["from"] = self._sender_id
        headers = {"apiKey": self._api_key, "Accept": "application/json"}
        who = mask_phone(msg.to)
        try:
            response = await self._client.post(self._url, data=form, headers=headers)
        except httpx.UnsupportedProtocol as exc:
            raise GatewayError(
                f"africastalking: bad base URL, SMS to {who} not sent",
                retryable=False,
            ) from exc
        except httpx.TransportError as exc:
            # A read timeout may come after AT accepted the message; retrying
            # risks a duplicate SMS, which beats losing a credit notice.
            raise GatewayError(
                f"africastalking: {type(exc).__name__} sending SMS to {who}",
                retryable=True,
            ) from exc

        if not response.is_success:
            status = response.status_code
            detail = self._redact(response.text)
            raise GatewayError(
                f"africastalking: HTTP {status} for SMS to {who}: {detail}",
                retryable=status in (408, 429) or status >= 500,
            )
        return self._result(_json_object(response), msg.to, who)

    def _result(self, payload: dict[str, Any], to: str, who: str) -> SendResult:
        """Map the SMSMessageData document to a result or a GatewayError."""
        data = payload.get("SMSMessageData")
        data = data if isinstance(data, dict) else {}
        recipients = [r for r in data.get("Recipients") or [] if isinstance(r, dict)]
        if not recipients:
            # AT answers 2xx with no recipients when it refuses the whole request,
            # explaining why in Message (e.g. "InvalidSenderId").
            detail = self._redact(str(data.get("Message") or "no recipients"))
            raise GatewayError(
                f"africastalking: SMS to {who} refused: {detail}", retryable=False
            )
        recipient = next(
            (r for r in recipients if r.get("number") == to), recipients[0]
        )
        try:
            code = int(recipient.get("statusCode", -1))
        except (TypeError, ValueError):
            code = -1
        message_id = recipient.get("messageId")
        provider_id = message_id if isinstance(message_id, str) and message_id else None

        if 100 <= code < 200:  # 1xx: AT has the message (Processed, Sent, Queued)
            return SendResult(
                provider_id=provider_id, status=_ACCEPTED.get(code, "queued")
            )
        name, retryable, opted_out = _REFUSED.get(
            code, (self._redact(str(recipient.get("status"))), code >= 500, False)
        )
        raise GatewayError(
            f"africastalking: statusCode {code} {name} for SMS to {who}",
            retryable=retryable,
            opted_out=opted_out,
        )

    def _redact(self, text: str) -> str:
        """Provider text, shortened, without phone numbers or the API key."""
        return redact(text, self._api_key)[:200]


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

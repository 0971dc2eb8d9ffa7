"""Twilio Programmable Messaging sender over an injected httpx.AsyncClient."""

from __future__ import annotations

from typing import Any

import httpx

from service.gateways import GatewayError, OutboundSms, SendResult
from service.gateways._masking import mask_phone, redact

# Twilio error codes (https://www.twilio.com/docs/api/errors) that need a
# decision other than the HTTP status alone would give.
UNSUBSCRIBED_RECIPIENT = 21610  # the recipient replied STOP to this sender
AUTHENTICATION_FAILED = 20003

# Statuses a create call can answer that the port does not name: both mean
# Twilio has the message and will send it (Messaging Services answer "accepted").
_STATUS_ALIASES = {"accepted": "queued", "scheduled": "queued"}


class TwilioSms:
    """Sends SMS through Twilio's REST API (Messages resource, 2010-04-01).

    Parameters
    ----------
    client
        Shared HTTP client; its timeouts apply. The gateway never closes it.
    account_sid, auth_token
        Credentials for HTTP basic auth; the token never appears in errors.
    from_
        Sender phone number (E.164), or a Messaging Service SID ("MG...").
    base_url
        API root, replaced only in tests or behind an egress proxy.
    """

    name: str = "twilio"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        account_sid: str,
        auth_token: str,
        from_: str,
        base_url: str = "https://api.twilio.com",
    ) -> None:
        self._client = client
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from = from_
        self._url = (
            f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        )

    async def send(self, msg: OutboundSms) -> SendResult:
        """Create one Message resource; raise GatewayError when Twilio refuses."""
        form = {"To": msg.to, "Body": msg.body}
        if self._from.startswith("MG"):
            form["MessagingServiceSid"] = self._from
        else:
            form["From"] = self._from
        if msg.status_callback:
            form["StatusCallback"] = msg.status_callback
        who = mask_phone(msg.to)
        try:
            response = await self._client.post(
                self._url, data=form, auth=(self._account_sid, self._auth_token)
            )
        except httpx.UnsupportedProtocol as exc:
            raise GatewayError(
                f"twilio: bad base URL, SMS to {who} not sent", retryable=False
            ) from exc
        except httpx.TransportError as exc:
            # A read timeout may come after Twilio accepted the message; retrying
            # risks a duplicate SMS, which beats losing a credit notice.
            raise GatewayError(
                f"twilio: {type(exc).__name__} sending SMS to {who}", retryable=True
            ) from exc

        payload = _json_object(response)
        if response.is_success:
            sid = payload.get("sid")
            status = str(payload.get("status") or "queued")
            return SendResult(
                provider_id=sid if isinstance(sid, str) else None,
                status=_STATUS_ALIASES.get(status, status),
            )
        raise self._error(response, payload, who)

    def _error(
        self, response: httpx.Response, payload: dict[str, Any], who: str
    ) -> GatewayError:
        """Map Twilio's error document ({code, message, more_info, status})."""
        code = payload.get("code")
        text = payload.get("message") or response.reason_phrase
        detail = redact(str(text), self._auth_token)[:200]
        message = (
            f"twilio: HTTP {response.status_code}"
            + (f", error {code}" if code is not None else "")
            + f" for SMS to {who}: {detail}"
        )
        if code == UNSUBSCRIBED_RECIPIENT:
            return GatewayError(message, retryable=False, opted_out=True)
        if code == AUTHENTICATION_FAILED:
            return GatewayError(message, retryable=False)
        status = response.status_code
        return GatewayError(message, retryable=status in (408, 429) or status >= 500)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} (gateway pages are often HTML)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

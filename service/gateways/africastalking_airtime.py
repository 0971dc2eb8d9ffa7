"""Africa's Talking airtime payouts: send, transaction query and status callback."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, MutableMapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import httpx

from service.gateways import CallbackRejected, GatewayError, PayoutRequest, PayoutStatus
from service.gateways._masking import mask_phone, redact

LIVE_BASE_URL = "https://api.africastalking.com"
SANDBOX_BASE_URL = "https://api.sandbox.africastalking.com"
SEND_PATH = "/version1/airtime/send"
FIND_PATH = "/query/transaction/find"

# Stored against a reference while a send is out and AT has not yet answered
# with a requestId: AT may have the payout, so it is not "unknown".
AWAITING_ANSWER = ""

_NONE = ("", "None")  # AT writes "None" where it has no value


class AfricasTalkingAirtime:
    """Tops up households' phones through Africa's Talking's Airtime API.

    AT looks transactions up only by its own requestId, never by our reference,
    so the provider keeps `request_ids` (our reference -> AT's requestId) and
    answers status() from it. Pass a persistent mapping in production: with the
    default in-memory dict, references sent before a restart read as "unknown".

    Parameters
    ----------
    client
        Shared HTTP client; its timeouts apply. The provider never closes it.
    username, api_key
        App credentials; username "sandbox" selects the sandbox API. The key never
        appears in errors.
    base_url
        API root; by default the live or sandbox root, chosen from `username`.
    callback_token
        Secret that must arrive as the `token` query parameter of the status
        callback URL registered in the AT dashboard (AT signs nothing).
    query_base_url
        Root of the transaction query (`/query/transaction/find`); `base_url` if None.
    request_ids
        Our reference -> AT's requestId, or AWAITING_ANSWER while a send is out.
    """

    name: str = "africastalking"
    kinds: frozenset[str] = frozenset({"airtime"})

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        username: str,
        api_key: str,
        base_url: str | None = None,
        callback_token: str,
        query_base_url: str | None = None,
        request_ids: MutableMapping[str, str] | None = None,
    ) -> None:
        if not callback_token:
            raise ValueError("africastalking: callback_token must not be empty")
        self._client = client
        self._username = username
        self._api_key = api_key
        self._callback_token = callback_token
        if base_url is None:
            base_url = SANDBOX_BASE_URL if username == "sandbox" else LIVE_BASE_URL
        self._send_url = base_url.rstrip("/") + SEND_PATH
        self._find_url = (query_base_url or base_url).rstrip("/") + FIND_PATH
        self.request_ids: MutableMapping[str, str] = (
            {} if request_ids is None else request_ids
        )

    async def submit(self, request: PayoutRequest) -> PayoutStatus:
        """Send the airtime with `Idempotency-Key: reference`.

        A "Failed" recipient is a definitive answer (state "failed"), not an
        error. AT's duplicate-request refusal means an earlier try got through:
        the current status is returned instead.
        """
        who = mask_phone(request.destination)
        what = f"airtime {request.reference} to {who}"
        if request.kind not in self.kinds:
            raise GatewayError(
                f"africastalking: cannot pay kind {request.kind!r} ({what})",
                retryable=False,
            )
        if self.request_ids.get(request.reference):
            return await self.status(request.reference)  # AT already accepted it
        try:
            amount = f"{request.currency} {kobo_to_amount(request.amount_kobo)}"
        except ValueError as exc:
            raise GatewayError(
                f"africastalking: {exc} ({what})", retryable=False
            ) from exc

        recipients = [{"phoneNumber": request.destination, "amount": amount}]
        form = {
            "username": self._username,
            "recipients": json.dumps(recipients, separators=(",", ":")),
        }
        headers = {
            "apiKey": self._api_key,
            "Accept": "application/json",
            # AT's SDKs send Idempotency-Key; its idempotency page spells it
            # Idempotence-Key. Both carry the reference so either is honoured.
            "Idempotency-Key": request.reference,
            "Idempotence-Key": request.reference,
        }
        first_try = request.reference not in self.request_ids
        self.request_ids.setdefault(request.reference, AWAITING_ANSWER)
        try:
            response = await self._client.post(
                self._send_url, data=form, headers=headers
            )
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.UnsupportedProtocol,
        ) as exc:
            # No connection was made, so AT cannot have the payout.
            if first_try:
                self.request_ids.pop(request.reference, None)
            bad_url = isinstance(exc, httpx.UnsupportedProtocol)
            raise self._transport_error(what, exc, retryable=not bad_url) from exc
        except httpx.TransportError as exc:
            raise self._transport_error(what, exc) from exc

        if not response.is_success:
            if first_try and response.status_code < 500:
                self.request_ids.pop(request.reference, None)  # refused outright
            raise self._http_error(response, what)
        answer = _json_object(response)
        if "responses" not in answer and "errorMessage" not in answer:
            # A 2xx that is not AT's answer (a proxy page, a cut body): AT may
            # have the payout, so keep it pending and let status() decide.
            raise GatewayError(
                f"africastalking: unreadable answer to {what}", retryable=True
            )
        return await self._sent(request, answer, what, first_try)

    async def status(
        self, reference: str, provider_txn: str | None = None
    ) -> PayoutStatus:
        """AT's view of the payout, found through its requestId.

        The requestId comes from the caller (stored with the payout, so it survives a
        restart) or from this adapter's map. "unknown" only when neither knows the
        reference; a send whose answer was lost stays "pending" (AT offers no lookup
        by our reference). A resend after "unknown" carries the same Idempotency-Key.
        """
        request_id = provider_txn or self.request_ids.get(reference)
        if request_id is None:
            return PayoutStatus("unknown", reference)
        if request_id == AWAITING_ANSWER:
            return PayoutStatus(
                "pending",
                reference,
                reason="sent without an answer; awaiting AT's status callback",
            )
        what = f"status of airtime {reference} ({request_id})"
        params = {"username": self._username, "transactionId": request_id}
        headers = {"apiKey": self._api_key, "Accept": "application/json"}
        try:
            response = await self._client.get(
                self._find_url, params=params, headers=headers
            )
        except httpx.UnsupportedProtocol as exc:
            raise self._transport_error(what, exc, retryable=False) from exc
        except httpx.TransportError as exc:
            raise self._transport_error(what, exc) from exc
        if not response.is_success:
            raise self._http_error(response, what)

        answer = _json_object(response)
        data = answer.get("data")
        if answer.get("status") != "Success" or not isinstance(data, dict):
            # AT gave us this requestId, so it has the payout: never "unknown".
            detail = self._redact(str(answer.get("errorMessage") or "no data"))
            return PayoutStatus(
                "pending", reference, provider_txn=request_id, reason=detail
            )
        return _final_status(
            str(data.get("status") or ""),
            reference=reference,
            provider_txn=request_id,
            description=data.get("description") or data.get("errorMessage"),
            value=data.get("value"),
        )

    def parse_callback(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> PayoutStatus:
        """Check the URL's `token`, then read AT's status notification.

        AT posts form fields (phoneNumber, description, status, requestId,
        discount, value); a JSON body with the same names is read too.
        """
        given = query.get("token", "")
        if not given or not hmac.compare_digest(
            given.encode(), self._callback_token.encode()
        ):
            raise CallbackRejected(
                "africastalking: callback token missing or wrong", status=403
            )
        fields = _callback_fields(headers, body)
        request_id = fields.get("requestId")
        status = fields.get("status")
        if not isinstance(request_id, str) or request_id in _NONE:
            raise CallbackRejected(
                "africastalking: callback has no requestId", status=400
            )
        if not isinstance(status, str) or not status:
            raise CallbackRejected("africastalking: callback has no status", status=400)
        return _final_status(
            status,
            reference=None,
            provider_txn=request_id,
            description=fields.get("description"),
            value=fields.get("value"),
        )

    # --- internals ----------------------------------------------------------------

    async def _sent(
        self,
        request: PayoutRequest,
        answer: dict[str, Any],
        what: str,
        first_try: bool,
    ) -> PayoutStatus:
        """Map AT's answer to a send: Sent -> pending, Failed -> failed."""
        responses = [r for r in answer.get("responses") or [] if isinstance(r, dict)]
        if not responses:
            message = str(answer.get("errorMessage") or "no responses")
            if _is_duplicate(message):
                return await self.status(request.reference)
            if first_try:
                self.request_ids.pop(request.reference, None)
            raise GatewayError(
                f"africastalking: {what} refused: {self._redact(message)}",
                retryable=False,
            )
        entry = next(
            (r for r in responses if r.get("phoneNumber") == request.destination),
            responses[0],
        )
        status = str(entry.get("status") or "")
        message = str(entry.get("errorMessage") or "None")
        if status == "Failed" and _is_duplicate(message):
            return await self.status(request.reference)
        request_id = _text(entry.get("requestId"))
        if request_id is not None:
            self.request_ids[request.reference] = request_id
        if status == "Failed":
            if first_try and request_id is None:
                self.request_ids.pop(request.reference, None)
            return PayoutStatus(
                "failed",
                request.reference,
                provider_txn=request_id,
                reason=self._redact(message),
                amount_kobo=request.amount_kobo,
            )
        # "Sent": AT passed it to the telco; the result comes by callback or query.
        return PayoutStatus(
            "pending",
            request.reference,
            provider_txn=request_id,
            amount_kobo=amount_to_kobo(entry.get("amount")) or request.amount_kobo,
        )

    def _transport_error(
        self, what: str, exc: Exception, *, retryable: bool = True
    ) -> GatewayError:
        """A GatewayError naming the failure type only (no URL, no number)."""
        return GatewayError(
            f"africastalking: {type(exc).__name__} on {what}", retryable=retryable
        )

    def _http_error(self, response: httpx.Response, what: str) -> GatewayError:
        """A GatewayError for a non-2xx answer: 408, 429 and 5xx are retryable."""
        status = response.status_code
        return GatewayError(
            f"africastalking: HTTP {status} on {what}: {self._redact(response.text)}",
            retryable=status in (408, 429) or status >= 500,
        )

    def _redact(self, text: str) -> str:
        """Provider text, shortened, without phone numbers, the key or the token."""
        return redact(text, self._api_key, self._callback_token)[:200]


def kobo_to_amount(kobo: int) -> str:
    """Kobo as AT's decimal value: 50000 -> "500", 50050 -> "500.50".

    Raises ValueError for a non-positive amount.
    """
    if isinstance(kobo, bool) or not isinstance(kobo, int) or kobo <= 0:
        raise ValueError(f"amount must be a positive number of kobo, not {kobo!r}")
    naira, rest = divmod(kobo, 100)
    return str(naira) if rest == 0 else f"{naira}.{rest:02d}"


def amount_to_kobo(value: object) -> int | None:
    """AT's "NGN 500.0000" in kobo, exactly; None if unreadable or sub-kobo."""
    if not isinstance(value, str):
        return None
    parts = value.split()
    if not parts:
        return None
    try:
        amount = Decimal(parts[-1])
    except InvalidOperation:
        return None
    # adjusted() bounds the exponent so "1e999999999" cannot build a huge int.
    if not amount.is_finite() or amount < 0 or amount.adjusted() > 15:
        return None
    kobo = amount * 100
    if kobo != kobo.to_integral_value():
        return None
    return int(kobo)


def _final_status(
    status: str,
    *,
    reference: str | None,
    provider_txn: str,
    description: object,
    value: object,
) -> PayoutStatus:
    """Success -> succeeded, Failed -> failed, anything else stays pending."""
    reason = redact(description)[:200] if isinstance(description, str) else None
    state = {"success": "succeeded", "failed": "failed"}.get(status.lower(), "pending")
    return PayoutStatus(
        state,
        reference,
        provider_txn=provider_txn,
        reason=reason,
        amount_kobo=amount_to_kobo(value),
    )


def _callback_fields(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The notification's fields from a form body, or a JSON one."""
    content_type = next(
        (v for k, v in headers.items() if k.lower() == "content-type"), ""
    )
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise CallbackRejected(
            "africastalking: callback is not UTF-8", status=400
        ) from exc
    if "json" in content_type.lower() or text.lstrip().startswith("{"):
        try:
            fields = json.loads(text)
        except ValueError as exc:
            raise CallbackRejected(
                "africastalking: callback is not valid JSON", status=400
            ) from exc
        if not isinstance(fields, dict):
            raise CallbackRejected(
                "africastalking: callback is not an object", status=400
            )
        return fields
    return dict(parse_qsl(text, keep_blank_values=True))


def _is_duplicate(message: str) -> bool:
    """True for AT's refusal of a repeated idempotency key."""
    return "duplicate" in message.lower()


def _text(value: object) -> str | None:
    """A string field, or None where AT wrote nothing or "None"."""
    return value if isinstance(value, str) and value not in _NONE else None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

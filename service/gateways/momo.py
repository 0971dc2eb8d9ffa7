"""MTN MoMo Disbursement payouts (token, transfer, status, callback) over httpx."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from service.gateways import CallbackRejected, GatewayError, PayoutRequest, PayoutStatus
from service.gateways._masking import mask_phone, redact

SANDBOX_BASE_URL = "https://sandbox.momodeveloper.mtn.com"
TOKEN_PATH = "/disbursement/token/"
TRANSFER_PATH = "/disbursement/v1_0/transfer"

PAYER_MESSAGE = "Recoop recycling payout"
PAYEE_NOTE = "Recoop recycling credit"

# MTN advises refreshing a token 10 minutes before it expires and never
# fetching one per transaction; short-lived tokens keep at least half their life.
_TOKEN_MARGIN_S = 600.0

# MoMo's TransferResult.status; anything else is kept pending, never guessed.
_STATES = {"PENDING": "pending", "SUCCESSFUL": "succeeded", "FAILED": "failed"}


class MomoDisbursement:
    """Pays households' MoMo wallets through the Disbursement product.

    Parameters
    ----------
    client
        Shared HTTP client; its timeouts apply. The provider never closes it.
    base_url
        API root: the sandbox by default, the country's MoMo host in production.
    subscription_key
        The Disbursement product's `Ocp-Apim-Subscription-Key`.
    api_user, api_key
        API user (a UUID) and key, sent as basic auth to get access tokens.
    target_environment
        `X-Target-Environment`: "sandbox", or the production wallet (e.g. "mtnnigeria").
    currency
        Currency sent to MoMo. None sends EUR in the sandbox (the only currency it
        accepts) and the request's own currency elsewhere; a set currency must
        match each request's outside the sandbox.
    callback_token
        Secret added as `token` to every callback URL; MoMo signs nothing, so a
        callback without it is refused.
    clock
        Monotonic seconds, for the access-token cache.
    """

    name: str = "momo"
    kinds: frozenset[str] = frozenset({"mobile_money"})

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str = SANDBOX_BASE_URL,
        subscription_key: str,
        api_user: str,
        api_key: str,
        target_environment: str = "sandbox",
        currency: str | None = None,
        callback_token: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callback_token:
            raise ValueError("momo: callback_token must not be empty")
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._subscription_key = subscription_key
        self._api_user = api_user
        self._api_key = api_key
        self._environment = target_environment
        self._sandbox = target_environment == "sandbox"
        self._currency = currency or ("EUR" if self._sandbox else None)
        self._callback_token = callback_token
        self._clock = clock
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    async def submit(self, request: PayoutRequest) -> PayoutStatus:
        """Create the transfer under `X-Reference-Id: reference`.

        A 409 means MoMo already has this reference (an earlier try got through):
        its current status is returned and nothing new is created.
        """
        who = mask_phone(request.destination)
        what = f"transfer {request.reference} to {who}"
        party_id = request.destination.removeprefix("+")
        if request.kind not in self.kinds:
            raise GatewayError(
                f"momo: cannot pay kind {request.kind!r} ({what})", retryable=False
            )
        if not (party_id.isascii() and party_id.isdigit()):
            raise GatewayError(f"momo: bad MSISDN for {what}", retryable=False)
        currency = self._currency or request.currency
        if not self._sandbox and currency != request.currency:
            raise GatewayError(
                f"momo: {what} is in {request.currency}, the wallet pays {currency}",
                retryable=False,
            )
        try:
            amount = kobo_to_amount(request.amount_kobo)
        except ValueError as exc:
            raise GatewayError(f"momo: {exc} ({what})", retryable=False) from exc

        headers = {"X-Reference-Id": request.reference}
        if request.callback_url:
            headers["X-Callback-Url"] = self._signed_callback_url(request.callback_url)
        body = {
            "amount": amount,
            "currency": currency,
            "externalId": request.reference,
            "payee": {"partyIdType": "MSISDN", "partyId": party_id},
            "payerMessage": PAYER_MESSAGE,
            "payeeNote": PAYEE_NOTE,
        }
        response = await self._call(
            "POST", TRANSFER_PATH, what, headers=headers, payload=body
        )
        if response.is_success:  # 202 Accepted: queued, result by callback or GET
            return PayoutStatus(
                "pending", request.reference, amount_kobo=request.amount_kobo
            )
        if response.status_code == 409:  # RESOURCE_ALREADY_EXIST: ask, never re-create
            current = await self.status(request.reference)
            if current.state != "unknown":
                return current
            return PayoutStatus(
                "pending", request.reference, reason="RESOURCE_ALREADY_EXIST"
            )
        raise self._http_error(response, what)

    async def status(
        self, reference: str, provider_txn: str | None = None
    ) -> PayoutStatus:
        """GET the transfer; 404 means MoMo never received it ("unknown")."""
        what = f"status of transfer {reference}"
        response = await self._call("GET", f"{TRANSFER_PATH}/{reference}", what)
        if response.status_code == 404:
            return PayoutStatus("unknown", reference)
        if not response.is_success:
            raise self._http_error(response, what)
        result = _json_object(response)
        if not isinstance(result.get("status"), str):
            raise GatewayError(f"momo: {what}: answer without a status", retryable=True)
        return _transfer_status(result, reference)

    def parse_callback(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> PayoutStatus:
        """Check the URL's `token`, then read MoMo's transfer result (sent once)."""
        given = query.get("token", "")
        if not given or not hmac.compare_digest(
            given.encode(), self._callback_token.encode()
        ):
            raise CallbackRejected("momo: callback token missing or wrong", status=403)
        try:
            result = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CallbackRejected("momo: callback is not JSON", status=400) from exc
        if not isinstance(result, dict):
            raise CallbackRejected("momo: callback is not an object", status=400)
        reference = result.get("externalId")
        if not isinstance(reference, str) or not reference:
            raise CallbackRejected("momo: callback has no externalId", status=400)
        if not isinstance(result.get("status"), str):
            raise CallbackRejected("momo: callback has no status", status=400)
        return _transfer_status(result, reference)

    # --- HTTP -------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        headers: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one authorised request, renewing the token once on a 401."""
        token = await self._access_token(what)
        response = await self._send_with(token, method, path, what, headers, payload)
        if response.status_code == 401:
            # A token revoked or expired early: MoMo refused it before doing
            # anything, so one retry with a fresh token is safe even for a POST.
            self._drop_token(token)
            token = await self._access_token(what)
            response = await self._send_with(
                token, method, path, what, headers, payload
            )
        return response

    async def _send_with(
        self,
        token: str,
        method: str,
        path: str,
        what: str,
        headers: dict[str, str] | None,
        payload: dict[str, Any] | None,
    ) -> httpx.Response:
        """One request carrying `token` and the product headers."""
        all_headers = {
            "Authorization": f"Bearer {token}",
            "X-Target-Environment": self._environment,
            "Ocp-Apim-Subscription-Key": self._subscription_key,
            **(headers or {}),
        }
        return await self._send(
            method, self._base_url + path, what, headers=all_headers, payload=payload
        )

    async def _access_token(self, what: str) -> str:
        """The cached access token, fetched again shortly before it expires."""
        async with self._token_lock:
            if self._token is not None and self._clock() < self._token_expires_at:
                return self._token
            response = await self._send(
                "POST",
                self._base_url + TOKEN_PATH,
                f"token for {what}",
                headers={"Ocp-Apim-Subscription-Key": self._subscription_key},
                auth=httpx.BasicAuth(self._api_user, self._api_key),
            )
            if not response.is_success:
                raise self._http_error(response, f"token for {what}")
            answer = _json_object(response)
            token = answer.get("access_token")
            expires_in = answer.get("expires_in")
            if not isinstance(token, str) or not token:
                raise GatewayError(
                    f"momo: token for {what}: answer without access_token",
                    retryable=True,
                )
            lifetime = _seconds(expires_in)
            self._token = token
            self._token_expires_at = self._clock() + max(
                lifetime - _TOKEN_MARGIN_S, lifetime / 2
            )
            return token

    def _drop_token(self, token: str) -> None:
        """Forget `token` unless a concurrent call already replaced it."""
        if self._token == token:
            self._token = None

    async def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        headers: dict[str, str],
        payload: dict[str, Any] | None = None,
        auth: httpx.BasicAuth | None = None,
    ) -> httpx.Response:
        """One HTTP exchange; transport failures become GatewayError."""
        try:
            return await self._client.request(
                method,
                url,
                headers=headers,
                json=payload,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.UnsupportedProtocol as exc:
            raise GatewayError(
                f"momo: bad base URL, {what} not sent", retryable=False
            ) from exc
        except httpx.TransportError as exc:
            # A timeout after sending is ambiguous; the caller resolves it with
            # status(), and a retry reuses the reference, so nothing is paid twice.
            raise GatewayError(
                f"momo: {type(exc).__name__} on {what}", retryable=True
            ) from exc

    def _http_error(self, response: httpx.Response, what: str) -> GatewayError:
        """A GatewayError for a non-2xx answer: 408, 429 and 5xx are retryable."""
        status = response.status_code
        detail = self._redact(response.text)
        return GatewayError(
            f"momo: HTTP {status} on {what}: {detail}",
            retryable=status in (408, 429) or status >= 500,
        )

    def _redact(self, text: str) -> str:
        """Provider text, shortened, without numbers, keys or tokens."""
        secrets = (
            self._subscription_key,
            self._api_key,
            self._api_user,
            self._callback_token,
            self._token or "",
        )
        return redact(text, *secrets)[:200]

    def _signed_callback_url(self, url: str) -> str:
        """`url` with our secret `token` query parameter (replacing any other)."""
        parts = urlsplit(url)
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k != "token"
        ]
        query.append(("token", self._callback_token))
        return urlunsplit(parts._replace(query=urlencode(query)))


def kobo_to_amount(kobo: int) -> str:
    """Kobo as MoMo's decimal string: 50000 -> "500", 50050 -> "500.50".

    Raises ValueError for a non-positive amount.
    """
    if isinstance(kobo, bool) or not isinstance(kobo, int) or kobo <= 0:
        raise ValueError(f"amount must be a positive number of kobo, not {kobo!r}")
    naira, rest = divmod(kobo, 100)
    return str(naira) if rest == 0 else f"{naira}.{rest:02d}"


def amount_to_kobo(amount: object) -> int | None:
    """MoMo's amount ("500", "500.50", or a JSON number) in kobo, exactly.

    None when it is missing, negative, not a number, or has fractions of a kobo.
    """
    if isinstance(amount, bool) or not isinstance(amount, str | int | float):
        return None
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        return None
    # adjusted() bounds the exponent so "1e999999999" cannot build a huge int.
    if not value.is_finite() or value < 0 or value.adjusted() > 15:
        return None
    kobo = value * 100
    if kobo != kobo.to_integral_value():
        return None
    return int(kobo)


def _transfer_status(result: dict[str, Any], reference: str) -> PayoutStatus:
    """Map a TransferResult (GET answer or callback body) to a PayoutStatus."""
    status = str(result.get("status"))
    state = _STATES.get(status.upper())
    txn = result.get("financialTransactionId")
    provider_txn = str(txn) if isinstance(txn, str | int) and str(txn) else None
    reason: str | None = None
    if state == "failed":
        reason = _reason(result.get("reason")) or "FAILED"
    elif state is None:
        state, reason = "pending", f"unrecognised MoMo status {status[:40]!r}"
    return PayoutStatus(
        state,
        reference,
        provider_txn=provider_txn,
        reason=reason,
        amount_kobo=amount_to_kobo(result.get("amount")),
    )


def _seconds(expires_in: object) -> float:
    """A token's `expires_in` in seconds; MoMo's documented hour when unreadable."""
    if isinstance(expires_in, int | str) and not isinstance(expires_in, bool):
        try:
            seconds = float(expires_in)
        except ValueError:
            return 3600.0
        if 0 < seconds < 1e7:
            return seconds
    return 3600.0


def _reason(raw: object) -> str | None:
    """The failure reason: a plain code ("NOT_ENOUGH_FUNDS") or an ErrorReason object."""
    if isinstance(raw, dict):
        raw = raw.get("code") or raw.get("message")
    if isinstance(raw, str) and raw:
        return redact(raw)[:100]
    return None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

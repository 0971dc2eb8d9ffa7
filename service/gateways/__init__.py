"""Ports to the outside world: SMS gateways (and later payout providers, geocoders)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """One message to send; `key` is the outbox row's idempotency key."""

    to: str  # E.164, e.g. "+2348031234567"
    body: str
    key: str
    status_callback: str | None = None  # absolute URL the provider reports status to


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider answered: its message id and first status."""

    provider_id: str | None
    status: str  # queued | sending | sent | delivered | undelivered | failed


class GatewayError(Exception):
    """The provider refused or could not be reached.

    `retryable` is True for timeouts, connection errors, 429 and 5xx; False when
    sending again cannot help (bad number, recipient opted out, bad credentials).
    `opted_out` is True when the provider says the recipient has blocked us.
    """

    def __init__(self, message: str, *, retryable: bool, opted_out: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.opted_out = opted_out


class SmsGateway(Protocol):
    """Sends one SMS; raises GatewayError on failure."""

    name: str

    async def send(self, msg: OutboundSms) -> SendResult: ...


# --- Payouts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """One payout to make; `reference` is ours, unique, and the same on every retry."""

    reference: str  # lowercase UUID4 string
    kind: str  # "airtime" | "mobile_money"
    amount_kobo: int
    currency: str  # "NGN"
    destination: str  # E.164 number: the airtime recipient or the wallet's MSISDN
    callback_url: str | None = None  # where the provider should report the result


@dataclass(frozen=True, slots=True)
class PayoutStatus:
    """What the provider says about one payout.

    state: "pending" (received, not final) | "succeeded" | "failed" (final) |
    "unknown" (the provider never received it: safe to submit again).
    Callbacks may identify the payout by our `reference`, by the provider's own
    `provider_txn`, or both.
    """

    state: str
    reference: str | None = None
    provider_txn: str | None = None
    reason: str | None = None
    amount_kobo: int | None = None


class CallbackRejected(Exception):
    """A callback failed authentication or could not be parsed (answer 4xx)."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


class PayoutProvider(Protocol):
    """A payout provider: submit, ask the status, and read its callbacks."""

    name: str
    kinds: frozenset[str]  # which PayoutRequest.kind values it can pay

    async def submit(self, request: PayoutRequest) -> PayoutStatus:
        """Send the payout. A reference the provider already has is not an error:
        return its current status. Raises GatewayError when the provider could not be
        reached or refused (retryable tells which); a timeout is retryable and the
        caller resolves it with status(), never by assuming failure."""
        ...

    async def status(
        self, reference: str, provider_txn: str | None = None
    ) -> PayoutStatus:
        """The provider's current view of a payout; "unknown" if never received.

        `provider_txn` is the provider's own id, when we stored one: providers that
        cannot look a payout up by our reference need it."""
        ...

    def parse_callback(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> PayoutStatus:
        """Authenticate and parse one callback; raises CallbackRejected."""
        ...

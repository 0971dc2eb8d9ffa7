"""Ports to the outside world: SMS gateways (and later payout providers, geocoders)."""

from __future__ import annotations

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

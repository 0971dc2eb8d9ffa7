"""Commands: what someone asks the service to do, named for intent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class Command:
    """Base class, so the bus can tell commands from events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class InboundSms(Command):
    """An SMS arrived; `message_id` (Twilio MessageSid, AT id) makes it idempotent.

    `reply_by` is "twiml" when the reply goes back in the webhook response, and
    "outbox" when it must be sent as a new message (Africa's Talking).
    """

    provider: str
    message_id: str
    from_phone: str
    body: str
    received_at: datetime
    reply_by: str = "twiml"


@dataclass(frozen=True, slots=True)
class RecordDeliveryStatus(Command):
    """A provider reported what happened to a message we sent."""

    provider: str
    provider_id: str
    status: str
    at: datetime
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class SendSms(Command):
    """Send a message the service starts (not a reply); `key` dedupes it."""

    to_phone: str
    body: str
    key: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreateApiToken(Command):
    """Issue a bearer token for the JSON API."""

    role: str
    name: str

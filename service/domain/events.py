"""Events: facts the domain records; outgoing ones become outbox rows on commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class Event:
    """Base class for domain events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class HouseholdJoined(Event):
    household_id: int
    phone: str


@dataclass(frozen=True, slots=True)
class PickupRequested(Event):
    pickup_id: int
    household_id: int
    code: str


@dataclass(frozen=True, slots=True)
class PickupCancelled(Event):
    pickup_id: int
    household_id: int


@dataclass(frozen=True, slots=True)
class NumberOptedOut(Event):
    phone: str


@dataclass(frozen=True, slots=True)
class SmsQueued(Event):
    """An SMS to deliver; the unit of work writes it to the outbox in the same transaction."""

    to_phone: str
    body: str
    key: str
    expires_at: datetime | None = None
    is_reply: bool = False

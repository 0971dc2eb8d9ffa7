"""Commands: what someone asks the service to do, named for intent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


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


@dataclass(frozen=True, slots=True)
class SetRate(Command):
    """Kobo per kg for a material from a date on; replaces only that (material, date)."""

    material: str
    kobo_per_kg: int
    effective_from: date
    set_by: str = ""


@dataclass(frozen=True, slots=True)
class LogWeights(Command):
    """A collector weighed what a household gave at one pickup.

    `idempotency_key` is the client's (API), the Kobo instance id, or the SMS id;
    `scope` keeps those key spaces apart.
    """

    pickup_code: str
    items: tuple[tuple[str, int], ...]  # (material, grams)
    collected_at: datetime
    idempotency_key: str
    scope: str = "api"
    source: str = "api"
    collector: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class RecordPayoutResult(Command):
    """A provider (callback or status poll) says how a payout ended."""

    provider: str
    state: str  # pending | succeeded | failed | unknown
    reference: str | None = None
    provider_txn: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExpireHolds(Command):
    """Release payout holds that never reached a provider, and unclaimed vouchers."""

    now: datetime


@dataclass(frozen=True, slots=True)
class ReverseWeighing(Command):
    """An operator corrects a weighing by a reversing transfer, never an edit."""

    weighing_id: int
    amount_kobo: int
    note: str
    operator: str
    dispute_id: int | None = None


@dataclass(frozen=True, slots=True)
class RegisterShop(Command):
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class RegisterCollector(Command):
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class RequestRedemption(Command):
    """An operator redeems a household's credit; the key makes a retry safe."""

    household_id: int
    kind: str  # airtime | mobile_money | voucher
    amount_kobo: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class PlanDay(Command):
    """Plan `day`'s rounds from open requests and weekly subscriptions.

    `without_bikes` and `from_min` re-plan during the day: those bikes dropped out
    and nothing is scheduled before `from_min` (minutes after local midnight).
    """

    day: date
    seconds: float | None = None
    without_bikes: tuple[int, ...] = ()
    from_min: int | None = None


@dataclass(frozen=True, slots=True)
class SendReminders(Command):
    """The morning reminder to every household scheduled on `day`."""

    day: date


@dataclass(frozen=True, slots=True)
class LocateHouseholds(Command):
    """Geocode households that have no location yet (cached; failures to operators)."""

    limit: int = 50


@dataclass(frozen=True, slots=True)
class AddHub(Command):
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class AddBike(Command):
    name: str
    hub_id: int
    capacity_kg: float
    shift_start_min: int = 8 * 60
    shift_end_min: int = 16 * 60
    speed_kmh: float = 12.0
    collector_id: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateHub(Command):
    """Rename or move a hub; a field left None stays as it is."""

    hub_id: int
    name: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class UpdateBike(Command):
    """Change a bike; a field left None stays as it is. With ``set_collector``
    the bike gets ``collector_id`` as its collector (None: no collector)."""

    bike_id: int
    name: str | None = None
    hub_id: int | None = None
    capacity_kg: float | None = None
    shift_start_min: int | None = None
    shift_end_min: int | None = None
    speed_kmh: float | None = None
    active: bool | None = None
    set_collector: bool = False
    collector_id: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateCollector(Command):
    """Rename a collector, or stop (or restore) their phone's access."""

    collector_id: int
    name: str | None = None
    active: bool | None = None


@dataclass(frozen=True, slots=True)
class PinLocation(Command):
    """A collector's GPS pin (or an operator's fix) replaces a rough location."""

    household_id: int
    lat: float
    lon: float
    source: str = "gps"


@dataclass(frozen=True, slots=True)
class SetWeeklyDay(Command):
    household_id: int
    weekday: int | None


@dataclass(frozen=True, slots=True)
class CloseDispute(Command):
    """An operator closes a dispute without a correction: the weighing stands."""

    dispute_id: int
    note: str
    operator: str


@dataclass(frozen=True, slots=True)
class MarkMessageReviewed(Command):
    """An operator has read an unparsed SMS; it leaves the review queue."""

    message_id: int


@dataclass(frozen=True, slots=True)
class MissStop(Command):
    """The collector could not collect; the pickup stays open for another day."""

    pickup_code: str
    reason: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class PinStop(Command):
    """A GPS pin taken at a stop (named by pickup code or household id)."""

    lat: float
    lon: float
    idempotency_key: str
    pickup_code: str | None = None
    household_id: int | None = None


@dataclass(frozen=True, slots=True)
class ActOnOwnStop(Command):
    """A write from the collector page, refused unless the stop is on their round."""

    collector_id: int
    action: LogWeights | MissStop | PinStop

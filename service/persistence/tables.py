"""SQLModel table classes: the schema, and the only module that imports sqlmodel."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and gives them back aware (SQLite forgets zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_type=UtcDateTime,
        nullable=nullable,
        index=index,
    )


class Household(SQLModel, table=True):
    """A registered phone number and where to collect from."""

    __tablename__ = "households"

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=80)
    address: str = Field(max_length=200)
    language: str = Field(default="en", max_length=4)
    status: str = Field(default="active", max_length=12)  # active | opted_out
    lat: float | None = None
    lon: float | None = None
    # pluscode | geocoded | gps | failed (needs an operator) | None (not tried yet)
    location_source: str | None = Field(default=None, max_length=10)
    weekly_day: int | None = None  # 0 = Monday: a standing weekly pickup
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Pickup(SQLModel, table=True):
    """One request to collect from a household; at most one open per household."""

    __tablename__ = "pickups"
    __table_args__ = (
        # "One open request per household", enforced by the database under races.
        sa.Index(
            "uq_pickups_one_open_per_household",
            "household_id",
            unique=True,
            sqlite_where=sa.text("status IN ('open', 'scheduled')"),
            postgresql_where=sa.text("status IN ('open', 'scheduled')"),
        ),
        sa.Index("ix_pickups_status_created", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=8, unique=True)
    household_id: int = Field(foreign_key="households.id")
    status: str = Field(default="open", max_length=12)  # open|scheduled|done|cancelled
    source_message_id: int | None = Field(default=None)
    missed_reason: str | None = Field(default=None, max_length=160)
    scheduled_day: date | None = None
    window_start_min: int | None = None  # minutes after local midnight
    window_end_min: int | None = None
    round_id: int | None = Field(default=None, foreign_key="rounds.id")
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class InboundMessage(SQLModel, table=True):
    """Every SMS received, with the reply we gave: the inbox that makes intake idempotent."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_message_id", name="uq_inbound_sid"),
        sa.Index("ix_inbound_phone_received", "phone", "received_at"),
        sa.Index("ix_inbound_intent", "intent", "reviewed"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=20)  # twilio | africastalking
    provider_message_id: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    body: str = Field(max_length=1600)
    intent: str = Field(max_length=20)  # parser intent name; "unknown" for review
    household_id: int | None = None
    reply: str | None = Field(default=None, max_length=1600)
    reviewed: bool = False
    received_at: datetime = _ts()


class OptOut(SQLModel, table=True):
    """A number that texted STOP: nothing the service starts is sent to it."""

    __tablename__ = "opt_outs"

    phone: str = Field(max_length=20, primary_key=True)
    word: str = Field(max_length=16)
    opted_out_at: datetime = _ts()


class Outbox(SQLModel, table=True):
    """A side effect to deliver (an SMS), written in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_phone_sent", "to_phone", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)  # idempotency key of the effect
    kind: str = Field(default="sms", max_length=12)
    to_phone: str = Field(max_length=20)
    body: str = Field(max_length=1600)
    # A reply to the household's own message does not count against the hourly cap.
    is_reply: bool = False
    status: str = Field(default="pending", max_length=12)
    # pending | sending | sent | failed | expired | suppressed
    attempts: int = 0
    max_attempts: int = 8
    next_attempt_at: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    expires_at: datetime = _ts()
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    gateway: str | None = Field(default=None, max_length=20)
    provider_id: str | None = Field(default=None, max_length=64, index=True)
    last_error: str | None = Field(default=None, max_length=300)
    # The request that queued it (webhook or API), so one id follows a message through.
    request_id: str | None = Field(default=None, max_length=32)


class DeliveryReport(SQLModel, table=True):
    """Latest delivery status per provider message id; never moves backwards."""

    __tablename__ = "delivery_reports"

    provider_id: str = Field(max_length=64, primary_key=True)
    status: str = Field(max_length=16)
    rank: int
    error_code: str | None = Field(default=None, max_length=16)
    updated_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=12)  # operator | collector
    name: str = Field(default="", max_length=80)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)


class Account(SQLModel, table=True):
    """A ledger account; households and shops keep cached balances here.

    The CHECK is the last line of defence for "never below zero": the ledger's
    conditional update refuses first, with a clear answer.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        sa.CheckConstraint(
            "NOT no_overdraft OR debits_posted + debits_pending <= credits_posted",
            name="ck_accounts_no_overdraft",
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 "
            "AND credits_pending >= 0",
            name="ck_accounts_non_negative",
        ),
    )

    name: str = Field(max_length=64, primary_key=True)
    type: str = Field(max_length=12)
    no_overdraft: bool = False
    debits_posted: int = Field(default=0, sa_type=sa.BigInteger)
    credits_posted: int = Field(default=0, sa_type=sa.BigInteger)
    debits_pending: int = Field(default=0, sa_type=sa.BigInteger)
    credits_pending: int = Field(default=0, sa_type=sa.BigInteger)
    created_at: datetime = _ts()


class LedgerTransfer(SQLModel, table=True):
    """One balanced movement; pending ones become posted or voided exactly once."""

    __tablename__ = "transfers"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="ck_transfers_positive"),
        sa.CheckConstraint(
            "debit_account <> credit_account", name="ck_transfers_two_sides"
        ),
        sa.Index("ix_transfers_debit", "debit_account", "state"),
        sa.Index("ix_transfers_credit", "credit_account", "state"),
        sa.Index("ix_transfers_pending_timeout", "state", "timeout_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    fingerprint: str = Field(max_length=64)
    debit_account: str = Field(max_length=64, foreign_key="accounts.name")
    credit_account: str = Field(max_length=64, foreign_key="accounts.name")
    amount: int = Field(sa_type=sa.BigInteger)
    kind: str = Field(max_length=24)
    state: str = Field(max_length=10)  # posted | pending | voided
    reverses_id: int | None = Field(default=None, foreign_key="transfers.id")
    timeout_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    settled_at: datetime | None = _ts(nullable=True)


class MaterialRate(SQLModel, table=True):
    """Kobo per kg for a material from a date on; one version per (material, date)."""

    __tablename__ = "material_rates"
    __table_args__ = (
        sa.UniqueConstraint("material", "effective_from", name="uq_rate_version"),
        sa.CheckConstraint("kobo_per_kg >= 0", name="ck_rate_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    material: str = Field(max_length=12)
    effective_from: date
    kobo_per_kg: int = Field(sa_type=sa.BigInteger)
    set_by: str = Field(default="", max_length=80)
    updated_at: datetime = _ts()


class Weighing(SQLModel, table=True):
    """What a collector weighed at one pickup, and the credit it earned."""

    __tablename__ = "weighings"

    id: int | None = Field(default=None, primary_key=True)
    pickup_id: int = Field(foreign_key="pickups.id", unique=True)
    household_id: int = Field(foreign_key="households.id", index=True)
    collected_at: datetime = _ts()
    lat: float | None = None
    lon: float | None = None
    total_grams: int = Field(sa_type=sa.BigInteger)
    credited_kobo: int = Field(sa_type=sa.BigInteger)
    # credited | capped (recorded, not credited: a budget cap was hit)
    credit_status: str = Field(max_length=10)
    transfer_id: int | None = Field(default=None, foreign_key="transfers.id")
    source: str = Field(max_length=10)  # api | sms | kobo
    collector: str = Field(default="", max_length=80)
    created_at: datetime = _ts()


class WeighingItem(SQLModel, table=True):
    __tablename__ = "weighing_items"

    id: int | None = Field(default=None, primary_key=True)
    weighing_id: int = Field(foreign_key="weighings.id", index=True)
    material: str = Field(max_length=12)
    grams: int = Field(sa_type=sa.BigInteger)
    kobo_per_kg: int = Field(sa_type=sa.BigInteger)


class IdempotencyKey(SQLModel, table=True):
    """A client request key: the first answer is replayed; other content is refused."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("scope", "key", name="uq_idempotency"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=24)
    key: str = Field(max_length=120)
    fingerprint: str = Field(max_length=64)
    status_code: int | None = None
    response: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _ts()


class Payout(SQLModel, table=True):
    """A redemption to a provider; the row is also the outbox entry that submits it."""

    __tablename__ = "payouts"
    __table_args__ = (
        sa.Index("ix_payouts_due", "status", "next_attempt_at"),
        sa.Index("ix_payouts_provider_txn", "provider", "provider_txn"),
        sa.CheckConstraint("amount_kobo > 0", name="ck_payouts_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=64, unique=True)
    household_id: int = Field(foreign_key="households.id", index=True)
    kind: str = Field(max_length=14)  # airtime | mobile_money
    provider: str = Field(max_length=20)
    amount_kobo: int = Field(sa_type=sa.BigInteger)
    destination: str = Field(max_length=20)
    status: str = Field(max_length=10)  # held|submitted|succeeded|failed|released
    transfer_id: int = Field(foreign_key="transfers.id")
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    expires_at: datetime = _ts()
    provider_txn: str | None = Field(default=None, max_length=64)
    failure_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = _ts()
    submitted_at: datetime | None = _ts(nullable=True)
    completed_at: datetime | None = _ts(nullable=True)


class Shop(SQLModel, table=True):
    """A partner shop that accepts vouchers, identified by its phone."""

    __tablename__ = "shops"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    phone: str = Field(max_length=20, unique=True)
    created_at: datetime = _ts()


class Voucher(SQLModel, table=True):
    """A one-time code a household spends at a shop; funds are held until claimed."""

    __tablename__ = "vouchers"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True)
    household_id: int = Field(foreign_key="households.id", index=True)
    amount_kobo: int = Field(sa_type=sa.BigInteger)
    transfer_id: int = Field(foreign_key="transfers.id")
    status: str = Field(max_length=10)  # issued | claimed | expired
    shop_id: int | None = Field(default=None, foreign_key="shops.id")
    expires_at: datetime = _ts()
    created_at: datetime = _ts()
    claimed_at: datetime | None = _ts(nullable=True)


class Collector(SQLModel, table=True):
    """A collector allowed to log weighings by SMS from this phone."""

    __tablename__ = "collectors"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    phone: str = Field(max_length=20, unique=True)
    active: bool = True
    created_at: datetime = _ts()


class Dispute(SQLModel, table=True):
    """A household's WRONG reply about a receipt, waiting for an operator."""

    __tablename__ = "disputes"

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="households.id", index=True)
    weighing_id: int | None = Field(default=None, foreign_key="weighings.id")
    note: str = Field(max_length=400)
    status: str = Field(default="open", max_length=10)  # open | resolved
    resolution: str | None = Field(default=None, max_length=400)
    reversal_transfer_id: int | None = Field(default=None, foreign_key="transfers.id")
    created_at: datetime = _ts()
    resolved_at: datetime | None = _ts(nullable=True)


class SandboxTransfer(SQLModel, table=True):
    """The sandbox provider's own books (it simulates a remote provider's database)."""

    __tablename__ = "sandbox_transfers"

    reference: str = Field(max_length=64, primary_key=True)
    kind: str = Field(max_length=14)
    amount_kobo: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(max_length=3)
    destination: str = Field(max_length=20)
    callback_url: str | None = Field(default=None, max_length=300)
    state: str = Field(max_length=10)  # pending | succeeded | failed
    reason: str | None = Field(default=None, max_length=80)
    lose_callback: bool = False
    callback_done: bool = False
    settle_at: datetime = _ts()
    created_at: datetime = _ts()
    completed_at: datetime | None = _ts(nullable=True)


class Hub(SQLModel, table=True):
    """Where bikes start, unload and reload."""

    __tablename__ = "hubs"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    lat: float
    lon: float
    created_at: datetime = _ts()


class Bike(SQLModel, table=True):
    """A cargo bike with its capacity, shift and (optionally) its collector."""

    __tablename__ = "bikes"
    __table_args__ = (
        sa.CheckConstraint("capacity_kg > 0", name="ck_bikes_capacity"),
        sa.CheckConstraint("shift_end_min > shift_start_min", name="ck_bikes_shift"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    hub_id: int = Field(foreign_key="hubs.id")
    capacity_kg: float
    shift_start_min: int = 8 * 60
    shift_end_min: int = 16 * 60
    speed_kmh: float = 12.0
    collector_id: int | None = Field(default=None, foreign_key="collectors.id")
    active: bool = True
    created_at: datetime = _ts()


class PlannedRound(SQLModel, table=True):
    """One bike's round on one day; a re-plan supersedes the day's earlier rounds."""

    __tablename__ = "rounds"
    __table_args__ = (sa.Index("ix_rounds_day_status", "day", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    bike_id: int = Field(foreign_key="bikes.id")
    # The bike's hub and collector when the round was planned: the round keeps
    # them when the bike later moves hub; a new rider takes it over explicitly
    # (``PATCH /api/v1/bikes/{id}`` moves the bike's rounds from today on).
    hub_id: int | None = Field(default=None, foreign_key="hubs.id")
    collector_id: int | None = Field(default=None, foreign_key="collectors.id")
    status: str = Field(max_length=12)  # planned | superseded | dropped
    stops: int
    trips: int
    distance_m: int
    load_kg: float
    start_min: int
    end_min: int
    # Set when a re-plan starts the round where the bike already was: the kg it
    # carried then, still on board through its first trip.
    start_load_kg: float | None = None
    planned_at: datetime = _ts()


class RoundStop(SQLModel, table=True):
    """A visit in a round, in order."""

    __tablename__ = "round_stops"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="rounds.id", index=True)
    pickup_id: int = Field(foreign_key="pickups.id")
    seq: int
    trip: int
    arrival_min: int
    expected_kg: float


class GeocodeCache(SQLModel, table=True):
    """Geocoder answers by normalised query, so each address is looked up once."""

    __tablename__ = "geocode_cache"

    query: str = Field(max_length=240, primary_key=True)
    lat: float | None = None
    lon: float | None = None
    created_at: datetime = _ts()


class Operator(SQLModel, table=True):
    """A person who signs in to /ops with a password (only its argon2 hash is kept)."""

    __tablename__ = "operators"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=60, unique=True)
    password_hash: str = Field(max_length=200)
    created_at: datetime = _ts()
    disabled_at: datetime | None = _ts(nullable=True)


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a token, the table keeps its SHA-256."""

    __tablename__ = "web_sessions"

    token_hash: str = Field(max_length=64, primary_key=True)
    kind: str = Field(max_length=10)  # operator | collector
    subject_id: int
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)


class LoginCode(SQLModel, table=True):
    """A one-time sign-in code texted to a collector (single use, short-lived)."""

    __tablename__ = "login_codes"
    __table_args__ = (
        sa.Index("ix_login_codes_collector", "collector_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    collector_id: int = Field(foreign_key="collectors.id")
    code_hash: str = Field(max_length=64)
    attempts: int = 0
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)


class AuditEntry(SQLModel, table=True):
    """Who changed what, when: one row per accepted write by an operator or collector."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor: str = Field(max_length=80)  # operator:alice | collector:3 | token:7
    action: str = Field(max_length=120)  # "POST /api/v1/collections"
    status: int
    detail: str = Field(default="", max_length=400)


class JobRun(SQLModel, table=True):
    """One run of a scheduled job per due time, across every process."""

    __tablename__ = "job_runs"

    job: str = Field(max_length=40, primary_key=True)
    due_at: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    owner: str = Field(max_length=80)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    outcome: str | None = Field(default=None, max_length=200)


metadata = SQLModel.metadata
households = Household.__table__  # type: ignore[attr-defined]
pickups = Pickup.__table__  # type: ignore[attr-defined]
inbound_messages = InboundMessage.__table__  # type: ignore[attr-defined]
opt_outs = OptOut.__table__  # type: ignore[attr-defined]
outbox = Outbox.__table__  # type: ignore[attr-defined]
delivery_reports = DeliveryReport.__table__  # type: ignore[attr-defined]
api_tokens = ApiToken.__table__  # type: ignore[attr-defined]
accounts = Account.__table__  # type: ignore[attr-defined]
transfers = LedgerTransfer.__table__  # type: ignore[attr-defined]
material_rates = MaterialRate.__table__  # type: ignore[attr-defined]
weighings = Weighing.__table__  # type: ignore[attr-defined]
weighing_items = WeighingItem.__table__  # type: ignore[attr-defined]
idempotency_keys = IdempotencyKey.__table__  # type: ignore[attr-defined]
payouts = Payout.__table__  # type: ignore[attr-defined]
shops = Shop.__table__  # type: ignore[attr-defined]
vouchers = Voucher.__table__  # type: ignore[attr-defined]
collectors = Collector.__table__  # type: ignore[attr-defined]
disputes = Dispute.__table__  # type: ignore[attr-defined]
sandbox_transfers = SandboxTransfer.__table__  # type: ignore[attr-defined]
hubs = Hub.__table__  # type: ignore[attr-defined]
bikes = Bike.__table__  # type: ignore[attr-defined]
rounds = PlannedRound.__table__  # type: ignore[attr-defined]
round_stops = RoundStop.__table__  # type: ignore[attr-defined]
geocode_cache = GeocodeCache.__table__  # type: ignore[attr-defined]
operators = Operator.__table__  # type: ignore[attr-defined]
web_sessions = WebSession.__table__  # type: ignore[attr-defined]
login_codes = LoginCode.__table__  # type: ignore[attr-defined]
audit_log = AuditEntry.__table__  # type: ignore[attr-defined]
job_runs = JobRun.__table__  # type: ignore[attr-defined]

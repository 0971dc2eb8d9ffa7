"""SQLModel table classes: the schema, and the only module that imports sqlmodel."""

from __future__ import annotations

from datetime import UTC, datetime
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


metadata = SQLModel.metadata
households = Household.__table__  # type: ignore[attr-defined]
pickups = Pickup.__table__  # type: ignore[attr-defined]
inbound_messages = InboundMessage.__table__  # type: ignore[attr-defined]
opt_outs = OptOut.__table__  # type: ignore[attr-defined]
outbox = Outbox.__table__  # type: ignore[attr-defined]
delivery_reports = DeliveryReport.__table__  # type: ignore[attr-defined]
api_tokens = ApiToken.__table__  # type: ignore[attr-defined]

"""households, pickups, inbox, outbox, tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-23 13:21:56.966488
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.persistence.tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "revoked_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "delivery_reports",
        sa.Column(
            "provider_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column(
            "error_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True
        ),
        sa.Column(
            "updated_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("provider_id"),
    )
    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column(
            "address", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column(
            "language", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False
        ),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False
        ),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "provider", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False
        ),
        sa.Column(
            "provider_message_id",
            sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=False,
        ),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "body", sqlmodel.sql.sqltypes.AutoString(length=1600), nullable=False
        ),
        sa.Column(
            "intent", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False
        ),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column(
            "reply", sqlmodel.sql.sqltypes.AutoString(length=1600), nullable=True
        ),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column(
            "received_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "provider_message_id", name="uq_inbound_sid"),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_intent", ["intent", "reviewed"], unique=False)
        batch_op.create_index(
            "ix_inbound_phone_received", ["phone", "received_at"], unique=False
        )

    op.create_table(
        "opt_outs",
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("word", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "opted_out_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("phone"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column(
            "to_phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False
        ),
        sa.Column(
            "body", sqlmodel.sql.sqltypes.AutoString(length=1600), nullable=False
        ),
        sa.Column("is_reply", sa.Boolean(), nullable=False),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "lease_until",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "expires_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "sent_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "gateway", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True
        ),
        sa.Column(
            "provider_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "last_error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_phone_sent", ["to_phone", "sent_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_provider_id"), ["provider_id"], unique=False
        )

    op.create_table(
        "pickups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False
        ),
        sa.Column("source_message_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pickups_status_created", ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_pickups_one_open_per_household",
            ["household_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('open', 'scheduled')"),
            postgresql_where=sa.text("status IN ('open', 'scheduled')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_pickups_one_open_per_household",
            sqlite_where=sa.text("status IN ('open', 'scheduled')"),
            postgresql_where=sa.text("status IN ('open', 'scheduled')"),
        )
        batch_op.drop_index("ix_pickups_status_created")

    op.drop_table("pickups")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_provider_id"))
        batch_op.drop_index("ix_outbox_phone_sent")
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    op.drop_table("opt_outs")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_phone_received")
        batch_op.drop_index("ix_inbound_intent")

    op.drop_table("inbound_messages")
    op.drop_table("households")
    op.drop_table("delivery_reports")
    op.drop_table("api_tokens")

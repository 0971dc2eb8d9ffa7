"""ledger, rates, weighings, payouts, vouchers, shops, collectors, disputes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:53:47.389060
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.persistence.tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("no_overdraft", sa.Boolean(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.CheckConstraint(
            "NOT no_overdraft OR debits_posted + debits_pending <= credits_posted",
            name="ck_accounts_no_overdraft",
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name="ck_accounts_non_negative",
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "collectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column(
            "fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency"),
    )
    op.create_table(
        "material_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "material", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False
        ),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("kobo_per_kg", sa.BigInteger(), nullable=False),
        sa.Column(
            "set_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False
        ),
        sa.Column(
            "updated_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.CheckConstraint("kobo_per_kg >= 0", name="ck_rate_non_negative"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("material", "effective_from", name="uq_rate_version"),
    )
    op.create_table(
        "sandbox_transfers",
        sa.Column(
            "reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False),
        sa.Column("amount_kobo", sa.BigInteger(), nullable=False),
        sa.Column(
            "currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False
        ),
        sa.Column(
            "destination", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False
        ),
        sa.Column(
            "callback_url", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
        ),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("lose_callback", sa.Boolean(), nullable=False),
        sa.Column("callback_done", sa.Boolean(), nullable=False),
        sa.Column(
            "settle_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "completed_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("reference"),
    )
    op.create_table(
        "shops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone"),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column(
            "fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "debit_account", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "credit_account",
            sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column(
            "timeout_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "settled_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.CheckConstraint("amount > 0", name="ck_transfers_positive"),
        sa.CheckConstraint(
            "debit_account <> credit_account", name="ck_transfers_two_sides"
        ),
        sa.ForeignKeyConstraint(
            ["credit_account"],
            ["accounts.name"],
        ),
        sa.ForeignKeyConstraint(
            ["debit_account"],
            ["accounts.name"],
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["transfers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transfers_credit", ["credit_account", "state"], unique=False
        )
        batch_op.create_index(
            "ix_transfers_debit", ["debit_account", "state"], unique=False
        )
        batch_op.create_index(
            "ix_transfers_pending_timeout", ["state", "timeout_at"], unique=False
        )

    op.create_table(
        "payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=False),
        sa.Column(
            "provider", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False
        ),
        sa.Column("amount_kobo", sa.BigInteger(), nullable=False),
        sa.Column(
            "destination", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False
        ),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False
        ),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
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
            "provider_txn", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "failure_reason",
            sqlmodel.sql.sqltypes.AutoString(length=200),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "submitted_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "completed_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.CheckConstraint("amount_kobo > 0", name="ck_payouts_positive"),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payouts_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payouts_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            "ix_payouts_provider_txn", ["provider", "provider_txn"], unique=False
        )

    op.create_table(
        "vouchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("amount_kobo", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False
        ),
        sa.Column("shop_id", sa.Integer(), nullable=True),
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
            "claimed_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vouchers_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "weighings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pickup_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column(
            "collected_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("total_grams", sa.BigInteger(), nullable=False),
        sa.Column("credited_kobo", sa.BigInteger(), nullable=False),
        sa.Column(
            "credit_status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False
        ),
        sa.Column("transfer_id", sa.Integer(), nullable=True),
        sa.Column(
            "source", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False
        ),
        sa.Column(
            "collector", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False
        ),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
        ),
        sa.ForeignKeyConstraint(
            ["pickup_id"],
            ["pickups.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pickup_id"),
    )
    with op.batch_alter_table("weighings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_weighings_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("weighing_id", sa.Integer(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False
        ),
        sa.Column(
            "resolution", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True
        ),
        sa.Column("reversal_transfer_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "resolved_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reversal_transfer_id"],
            ["transfers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["weighing_id"],
            ["weighings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disputes_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "weighing_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weighing_id", sa.Integer(), nullable=False),
        sa.Column(
            "material", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False
        ),
        sa.Column("grams", sa.BigInteger(), nullable=False),
        sa.Column("kobo_per_kg", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["weighing_id"],
            ["weighings.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("weighing_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_weighing_items_weighing_id"), ["weighing_id"], unique=False
        )

    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "missed_reason",
                sqlmodel.sql.sqltypes.AutoString(length=160),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.drop_column("missed_reason")

    with op.batch_alter_table("weighing_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_weighing_items_weighing_id"))

    op.drop_table("weighing_items")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_household_id"))

    op.drop_table("disputes")
    with op.batch_alter_table("weighings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_weighings_household_id"))

    op.drop_table("weighings")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vouchers_household_id"))

    op.drop_table("vouchers")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_provider_txn")
        batch_op.drop_index(batch_op.f("ix_payouts_household_id"))
        batch_op.drop_index("ix_payouts_due")

    op.drop_table("payouts")
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_transfers_pending_timeout")
        batch_op.drop_index("ix_transfers_debit")
        batch_op.drop_index("ix_transfers_credit")

    op.drop_table("transfers")
    op.drop_table("shops")
    op.drop_table("sandbox_transfers")
    op.drop_table("material_rates")
    op.drop_table("idempotency_keys")
    op.drop_table("collectors")
    op.drop_table("accounts")

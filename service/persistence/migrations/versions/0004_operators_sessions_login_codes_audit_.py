"""operators, sessions, login codes, audit log, job runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:31:32.325794
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.persistence.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "at", service.persistence.tables.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column(
            "action", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False
        ),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column(
            "detail", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "job_runs",
        sa.Column("job", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column(
            "due_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column(
            "started_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "finished_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "outcome", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.PrimaryKeyConstraint("job", "due_at"),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "username", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False
        ),
        sa.Column(
            "password_hash",
            sqlmodel.sql.sqltypes.AutoString(length=200),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "disabled_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "web_sessions",
        sa.Column(
            "token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column(
            "csrf_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "expires_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "revoked_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_table(
        "login_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=False),
        sa.Column(
            "code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "expires_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "used_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["collectors.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_codes_collector", ["collector_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_login_codes_collector")

    op.drop_table("login_codes")
    op.drop_table("web_sessions")
    op.drop_table("operators")
    op.drop_table("job_runs")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")

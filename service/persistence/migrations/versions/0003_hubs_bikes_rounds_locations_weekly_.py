"""hubs, bikes, rounds, locations, weekly pickups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:22:15.843439
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.persistence.tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "geocode_cache",
        sa.Column(
            "query", sqlmodel.sql.sqltypes.AutoString(length=240), nullable=False
        ),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("query"),
    )
    op.create_table(
        "hubs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "bikes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("hub_id", sa.Integer(), nullable=False),
        sa.Column("capacity_kg", sa.Float(), nullable=False),
        sa.Column("shift_start_min", sa.Integer(), nullable=False),
        sa.Column("shift_end_min", sa.Integer(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.CheckConstraint("capacity_kg > 0", name="ck_bikes_capacity"),
        sa.CheckConstraint("shift_end_min > shift_start_min", name="ck_bikes_shift"),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["collectors.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hub_id"],
            ["hubs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bike_id", sa.Integer(), nullable=False),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False
        ),
        sa.Column("stops", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column("load_kg", sa.Float(), nullable=False),
        sa.Column("start_min", sa.Integer(), nullable=False),
        sa.Column("end_min", sa.Integer(), nullable=False),
        sa.Column(
            "planned_at",
            service.persistence.tables.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bike_id"],
            ["bikes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.create_index("ix_rounds_day_status", ["day", "status"], unique=False)

    op.create_table(
        "round_stops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("pickup_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trip", sa.Integer(), nullable=False),
        sa.Column("arrival_min", sa.Integer(), nullable=False),
        sa.Column("expected_kg", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pickup_id"],
            ["pickups.id"],
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("round_stops", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_round_stops_round_id"), ["round_id"], unique=False
        )

    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "location_source",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("weekly_day", sa.Integer(), nullable=True))

    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("window_start_min", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("window_end_min", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("round_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_pickups_round_id", "rounds", ["round_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_pickups_round_id", type_="foreignkey")
        batch_op.drop_column("round_id")
        batch_op.drop_column("window_end_min")
        batch_op.drop_column("window_start_min")
        batch_op.drop_column("scheduled_day")

    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_column("weekly_day")
        batch_op.drop_column("location_source")

    with op.batch_alter_table("round_stops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_stops_round_id"))

    op.drop_table("round_stops")
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_index("ix_rounds_day_status")

    op.drop_table("rounds")
    op.drop_table("bikes")
    op.drop_table("hubs")
    op.drop_table("geocode_cache")

"""rounds keep the hub and collector they were planned with

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hub_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("collector_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_rounds_hub_id_hubs", "hubs", ["hub_id"], ["id"])
        batch_op.create_foreign_key(
            "fk_rounds_collector_id_collectors",
            "collectors",
            ["collector_id"],
            ["id"],
        )
    # Rounds planned before this revision take their bike's current values,
    # which is what they showed until now.
    op.execute(
        "UPDATE rounds SET "
        "hub_id = (SELECT bikes.hub_id FROM bikes WHERE bikes.id = rounds.bike_id), "
        "collector_id = "
        "(SELECT bikes.collector_id FROM bikes WHERE bikes.id = rounds.bike_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_rounds_collector_id_collectors", type_="foreignkey"
        )
        batch_op.drop_constraint("fk_rounds_hub_id_hubs", type_="foreignkey")
        batch_op.drop_column("collector_id")
        batch_op.drop_column("hub_id")

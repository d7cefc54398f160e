"""Sync state: events the server refused, and conflict notices for lost local edits.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("sync_error", sa.Text))
    op.create_table(
        "conflicts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("local_value", sa.Text),
        sa.Column("remote_value", sa.Text),
        sa.Column("remote_actor", sa.String(320), nullable=False),
        sa.Column("local_event_id", sa.String(36), nullable=False),
        sa.Column("remote_event_id", sa.String(36), nullable=False),
        sa.Column("created_ms", sa.Integer, nullable=False),
        sa.Column("resolved", sa.Boolean, nullable=False),
    )
    op.create_index("ix_conflicts_case", "conflicts", ["case_id"])


def downgrade() -> None:
    op.drop_table("conflicts")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("sync_error")

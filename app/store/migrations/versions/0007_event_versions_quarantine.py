"""Events carry their schema version; pulled events this build cannot apply are quarantined.

A teammate on a newer (or buggy, or hostile) client can send an event this build does not
understand. It must not stop the pull: it is kept verbatim in ``quarantine``, the cursor
moves on, and it is tried again after an upgrade.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table copy): the log can hold millions of rows.
    op.add_column("events", sa.Column("v", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "quarantine",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("server_seq", sa.Integer),
        sa.Column("case_id", sa.String(36)),
        sa.Column("type", sa.Text),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("received_ms", sa.Integer, nullable=False),
        sa.Column("app_version", sa.String(32), nullable=False),
    )
    op.create_index("ix_quarantine_case", "quarantine", ["case_id"])


def downgrade() -> None:
    op.drop_table("quarantine")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("v")

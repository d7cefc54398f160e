"""Drafts: what an agent typed and has not sent (a reply, a note, a new case, a bulk edit).

Local only: drafts are never events and never synced; they survive a crash or a restart.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drafts",
        # "<kind>:<case id>" for a case's drafts, "<kind>:" for a dialog's (new case, bulk).
        sa.Column("slot", sa.String(80), primary_key=True),
        sa.Column("case_id", sa.String(36)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("attachments", sa.Text, nullable=False),
        sa.Column("updated_ms", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drafts")

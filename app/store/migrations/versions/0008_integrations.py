"""The integrations of a case: records linked in JIRA or Salesforce, and the requests made.

Both are projections of integration events (app/core/integrations.py). No build before this
one applied such events (they were quarantined as unknown types and are re-applied after
the upgrade), so the tables start empty.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integration_links",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("system", sa.String(32), primary_key=True),
        sa.Column("remote_id", sa.String(200), primary_key=True),
        sa.Column("remote_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("fetched_ms", sa.Integer, nullable=False),
        sa.Column("linked", sa.Boolean, nullable=False),
        sa.Column("rank", sa.String(160), nullable=False),
    )
    op.create_table(
        "integration_requests",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("request_id", sa.String(36), primary_key=True),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("requested_ms", sa.Integer),
        sa.Column("request_clock", sa.String(120), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("remote_status", sa.Integer),
        sa.Column("next_try_ms", sa.Integer),
        sa.Column("remote_key", sa.String(200)),
        sa.Column("outcome_clock", sa.String(120), nullable=False),
        sa.Column("updated_ms", sa.Integer),
    )
    op.create_index("ix_integration_requests_id", "integration_requests", ["request_id"])


def downgrade() -> None:
    op.drop_table("integration_requests")
    op.drop_table("integration_links")

"""Integration links (folded from integration events), JIRA webhook deliveries taken, JIRA
creates sent.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integration_links",
        sa.Column("system", sa.String(32), primary_key=True),
        sa.Column("remote_id", sa.String(200), primary_key=True),
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("remote_key", sa.String(200), nullable=False),
        sa.Column("linked", sa.Boolean, nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("fetched_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "jira_webhooks",
        sa.Column("identifier", sa.String(200), primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_jira_webhooks_received", "jira_webhooks", ["received_ms"])
    op.create_table(
        "jira_sends",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("first_ms", sa.BigInteger, nullable=False),
        sa.Column("last_ms", sa.BigInteger, nullable=False),
    )
    # The links are folded from the start of the log (the cursor row).
    op.execute("INSERT INTO counters (name, value) VALUES ('integration_links_seq', 0)")


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'integration_links_seq'")
    op.drop_table("jira_sends")
    op.drop_index("ix_jira_webhooks_received", table_name="jira_webhooks")
    op.drop_table("jira_webhooks")
    op.drop_table("integration_links")

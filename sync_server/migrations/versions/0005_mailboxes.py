"""The team mailbox, mail in: mailboxes and the messages taken from them (issue 17).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("team_id", sa.String(36), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("imap_url", sa.Text, nullable=False),
        sa.Column("smtp_url", sa.Text, nullable=False),
        sa.Column("password_enc", sa.Text, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_poll_ms", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("uidvalidity", sa.BigInteger, nullable=True),
        sa.Column("last_uid", sa.BigInteger, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until_ms", sa.BigInteger, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("team_id", "address", name="uq_mailboxes_team_address"),
    )
    op.create_table(
        "mail_messages",
        sa.Column("mailbox_id", sa.String(36), primary_key=True),
        sa.Column("uidvalidity", sa.BigInteger, primary_key=True),
        sa.Column("uid", sa.BigInteger, primary_key=True),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("sender", sa.String(320), nullable=True),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("processed_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_mail_messages_message_id", "mail_messages", ["message_id"])
    op.create_index("ix_mail_messages_sender", "mail_messages",
                    ["mailbox_id", "sender", "processed_ms"])


def downgrade() -> None:
    op.drop_index("ix_mail_messages_sender", table_name="mail_messages")
    op.drop_index("ix_mail_messages_message_id", table_name="mail_messages")
    op.drop_table("mail_messages")
    op.drop_table("mailboxes")

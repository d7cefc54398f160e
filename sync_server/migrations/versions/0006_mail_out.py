"""The team mailbox, mail out: one row per public reply sent by e-mail (issue 17).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_out",
        sa.Column("comment_id", sa.String(320), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("team_id", sa.String(36), nullable=False),
        sa.Column("mailbox_id", sa.String(36), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("author", sa.String(320), nullable=True),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("not_before_ms", sa.BigInteger, nullable=False),
        sa.Column("sent_ms", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_mail_out_message_id", "mail_out", ["message_id"])
    op.create_index("ix_mail_out_team_state", "mail_out", ["team_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_mail_out_team_state", table_name="mail_out")
    op.drop_index("ix_mail_out_message_id", table_name="mail_out")
    op.drop_table("mail_out")

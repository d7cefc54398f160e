"""Attachments (a projection of attachment events) and text extracted by intake (derived).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("mime", sa.String(127), nullable=False),
        sa.Column("comment_id", sa.String(36)),
        sa.Column("created_ms", sa.Integer, nullable=False),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
        sa.Column("known", sa.Boolean, nullable=False),
    )
    op.create_index("ix_attachments_case", "attachments", ["case_id"])
    op.create_index("ix_attachments_sha", "attachments", ["sha256"])
    op.create_table(
        "extracted",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("signatures", sa.Text, nullable=False),
        sa.Column("entities", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "signatures",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_line", sa.Integer),
        sa.Column("last_line", sa.Integer),
        sa.Column("sha256", sa.String(64)),
    )
    op.create_index("ix_signatures_key", "signatures", ["key"])


def downgrade() -> None:
    op.drop_table("signatures")
    op.drop_table("extracted")
    op.drop_table("attachments")

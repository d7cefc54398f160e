"""Indexes for opening a case and the first page of the list on large working sets.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_merged_into", "cases", ["merged_into"])
    op.create_index("ix_customers_email", "customers", ["email"])
    op.drop_index("ix_cases_updated", "cases")
    op.create_index("ix_cases_updated", "cases", ["updated_ms", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_updated", "cases")
    op.create_index("ix_cases_updated", "cases", ["updated_ms"])
    op.drop_index("ix_customers_email", "customers")
    op.drop_index("ix_cases_merged_into", "cases")

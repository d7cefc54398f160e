"""The first schema: event log, case projections, directories, undo stack.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _directory(name: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        *columns,
        sa.Column("clock", sa.String(64), nullable=False),
    )


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("case_id", sa.String(36)),
        sa.Column("team_id", sa.String(64)),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("hlc", sa.String(24), nullable=False),
        sa.Column("server_seq", sa.Integer),
        sa.Column("op_id", sa.String(36)),
    )
    op.create_index("ix_events_case", "events", ["case_id", "hlc"])
    op.create_index("ix_events_server_seq", "events", ["server_seq"])
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(64)),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("requester_id", sa.String(64)),
        sa.Column("organization_id", sa.String(64)),
        sa.Column("assignee_id", sa.String(64)),
        sa.Column("team_id", sa.String(64)),
        sa.Column("product", sa.String(120)),
        sa.Column("due_at", sa.String(32)),
        sa.Column("merged_into", sa.String(36)),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("exists", sa.Boolean, nullable=False),
        sa.Column("created_ms", sa.Integer),
        sa.Column("updated_ms", sa.Integer),
        sa.Column("first_response_ms", sa.Integer),
        sa.Column("solved_ms", sa.Integer),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("clocks", sa.Text, nullable=False),
    )
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_index("ix_cases_assignee", "cases", ["assignee_id"])
    op.create_index("ix_cases_updated", "cases", ["updated_ms"])
    op.create_index("ix_cases_key", "cases", ["key"])
    op.create_table(
        "case_keys",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
    )
    op.create_table(
        "case_tags",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("clock", sa.String(64), nullable=False),
        sa.Column("present", sa.Boolean, nullable=False),
    )
    op.create_index("ix_case_tags_tag", "case_tags", ["tag"])
    op.create_table(
        "case_links",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("other_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("clock", sa.String(64), nullable=False),
        sa.Column("present", sa.Boolean, nullable=False),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("author_kind", sa.String(16), nullable=False),
        sa.Column("created_ms", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("internal", sa.Boolean, nullable=False),
        sa.Column("redacted", sa.Boolean, nullable=False),
        sa.Column("known", sa.Boolean, nullable=False),
    )
    op.create_index("ix_comments_case", "comments", ["case_id", "created_ms"])
    _directory("customers", sa.Column("email", sa.String(320)),
               sa.Column("organization_id", sa.String(64)), sa.Column("phone", sa.String(64)))
    _directory("organizations", sa.Column("domain", sa.String(255)))
    _directory("agents", sa.Column("email", sa.String(320)), sa.Column("role", sa.String(16)))
    _directory("teams", sa.Column("prefix", sa.String(16)), sa.Column("members", sa.Text))
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("event_ids", sa.Text, nullable=False),
        sa.Column("created_ms", sa.Integer, nullable=False),
        sa.Column("undone", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for name in ("operations", "meta", "teams", "agents", "organizations", "customers",
                 "comments", "case_links", "case_tags", "case_keys", "cases", "events"):
        op.drop_table(name)

"""Events keep their payload schema version; blob reads are authorized by team.

``blob_refs`` records, for each attachment event stored, which team's event references the
blob, so a blob is readable only by members of such a team. Existing attachment events
are back-filled.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("v", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "blob_refs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("team_id", sa.String(36), primary_key=True),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT DISTINCT e.payload, COALESCE(c.team_id, e.team_id) AS team FROM events e "
        "LEFT JOIN cases c ON c.case_id = e.case_id WHERE e.type = 'attachment.added'"))
    refs: set[tuple[str, str]] = set()
    for payload, team in rows:
        try:
            sha = json.loads(payload).get("sha256")
        except (ValueError, AttributeError):
            continue
        if isinstance(sha, str) and len(sha) == 64:
            refs.add((sha, team))
    if refs:
        conn.execute(sa.text("INSERT INTO blob_refs (sha256, team_id) VALUES (:s, :t)"),
                     [{"s": s, "t": t} for s, t in sorted(refs)])


def downgrade() -> None:
    op.drop_table("blob_refs")
    op.drop_column("events", "v")

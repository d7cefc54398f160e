"""Case keys remember the clock of the event that claimed them.

Two devices can draw the same random device code, and then both hand out "K7QF-1". Which
case such a key opens must not depend on the order in which a device happened to receive
the two cases: the earliest claim by the merge order ``(hlc, id)`` wins everywhere. Existing
rows get the clock of their case's first key-giving event.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_keys") as batch:
        batch.add_column(sa.Column("clock", sa.String(120), nullable=False, server_default=""))
    op.execute(
        "UPDATE case_keys SET clock = COALESCE((SELECT min(e.hlc || '|' || e.id) FROM events e "
        "WHERE e.case_id = case_keys.case_id "
        "AND e.type IN ('case.created', 'case.key_assigned')), '')")


def downgrade() -> None:
    with op.batch_alter_table("case_keys") as batch:
        batch.drop_column("clock")

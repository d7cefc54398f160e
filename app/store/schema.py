"""Tables of the local store. ``events`` is the truth; the rest are projections of it.

Migrations in ``migrations/versions`` create exactly this schema (a test compares them).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

events = Table(
    "events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # local apply order
    Column("id", String(36), nullable=False, unique=True),
    Column("case_id", String(36)),
    Column("team_id", String(64)),
    Column("type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("hlc", String(24), nullable=False),
    Column("server_seq", Integer),
    Column("op_id", String(36)),
    Column("sync_error", Text),  # the server refused this event (migration 0003)
    Column("v", Integer, nullable=False, default=1, server_default="1"),  # migration 0007
    Index("ix_events_case", "case_id", "hlc"),
    Index("ix_events_server_seq", "server_seq"),
)

cases = Table(
    "cases", metadata,
    Column("id", String(36), primary_key=True),
    Column("key", String(64)),
    Column("subject", Text, nullable=False, default=""),
    Column("description", Text),
    Column("status", String(16), nullable=False, default="new"),
    Column("priority", String(16), nullable=False, default="normal"),
    Column("type", String(16), nullable=False, default="question"),
    Column("requester_id", String(64)),
    Column("organization_id", String(64)),
    Column("assignee_id", String(64)),
    Column("team_id", String(64)),
    Column("product", String(120)),
    Column("due_at", String(32)),
    Column("merged_into", String(36)),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("exists", Boolean, nullable=False, default=False),
    Column("created_ms", Integer),
    Column("updated_ms", Integer),
    Column("first_response_ms", Integer),
    Column("solved_ms", Integer),
    Column("tags", Text, nullable=False, default=""),  # space-joined, for the list
    Column("clocks", Text, nullable=False, default="{}"),  # field -> winning (hlc|id)
    Index("ix_cases_status", "status"),
    Index("ix_cases_assignee", "assignee_id"),
    Index("ix_cases_updated", "updated_ms", "id"),
    Index("ix_cases_merged_into", "merged_into"),
    Index("ix_cases_key", "key"),
)

case_keys = Table(
    "case_keys", metadata,
    Column("key", String(64), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),
    # The clock of the event that gave the key: when two cases claim one key (two devices
    # drew the same device code), the earliest claim wins on every device.
    Column("clock", String(120), nullable=False, server_default=""),
)

case_tags = Table(
    "case_tags", metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("clock", String(64), nullable=False),
    Column("present", Boolean, nullable=False),
    Index("ix_case_tags_tag", "tag"),
)

case_links = Table(
    "case_links", metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("other_id", String(36), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("clock", String(64), nullable=False),
    Column("present", Boolean, nullable=False),
)

comments = Table(
    "comments", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),
    Column("author", String(320), nullable=False, default=""),
    Column("author_kind", String(16), nullable=False, default="agent"),
    Column("created_ms", Integer, nullable=False, default=0),
    Column("body", Text, nullable=False, default=""),
    Column("internal", Boolean, nullable=False, default=False),
    Column("redacted", Boolean, nullable=False, default=False),
    Column("known", Boolean, nullable=False, default=False),
    Index("ix_comments_case", "case_id", "created_ms"),
)


def _directory(name: str, *columns: Column[str]) -> Table:
    return Table(
        name, metadata,
        Column("id", String(64), primary_key=True),
        Column("name", Text, nullable=False, default=""),
        *columns,
        Column("clock", String(64), nullable=False),
    )


customers = _directory(
    "customers", Column("email", String(320)), Column("organization_id", String(64)),
    Column("phone", String(64)),
)
Index("ix_customers_email", customers.c.email)
organizations = _directory("organizations", Column("domain", String(255)))
agents = _directory("agents", Column("email", String(320)), Column("role", String(16)))
teams = _directory("teams", Column("prefix", String(16)), Column("members", Text))

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

operations = Table(
    "operations", metadata,
    Column("id", String(36), primary_key=True),
    Column("label", Text, nullable=False),
    Column("event_ids", Text, nullable=False),
    Column("created_ms", Integer, nullable=False),
    Column("undone", Boolean, nullable=False, default=False),
)

# Added by migration 0002: views the agent saves from a filter or a search.
saved_views = Table(
    "saved_views", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("position", Integer, nullable=False, default=0),
)

# Added by migration 0003: a local unsynced edit that lost to a teammate's concurrent edit.
conflicts = Table(
    "conflicts", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("field", String(64), nullable=False),
    Column("local_value", Text),  # JSON
    Column("remote_value", Text),  # JSON
    Column("remote_actor", String(320), nullable=False),
    Column("local_event_id", String(36), nullable=False),
    Column("remote_event_id", String(36), nullable=False),
    Column("created_ms", Integer, nullable=False),
    Column("resolved", Boolean, nullable=False, default=False),
    Index("ix_conflicts_case", "case_id"),
)

# Added by migration 0005.
attachments = Table(
    "attachments", metadata,
    Column("id", String(36), primary_key=True),  # the attachment.added event id
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("mime", String(127), nullable=False),
    Column("comment_id", String(36)),
    Column("created_ms", Integer, nullable=False),
    Column("author", String(320), nullable=False),
    Column("removed", Boolean, nullable=False),
    Column("known", Boolean, nullable=False),
    Index("ix_attachments_case", "case_id"),
    Index("ix_attachments_sha", "sha256"),
)

# Derived from blobs by intake, local to this machine (re-extracted when missing).
extracted = Table(
    "extracted", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("signatures", Text, nullable=False),  # JSON list
    Column("entities", Text, nullable=False),  # JSON object
    Column("error", Text),
)

# Error signatures per case (from its attachments and pasted text), for "related cases".
signatures = Table(
    "signatures", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_line", Integer),
    Column("last_line", Integer),
    Column("sha256", String(64)),
    Index("ix_signatures_key", "key"),
)

# Added by migration 0007: pulled events this build cannot apply (unknown type, newer schema
# version, payload that fails validation), kept verbatim and re-tried after an upgrade.
quarantine = Table(
    "quarantine", metadata,
    Column("id", String(36), primary_key=True),  # the event id, or a hash of the raw item
    Column("server_seq", Integer),
    Column("case_id", String(36)),
    Column("type", Text),
    Column("raw", Text, nullable=False),  # the wire JSON exactly as pulled
    Column("reason", Text, nullable=False),
    Column("received_ms", Integer, nullable=False),
    Column("app_version", String(32), nullable=False),  # the build that quarantined it
    Index("ix_quarantine_case", "case_id"),
)

DIRECTORY_TABLES = {"customers": customers, "organizations": organizations,
                    "agents": agents, "teams": teams}

# Added by migration 0008: the integrations of a case (app/core/integrations.py folds them).
# No foreign key to cases: a server event can arrive for a case this device holds in quarantine.
integration_links = Table(
    "integration_links", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("system", String(32), primary_key=True),
    Column("remote_id", String(200), primary_key=True),  # immutable (a JIRA key can change)
    Column("remote_key", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("snapshot", Text, nullable=False),  # JSON: summary, status, status_category, ...
    Column("fetched_ms", Integer, nullable=False),
    Column("linked", Boolean, nullable=False),
    Column("rank", String(160), nullable=False),  # the winning record's order
)

integration_requests = Table(
    "integration_requests", metadata,
    # The idempotency key; with the case, so a (forged) outcome on another case that
    # names this id cannot touch the request.
    Column("case_id", String(36), primary_key=True),
    Column("request_id", String(36), primary_key=True),
    Column("system", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("requested_by", String(320), nullable=False),
    Column("requested_ms", Integer),
    Column("request_clock", String(120), nullable=False),
    # pending (no outcome yet; readers show queued once the server has it), waiting, done,
    # failed
    Column("state", String(16), nullable=False),
    Column("message", Text),
    Column("reason", Text),
    Column("remote_status", Integer),
    Column("next_try_ms", Integer),
    Column("remote_key", String(200)),
    Column("outcome_clock", String(120), nullable=False),
    Column("updated_ms", Integer),
    Index("ix_integration_requests_id", "request_id"),
)

# Added by migration 0009: unsent typing (app/store/drafts.py); local only, never an event.
drafts = Table(
    "drafts", metadata,
    Column("slot", String(80), primary_key=True),  # "<kind>:<case id or empty>"
    Column("case_id", String(36)),
    Column("kind", String(16), nullable=False),  # reply, note, new_case, bulk
    Column("text", Text, nullable=False),  # the typing; JSON of the fields for new_case/bulk
    Column("mode", String(32), nullable=False),  # reply or note for a case's composer
    Column("attachments", Text, nullable=False),  # JSON list of staged attachment refs
    Column("updated_ms", Integer, nullable=False),
)

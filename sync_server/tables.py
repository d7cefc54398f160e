"""The server schema as SQLAlchemy Core tables (the Alembic migrations create the same)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
)

teams = Table(
    "teams", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("next_case_number", Integer, nullable=False),
)

team_members = Table(
    "team_members", metadata,
    Column("team_id", String(36), ForeignKey("teams.id"), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
)

token_families = Table(
    "token_families", metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
)

refresh_tokens = Table(
    "refresh_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", String(36), ForeignKey("token_families.id"), nullable=False, index=True),
    Column("used", Boolean, nullable=False),
    Column("expires_at", Float, nullable=False),
)

login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
)

counters = Table(
    "counters", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

events = Table(
    "events", metadata,
    Column("server_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("case_id", String(36), nullable=True, index=True),
    Column("team_id", String(36), nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("hlc", String(32), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("user_id", String(36), nullable=True),
    Column("v", Integer, nullable=False, server_default="1"),  # payload schema version (0002)
    Index("ix_events_team_seq", "team_id", "server_seq"),
)

cases = Table(
    "cases", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("team_id", String(36), nullable=False, index=True),
    Column("key", String(40), nullable=True),
)

blobs = Table(
    "blobs", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Which teams may read a blob: one row per (blob, team) for every stored event that
# references it (migration 0002). A blob nobody's event references is readable by no one.
blob_refs = Table(
    "blob_refs", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("team_id", String(36), primary_key=True),
)

presence = Table(
    "presence", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("at", Float, nullable=False),
)

# The job queue (migration 0003, sync_server/jobs): one row per integration request, made in
# the push transaction that stores its event; request_id is the client's idempotency key.
jobs = Table(
    "jobs", metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False, unique=True),
    Column("team_id", String(36), nullable=False),
    Column("case_id", String(36), nullable=False, index=True),
    Column("system", String(32), nullable=False),
    Column("site", String(255), nullable=False),
    Column("action", String(32), nullable=False),
    Column("params", Text, nullable=False),
    Column("state", String(16), nullable=False),  # queued|running|waiting|done|failed
    Column("attempts", Integer, nullable=False),
    Column("not_before_ms", BigInteger, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Column("give_up_at_ms", BigInteger, nullable=False),
    Column("unknown_outcome", Boolean, nullable=False),
    Column("call_started_ms", BigInteger, nullable=True),  # set before the handler runs
    Column("announced_try_ms", BigInteger, nullable=True),  # next_try of the last waiting event
    Column("last_error", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_jobs_state_not_before", "state", "not_before_ms"),
)

# One circuit breaker per (system, site), shared by every worker process.
breakers = Table(
    "breakers", metadata,
    Column("system", String(32), primary_key=True),
    Column("site", String(255), primary_key=True),
    Column("state", String(16), nullable=False),  # closed|open|half_open
    Column("failures", Integer, nullable=False),
    Column("opened_ms", BigInteger, nullable=True),
    Column("reopen_ms", BigInteger, nullable=True),
    Column("probes_in_flight", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

EVENT_SEQ = "event_seq"

# Integrations (migration 0004). Which cases link which remote records, folded from the
# integration.done / integration.record events (cursor: the counters row LINKS_SEQ), so a
# webhook or a refresh finds the cases of an issue without reading the log.
integration_links = Table(
    "integration_links", metadata,
    Column("system", String(32), primary_key=True),
    Column("remote_id", String(200), primary_key=True),
    Column("case_id", String(36), primary_key=True),
    Column("remote_key", String(200), nullable=False),
    Column("linked", Boolean, nullable=False),
    Column("snapshot", Text, nullable=False),  # JSON, as last recorded
    Column("fetched_ms", BigInteger, nullable=False),
)

# JIRA webhook deliveries already taken (X-Atlassian-Webhook-Identifier), to drop repeats.
jira_webhooks = Table(
    "jira_webhooks", metadata,
    Column("identifier", String(200), primary_key=True),
    Column("received_ms", BigInteger, nullable=False),
    Index("ix_jira_webhooks_received", "received_ms"),
)

# JIRA creates sent (before each send): a later attempt searches for the label first.
jira_sends = Table(
    "jira_sends", metadata,
    Column("request_id", String(64), primary_key=True),
    Column("first_ms", BigInteger, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
)

LINKS_SEQ = "integration_links_seq"

# The team mailbox, mail in (migration 0005_mailboxes, sync_server/mail). One row per
# mailbox; the password encrypted (sync_server/mail/secrets.py). lease_*: which process polls
# it now, so two servers on one database never fetch at once.
mailboxes = Table(
    "mailboxes", metadata,
    Column("id", String(36), primary_key=True),
    Column("team_id", String(36), nullable=False),
    Column("address", String(320), nullable=False),
    Column("imap_url", Text, nullable=False),
    Column("smtp_url", Text, nullable=False),
    Column("password_enc", Text, nullable=False),
    Column("settings", Text, nullable=False),  # JSON: undo_s, burst_per_hour, move_to
    Column("state", String(16), nullable=False),  # new|ok|failing|auth_failed|gone
    Column("last_poll_ms", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("uidvalidity", BigInteger, nullable=True),
    Column("last_uid", BigInteger, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("team_id", "address", name="uq_mailboxes_team_address"),
)

# Each fetched message once: its row is inserted in the transaction of its events.
mail_messages = Table(
    "mail_messages", metadata,
    Column("mailbox_id", String(36), primary_key=True),
    Column("uidvalidity", BigInteger, primary_key=True),
    Column("uid", BigInteger, primary_key=True),
    Column("message_id", String(998), nullable=True),
    Column("sender", String(320), nullable=True),
    Column("case_id", String(36), nullable=True),
    Column("disposition", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("processed_ms", BigInteger, nullable=False),
    Index("ix_mail_messages_message_id", "message_id"),
    Index("ix_mail_messages_sender", "mailbox_id", "sender", "processed_ms"),
)

# The team mailbox, mail out (migration 0006_mail_out, sync_server/mail/send.py): one row per
# public reply sent by e-mail. message_id is made once, when queued, and kept across retries;
# state is the arbiter between a send and an undo (queued -> sending -> sent, or withdrawn).
mail_out = Table(
    "mail_out", metadata,
    Column("comment_id", String(320), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("team_id", String(36), nullable=False),
    Column("mailbox_id", String(36), nullable=False),
    Column("message_id", String(998), nullable=False),
    Column("state", String(16), nullable=False),  # queued|sending|sent|failed|withdrawn|bounced
    Column("author", String(320), nullable=True),
    Column("recipients", Text, nullable=False),  # JSON {"to": [..], "cc": [..]}
    Column("not_before_ms", BigInteger, nullable=False),
    Column("sent_ms", BigInteger, nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_mail_out_message_id", "message_id"),
    Index("ix_mail_out_team_state", "team_id", "state"),
)

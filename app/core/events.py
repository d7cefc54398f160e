"""Events: immutable recorded changes. The wire/storage form is a plain JSON dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# Case events (case_id set)
CASE_CREATED = "case.created"  # {fields: {...}, tags: [...]}
CASE_UPDATED = "case.updated"  # {field, value, prev}
CASE_MERGED = "case.merged"  # {into, prev_status}  source case: merged_into + closed
CASE_KEY_ASSIGNED = "case.key_assigned"  # {key}  server-authored team sequence key
TAG_ADDED = "tag.added"  # {tag}
TAG_REMOVED = "tag.removed"  # {tag}
LINK_ADDED = "link.added"  # {other, kind}
LINK_REMOVED = "link.removed"  # {other, kind}
COMMENT_ADDED = "comment.added"  # {body, internal, author_kind, split_from?}
COMMENT_REDACTED = "comment.redacted"  # {comment_id}
ATTACHMENT_ADDED = "attachment.added"  # {sha256, name, size, mime, comment_id?}
ATTACHMENT_REMOVED = "attachment.removed"  # {attachment_id}
# Recorded for the audit trail only (no projection): the manual LLM workflow.
LLM_PROMPT_COPIED = "llm.prompt_copied"  # {template, prompt_sha256}
LLM_ANSWER_ACCEPTED = "llm.answer_accepted"  # {template, answer_sha256, applied: [...]}
# Directory events (case_id null): whole-record last-writer-wins upserts
CUSTOMER_UPSERTED = "customer.upserted"  # {id, name, email, organization_id, phone}
ORGANIZATION_UPSERTED = "organization.upserted"  # {id, name, domain}
AGENT_UPSERTED = "agent.upserted"  # {id, name, email, role}
TEAM_UPSERTED = "team.upserted"  # {id, name, prefix, members}
# Integration calls (JIRA, Salesforce), on a case. The client records a request (offline
# too); the server runs it as a job and records the outcome (server-authored).
INTEGRATION_REQUESTED = "integration.requested"  # {request_id, system, action, params}
INTEGRATION_DONE = "integration.done"  # {request_id, system, action, message, record|null}
INTEGRATION_FAILED = "integration.failed"  # {request_id, system, action, reason, remote_status}
INTEGRATION_WAITING = "integration.waiting"  # {request_id, system, action, reason, next_try_ms}
INTEGRATION_RECORD = "integration.record"  # {system, record}: a linked record changed
INTEGRATION_EVENT_TYPES = frozenset({
    INTEGRATION_REQUESTED, INTEGRATION_DONE, INTEGRATION_FAILED, INTEGRATION_WAITING,
    INTEGRATION_RECORD,
})
# The team mailbox, mail out (issue 17). The server sends a public reply after the team's
# undo window and says how it went; a client may ask to withdraw a reply still queued.
MAIL_DELIVERY = "mail.delivery"  # {comment_id, state, at_ms, message_id, reason, recipients,
#                                    author?}
MAIL_WITHDRAW = "mail.withdraw"  # {comment_id}: undo send (client-authored)
MAIL_STATES = ("queued", "sent", "failed", "bounced", "withdrawn")

# The payload schema version this build writes and understands (see event_schema.py). An
# event with a greater ``v`` comes from a newer client: it is quarantined, not applied.
SCHEMA_VERSION = 1

CASE_EVENT_TYPES = frozenset({
    CASE_CREATED, CASE_UPDATED, CASE_MERGED, CASE_KEY_ASSIGNED, TAG_ADDED, TAG_REMOVED,
    LINK_ADDED, LINK_REMOVED, COMMENT_ADDED, COMMENT_REDACTED, ATTACHMENT_ADDED,
    ATTACHMENT_REMOVED, LLM_PROMPT_COPIED, LLM_ANSWER_ACCEPTED,
})
DIRECTORY_EVENT_TYPES = {
    CUSTOMER_UPSERTED: "customers",
    ORGANIZATION_UPSERTED: "organizations",
    AGENT_UPSERTED: "agents",
    TEAM_UPSERTED: "teams",
}


@dataclass(slots=True)
class Event:
    id: str
    type: str
    payload: dict[str, Any]
    actor: str
    device_id: str
    hlc: str
    case_id: str | None = None
    team_id: str | None = None
    server_seq: int | None = None
    op_id: str | None = field(default=None, compare=False)
    v: int = SCHEMA_VERSION

    @property
    def clock(self) -> str:
        """The merge order of this event: ``(hlc, id)`` as one sortable string."""
        return f"{self.hlc}|{self.id}"

    def to_wire(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("op_id")
        data.pop("server_seq")
        return data

    @staticmethod
    def from_wire(data: dict[str, Any]) -> Event:
        return Event(
            id=str(data["id"]),
            type=str(data["type"]),
            payload=dict(data.get("payload") or {}),
            actor=str(data.get("actor") or ""),
            device_id=str(data.get("device_id") or ""),
            hlc=str(data["hlc"]),
            case_id=data.get("case_id"),
            team_id=data.get("team_id"),
            server_seq=data.get("server_seq"),
            v=_version(data.get("v")),
        )


def _version(value: Any) -> int:
    """The schema version of a wire event; absent (an older client) means version 1."""
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not a schema version: {value!r}")
    return value


def _describe_comment(p: dict[str, Any]) -> str:
    kind = "an internal note" if p.get("internal") else "a public reply"
    body = str(p.get("body", "")).strip().splitlines()
    return f"added {kind}: {body[0][:80] if body else ''}"


# describe() of the case events: event type -> one line from the payload.
_CASE_DESCRIBERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "case.created": lambda p: f"created the case: {p.get('fields', {}).get('subject', '')}",
    "case.updated": lambda p: f"changed {p.get('field')}: {p.get('prev')!s} → {p.get('value')!s}",
    "case.merged": lambda p: f"merged this case into {p.get('into_key') or p.get('into')}",
    "case.key_assigned": lambda p: f"key assigned: {p.get('key')}",
    "tag.added": lambda p: f"added tag {p.get('tag')}",
    "tag.removed": lambda p: f"removed tag {p.get('tag')}",
    "link.added": lambda p: f"linked {p.get('kind')} case {p.get('other_key') or p.get('other')}",
    "link.removed":
        lambda p: f"unlinked {p.get('kind')} case {p.get('other_key') or p.get('other')}",
    "comment.added": _describe_comment,
    "comment.redacted": lambda p: "withdrew a comment",
    "attachment.added": lambda p: f"attached {p.get('name')} ({p.get('size', 0):,} bytes)",
    "attachment.removed": lambda p: "removed an attachment",
    "llm.prompt_copied": lambda p: f"copied a '{p.get('template')}' prompt for the LLM",
    "llm.answer_accepted": lambda p: f"accepted an LLM '{p.get('template')}' answer",
}


def describe(event: Event) -> str:
    """One line for the History tab."""
    describer = _CASE_DESCRIBERS.get(event.type)
    if describer is None:
        return _describe_integration(event)
    return describer(event.payload)


def _describe_integration(event: Event) -> str:
    """describe() of the integration events (and the type itself for anything else)."""
    p = event.payload
    head = f"{p.get('system')} {p.get('action')}"
    match event.type:
        case "integration.requested":
            return f"asked {p.get('system')} to {p.get('action')}"
        case "integration.done":
            return f"{head} done: {str(p.get('message', ''))[:80]}"
        case "integration.failed":
            return f"{head} failed: {str(p.get('reason', ''))[:80]}"
        case "integration.waiting":
            return f"{head} waiting: {str(p.get('reason', ''))[:80]}"
        case "mail.delivery":
            reason = f": {str(p.get('reason') or '')[:80]}" if p.get("reason") else ""
            return f"reply e-mail {p.get('state')}{reason}"
        case "mail.withdraw":
            return "asked to withdraw a reply e-mail (undo send)"
        case "integration.record":
            record = p.get("record")
            key = record.get("remote_key", "") if isinstance(record, dict) else ""
            return f"{p.get('system')} record {key} changed"
        case _:
            return event.type

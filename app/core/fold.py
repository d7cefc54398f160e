"""The deterministic fold of events into case state (the merge rule).

A field takes the value of the event with the greatest ``(hlc, id)``; tags and links are
add/remove sets decided per element the same way; comments append; deletes are tombstones.
Applying the same events in any order, or twice, yields the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core import events as ev
from app.core.hlc import hlc_ms
from app.core.model import FIELDS, OPEN_STATUSES, InvalidValue, parse_field

DEFAULTS: dict[str, Any] = {
    "key": None, "subject": "", "description": None, "status": "new", "priority": "normal",
    "type": "question", "requester_id": None, "organization_id": None, "assignee_id": None,
    "team_id": None, "product": None, "due_at": None, "merged_into": None, "deleted": False,
}


@dataclass(slots=True)
class CaseState:
    id: str
    fields: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS))
    clocks: dict[str, str] = field(default_factory=dict)
    tags: dict[str, list[Any]] = field(default_factory=dict)  # tag -> [clock, present]
    links: dict[str, list[Any]] = field(default_factory=dict)  # "kind:other" -> [clock, present]
    exists: bool = False
    created_ms: int | None = None
    updated_ms: int | None = None
    first_response_ms: int | None = None

    @property
    def solved_ms(self) -> int | None:
        if self.fields["status"] in ("solved", "closed") and "status" in self.clocks:
            return hlc_ms(self.clocks["status"])
        return None

    @property
    def is_open(self) -> bool:
        return self.fields["status"] in OPEN_STATUSES

    def tag_list(self) -> list[str]:
        return sorted(t for t, (_, present) in self.tags.items() if present)

    def link_list(self) -> list[tuple[str, str]]:
        out = []
        for k, (_, present) in self.links.items():
            if present:
                kind, _, other = k.partition(":")
                out.append((kind, other))
        return sorted(out)


@dataclass(slots=True)
class CommentState:
    id: str
    case_id: str
    author: str = ""
    author_kind: str = "agent"
    created_ms: int = 0
    body: str = ""
    internal: bool = False
    redacted: bool = False
    known: bool = False  # the comment.added event has been seen


def _set_field(state: CaseState, name: str, value: Any, clock: str) -> bool:
    if clock <= state.clocks.get(name, ""):
        return False
    state.clocks[name] = clock
    state.fields[name] = value
    return True


def _set_member(members: dict[str, list[Any]], key: str, present: bool, clock: str) -> None:
    current = members.get(key)
    if current is None or clock > current[0]:
        members[key] = [clock, present]


def _clean(name: str, value: Any) -> Any:
    """Remote events are not trusted: an invalid value is dropped, never crashes the fold."""
    try:
        return parse_field(name, value)
    except (InvalidValue, TypeError):
        return DEFAULTS.get(name)


def _fold_created(state: CaseState, event: ev.Event, clock: str, ms: int) -> None:
    p = event.payload
    state.exists = True
    created = p.get("created_ms")
    state.created_ms = int(created) if isinstance(created, int) else ms
    for name, value in dict(p.get("fields") or {}).items():
        if name in FIELDS:
            _set_field(state, name, _clean(name, value), clock)
    for tag in p.get("tags") or []:
        _set_member(state.tags, str(tag), True, clock)


def _fold_updated(state: CaseState, event: ev.Event, clock: str, ms: int) -> None:
    p = event.payload
    name = str(p.get("field"))
    if name in FIELDS:
        _set_field(state, name, _clean(name, p.get("value")), clock)


def _fold_merged(state: CaseState, event: ev.Event, clock: str, ms: int) -> None:
    _set_field(state, "merged_into", _clean("merged_into", event.payload.get("into")), clock)
    _set_field(state, "status", "closed", clock)


def _fold_key_assigned(state: CaseState, event: ev.Event, clock: str, ms: int) -> None:
    _set_field(state, "key", _clean("key", event.payload.get("key")), clock)


def _fold_tag(state: CaseState, event: ev.Event, clock: str, ms: int) -> None:
    _set_member(state.tags, str(event.payload.get("tag")), event.type == ev.TAG_ADDED, clock)


def _fold_link(state: CaseState, event: ev.Event, clock: str, ms: int) -> None:
    p = event.payload
    key = f"{p.get('kind')}:{p.get('other')}"
    _set_member(state.links, key, event.type == ev.LINK_ADDED, clock)


def _fold_comment(state: CaseState, event: ev.Event, clock: str, ms: int) -> None:
    p = event.payload
    if not p.get("internal") and p.get("author_kind", "agent") == "agent":
        if state.first_response_ms is None or ms < state.first_response_ms:
            state.first_response_ms = ms


# apply_case_event() per event type; any other type only touches ``updated_ms``.
_CASE_FOLDERS: dict[str, Callable[[CaseState, ev.Event, str, int], None]] = {
    ev.CASE_CREATED: _fold_created,
    ev.CASE_UPDATED: _fold_updated,
    ev.CASE_MERGED: _fold_merged,
    ev.CASE_KEY_ASSIGNED: _fold_key_assigned,
    ev.TAG_ADDED: _fold_tag,
    ev.TAG_REMOVED: _fold_tag,
    ev.LINK_ADDED: _fold_link,
    ev.LINK_REMOVED: _fold_link,
    ev.COMMENT_ADDED: _fold_comment,
}


def apply_case_event(state: CaseState, event: ev.Event) -> None:
    """Fold one case event into ``state`` (in place). Comment events only touch times."""
    clock = event.clock
    ms = hlc_ms(event.hlc)
    if state.updated_ms is None or ms > state.updated_ms:
        state.updated_ms = ms
    folder = _CASE_FOLDERS.get(event.type)
    if folder is not None:
        folder(state, event, clock, ms)


def value_written(event: ev.Event, field_name: str) -> Any:
    """The value ``event`` wrote to ``field_name`` (for conflict notices)."""
    p = event.payload
    if event.type == ev.CASE_UPDATED:
        return p.get("value")
    if event.type == ev.CASE_CREATED:
        return (p.get("fields") or {}).get(field_name, DEFAULTS.get(field_name))
    if event.type == ev.CASE_MERGED:
        return {"status": "closed", "merged_into": p.get("into")}.get(field_name)
    if event.type == ev.CASE_KEY_ASSIGNED:
        return p.get("key")
    return None


def comment_author(event: ev.Event) -> str:
    """Who wrote a comment's words: the payload's ``author`` when the recording agent (the
    actor, whom the server checks) entered someone else's words (an import), else the actor."""
    author = event.payload.get("author")
    if isinstance(author, str) and author.strip() and len(author) <= 320:
        return author
    return event.actor


def apply_comment_event(comment: CommentState, event: ev.Event) -> None:
    p = event.payload
    if event.type == ev.COMMENT_ADDED:
        comment.known = True
        comment.author = comment_author(event)
        comment.author_kind = str(p.get("author_kind", "agent"))
        comment.created_ms = hlc_ms(event.hlc)
        comment.body = str(p.get("body", ""))
        comment.internal = bool(p.get("internal", False))
    elif event.type == ev.COMMENT_REDACTED:
        comment.redacted = True


@dataclass(slots=True)
class AttachmentState:
    id: str
    case_id: str
    sha256: str = ""
    name: str = ""
    size: int = 0
    mime: str = ""
    comment_id: str | None = None
    created_ms: int = 0
    author: str = ""
    removed: bool = False
    known: bool = False


def attachment_id_of(event: ev.Event) -> str | None:
    if event.type == ev.ATTACHMENT_ADDED:
        return event.id
    if event.type == ev.ATTACHMENT_REMOVED:
        return str(event.payload.get("attachment_id"))
    return None


def apply_attachment_event(att: AttachmentState, event: ev.Event) -> None:
    p = event.payload
    if event.type == ev.ATTACHMENT_ADDED:
        att.known = True
        att.sha256 = str(p.get("sha256", ""))[:64]
        att.name = str(p.get("name", ""))[:255]
        size = p.get("size", 0)
        att.size = size if isinstance(size, int) else 0
        att.mime = str(p.get("mime", ""))[:127]
        comment_id = p.get("comment_id")
        att.comment_id = str(comment_id) if comment_id else None
        att.created_ms = hlc_ms(event.hlc)
        att.author = event.actor
    elif event.type == ev.ATTACHMENT_REMOVED:
        att.removed = True


def comment_id_of(event: ev.Event) -> str | None:
    if event.type == ev.COMMENT_ADDED:
        return event.id
    if event.type == ev.COMMENT_REDACTED:
        return str(event.payload.get("comment_id"))
    return None


def apply_directory_event(
    records: dict[str, dict[str, Any]], event: ev.Event
) -> dict[str, Any] | None:
    """Whole-record last-writer-wins. Returns the stored record if this event won."""
    rec_id = str(event.payload.get("id", ""))
    if not rec_id:
        return None
    current = records.get(rec_id)
    if current is not None and current["clock"] >= event.clock:
        return None
    record = {k: v for k, v in event.payload.items() if k != "id"}
    record["id"] = rec_id
    record["clock"] = event.clock
    records[rec_id] = record
    return record

"""Commands turn an agent's intent into events. Pure: they read state, they return events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.core import events as ev
from app.core.fold import CaseState
from app.core.hlc import HybridClock
from app.core.ids import uuid7
from app.core.model import (
    FIELDS,
    INVERSE_LINK,
    MAX_TEXT,
    InvalidValue,
    LinkKind,
    normalize_tag,
    parse_field,
)


@dataclass(slots=True)
class EventFactory:
    actor: str
    device_id: str
    clock: HybridClock

    def make(self, type_: str, payload: dict[str, Any], *, case_id: str | None,
             team_id: str | None) -> ev.Event:
        return ev.Event(id=uuid7(), type=type_, payload=payload, actor=self.actor,
                        device_id=self.device_id, hlc=self.clock.now(), case_id=case_id,
                        team_id=team_id)


def new_case(f: EventFactory, *, key: str, fields: dict[str, Any], tags: Iterable[str] = (),
             created_ms: int | None = None) -> list[ev.Event]:
    clean: dict[str, Any] = {"key": key, "status": "new", "priority": "normal", "type": "question"}
    for name, value in fields.items():
        if name in ("key", "merged_into", "deleted"):
            raise InvalidValue(f"field '{name}' cannot be set directly")
        clean[name] = parse_field(name, value)
    if not clean.get("subject"):
        raise InvalidValue("Subject: must not be empty")
    payload: dict[str, Any] = {"fields": clean, "tags": sorted({normalize_tag(t) for t in tags})}
    if created_ms is not None:
        payload["created_ms"] = created_ms
    case_id = uuid7()
    return [f.make(ev.CASE_CREATED, payload, case_id=case_id, team_id=clean.get("team_id"))]


def set_fields(f: EventFactory, case: CaseState, changes: dict[str, Any]) -> list[ev.Event]:
    """One event per field that really changes; unknown fields or bad values raise first."""
    parsed: dict[str, Any] = {}
    for name, value in changes.items():
        spec = FIELDS.get(name)
        if spec is not None and not spec.editable:
            raise InvalidValue(f"field '{name}' cannot be edited")
        parsed[name] = parse_field(name, value)
    out = []
    for name, value in parsed.items():
        prev = case.fields.get(name)
        if value != prev:
            out.append(f.make(ev.CASE_UPDATED, {"field": name, "value": value, "prev": prev},
                              case_id=case.id, team_id=_team(case, name, value)))
    return out


def _team(case: CaseState, name: str, value: Any) -> str | None:
    # A team change is recorded under the new team so its members receive the case.
    return value if name == "team_id" and value else case.fields.get("team_id")


def change_tags(f: EventFactory, case: CaseState, add: Iterable[str] = (),
                remove: Iterable[str] = ()) -> list[ev.Event]:
    current = set(case.tag_list())
    adds = sorted({normalize_tag(t) for t in add} - current)
    removes = sorted({normalize_tag(t) for t in remove} & current)
    team = case.fields.get("team_id")
    return ([f.make(ev.TAG_ADDED, {"tag": t}, case_id=case.id, team_id=team) for t in adds]
            + [f.make(ev.TAG_REMOVED, {"tag": t}, case_id=case.id, team_id=team)
               for t in removes])


def comment(f: EventFactory, case: CaseState, *, body: str, internal: bool,
            author_kind: str = "agent", extra: dict[str, Any] | None = None) -> list[ev.Event]:
    if not body.strip():
        raise InvalidValue("a comment needs some text")
    if len(body) > MAX_TEXT:
        raise InvalidValue(f"the comment is {len(body)} characters long; the limit is {MAX_TEXT}")
    if "\x00" in body:
        raise InvalidValue("the comment contains a NUL character")
    payload: dict[str, Any] = {"body": body, "internal": internal, "author_kind": author_kind}
    payload.update(extra or {})
    return [f.make(ev.COMMENT_ADDED, payload, case_id=case.id,
                   team_id=case.fields.get("team_id"))]


def link(f: EventFactory, case: CaseState, other: CaseState, kind: str,
         *, remove: bool = False) -> list[ev.Event]:
    try:
        link_kind = LinkKind(kind)
    except ValueError:
        raise InvalidValue(f"'{kind}' is not a link kind (related, parent, child)") from None
    if case.id == other.id:
        raise InvalidValue("a case cannot be linked to itself")
    type_ = ev.LINK_REMOVED if remove else ev.LINK_ADDED
    present = f"{link_kind.value}:{other.id}" in {f"{k}:{o}" for k, o in case.link_list()}
    if present != remove:
        return []
    inverse = INVERSE_LINK[link_kind].value
    return [
        f.make(type_, {"other": other.id, "kind": link_kind.value,
                       "other_key": other.fields.get("key")},
               case_id=case.id, team_id=case.fields.get("team_id")),
        f.make(type_, {"other": case.id, "kind": inverse, "other_key": case.fields.get("key")},
               case_id=other.id, team_id=other.fields.get("team_id")),
    ]


def merge(f: EventFactory, source: CaseState, target: CaseState) -> list[ev.Event]:
    if source.id == target.id:
        raise InvalidValue("a case cannot be merged into itself")
    if target.fields.get("merged_into"):
        raise InvalidValue(f"{target.fields.get('key')} is itself merged; merge into "
                           "the case it points to")
    if source.fields.get("merged_into"):
        raise InvalidValue(f"{source.fields.get('key')} is already merged")
    team = source.fields.get("team_id")
    return [
        f.make(ev.CASE_MERGED, {"into": target.id, "into_key": target.fields.get("key"),
                                "prev_status": source.fields.get("status")},
               case_id=source.id, team_id=team),
        f.make(ev.COMMENT_ADDED, {"body": f"Merged {source.fields.get('key')} "
                                          f"({source.fields.get('subject')}) into this case.",
                                  "internal": True, "author_kind": "system"},
               case_id=target.id, team_id=target.fields.get("team_id")),
    ]


def inverse(f: EventFactory, events: list[ev.Event]) -> list[ev.Event]:
    """Events that undo ``events`` (applied after them, so they win by clock)."""
    out: list[ev.Event] = []
    for e in reversed(events):
        p = e.payload
        kw = {"case_id": e.case_id, "team_id": e.team_id}
        match e.type:
            case ev.CASE_CREATED:
                out.append(f.make(ev.CASE_UPDATED, {"field": "deleted", "value": True,
                                                    "prev": False}, **kw))
            case ev.CASE_UPDATED:
                out.append(f.make(ev.CASE_UPDATED, {"field": p["field"], "value": p.get("prev"),
                                                    "prev": p.get("value")}, **kw))
            case ev.CASE_MERGED:
                out.append(f.make(ev.CASE_UPDATED, {"field": "merged_into", "value": None,
                                                    "prev": p.get("into")}, **kw))
                out.append(f.make(ev.CASE_UPDATED, {"field": "status",
                                                    "value": p.get("prev_status") or "open",
                                                    "prev": "closed"}, **kw))
            case ev.TAG_ADDED:
                out.append(f.make(ev.TAG_REMOVED, dict(p), **kw))
            case ev.TAG_REMOVED:
                out.append(f.make(ev.TAG_ADDED, dict(p), **kw))
            case ev.LINK_ADDED:
                out.append(f.make(ev.LINK_REMOVED, dict(p), **kw))
            case ev.LINK_REMOVED:
                out.append(f.make(ev.LINK_ADDED, dict(p), **kw))
            case ev.COMMENT_ADDED:
                out.append(f.make(ev.COMMENT_REDACTED, {"comment_id": e.id}, **kw))
            case ev.ATTACHMENT_ADDED:
                out.append(f.make(ev.ATTACHMENT_REMOVED, {"attachment_id": e.id}, **kw))
            case _:
                pass
    return out

"""Case operations: the one path by which the UI and the CLI change cases.

Each function has keyword-only arguments, runs one transaction on the caller's thread (the UI
calls it through the database worker) and returns the ``Changes`` it made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from app.core import commands as cmd
from app.core import events as ev
from app.core.changes import Changes
from app.core.commands import EventFactory
from app.core.fold import CaseState
from app.core.ids import uuid7
from app.core.model import InvalidValue, parse_field
from app.operations.errors import NotFound, OperationError
from app.store import queries as q
from app.store import schema as s
from app.store.db import StoreError
from app.store.projector import load_case
from app.store.repo import Store


def _load(conn: Connection, ref: str) -> CaseState:
    case_id = q.resolve_case(conn, ref)
    state = load_case(conn, case_id) if case_id else None
    if state is None or not state.exists or state.fields.get("deleted"):
        raise NotFound(f"no case '{ref}'")
    return state


def _guard(fn: Any) -> Any:
    """Turn domain errors into OperationError so callers catch one type."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InvalidValue, StoreError) as exc:
            raise OperationError(str(exc)) from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _resolve_agent(conn: Connection, ref: str | None, me: str) -> str | None:
    if ref is None or ref.strip().lower() in ("", "none", "-", "nobody"):
        return None
    if ref.strip().lower() == "me":
        return me
    agent = q.find_agent(conn, ref)
    if agent is None:
        names = [a["id"] for a in q.directory(conn, "agents")]
        from app.core.model import suggest

        hint = suggest(ref, names)
        raise InvalidValue(f"no agent '{ref}'" + (f" (did you mean '{hint}'?)" if hint else ""))
    return str(agent["id"])


def _requester_events(conn: Connection, f: EventFactory, email: str,
                      name: str | None = None) -> tuple[str, str | None, list[ev.Event]]:
    email = email.strip()
    if "@" not in email or " " in email or len(email) > 320:
        raise InvalidValue(f"'{email}' is not an email address")
    found = q.find_customer(conn, email)
    if found:
        return str(found["id"]), found.get("organization_id"), []
    cust_id = uuid7()
    payload = {"id": cust_id, "name": name or email.split("@")[0], "email": email,
               "organization_id": None, "phone": None}
    # Directory records travel with a team like everything else the server stores.
    team = _default_team(conn)
    return cust_id, None, [f.make(ev.CUSTOMER_UPSERTED, payload, case_id=None, team_id=team)]


def _default_team(conn: Connection) -> str | None:
    value = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "default_team")).scalar()
    if value:
        return str(value)
    return conn.execute(select(s.teams.c.id).order_by(s.teams.c.name).limit(1)).scalar()


def _normalise_changes(conn: Connection, changes: dict[str, Any], me: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in changes.items():
        name = {"assignee": "assignee_id", "requester": "requester_id", "team": "team_id",
                "organization": "organization_id", "org": "organization_id",
                "due": "due_at"}.get(name, name)
        if name == "assignee_id":
            value = _resolve_agent(conn, None if value is None else str(value), me)
        out[name] = value
    return out


@_guard
def create_case(store: Store, *, subject: str, description: str | None = None,
                priority: str | None = None, type: str | None = None,
                requester_email: str | None = None, requester_name: str | None = None,
                tags: Iterable[str] = (), assignee: str | None = None, team: str | None = None,
                product: str | None = None, due: str | None = None,
                status: str | None = None) -> tuple[str, str, Changes]:
    result: dict[str, str] = {}

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        out: list[ev.Event] = []
        fields: dict[str, Any] = {"subject": subject}
        for name, value in (("description", description), ("priority", priority),
                            ("type", type), ("product", product), ("due_at", due),
                            ("status", status)):
            if value is not None:
                fields[name] = value
        if requester_email:
            cust_id, org_id, extra = _requester_events(conn, f, requester_email, requester_name)
            out += extra
            fields["requester_id"] = cust_id
            if org_id:
                fields["organization_id"] = org_id
        if assignee:
            fields["assignee_id"] = _resolve_agent(conn, assignee, store.actor)
        fields["team_id"] = team or store.get_default_team(conn)
        key = store.next_provisional_key(conn)
        created = cmd.new_case(f, key=key, fields=fields, tags=tags)
        result.update(id=str(created[0].case_id), key=key)
        return out + created

    changes = store.record(build, label=f"create case '{subject[:40]}'")
    return result["id"], result["key"], changes


@_guard
def set_fields(store: Store, *, case: str, changes: dict[str, Any]) -> Changes:
    if not changes:
        raise OperationError("no fields given")

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _load(conn, case)
        return cmd.set_fields(f, state, _normalise_changes(conn, changes, store.actor))

    names = ", ".join(changes)
    return store.record(build, label=f"edit {names} of {case}")


@_guard
def assign(store: Store, *, case: str, agent: str | None) -> Changes:
    changes: Changes = set_fields(store, case=case, changes={"assignee_id": agent})
    return changes


@_guard
def comment(store: Store, *, case: str, body: str, internal: bool = False) -> Changes:
    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _load(conn, case)
        events = cmd.comment(f, state, body=body, internal=internal)
        # A public reply on a new case opens it, as helpdesks do.
        if not internal and state.fields.get("status") == "new":
            events += cmd.set_fields(f, state, {"status": "open"})
        return events

    kind = "internal note" if internal else "reply"
    return store.record(build, label=f"{kind} on {case}")


@_guard
def tag(store: Store, *, case: str, add: Iterable[str] = (),
        remove: Iterable[str] = ()) -> Changes:
    add, remove = list(add), list(remove)

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        return cmd.change_tags(f, _load(conn, case), add, remove)

    return store.record(build, label=f"tags of {case}")


@_guard
def link(store: Store, *, case: str, other: str, kind: str = "related",
         remove: bool = False) -> Changes:
    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        return cmd.link(f, _load(conn, case), _load(conn, other), kind, remove=remove)

    return store.record(build, label=f"{'unlink' if remove else 'link'} {case} and {other}")


@_guard
def merge(store: Store, *, source: str, target: str) -> Changes:
    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        return cmd.merge(f, _load(conn, source), _load(conn, target))

    return store.record(build, label=f"merge {source} into {target}")


@_guard
def split(store: Store, *, case: str, comment_id: str,
          subject: str | None = None) -> tuple[str, str, Changes]:
    """A comment becomes a new case (linked as related); the original stays as it was."""
    result: dict[str, str] = {}

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _load(conn, case)
        row = conn.execute(select(s.comments).where(s.comments.c.id == comment_id,
                                                    s.comments.c.case_id == state.id)).first()
        if row is None or row.redacted:
            raise NotFound(f"no comment '{comment_id}' on {case}")
        first_line = next((ln for ln in row.body.splitlines() if ln.strip()), "Split case")
        fields = {"subject": (subject or first_line)[:200], "description": row.body,
                  "priority": state.fields["priority"], "type": state.fields["type"],
                  "requester_id": state.fields["requester_id"],
                  "organization_id": state.fields["organization_id"],
                  "team_id": state.fields["team_id"], "product": state.fields["product"]}
        key = store.next_provisional_key(conn)
        created = cmd.new_case(f, key=key, fields=fields)
        new_state = CaseState(id=str(created[0].case_id))
        new_state.exists = True
        new_state.fields.update(key=key, team_id=state.fields["team_id"])
        result.update(id=new_state.id, key=key)
        return created + cmd.link(f, new_state, state, "related")

    changes = store.record(build, label=f"split a comment of {case}")
    return result["id"], result["key"], changes


@dataclass(slots=True)
class BulkPreview:
    changes: list[tuple[str, str, Any, Any]] = field(default_factory=list)  # key, field, old, new
    errors: list[str] = field(default_factory=list)


@_guard
def bulk_set(store: Store, *, cases: list[str], changes: dict[str, Any],
             dry_run: bool = False) -> tuple[BulkPreview, Changes]:
    """Apply the same field changes to many cases, in one transaction (all or nothing)."""
    preview = BulkPreview()

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        norm = _normalise_changes(conn, changes, store.actor)
        for name, value in norm.items():
            norm[name] = parse_field(name, value)
        out: list[ev.Event] = []
        for ref in cases:
            try:
                state = _load(conn, ref)
            except NotFound as exc:
                preview.errors.append(str(exc))
                continue
            events = cmd.set_fields(f, state, norm)
            for e in events:
                preview.changes.append((str(state.fields["key"]), e.payload["field"],
                                        e.payload["prev"], e.payload["value"]))
            out += events
        if preview.errors:
            raise NotFound("; ".join(preview.errors))
        if dry_run:
            return []
        return out

    result = store.record(build, label=f"bulk edit of {len(cases)} cases")
    return preview, result


@_guard
def bulk_apply(store: Store, *, cases: list[str], changes: dict[str, Any],
               add_tags: Iterable[str] = (), remove_tags: Iterable[str] = (),
               dry_run: bool = False) -> tuple[BulkPreview, Changes | None]:
    """The same field and tag changes to many cases as one operation: one transaction and
    one undo step, all or nothing (an unknown case or a bad value changes none).

    ``dry_run``: nothing is written; the preview lists what would change, and the
    ``Changes`` are None. Preview lines are (key, field, old, new); a tag line is
    ``(key, "tags", "", "+tag")`` or ``(key, "tags", "-tag", "")``."""
    add, remove = [str(t) for t in add_tags], [str(t) for t in remove_tags]
    if not changes and not add and not remove:
        raise OperationError("no changes given")
    both = {t.strip().lower().lstrip("#") for t in add} & \
        {t.strip().lower().lstrip("#") for t in remove}
    if both:
        raise InvalidValue(f"a tag cannot be both added and removed: {', '.join(sorted(both))}")
    preview = BulkPreview()

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        norm = _normalise_changes(conn, changes, store.actor)
        for name, value in norm.items():
            norm[name] = parse_field(name, value)
        out: list[ev.Event] = []
        seen: set[str] = set()
        for ref in cases:
            try:
                state = _load(conn, ref)
            except NotFound as exc:
                preview.errors.append(str(exc))
                continue
            if state.id in seen:
                continue  # the same case named twice (by key and by id) is edited once
            seen.add(state.id)
            key = str(state.fields["key"])
            events = cmd.set_fields(f, state, norm) if norm else []
            for e in events:
                preview.changes.append((key, e.payload["field"], e.payload["prev"],
                                        e.payload["value"]))
                # Tags are judged on the edited case (a team move routes them too).
                state.fields[e.payload["field"]] = e.payload["value"]
            tags = cmd.change_tags(f, state, add, remove)
            for e in tags:
                preview.changes.append((key, "tags", "", "+" + e.payload["tag"])
                                       if e.type == ev.TAG_ADDED
                                       else (key, "tags", "-" + e.payload["tag"], ""))
            out += events + tags
        if preview.errors:
            raise NotFound("; ".join(preview.errors))
        return [] if dry_run else out

    result = store.record(build, label=f"bulk edit of {len(cases)} cases")
    if dry_run:
        return preview, None
    if preview.changes:
        result.message = f"Edited {len(cases)} cases"
    return preview, result


@_guard
def undo(store: Store) -> Changes:
    return store.undo_last()


@_guard
def save_view(store: Store, *, name: str, query: str) -> Changes:
    name = " ".join(name.split())
    if not name:
        raise InvalidValue("a view needs a name")
    q.CaseFilter.parse(query) if not query.startswith("search:") else None

    def tx(conn: Connection) -> Changes:
        existing = conn.execute(select(s.saved_views.c.id).where(s.saved_views.c.name == name))
        view_id = existing.scalar() or uuid7()
        conn.execute(s.saved_views.insert().prefix_with("OR REPLACE"),
                     {"id": view_id, "name": name, "query": query, "position": 0})
        return Changes(views=True, message=f"saved view '{name}'")

    return store.write(tx)


@_guard
def delete_view(store: Store, *, name: str) -> Changes:
    def tx(conn: Connection) -> Changes:
        res = conn.execute(s.saved_views.delete().where(s.saved_views.c.name == name))
        if not res.rowcount:
            raise NotFound(f"no saved view '{name}'")
        return Changes(views=True)

    return store.write(tx)


@_guard
def restore_conflict(store: Store, *, conflict_id: str) -> Changes:
    """Put back the agent's value that lost to a teammate's concurrent edit (one click)."""
    from app.store import conflicts as cf

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        row = conn.execute(select(s.conflicts).where(s.conflicts.c.id == conflict_id)).first()
        if row is None or row.resolved:
            raise NotFound(f"no open conflict '{conflict_id}'")
        cf.resolve(conn, conflict_id)
        state = _load(conn, row.case_id)
        import json

        return cmd.set_fields(f, state, {row.field: json.loads(row.local_value)})

    return store.record(build, label="restore my value")


@_guard
def dismiss_conflict(store: Store, *, conflict_id: str) -> Changes:
    from app.store import conflicts as cf

    def tx(conn: Connection) -> Changes:
        cf.resolve(conn, conflict_id)
        return Changes(message="conflict dismissed")

    return store.write(tx)

"""Applying events to the projection tables, one case at a time, inside the caller's transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from app.core import events as ev
from app.core.fold import (
    AttachmentState,
    CaseState,
    CommentState,
    apply_attachment_event,
    apply_case_event,
    apply_comment_event,
    apply_directory_event,
    attachment_id_of,
    comment_id_of,
)
from app.store import schema as s
from app.store.integration_tables import apply_integration_events

CASE_COLUMNS = ("key", "subject", "description", "status", "priority", "type", "requester_id",
                "organization_id", "assignee_id", "team_id", "product", "due_at", "merged_into",
                "deleted")


def key_of(e: ev.Event) -> str | None:
    """Every key a case was ever given keeps resolving to it."""
    if e.type == ev.CASE_CREATED:
        key = (e.payload.get("fields") or {}).get("key")
    elif e.type == ev.CASE_KEY_ASSIGNED:
        key = e.payload.get("key")
    else:
        return None
    return str(key).upper() if key else None


EVENT_COLUMNS = ("id", "case_id", "team_id", "type", "payload", "actor", "device_id", "hlc",
                 "server_seq", "op_id", "v")


def bulk_insert(conn: Connection, table: Any, rows: Iterable[dict[str, Any]],
                chunk: int = 20_000) -> int:
    """Fast executemany of plain tuples (bulk loads); every row must have every column."""
    cols: list[str] | None = None
    sql = ""
    batch: list[tuple[Any, ...]] = []
    count = 0
    for row in rows:
        if cols is None:
            cols = list(row)
            names = ", ".join(f'"{c}"' for c in cols)
            sql = (f'INSERT INTO "{table.name}" ({names}) '
                   f"VALUES ({', '.join('?' for _ in cols)})")
        batch.append(tuple(row[c] for c in cols))
        if len(batch) >= chunk:
            conn.exec_driver_sql(sql, batch)
            count += len(batch)
            batch = []
    if batch:
        conn.exec_driver_sql(sql, batch)
        count += len(batch)
    return count


def event_row(e: ev.Event) -> dict[str, Any]:
    return {"id": e.id, "case_id": e.case_id, "team_id": e.team_id, "type": e.type,
            "payload": json.dumps(e.payload, separators=(",", ":"), ensure_ascii=False),
            "actor": e.actor, "device_id": e.device_id, "hlc": e.hlc,
            "server_seq": e.server_seq, "op_id": e.op_id, "v": e.v}


def row_event(row: Any) -> ev.Event:
    m = row._mapping
    return ev.Event(id=m["id"], type=m["type"], payload=json.loads(m["payload"]),
                    actor=m["actor"], device_id=m["device_id"], hlc=m["hlc"],
                    case_id=m["case_id"], team_id=m["team_id"], server_seq=m["server_seq"],
                    op_id=m["op_id"], v=int(m["v"]) if "v" in m else 1)


def case_row(state: CaseState) -> dict[str, Any]:
    row: dict[str, Any] = {name: state.fields.get(name) for name in CASE_COLUMNS}
    row["deleted"] = bool(row["deleted"])
    row["subject"] = row["subject"] or ""
    row.update(
        id=state.id, exists=state.exists, created_ms=state.created_ms,
        updated_ms=state.updated_ms, first_response_ms=state.first_response_ms,
        solved_ms=state.solved_ms, tags=" ".join(state.tag_list()),
        clocks=json.dumps(state.clocks, separators=(",", ":"), sort_keys=True),  # canonical
    )
    return row


def load_case(conn: Connection, case_id: str) -> CaseState | None:
    return _load_cases(conn, [case_id]).get(case_id)


def comment_row(c: CommentState) -> dict[str, Any]:
    return {"id": c.id, "case_id": c.case_id, "author": c.author, "author_kind": c.author_kind,
            "created_ms": c.created_ms, "body": c.body, "internal": c.internal,
            "redacted": c.redacted, "known": c.known}



def attachment_row(a: AttachmentState) -> dict[str, Any]:
    return {"id": a.id, "case_id": a.case_id, "sha256": a.sha256, "name": a.name,
            "size": a.size, "mime": a.mime, "comment_id": a.comment_id,
            "created_ms": a.created_ms, "author": a.author, "removed": a.removed,
            "known": a.known}



def _chunks(ids: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _load_cases(conn: Connection, ids: list[str]) -> dict[str, CaseState]:
    """Case states for ``ids`` in three queries per chunk (not three per case)."""
    states: dict[str, CaseState] = {}
    for chunk in _chunks(ids):
        for row in conn.execute(select(s.cases).where(s.cases.c.id.in_(chunk))):
            m = row._mapping
            state = CaseState(id=m["id"])
            for name in CASE_COLUMNS:
                state.fields[name] = m[name]
            state.fields["deleted"] = bool(m["deleted"])
            state.clocks = json.loads(m["clocks"])
            state.exists = bool(m["exists"])
            state.created_ms, state.updated_ms = m["created_ms"], m["updated_ms"]
            state.first_response_ms = m["first_response_ms"]
            states[state.id] = state
        for t in conn.execute(select(s.case_tags).where(s.case_tags.c.case_id.in_(chunk))):
            states[t.case_id].tags[t.tag] = [t.clock, bool(t.present)]
        for lk in conn.execute(select(s.case_links).where(s.case_links.c.case_id.in_(chunk))):
            states[lk.case_id].links[f"{lk.kind}:{lk.other_id}"] = [lk.clock, bool(lk.present)]
    return states


def _upsert(conn: Connection, table: Any, rows: list[dict[str, Any]], key: str = "id") -> None:
    if not rows:
        return
    cols = list(rows[0])
    names = ", ".join(f'"{c}"' for c in cols)
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != key)
    sql = (f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" for _ in cols)}) '
           f'ON CONFLICT("{key}") DO UPDATE SET {sets}')
    conn.exec_driver_sql(sql, [tuple(r[c] for c in cols) for r in rows])


def apply_events(conn: Connection, events: Iterable[ev.Event]) -> set[str]:
    """Fold ``events`` into the projections, in bulk. Returns the ids of the cases touched.

    Touched cases, comments and attachments are loaded in a few queries, folded in memory
    with the core's merge rule and written back with executemany (a pulled page of 1,000
    events costs a handful of statements, not thousands).
    """
    events = list(events)  # read twice: integration events have their own tables
    by_case: dict[str, list[ev.Event]] = defaultdict(list)
    directory: list[ev.Event] = []
    for e in events:
        if e.case_id and e.type in ev.CASE_EVENT_TYPES:
            by_case[e.case_id].append(e)
        elif e.type in ev.DIRECTORY_EVENT_TYPES:
            directory.append(e)
    if by_case:
        _apply_case_events(conn, by_case)
    for e in directory:
        apply_directory(conn, e)
    touched = set(by_case)
    if any(e.type in ev.INTEGRATION_EVENT_TYPES for e in events):
        touched |= apply_integration_events(conn, events)
    return touched


def _apply_case_events(conn: Connection, by_case: dict[str, list[ev.Event]]) -> None:
    ids = list(by_case)
    states = _load_cases(conn, ids)
    new_ids = {cid for cid in ids if cid not in states}
    comment_ids: set[str] = set()
    attachment_ids: set[str] = set()
    keys: list[tuple[str, str, str]] = []
    for case_id, case_events in by_case.items():
        state = states.get(case_id)
        if state is None:
            state = states[case_id] = CaseState(id=case_id)
        for e in case_events:
            apply_case_event(state, e)
            key = key_of(e)
            if key:
                keys.append((key, case_id, e.clock))
            cid = comment_id_of(e)
            if cid is not None:
                comment_ids.add(cid)
            aid = attachment_id_of(e)
            if aid is not None:
                attachment_ids.add(aid)
    rows = [case_row(states[cid]) for cid in ids]
    bulk_insert(conn, s.cases, (r for r in rows if r["id"] in new_ids))
    _upsert(conn, s.cases, [r for r in rows if r["id"] not in new_ids])
    for chunk in _chunks(ids):
        conn.execute(delete(s.case_tags).where(s.case_tags.c.case_id.in_(chunk)))
        conn.execute(delete(s.case_links).where(s.case_links.c.case_id.in_(chunk)))
    bulk_insert(conn, s.case_tags, (
        {"case_id": st.id, "tag": t, "clock": c, "present": p}
        for st in (states[cid] for cid in ids) for t, (c, p) in st.tags.items()))
    bulk_insert(conn, s.case_links, (
        {"case_id": st.id, "other_id": k.partition(":")[2], "kind": k.partition(":")[0],
         "clock": c, "present": p}
        for st in (states[cid] for cid in ids) for k, (c, p) in st.links.items()))
    if keys:  # the earliest claim of a key wins, whatever order the claims arrive in
        conn.exec_driver_sql(
            "INSERT INTO case_keys (key, case_id, clock) VALUES (?, ?, ?) ON CONFLICT(key) "
            "DO UPDATE SET case_id = excluded.case_id, clock = excluded.clock "
            "WHERE excluded.clock < case_keys.clock", keys)
    if comment_ids:
        _apply_children(conn, by_case, comment_ids, _COMMENTS)
    if attachment_ids:
        _apply_children(conn, by_case, attachment_ids, _ATTACHMENTS)


@dataclass(frozen=True, slots=True)
class _Child:
    """A projection keyed by the id of the event that created it (comments, attachments)."""

    table: Any
    make: Callable[..., Any]  # the state class
    id_of: Callable[[ev.Event], str | None]
    apply: Callable[[Any, ev.Event], None]
    row: Callable[[Any], dict[str, Any]]


_COMMENTS = _Child(s.comments, CommentState, comment_id_of, apply_comment_event, comment_row)
_ATTACHMENTS = _Child(s.attachments, AttachmentState, attachment_id_of,
                      apply_attachment_event, attachment_row)


def _apply_children(conn: Connection, by_case: dict[str, list[ev.Event]], wanted: set[str],
                    kind: _Child) -> None:
    known: dict[str, Any] = {}
    for chunk in _chunks(sorted(wanted)):
        for row in conn.execute(select(kind.table).where(kind.table.c.id.in_(chunk))):
            m = row._mapping
            state = kind.make(id=m["id"], case_id=m["case_id"])
            for name in kind.row(state):
                value = m[name]
                setattr(state, name, bool(value) if isinstance(getattr(state, name), bool)
                        else value)
            known[state.id] = state
    existing = set(known)
    for case_id, case_events in by_case.items():
        for e in case_events:
            child_id = kind.id_of(e)
            if child_id is None:
                continue
            state = known.get(child_id)
            if state is None:
                state = known[child_id] = kind.make(id=child_id, case_id=case_id)
            kind.apply(state, e)
    bulk_insert(conn, kind.table, (kind.row(c) for i, c in known.items() if i not in existing))
    _upsert(conn, kind.table, [kind.row(c) for i, c in known.items() if i in existing])


def apply_directory(conn: Connection, e: ev.Event) -> None:
    table = s.DIRECTORY_TABLES[ev.DIRECTORY_EVENT_TYPES[e.type]]
    rec_id = str(e.payload.get("id", ""))
    row = conn.execute(select(table.c.clock).where(table.c.id == rec_id)).first()
    records: dict[str, dict[str, Any]] = {}
    if row is not None:
        records[rec_id] = {"clock": row.clock}
    record = apply_directory_event(records, e)
    if record is None:
        return
    values = directory_row(table.name, record)
    if row is None:
        conn.execute(insert(table), values)
    else:
        conn.execute(update(table).where(table.c.id == rec_id), values)


def directory_row(table_name: str, record: dict[str, Any]) -> dict[str, Any]:
    table = s.DIRECTORY_TABLES[table_name]
    values = {c.name: record.get(c.name) for c in table.columns}
    values["name"] = values.get("name") or ""
    if table_name == "teams" and not isinstance(values.get("members"), str | None):
        values["members"] = json.dumps(values["members"])
    return values

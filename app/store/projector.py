"""Applying events to the projection tables, one case at a time, inside the caller's transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
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
                 "server_seq", "op_id")


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
            "server_seq": e.server_seq, "op_id": e.op_id}


def row_event(row: Any) -> ev.Event:
    m = row._mapping
    return ev.Event(id=m["id"], type=m["type"], payload=json.loads(m["payload"]),
                    actor=m["actor"], device_id=m["device_id"], hlc=m["hlc"],
                    case_id=m["case_id"], team_id=m["team_id"], server_seq=m["server_seq"],
                    op_id=m["op_id"])


def case_row(state: CaseState) -> dict[str, Any]:
    row: dict[str, Any] = {name: state.fields.get(name) for name in CASE_COLUMNS}
    row["deleted"] = bool(row["deleted"])
    row["subject"] = row["subject"] or ""
    row.update(
        id=state.id, exists=state.exists, created_ms=state.created_ms,
        updated_ms=state.updated_ms, first_response_ms=state.first_response_ms,
        solved_ms=state.solved_ms, tags=" ".join(state.tag_list()),
        clocks=json.dumps(state.clocks, separators=(",", ":")),
    )
    return row


def load_case(conn: Connection, case_id: str) -> CaseState | None:
    row = conn.execute(select(s.cases).where(s.cases.c.id == case_id)).first()
    if row is None:
        return None
    m = row._mapping
    state = CaseState(id=case_id)
    for name in CASE_COLUMNS:
        state.fields[name] = m[name]
    state.fields["deleted"] = bool(m["deleted"])
    state.clocks = json.loads(m["clocks"])
    state.exists = bool(m["exists"])
    state.created_ms, state.updated_ms = m["created_ms"], m["updated_ms"]
    state.first_response_ms = m["first_response_ms"]
    for t in conn.execute(select(s.case_tags).where(s.case_tags.c.case_id == case_id)):
        state.tags[t.tag] = [t.clock, bool(t.present)]
    for lk in conn.execute(select(s.case_links).where(s.case_links.c.case_id == case_id)):
        state.links[f"{lk.kind}:{lk.other_id}"] = [lk.clock, bool(lk.present)]
    return state


def save_case(conn: Connection, state: CaseState, is_new: bool) -> None:
    row = case_row(state)
    if is_new:
        conn.execute(insert(s.cases), row)
    else:
        conn.execute(update(s.cases).where(s.cases.c.id == state.id), row)
    conn.execute(delete(s.case_tags).where(s.case_tags.c.case_id == state.id))
    if state.tags:
        conn.execute(insert(s.case_tags), [
            {"case_id": state.id, "tag": t, "clock": c, "present": p}
            for t, (c, p) in state.tags.items()])
    conn.execute(delete(s.case_links).where(s.case_links.c.case_id == state.id))
    if state.links:
        conn.execute(insert(s.case_links), [
            {"case_id": state.id, "other_id": k.partition(":")[2], "kind": k.partition(":")[0],
             "clock": c, "present": p} for k, (c, p) in state.links.items()])


def comment_row(c: CommentState) -> dict[str, Any]:
    return {"id": c.id, "case_id": c.case_id, "author": c.author, "author_kind": c.author_kind,
            "created_ms": c.created_ms, "body": c.body, "internal": c.internal,
            "redacted": c.redacted, "known": c.known}


def _load_comment(conn: Connection, comment_id: str, case_id: str) -> tuple[CommentState, bool]:
    row = conn.execute(select(s.comments).where(s.comments.c.id == comment_id)).first()
    if row is None:
        return CommentState(id=comment_id, case_id=case_id), True
    m = row._mapping
    return CommentState(id=m["id"], case_id=m["case_id"], author=m["author"],
                        author_kind=m["author_kind"], created_ms=m["created_ms"], body=m["body"],
                        internal=bool(m["internal"]), redacted=bool(m["redacted"]),
                        known=bool(m["known"])), False


def attachment_row(a: AttachmentState) -> dict[str, Any]:
    return {"id": a.id, "case_id": a.case_id, "sha256": a.sha256, "name": a.name,
            "size": a.size, "mime": a.mime, "comment_id": a.comment_id,
            "created_ms": a.created_ms, "author": a.author, "removed": a.removed,
            "known": a.known}


def _apply_attachment(conn: Connection, aid: str, case_id: str, e: ev.Event) -> None:
    row = conn.execute(select(s.attachments).where(s.attachments.c.id == aid)).first()
    att = AttachmentState(id=aid, case_id=case_id)
    if row is not None:
        m = row._mapping
        att = AttachmentState(**{k: m[k] for k in attachment_row(att)})
    apply_attachment_event(att, e)
    if row is None:
        conn.execute(insert(s.attachments), attachment_row(att))
    else:
        conn.execute(update(s.attachments).where(s.attachments.c.id == aid),
                     attachment_row(att))


def apply_events(conn: Connection, events: Iterable[ev.Event]) -> set[str]:
    """Fold ``events`` into the projections. Returns the ids of the cases touched."""
    by_case: dict[str, list[ev.Event]] = defaultdict(list)
    directory: list[ev.Event] = []
    for e in events:
        if e.case_id and e.type in ev.CASE_EVENT_TYPES:
            by_case[e.case_id].append(e)
        elif e.type in ev.DIRECTORY_EVENT_TYPES:
            directory.append(e)
    for case_id, case_events in by_case.items():
        state = load_case(conn, case_id)
        is_new = state is None
        if state is None:
            state = CaseState(id=case_id)
        for e in case_events:
            apply_case_event(state, e)
        save_case(conn, state, is_new)
        for e in case_events:
            key = key_of(e)
            if key:
                conn.execute(s.case_keys.insert().prefix_with("OR IGNORE"),
                             {"key": key, "case_id": case_id})
            aid = attachment_id_of(e)
            if aid is not None:
                _apply_attachment(conn, aid, case_id, e)
            cid = comment_id_of(e)
            if cid is None:
                continue
            comment, new = _load_comment(conn, cid, case_id)
            apply_comment_event(comment, e)
            if new:
                conn.execute(insert(s.comments), comment_row(comment))
            else:
                conn.execute(update(s.comments).where(s.comments.c.id == cid),
                             comment_row(comment))
    for e in directory:
        apply_directory(conn, e)
    return set(by_case)


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

"""Conflict notices: a local edit that lost to a teammate's concurrent edit is never silent.

An edit is concurrent when the remote writer had not seen ours: the ``prev`` value in their
event differs from the value we wrote. A teammate who edits after seeing our value is just
the next edit, not a conflict.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from app.core import events as ev
from app.core.fold import value_written
from app.core.ids import uuid7
from app.store import schema as s
from app.store.projector import row_event


@dataclass(slots=True)
class _Candidate:
    remote: ev.Event
    local_event_id: str
    local_value: Any


def before_ingest(conn: Connection, fresh: list[ev.Event], device_id: str) -> list[_Candidate]:
    """Remote field edits that replace a value this device wrote, if they win."""
    found: list[_Candidate] = []
    clocks_cache: dict[str, dict[str, str]] = {}
    for e in fresh:
        if e.type != ev.CASE_UPDATED or e.device_id == device_id or not e.case_id:
            continue
        if e.case_id not in clocks_cache:
            raw = conn.execute(select(s.cases.c.clocks).where(s.cases.c.id == e.case_id)).scalar()
            clocks_cache[e.case_id] = json.loads(raw) if raw else {}
        field = str(e.payload.get("field"))
        winner = clocks_cache[e.case_id].get(field)
        if not winner or winner >= e.clock:
            continue
        winner_id = winner.partition("|")[2]
        local = conn.execute(select(s.events).where(s.events.c.id == winner_id)).first()
        if local is None or local.device_id != device_id:
            continue
        local_value = value_written(row_event(local), field)
        if e.payload.get("prev") != local_value and e.payload.get("value") != local_value:
            found.append(_Candidate(e, winner_id, local_value))
    return found


def after_ingest(conn: Connection, candidates: list[_Candidate]) -> set[str]:
    """Record a notice for each candidate whose remote edit now wins; returns case ids."""
    cases: set[str] = set()
    for c in candidates:
        raw = conn.execute(select(s.cases.c.clocks).where(s.cases.c.id == c.remote.case_id)
                           ).scalar()
        clocks = json.loads(raw) if raw else {}
        if clocks.get(str(c.remote.payload.get("field"))) != c.remote.clock:
            continue
        conn.execute(insert(s.conflicts), {
            "id": uuid7(), "case_id": c.remote.case_id, "field": c.remote.payload.get("field"),
            "local_value": json.dumps(c.local_value),
            "remote_value": json.dumps(c.remote.payload.get("value")),
            "remote_actor": c.remote.actor, "local_event_id": c.local_event_id,
            "remote_event_id": c.remote.id, "created_ms": int(time.time() * 1000),
            "resolved": False})
        cases.add(str(c.remote.case_id))
    return cases


def open_conflicts(conn: Connection, case_id: str | None = None) -> list[dict[str, Any]]:
    q = select(s.conflicts).where(s.conflicts.c.resolved.is_(False))
    if case_id:
        q = q.where(s.conflicts.c.case_id == case_id)
    out = []
    for r in conn.execute(q.order_by(s.conflicts.c.created_ms)):
        d = dict(r._mapping)
        d["local_value"] = json.loads(d["local_value"]) if d["local_value"] else None
        d["remote_value"] = json.loads(d["remote_value"]) if d["remote_value"] else None
        out.append(d)
    return out


def resolve(conn: Connection, conflict_id: str) -> None:
    conn.execute(update(s.conflicts).where(s.conflicts.c.id == conflict_id).values(resolved=True))

"""Integration links and requests: the rows of the fold in app/core/integrations.py.

Written by the projector (incrementally: load the touched rows, fold, upsert) and by a
rebuild (bulk), so a rebuild equals the incremental state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_

from app.core import events as ev
from app.core.integrations import (
    IntegrationFold,
    LinkState,
    RequestState,
    link_key_of,
    request_id_of,
)
from app.store import schema as s

_CHUNK = 300


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def link_row(link: LinkState) -> dict[str, Any]:
    return {"case_id": link.case_id, "system": link.system, "remote_id": link.remote_id,
            "remote_key": link.remote_key, "kind": link.kind, "url": link.url,
            "snapshot": _json(link.snapshot), "fetched_ms": link.fetched_ms,
            "linked": link.linked, "rank": link.rank}


def request_row(req: RequestState) -> dict[str, Any]:
    return {"request_id": req.request_id, "case_id": req.case_id, "system": req.system,
            "action": req.action, "params": _json(req.params),
            "requested_by": req.requested_by, "requested_ms": req.requested_ms,
            "request_clock": req.request_clock, "state": req.state, "message": req.message,
            "reason": req.reason, "remote_status": req.remote_status,
            "next_try_ms": req.next_try_ms, "remote_key": req.remote_key,
            "outcome_clock": req.outcome_clock, "updated_ms": req.updated_ms}


def link_state(m: Any) -> LinkState:
    return LinkState(case_id=m["case_id"], system=m["system"], remote_id=m["remote_id"],
                     remote_key=m["remote_key"], kind=m["kind"], url=m["url"],
                     snapshot=json_object(m["snapshot"]), fetched_ms=int(m["fetched_ms"]),
                     linked=bool(m["linked"]), rank=m["rank"])


def request_state(m: Any) -> RequestState:
    return RequestState(
        request_id=m["request_id"], case_id=m["case_id"], system=m["system"],
        action=m["action"], params=json_object(m["params"]), requested_by=m["requested_by"],
        requested_ms=m["requested_ms"], request_clock=m["request_clock"], state=m["state"],
        message=m["message"], reason=m["reason"], remote_status=m["remote_status"],
        next_try_ms=m["next_try_ms"], remote_key=m["remote_key"],
        outcome_clock=m["outcome_clock"], updated_ms=m["updated_ms"])


def _upsert(conn: Connection, table: Any, rows: list[dict[str, Any]],
            keys: tuple[str, ...]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    names = ", ".join(f'"{c}"' for c in cols)
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c not in keys)
    conflict = ", ".join(f'"{k}"' for k in keys)
    sql = (f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" for _ in cols)}) '
           f"ON CONFLICT({conflict}) DO UPDATE SET {sets}")
    conn.exec_driver_sql(sql, [tuple(r[c] for c in cols) for r in rows])


def apply_integration_events(conn: Connection, events: Iterable[ev.Event]) -> set[str]:
    """Fold integration events into the two tables; returns the ids of the cases touched."""
    wanted = [e for e in events if e.type in ev.INTEGRATION_EVENT_TYPES and e.case_id]
    if not wanted:
        return set()
    fold = IntegrationFold()
    link_keys = sorted({k for k in map(link_key_of, wanted) if k is not None})
    request_keys = sorted({(e.case_id or "", rid) for e in wanted
                           if (rid := request_id_of(e)) is not None})
    t = s.integration_links
    for i in range(0, len(link_keys), _CHUNK):
        chunk = link_keys[i:i + _CHUNK]
        for row in conn.execute(select(t).where(
                tuple_(t.c.case_id, t.c.system, t.c.remote_id).in_(chunk))):
            link = link_state(row._mapping)
            fold.links[(link.case_id, link.system, link.remote_id)] = link
    r = s.integration_requests
    for i in range(0, len(request_keys), _CHUNK):
        for row in conn.execute(select(r).where(
                tuple_(r.c.case_id, r.c.request_id).in_(request_keys[i:i + _CHUNK]))):
            req = request_state(row._mapping)
            fold.requests[(req.case_id, req.request_id)] = req
    for e in wanted:
        fold.add(e)
    _upsert(conn, t, [link_row(lk) for lk in fold.links.values()],
            ("case_id", "system", "remote_id"))
    _upsert(conn, r, [request_row(q) for q in fold.requests.values()],
            ("case_id", "request_id"))
    return {e.case_id for e in wanted if e.case_id}


def write_fold(conn: Connection, fold: IntegrationFold) -> None:
    """Bulk-write a fold (a rebuild; the tables are empty)."""
    links = [link_row(lk) for lk in fold.links.values()]
    requests = [request_row(q) for q in fold.requests.values()]
    if links:
        conn.execute(insert(s.integration_links), links)
    if requests:
        conn.execute(insert(s.integration_requests), requests)

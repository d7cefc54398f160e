"""What a handler may read about its job's case: folded from the server's event log with
the clients' own merge rule (app/core/fold.py), when the job runs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, select

from app.core import events as ev
from app.core.fold import CaseState, CommentState, apply_case_event, apply_comment_event
from sync_server.jobs.api import CaseView, CommentView, Job
from sync_server.tables import events

_INTEGRATION = (ev.INTEGRATION_DONE, ev.INTEGRATION_RECORD)


def _event(row: Any) -> ev.Event | None:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    return ev.Event(id=row.id, type=row.type, payload=payload, actor=row.actor,
                    device_id=row.device_id, hlc=row.hlc, case_id=row.case_id,
                    team_id=row.team_id, server_seq=row.server_seq, v=row.v)


def _case_events(conn: Connection, case_id: str) -> list[ev.Event]:
    # Only what folds into the case: a case with many integration outcomes stays cheap.
    rows = conn.execute(select(events).where(events.c.case_id == case_id,
                                             events.c.type.in_(sorted(ev.CASE_EVENT_TYPES)))
                        .order_by(events.c.server_seq))
    return [e for e in map(_event, rows) if e is not None]


def _customer(conn: Connection, customer_id: str) -> dict[str, Any]:
    best: tuple[str, dict[str, Any]] | None = None
    rows = conn.execute(select(events).where(events.c.case_id.is_(None),
                                             events.c.type == ev.CUSTOMER_UPSERTED,
                                             events.c.payload.contains(json.dumps(customer_id))))
    for e in map(_event, rows):
        if e is not None and e.payload.get("id") == customer_id and (
                best is None or e.clock > best[0]):
            best = (e.clock, e.payload)
    return best[1] if best else {}


def fold_case(conn: Connection, case_id: str, url: str | None = None) -> CaseView:
    state = CaseState(id=case_id)
    comments: dict[str, CommentState] = {}
    order: list[str] = []
    for e in _case_events(conn, case_id):
        apply_case_event(state, e)
        if e.type == ev.COMMENT_ADDED:
            comments[e.id] = CommentState(id=e.id, case_id=case_id)
            order.append(e.id)
            apply_comment_event(comments[e.id], e)
        elif e.type == ev.COMMENT_REDACTED:
            target = comments.get(str(e.payload.get("comment_id")))
            if target is not None:
                apply_comment_event(target, e)
    fields = state.fields
    requester = _customer(conn, str(fields["requester_id"])) if fields.get("requester_id") \
        else {}
    shown = [comments[i] for i in order if not comments[i].redacted]
    return CaseView(
        id=case_id, key=fields.get("key"), subject=str(fields.get("subject") or ""),
        description=str(fields.get("description") or ""),
        requester_email=requester.get("email"), requester_name=requester.get("name"),
        status=fields.get("status"), priority=fields.get("priority"),
        comments=tuple(CommentView(id=c.id, body=c.body, internal=c.internal, author=c.author,
                                   at_ms=c.created_ms) for c in shown),
        url=url, fields={k: v for k, v in fields.items()})


def fold_links(conn: Connection, case_id: str, system: str) -> list[dict[str, Any]]:
    """The records of ``system`` linked on the case now: the last word per remote_id."""
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    rows = conn.execute(select(events).where(events.c.case_id == case_id,
                                             events.c.type.in_(_INTEGRATION)))
    for e in map(_event, rows):
        if e is None or e.payload.get("system") != system:
            continue
        record = e.payload.get("record")
        if not isinstance(record, dict) or not isinstance(record.get("remote_id"), str):
            continue
        known = latest.get(record["remote_id"])
        if known is None or e.clock > known[0]:
            latest[record["remote_id"]] = (e.clock, record)
    return [record for _, record in sorted(latest.values(), key=lambda item: item[0])
            if record.get("linked")]


class DbJobContext:
    """A JobContext over the server's database (read when asked, once per call)."""

    def __init__(self, engine: Engine, job: Job, now_ms: int,
                 case_url: str | None = None) -> None:
        self._engine, self._job, self.now_ms, self._url = engine, job, now_ms, case_url
        self._case: CaseView | None = None
        self._links: dict[str, list[dict[str, Any]]] = {}

    def load(self) -> None:
        """Read the case and the job's system's links now (in a thread, before the handler
        runs on the event loop, so its reads never block the loop)."""
        with self._engine.connect() as conn:
            self._case = fold_case(conn, self._job.case_id, self._url)
            self._links[self._job.system] = fold_links(conn, self._job.case_id,
                                                       self._job.system)

    def case(self) -> CaseView:
        if self._case is None:
            with self._engine.connect() as conn:
                self._case = fold_case(conn, self._job.case_id, self._url)
        return self._case

    def links(self, system: str) -> list[dict[str, Any]]:
        if system in self._links:
            return list(self._links[system])
        with self._engine.connect() as conn:
            return fold_links(conn, self._job.case_id, system)

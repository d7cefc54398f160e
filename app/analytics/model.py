"""The analytics read model: per-case facts folded from the event log, kept in analytics.db.

It follows the main store's event log by ``events.seq``: :meth:`AnalyticsModel.catch_up`
reads only the events after the last folded seq, and refolds only the cases they touch
(each from its own event list, so the result is exactly what a full recomputation gives).
Macro and saved-reply events (case_id None) are folded last-writer-wins into ``am_macros``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from app.analytics.config import load_sla_config
from app.core import events as ev
from app.core import macros as mc
from app.core.days import day_number
from app.core.fold import CaseState, apply_case_event
from app.core.hlc import hlc_ms
from app.core.model import OPEN_STATUSES
from app.core.sla import (
    DONE_STATUSES,
    CaseTimeline,
    SlaConfig,
    risk_threshold,
    sla_clocks,
)
from app.store import analytics_tables as at
from app.store import schema as s
from app.store.repo import Store

T = TypeVar("T")
DAY_MS = 86_400_000
_CHUNK = 400
_FULL_SCAN_RATIO = 0.3  # refold everything by one ordered scan above this share of cases


@dataclass(slots=True)
class CaseFacts:
    case: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    solves: list[dict[str, Any]] = field(default_factory=list)
    sla: list[dict[str, Any]] = field(default_factory=list)


def fold_case(case_id: str, events: Iterable[ev.Event], config: SlaConfig) -> CaseFacts | None:
    """Everything the reports need about one case, from its events (any order, duplicates ok).
    None for a case that does not exist (yet) or was deleted."""
    ordered = sorted({e.id: e for e in events}.values(), key=lambda e: (e.hlc, e.id))
    zone = config.report_zone  # days are the team's local days
    state = CaseState(id=case_id)
    timeline = CaseTimeline(case_id=case_id)
    solves: list[dict[str, Any]] = []
    reopens = 0
    status = "new"
    first_solved: int | None = None
    last_done: int | None = None
    for e in ordered:
        apply_case_event(state, e)
        ms = hlc_ms(e.hlc)
        p = e.payload
        new_status: str | None = None
        if e.type == ev.CASE_CREATED:
            timeline.exists = True
            created = p.get("created_ms")
            timeline.created_ms = int(created) if isinstance(created, int) else ms
            new_status = str((p.get("fields") or {}).get("status") or "new")
            ms = timeline.created_ms
        elif e.type == ev.CASE_UPDATED and p.get("field") == "status" and p.get("value"):
            new_status = str(p.get("value"))
        elif e.type == ev.CASE_MERGED:
            new_status = "closed"
        elif e.type == ev.COMMENT_ADDED:
            if not p.get("internal") and p.get("author_kind", "agent") == "agent":
                if timeline.first_response_ms is None:
                    timeline.first_response_ms = ms
        if new_status is None:
            continue
        if timeline.created_ms is not None:
            ms = max(ms, timeline.created_ms)
        timeline.statuses.append((ms, new_status))
        was_done, now_done = status in DONE_STATUSES, new_status in DONE_STATUSES
        if now_done and not was_done and e.type != ev.CASE_MERGED:
            if first_solved is None:
                first_solved = ms
            solves.append({"case_id": case_id, "n": len(solves), "solved_ms": ms,
                           "solved_day": day_number(ms, zone),
                           "agent_id": state.fields.get("assignee_id") or e.actor,
                           "team_id": state.fields.get("team_id")})
        if now_done and not was_done:
            last_done = ms
        if was_done and not now_done and e.type != ev.CASE_CREATED:
            reopens += 1
        status = new_status
    if not state.exists or state.fields.get("deleted") or state.created_ms is None:
        return None
    f = state.fields
    status = str(f["status"])
    timeline.status = status
    timeline.priority = str(f["priority"])
    timeline.organization_id = f.get("organization_id")
    timeline.team_id = f.get("team_id")
    created_ms = int(timeline.created_ms or state.created_ms)
    first_response = timeline.first_response_ms
    if first_response is not None:
        first_response = max(first_response, created_ms)
        timeline.first_response_ms = first_response
    is_open = status in OPEN_STATUSES
    clocks = sla_clocks(timeline, config)
    sla_rows = []
    for c in clocks.clocks:
        sla_rows.append({
            "case_id": case_id, "target": c.target,
            "policy": clocks.policy.name if clocks.policy else None, "target_ms": c.target_ms,
            "deadline_ms": c.deadline_ms, "risk_ms": c.risk_ms, "outcome": c.outcome,
            "stopped_ms": c.stopped_ms, "paused_left_ms": c.paused_left_ms,
            "paused_at_risk": bool(c.is_paused and (c.paused_left_ms or 0)
                                   < risk_threshold(c.target_ms)),
            "case_open": is_open, "created_day": day_number(created_ms, zone),
            "team_id": f.get("team_id"), "assignee_id": f.get("assignee_id")})
    row = {
        "case_id": case_id, "key": f.get("key"), "subject": f.get("subject") or "",
        "status": status, "is_open": is_open, "priority": f["priority"],
        "team_id": f.get("team_id"), "assignee_id": f.get("assignee_id"),
        "organization_id": f.get("organization_id"), "product": f.get("product"),
        "created_ms": created_ms, "created_day": day_number(created_ms, zone),
        "first_response_ms": first_response,
        "solved_ms": last_done if status in DONE_STATUSES else None,
        "first_solved_ms": first_solved, "reopens": reopens,
        "next_deadline_ms": clocks.next_deadline() if is_open else None,
    }
    return CaseFacts(case=row, tags=state.tag_list(), solves=solves, sla=sla_rows)


def fold_macro_event(conn: Connection, e: ev.Event) -> None:
    """Last-writer-wins per (kind, id); a delete is a tombstone."""
    kind = mc.KIND_OF_EVENT.get(e.type)
    rec_id = str(e.payload.get("id") or "")
    if kind is None or not rec_id:
        return
    t = at.am_macros
    current = conn.execute(select(t.c.clock).where(t.c.id == rec_id, t.c.kind == kind)).scalar()
    if current is not None and current >= e.clock:
        return
    p = e.payload
    deleted = e.type in (mc.MACRO_DELETED, mc.REPLY_DELETED)
    body = (p.get("actions") if kind == "macro" else {"text": p.get("text", "")})
    values = {"id": rec_id, "kind": kind, "name": str(p.get("name") or ""),
              "scope": str(p.get("scope") or "shared"), "owner": e.actor,
              "team_id": e.team_id, "body": json.dumps(body if body is not None else []),
              "clock": e.clock, "deleted": deleted}
    if deleted and current is not None:
        conn.execute(update(t).where(t.c.id == rec_id, t.c.kind == kind)
                     .values(deleted=True, clock=e.clock))
    elif current is None:
        conn.execute(insert(t), values)
    else:
        conn.execute(update(t).where(t.c.id == rec_id, t.c.kind == kind).values(**values))


def _row_event(r: Any) -> ev.Event:
    return ev.Event(id=r.id, type=r.type, payload=json.loads(r.payload), actor=r.actor,
                    device_id="", hlc=r.hlc, case_id=r.case_id, team_id=r.team_id)


_EVENT_COLS = (s.events.c.id, s.events.c.case_id, s.events.c.team_id, s.events.c.type,
               s.events.c.payload, s.events.c.actor, s.events.c.hlc)


class AnalyticsModel:
    """The read model over one store. Thread-safe: one catch-up at a time."""

    def __init__(self, store: Store, path: Path | None = None,
                 config: SlaConfig | None = None) -> None:
        self.store = store
        self.path = path
        self.config = config if config is not None else load_sla_config(
            path.parent if path else None)
        self.engine: Engine = at.open_analytics_engine(path)
        at.ensure_schema(self.engine, self.config.fingerprint())
        self._lock = threading.Lock()

    @classmethod
    def open(cls, store: Store, data_dir: Path) -> AnalyticsModel:
        return cls(store, Path(data_dir) / at.FILE_NAME, load_sla_config(Path(data_dir)))

    def close(self) -> None:
        self.engine.dispose()

    # --- reading --------------------------------------------------------------------
    def read(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    @property
    def last_seq(self) -> int:
        return int(self.read(lambda c: c.execute(
            select(at.am_meta.c.value).where(at.am_meta.c.key == "last_seq")).scalar()) or 0)

    # --- following the log ----------------------------------------------------------
    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Fold the events recorded since the last call. Returns how many cases were refolded."""
        with self._lock:
            last = self.last_seq
            head, touched, other = self.store.read(lambda c: self._new_events(c, last))
            if head == last:
                return 0
            total = self.store.read(lambda c: c.execute(
                select(func.count()).select_from(s.cases)).scalar()) or 0
            full = last == 0 or len(touched) > max(2000, total * _FULL_SCAN_RATIO)
            with self.engine.connect() as conn, conn.begin():
                if full:
                    n = self._refold_all(conn, head, progress)
                else:
                    n = self._refold(conn, sorted(touched), head, progress)
                for e in other:
                    fold_macro_event(conn, e)
                conn.execute(update(at.am_meta).where(at.am_meta.c.key == "last_seq")
                             .values(value=str(head)))
            return n

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        with self._lock:
            with self.engine.connect() as conn, conn.begin():
                for t in at.ALL_TABLES:
                    conn.execute(delete(t))
                conn.execute(update(at.am_meta).where(at.am_meta.c.key == "last_seq")
                             .values(value="0"))
        return self.catch_up(progress)

    def _new_events(self, conn: Connection, last: int) -> tuple[int, set[str], list[ev.Event]]:
        e = s.events.c
        head = int(conn.execute(select(func.max(e.seq))).scalar() or 0)
        touched = {r[0] for r in conn.execute(
            select(e.case_id).where(e.seq > last, e.seq <= head, e.case_id.is_not(None))
            .distinct())}
        other = [_row_event(r) for r in conn.execute(
            select(*_EVENT_COLS).where(e.seq > last, e.seq <= head,
                                       e.type.in_(tuple(mc.KIND_OF_EVENT)))
            .order_by(e.seq))]
        return head, touched, other

    def _write(self, conn: Connection, case_ids: list[str], facts: list[CaseFacts],
               clear: bool = True) -> None:
        if clear:
            for t in (at.am_cases, at.am_tags, at.am_solves, at.am_sla):
                conn.execute(delete(t).where(t.c.case_id.in_(case_ids)))
        if not facts:
            return
        conn.execute(insert(at.am_cases), [f.case for f in facts])
        tags = [{"case_id": f.case["case_id"], "tag": t} for f in facts for t in f.tags]
        if tags:
            conn.execute(insert(at.am_tags), tags)
        solves = [x for f in facts for x in f.solves]
        if solves:
            conn.execute(insert(at.am_solves), solves)
        sla = [x for f in facts for x in f.sla]
        if sla:
            conn.execute(insert(at.am_sla), sla)

    def _refold(self, conn: Connection, case_ids: list[str], head: int,
                progress: Callable[[int, int], None] | None) -> int:
        done = 0
        for i in range(0, len(case_ids), _CHUNK):
            part = case_ids[i:i + _CHUNK]
            by_case: dict[str, list[ev.Event]] = {cid: [] for cid in part}

            def fetch(c: Connection, part: list[str] = part) -> list[Any]:
                return list(c.execute(select(*_EVENT_COLS).where(
                    s.events.c.case_id.in_(part), s.events.c.seq <= head)).all())

            rows = self.store.read(fetch)
            for r in rows:
                by_case[r.case_id].append(_row_event(r))
            facts = [f for cid, evs in by_case.items()
                     if (f := fold_case(cid, evs, self.config)) is not None]
            self._write(conn, part, facts)
            done += len(part)
            if progress:
                progress(done, len(case_ids))
        return done

    def _refold_all(self, conn: Connection, head: int,
                    progress: Callable[[int, int], None] | None) -> int:
        for t in (at.am_cases, at.am_tags, at.am_solves, at.am_sla, at.am_macros):
            conn.execute(delete(t))
        e = s.events.c
        # Macro events from before this point are refolded here (catch_up adds the newer).
        for mev in self.store.read(lambda c: [_row_event(r) for r in c.execute(
                select(*_EVENT_COLS).where(e.type.in_(tuple(mc.KIND_OF_EVENT)))
                .order_by(e.seq))]):
            fold_macro_event(conn, mev)
        batch: list[CaseFacts] = []
        done = 0
        for cid, evs in self._stream_cases(head):
            facts = fold_case(cid, evs, self.config)
            done += 1
            if facts is not None:
                batch.append(facts)
            if len(batch) >= 5000:
                self._write(conn, [], batch, clear=False)
                batch = []
                if progress:
                    progress(done, 0)
        self._write(conn, [], batch, clear=False)
        return done

    def _stream_cases(self, head: int) -> Iterator[tuple[str, list[ev.Event]]]:
        e = s.events.c
        with self.store.engine.connect() as sconn:
            result = sconn.execute(
                select(*_EVENT_COLS).where(e.case_id.is_not(None), e.seq <= head)
                .order_by(e.case_id, e.hlc)).yield_per(20_000)
            current: str | None = None
            bucket: list[ev.Event] = []
            for r in result:
                if r.case_id != current:
                    if current is not None:
                        yield current, bucket
                    current, bucket = r.case_id, []
                bucket.append(_row_event(r))
            if current is not None:
                yield current, bucket


def open_model(store: Store, data_dir: Path | None) -> AnalyticsModel:
    """The read model for ``store``: in ``<data_dir>/analytics.db`` (or in memory)."""
    if data_dir is None:
        return AnalyticsModel(store, None)
    return AnalyticsModel.open(store, data_dir)


def dump(model: AnalyticsModel) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row, sorted: equal dumps mean equal read models."""

    def fn(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
        return {t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
                for t in at.ALL_TABLES}

    return model.read(fn)

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
from datetime import tzinfo
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
    CaseClocks,
    CaseTimeline,
    SlaConfig,
    TargetClock,
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
    history = _History(case_id, config.report_zone)  # days are the team's local days
    for e in ordered:
        history.add(e)
    state = history.state
    if not state.exists or state.fields.get("deleted") or state.created_ms is None:
        return None
    return history.facts(config, state.created_ms)


@dataclass(slots=True)
class _History:
    """One case's fold for the reports: its state, status timeline, solves and reopens."""

    case_id: str
    zone: tzinfo
    state: CaseState = field(init=False)
    timeline: CaseTimeline = field(init=False)
    solves: list[dict[str, Any]] = field(default_factory=list)
    reopens: int = 0
    status: str = "new"
    first_solved: int | None = None
    last_done: int | None = None

    def __post_init__(self) -> None:
        self.state = CaseState(id=self.case_id)
        self.timeline = CaseTimeline(case_id=self.case_id)

    def add(self, e: ev.Event) -> None:
        apply_case_event(self.state, e)
        ms, new_status = self._status_change(e)
        if new_status is None:
            return
        if self.timeline.created_ms is not None:
            ms = max(ms, self.timeline.created_ms)
        self.timeline.statuses.append((ms, new_status))
        was_done, now_done = self.status in DONE_STATUSES, new_status in DONE_STATUSES
        if now_done and not was_done:
            if e.type != ev.CASE_MERGED:  # a merge closes the case; nobody solved it
                self._solved(e, ms)
            self.last_done = ms
        if was_done and not now_done and e.type != ev.CASE_CREATED:
            self.reopens += 1
        self.status = new_status

    def _status_change(self, e: ev.Event) -> tuple[int, str | None]:
        """When ``e`` happened and the status it set (None: no change of status); notes the
        creation time and the first agent reply on the timeline."""
        ms = hlc_ms(e.hlc)
        p = e.payload
        if e.type == ev.CASE_CREATED:
            self.timeline.exists = True
            created = p.get("created_ms")
            self.timeline.created_ms = int(created) if isinstance(created, int) else ms
            return self.timeline.created_ms, str((p.get("fields") or {}).get("status") or "new")
        if e.type == ev.CASE_UPDATED and p.get("field") == "status" and p.get("value"):
            return ms, str(p.get("value"))
        if e.type == ev.CASE_MERGED:
            return ms, "closed"
        if (e.type == ev.COMMENT_ADDED and not p.get("internal")
                and p.get("author_kind", "agent") == "agent"
                and self.timeline.first_response_ms is None):
            self.timeline.first_response_ms = ms
        return ms, None

    def _solved(self, e: ev.Event, ms: int) -> None:
        if self.first_solved is None:
            self.first_solved = ms
        self.solves.append({"case_id": self.case_id, "n": len(self.solves), "solved_ms": ms,
                            "solved_day": day_number(ms, self.zone),
                            "agent_id": self.state.fields.get("assignee_id") or e.actor,
                            "team_id": self.state.fields.get("team_id")})

    def facts(self, config: SlaConfig, state_created_ms: int) -> CaseFacts:
        f = self.state.fields
        timeline = self.timeline
        status = str(f["status"])
        timeline.status = status
        timeline.priority = str(f["priority"])
        timeline.organization_id = f.get("organization_id")
        timeline.team_id = f.get("team_id")
        created_ms = int(timeline.created_ms or state_created_ms)
        if timeline.first_response_ms is not None:
            timeline.first_response_ms = max(timeline.first_response_ms, created_ms)
        is_open = status in OPEN_STATUSES
        clocks = sla_clocks(timeline, config)
        created_day = day_number(created_ms, self.zone)
        sla_rows = [_sla_row(self.case_id, c, clocks, f, is_open=is_open,
                             created_day=created_day) for c in clocks.clocks]
        row = {
            "case_id": self.case_id, "key": f.get("key"), "subject": f.get("subject") or "",
            "status": status, "is_open": is_open, "priority": f["priority"],
            "team_id": f.get("team_id"), "assignee_id": f.get("assignee_id"),
            "organization_id": f.get("organization_id"), "product": f.get("product"),
            "created_ms": created_ms, "created_day": created_day,
            "first_response_ms": timeline.first_response_ms,
            "solved_ms": self.last_done if status in DONE_STATUSES else None,
            "first_solved_ms": self.first_solved, "reopens": self.reopens,
            "next_deadline_ms": clocks.next_deadline() if is_open else None,
        }
        return CaseFacts(case=row, tags=self.state.tag_list(), solves=self.solves,
                         sla=sla_rows)


def _sla_row(case_id: str, c: TargetClock, clocks: CaseClocks, f: dict[str, Any], *,
             is_open: bool, created_day: int) -> dict[str, Any]:
    return {
        "case_id": case_id, "target": c.target,
        "policy": clocks.policy.name if clocks.policy else None, "target_ms": c.target_ms,
        "deadline_ms": c.deadline_ms, "risk_ms": c.risk_ms, "outcome": c.outcome,
        "stopped_ms": c.stopped_ms, "paused_left_ms": c.paused_left_ms,
        "paused_at_risk": bool(c.is_paused and (c.paused_left_ms or 0)
                               < risk_threshold(c.target_ms)),
        "case_open": is_open, "created_day": created_day,
        "team_id": f.get("team_id"), "assignee_id": f.get("assignee_id")}


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

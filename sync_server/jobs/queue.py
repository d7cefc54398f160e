"""The job table: enqueue (in the push transaction), claim with a lease, and the outcome of
each attempt written together with its server-authored event.

Claiming. PostgreSQL: one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)``
takes due jobs with a lease, so any number of workers and server processes never hold one
job at once. SQLite: the same statement runs in a write transaction (one writer at a time),
and only one worker process runs per database file (worker.sqlite_worker_lock), since SQLite
has no row locks to share work across processes. A job left ``running`` past its lease (its
process died) is due again; if its last attempt had started the remote call, the next one
runs with ``unknown_outcome``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, text, update

from app.core import events as ev
from app.core.event_schema import SERVER_ACTOR, SERVER_DEVICE, InvalidEvent, validate_payload
from sync_server.db import write_tx
from sync_server.ids import ServerClock, uuid7
from sync_server.jobs.api import Job, outcome_event, site_of
from sync_server.jobs.context import fold_case
from sync_server.tables import EVENT_SEQ, cases, counters, events, jobs

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "smart_support_events"  # as sync_server/services/events.py
DEFAULT_GIVE_UP_MS = 24 * 3600 * 1000
STATES = ("queued", "running", "waiting", "done", "failed")
MAX_ERROR = 4_000


def new_job(*, request_id: str, team_id: str, case_id: str, payload: dict[str, Any],
            now_ms: int, give_up_ms: int = DEFAULT_GIVE_UP_MS) -> dict[str, Any]:
    """The row of a job for a stored ``integration.requested`` payload (already valid)."""
    system = str(payload["system"])
    return {
        "id": uuid7(), "request_id": request_id, "team_id": team_id, "case_id": case_id,
        "system": system, "site": site_of(system)[:255], "action": str(payload["action"]),
        "params": json.dumps(payload.get("params") or {}, ensure_ascii=False),
        "state": "queued", "attempts": 0, "not_before_ms": now_ms, "lease_owner": None,
        "lease_until_ms": None, "give_up_at_ms": now_ms + give_up_ms,
        "unknown_outcome": False, "call_started_ms": None, "announced_try_ms": None,
        "last_error": None, "created_ms": now_ms, "updated_ms": now_ms,
    }


def enqueue(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the jobs whose request_id is new (a re-sent or repeated request enqueues
    nothing). Runs inside the push transaction, which holds the event-sequence lock, so two
    pushes of one request_id cannot race. Returns how many were inserted."""
    fresh: dict[str, dict[str, Any]] = {}
    for row in rows:
        fresh.setdefault(row["request_id"], row)
    ids = list(fresh)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for known in conn.execute(select(jobs.c.request_id).where(jobs.c.request_id.in_(part))):
            fresh.pop(known.request_id, None)
    if fresh:
        conn.execute(insert(jobs), list(fresh.values()))
    return len(fresh)


def _job(row: Any) -> Job:
    try:
        params = json.loads(row.params)
    except ValueError:
        params = {}
    return Job(id=row.id, request_id=row.request_id, team_id=row.team_id, case_id=row.case_id,
               system=row.system, site=row.site, action=row.action,
               params=params if isinstance(params, dict) else {},
               attempts=int(row.attempts), created_ms=int(row.created_ms),
               unknown_outcome=bool(row.unknown_outcome))


@dataclass(frozen=True)
class Claimed:
    job: Job
    give_up_at_ms: int
    last_error: str | None


def claim(engine: Engine, owner: str, now_ms: int, lease_ms: int,
          limit: int = 1) -> list[Claimed]:
    """Take up to ``limit`` due jobs for ``owner`` until ``now_ms + lease_ms``."""
    due = or_(and_(jobs.c.state.in_(("queued", "waiting")), jobs.c.not_before_ms <= now_ms),
              and_(jobs.c.state == "running", jobs.c.lease_until_ms < now_ms))
    pick = select(jobs.c.id).where(due).order_by(jobs.c.not_before_ms).limit(limit)
    with engine.connect() as conn:  # idle polls read only: no write lock taken on SQLite
        if conn.execute(select(jobs.c.id).where(due).limit(1)).first() is None:
            return []
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        # A job whose earlier attempt started its call and never finished (a killed process)
        # may have reached the remote: the next attempt is told so.
        stmt = (update(jobs).where(jobs.c.id.in_(pick.scalar_subquery()))
                .values(state="running", lease_owner=owner, lease_until_ms=now_ms + lease_ms,
                        unknown_outcome=or_(jobs.c.unknown_outcome,
                                            jobs.c.call_started_ms.is_not(None)),
                        call_started_ms=None, updated_ms=now_ms)
                .returning(*jobs.c))
        rows = conn.execute(stmt).all()
    return [Claimed(job=_job(row), give_up_at_ms=int(row.give_up_at_ms),
                    last_error=row.last_error)
            for row in sorted(rows, key=lambda r: r.not_before_ms)]


def mark_started(conn: Connection, job: Job, owner: str, now_ms: int) -> bool:
    """Record that the remote call is about to start (kill-safety); False if the lease is lost."""
    result = conn.execute(update(jobs).where(
        jobs.c.id == job.id, jobs.c.lease_owner == owner, jobs.c.state == "running",
    ).values(call_started_ms=now_ms, attempts=jobs.c.attempts + 1, updated_ms=now_ms))
    return result.rowcount == 1


def release_unstarted(conn: Connection, job: Job, owner: str, now_ms: int,
                      not_before_ms: int) -> bool:
    """Hand a claimed job back without an attempt (e.g. all half-open probes taken)."""
    result = conn.execute(update(jobs).where(
        jobs.c.id == job.id, jobs.c.lease_owner == owner, jobs.c.state == "running",
    ).values(state="waiting", lease_owner=None, lease_until_ms=None,
             not_before_ms=not_before_ms, updated_ms=now_ms))
    return result.rowcount == 1


@dataclass(frozen=True)
class Outcome:
    """What one attempt ends in: the job's new state and the event that says so."""

    state: str  # done | failed | waiting
    event_type: str
    payload: dict[str, Any]
    not_before_ms: int | None = None
    error: str | None = None
    unknown_outcome: bool = False
    retry_after_ms: int | None = None  # what the remote asked for (Retry-After)
    # Case field -> new value (a done handler's Done.case_updates): case.updated events
    # written after the outcome event.
    case_updates: dict[str, str | None] = field(default_factory=dict)


def lock_counter(conn: Connection) -> int:
    return int(conn.execute(
        update(counters).where(counters.c.name == EVENT_SEQ)
        .values(value=counters.c.value).returning(counters.c.value)).scalar_one())


def append_server_event(conn: Connection, clock: ServerClock, *, case_id: str, team_id: str,
                        type_: str, payload: dict[str, Any], seq: int,
                        now_ms: int) -> int:
    """Append a server-authored event after ``seq`` (the caller holds the sequence lock,
    taken first); returns its server_seq. Its clock follows every event of the case."""
    last = conn.execute(select(func.max(events.c.hlc)).where(events.c.case_id == case_id)
                        ).scalar()
    hlc = clock.after(str(last) if last else f"{now_ms:013d}.000000")
    team = conn.execute(select(cases.c.team_id).where(cases.c.case_id == case_id)).scalar()
    seq += 1
    conn.execute(insert(events).values(
        server_seq=seq, id=uuid7(), case_id=case_id, team_id=team or team_id, type=type_,
        payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        actor=SERVER_ACTOR, device_id=SERVER_DEVICE, hlc=hlc, received_at=now_ms / 1000,
        user_id=None, v=1))
    conn.execute(update(counters).where(counters.c.name == EVENT_SEQ).values(value=seq))
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": NOTIFY_CHANNEL, "p": json.dumps(
            {"seq": seq, "teams": [team or team_id]})})
    return seq


def finish(conn: Connection, clock: ServerClock, job: Job, owner: str, outcome: Outcome,
           now_ms: int) -> int | None:
    """Write the attempt's outcome: the job row and (unless it is a repeat of the waiting
    already announced) its event, then a done outcome's case updates, in the caller's
    transaction. Returns the last event's server_seq, or None when nothing was written (the lease was lost: another worker has
    the job) or no event was due. Takes the sequence lock first, as a push does."""
    seq = lock_counter(conn)
    row = conn.execute(select(jobs.c.announced_try_ms).where(
        jobs.c.id == job.id, jobs.c.lease_owner == owner, jobs.c.state == "running")).first()
    if row is None:
        return None
    values: dict[str, Any] = {
        "state": outcome.state, "lease_owner": None, "lease_until_ms": None,
        "call_started_ms": None, "updated_ms": now_ms,
        "unknown_outcome": bool(job.unknown_outcome or outcome.unknown_outcome),
    }
    if outcome.error is not None:
        values["last_error"] = outcome.error[:MAX_ERROR]
    if outcome.not_before_ms is not None:
        values["not_before_ms"] = outcome.not_before_ms
    announce = True
    if outcome.state == "waiting":
        # One waiting event per change of the next try, not one per poll.
        announce = row.announced_try_ms != outcome.not_before_ms
        values["announced_try_ms"] = outcome.not_before_ms
    conn.execute(update(jobs).where(jobs.c.id == job.id).values(**values))
    if not announce:
        return None
    type_, payload = outcome_event(conn, job, outcome.state, outcome.event_type,
                                   outcome.payload)
    seq = append_server_event(conn, clock, case_id=job.case_id, team_id=job.team_id,
                              type_=type_, payload=payload, seq=seq, now_ms=now_ms)
    if outcome.case_updates:
        seq = _case_updates(conn, clock, job, outcome.case_updates, seq, now_ms)
    return seq


def _case_updates(conn: Connection, clock: ServerClock, job: Job,
                  updates: dict[str, str | None], seq: int, now_ms: int) -> int:
    """One server-authored case.updated per field whose value changes (prev: the case's
    value now, folded in this transaction); an invalid one is logged and skipped."""
    current = fold_case(conn, job.case_id).fields
    for name, value in updates.items():
        prev = current.get(name)
        if prev == value:
            continue
        payload = {"field": name, "value": value,
                   "prev": prev if prev is None or isinstance(prev, str | bool) else str(prev)}
        try:
            validate_payload(ev.CASE_UPDATED, 1, payload)
        except InvalidEvent as exc:
            log.warning("job %s (%s %s): case.updated of %r not recorded: %s", job.id,
                        job.system, job.action, name, exc.reason)
            continue
        seq = append_server_event(conn, clock, case_id=job.case_id, team_id=job.team_id,
                                  type_=ev.CASE_UPDATED, payload=payload, seq=seq,
                                  now_ms=now_ms)
        current[name] = value
    return seq


def retry(engine: Engine, job_id: str, now_ms: int,
          give_up_ms: int = DEFAULT_GIVE_UP_MS) -> bool:
    """Re-queue a failed job: a new attempt with the same request_id (and a new give-up
    time). False when there is no failed job of that id."""
    with write_tx(engine) as conn:
        result = conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.state == "failed")
                              .values(state="queued", not_before_ms=now_ms,
                                      give_up_at_ms=now_ms + give_up_ms, lease_owner=None,
                                      lease_until_ms=None, announced_try_ms=None,
                                      updated_ms=now_ms))
        return result.rowcount == 1


def get(engine: Engine, job_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
    return dict(row) if row is not None else None


def by_request(engine: Engine, request_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    ids = list(request_ids)
    found: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            for row in conn.execute(select(jobs).where(
                    jobs.c.request_id.in_(ids[start:start + 500]))).mappings():
                found[row["request_id"]] = dict(row)
    return found


def payload_head(job: Job) -> dict[str, Any]:
    return {"request_id": job.request_id, "system": job.system, "action": job.action}


def done_outcome(job: Job, message: str, record: dict[str, Any] | None,
                 case_updates: dict[str, str | None] | None = None) -> Outcome:
    return Outcome(state="done", event_type=ev.INTEGRATION_DONE,
                   payload={**payload_head(job), "message": message[:MAX_ERROR],
                            "record": record}, case_updates=dict(case_updates or {}))


def failed_outcome(job: Job, reason: str, remote_status: int | None) -> Outcome:
    status = remote_status if remote_status is not None and 100 <= remote_status <= 599 \
        else None
    text_ = (reason or "failed without a reason").strip()[:MAX_ERROR] or "failed"
    return Outcome(state="failed", event_type=ev.INTEGRATION_FAILED,
                   payload={**payload_head(job), "reason": text_, "remote_status": status},
                   error=text_)


def waiting_outcome(job: Job, reason: str, next_try_ms: int, *,
                    unknown_outcome: bool = False,
                    retry_after_ms: int | None = None) -> Outcome:
    return Outcome(state="waiting", event_type=ev.INTEGRATION_WAITING,
                   payload={**payload_head(job), "reason": reason[:MAX_ERROR],
                            "next_try_ms": next_try_ms},
                   not_before_ms=next_try_ms, error=reason, unknown_outcome=unknown_outcome,
                   retry_after_ms=retry_after_ms)

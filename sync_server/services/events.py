"""Push (idempotent, per-event validation and authorization, case keys) and gap-free pull of
the event log.

Every pushed item is judged on its own: its envelope (EventCreate), then the event schema
(app/core/event_schema.py: the clock and the payload), then the rules of its case; a refused
item gets its reason and the rest of the batch is stored.

Gap-freeness: every push transaction first locks the single ``counters`` row and only
releases it at commit, so sequence numbers are handed out in commit order and a reader
that sees ``server_seq = n`` also sees every smaller one. Rolled-back pushes give their
numbers back (the counter update rolls back with them).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from app.core.event_schema import (
    MAX_CLOCK_AHEAD_MS,
    PROVISIONAL_KEY_RE,
    SERVER_ACTOR,
    SERVER_DEVICE,
    SERVER_ONLY_TYPES,
    InvalidEvent,
    check_clock,
    validate_payload,
)
from sync_server.db import write_tx
from sync_server.ids import ServerClock, uuid7
from sync_server.jobs.queue import DEFAULT_GIVE_UP_MS, enqueue, new_job
from sync_server.mail.outbox import MailHook
from sync_server.schemas.events import EventCreate, PushResultPublic, payload_json
from sync_server.services.accounts import Principal, normalize_email
from sync_server.services.blobs import record_blob_refs
from sync_server.tables import EVENT_SEQ, cases, counters, events, teams

NOTIFY_CHANNEL = "smart_support_events"
CASE_CREATED = "case.created"
CASE_UPDATED = "case.updated"
KEY_ASSIGNED = "case.key_assigned"
INTEGRATION_REQUESTED = "integration.requested"
# A key a client may give a new case: its device code (4 characters, always one digit, see
# app/store/repo.py) and a number. Team keys (PREFIX-N, digit-free prefix) come from the server
# only: a client-made one would shadow the real case of that key on every laptop.
_MAX_ECHOED_ID = 64  # a refused item's own id is echoed back only if it is this short
_CHUNK = 500
_WINDOW_FACTOR = 4  # pull scans at most limit * 4 sequence numbers per query
_MAX_WINDOWS = 16
PULL_MAX_BYTES = 8 * 1024 * 1024  # default byte cap of one pull page (Settings.pull_max_bytes)
_SEEK_SCAN_MAX = 20_000  # sequence numbers a seek scans in order before using the cases


@dataclass(slots=True)
class _Case:
    team_id: str
    key: str | None
    new: bool = False
    dirty: bool = False


@dataclass(slots=True)
class PushOutcome:
    results: list[PushResultPublic]
    last_seq: int | None = None
    teams: set[str] = field(default_factory=set)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def lock_counter(conn: Connection) -> int:
    """Take the event-sequence lock (held to commit) and return the last assigned number."""
    return int(conn.execute(
        update(counters).where(counters.c.name == EVENT_SEQ)
        .values(value=counters.c.value).returning(counters.c.value)
    ).scalar_one())


def current_seq(conn: Connection) -> int:
    return int(conn.execute(select(counters.c.value).where(counters.c.name == EVENT_SEQ)).scalar_one())


def _created_team(event: EventCreate) -> str:
    payload = event.payload
    fields = payload.get("fields")
    for source in (payload, fields if isinstance(fields, dict) else {}):
        value = source.get("team_id")
        if isinstance(value, str) and value:
            return value
    return event.team_id


def _precheck(principal: Principal, event: EventCreate) -> str | None:
    if normalize_email(event.actor) != principal.email:
        return "actor must be the signed-in user"
    if event.type in SERVER_ONLY_TYPES:
        return f"{event.type} events are authored by the server only"
    if event.case_id is None and event.team_id not in principal.team_ids:
        # An event on a case is judged by the team the server knows for the case (its
        # team_id is only the client's view, which may be stale): see _Batch._case_rules.
        return "you are not a member of the event's team"
    if event.type in (CASE_CREATED, CASE_UPDATED) and event.case_id is None:
        return f"{event.type} needs a case_id"
    if "\x00" in event.device_id:  # PostgreSQL text cannot hold NUL
        return "device_id holds a NUL character"
    return None


def _item_id(item: object) -> str | None:
    value = item.get("id") if isinstance(item, dict) else None
    return value if isinstance(value, str) and len(value) <= _MAX_ECHOED_ID else None


def _envelope(item: EventCreate | dict[str, Any]) -> EventCreate | PushResultPublic:
    """The item as an EventCreate, or its rejection saying which part of it is wrong."""
    if isinstance(item, EventCreate):
        return item
    try:
        return EventCreate.model_validate(item)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"]) or "the event"
        what = str(first["msg"])
        if first["loc"] == ("hlc",) and isinstance(item.get("hlc"), str):
            try:  # the schema's own words for a clock ("13 digits, a dot and 6 digits")
                check_clock(item["hlc"], now_ms=0, max_ahead_ms=2**62)
            except InvalidEvent as bad_clock:
                what = bad_clock.reason
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        said = what if what.startswith(where) else f"{where}: {what}"
        return PushResultPublic(id=_item_id(item), status="rejected",
                                reason=f"invalid event: {said}{more}")


def _schema_reason(event: EventCreate, now_ms: int, max_ahead_ms: int) -> str | None:
    """Why the event breaks the event schema (its clock or its payload), or None."""
    try:
        check_clock(event.hlc, now_ms=now_ms, max_ahead_ms=max_ahead_ms, receiver="the server")
        validate_payload(event.type, event.v, event.payload)
    except InvalidEvent as exc:
        return exc.reason
    return None


class _Batch:
    """The state of one push transaction."""

    def __init__(self, conn: Connection, principal: Principal, clock: ServerClock, seq: int,
                 max_clock_ahead_ms: int = MAX_CLOCK_AHEAD_MS) -> None:
        self.conn, self.principal, self.clock, self.seq = conn, principal, clock, seq
        self.rows: list[dict[str, Any]] = []
        self.cases: dict[str, _Case] = {}
        self.team_numbers: dict[str, tuple[str, int]] = {}
        self.team_prefixes: set[str] | None = None
        self.seen: dict[str, int] = {}
        self.now = time.time()
        self.max_clock_ahead_ms = max_clock_ahead_ms
        self.jobs: list[dict[str, Any]] = []
        self.job_give_up_ms = DEFAULT_GIVE_UP_MS
        self.mail = MailHook(conn, int(self.now * 1000))  # mail out (sync_server/mail)

    def load(self, batch: Sequence[EventCreate]) -> None:
        ids = [e.id for e in batch]
        for part in _chunks(ids):
            for row in self.conn.execute(select(events.c.id, events.c.server_seq)
                                         .where(events.c.id.in_(part))):
                self.seen[row.id] = row.server_seq
        case_ids = sorted({e.case_id for e in batch if e.case_id})
        for part in _chunks(case_ids):
            for row in self.conn.execute(select(cases).where(cases.c.case_id.in_(part))):
                self.cases[row.case_id] = _Case(team_id=row.team_id, key=row.key)

    def _team_exists(self, team_id: str) -> bool:
        if team_id in self.team_numbers:
            return True
        row = self.conn.execute(select(teams.c.prefix, teams.c.next_case_number)
                                .where(teams.c.id == team_id)).first()
        if row is None:
            return False
        self.team_numbers[team_id] = (row.prefix, row.next_case_number)
        return True

    def _is_team_prefix(self, key: str) -> bool:
        if self.team_prefixes is None:
            self.team_prefixes = {str(p).upper() for p in
                                  self.conn.execute(select(teams.c.prefix)).scalars()}
        return key.partition("-")[0].upper() in self.team_prefixes

    def apply(self, event: EventCreate) -> PushResultPublic:
        # A re-send of a stored event is acknowledged first, whatever today's rules say.
        if event.id in self.seen:
            return PushResultPublic(id=event.id, status="duplicate", server_seq=self.seen[event.id])
        reason = (_schema_reason(event, int(self.now * 1000), self.max_clock_ahead_ms)
                  or self._case_rules(event)
                  or self.mail.check(event.type, event.case_id, event.payload))
        if reason is None and event.type == INTEGRATION_REQUESTED and event.case_id is None:
            reason = f"{INTEGRATION_REQUESTED} needs a case_id"
        if reason is not None:
            return PushResultPublic(id=event.id, status="rejected", reason=reason)
        # Stored under its case's team (the team after a move), never under another one the
        # author also belongs to: the case's team decides who may read its events.
        case = self.cases.get(event.case_id) if event.case_id else None
        team_id = case.team_id if case is not None else event.team_id
        seq = self._append(event.id, event.case_id, team_id, event.type,
                           payload_json(event.payload), event.actor, event.device_id, event.hlc,
                           self.principal.id, event.v)
        if event.type == CASE_CREATED and event.case_id is not None:
            self._assign_key(event, event.case_id)
        if event.type == INTEGRATION_REQUESTED and event.case_id is not None:
            # Its job is enqueued in this same transaction (the queue: sync_server/jobs).
            self.jobs.append(new_job(request_id=event.payload["request_id"], team_id=team_id,
                                     case_id=event.case_id, payload=event.payload,
                                     now_ms=int(self.now * 1000),
                                     give_up_ms=self.job_give_up_ms))
        self.mail.stored(event.id, event.type, event.case_id, team_id, event.payload,
                         event.actor, functools.partial(self._append_server, event.hlc))
        return PushResultPublic(id=event.id, status="stored", server_seq=seq)

    def _append_server(self, after_hlc: str, case_id: str, team_id: str, type_: str,
                       payload: dict[str, Any]) -> None:
        self._append(uuid7(), case_id, team_id, type_, payload_json(payload), SERVER_ACTOR,
                     SERVER_DEVICE, self.clock.after(after_hlc), None)

    def _case_rules(self, event: EventCreate) -> str | None:
        case = self.cases.get(event.case_id) if event.case_id else None
        mine = self.principal.team_ids
        if case is not None and case.team_id not in mine:
            return "the case belongs to a team you are not a member of"
        if case is None and event.type != CASE_CREATED and event.team_id not in mine:
            return "you are not a member of the event's team"  # a case the server has not seen
        if event.type == CASE_CREATED and event.case_id is not None:
            team = _created_team(event)
            if team not in mine:
                return "you are not a member of the case's team"
            if case is not None and case.key is not None:
                return "the case already exists"
            key = event.payload["fields"].get("key")
            if key is not None and (not PROVISIONAL_KEY_RE.fullmatch(key)
                                    or self._is_team_prefix(key)):
                return (f"the key {key[:40]!r} is not a provisional device key (like K7QF-12): "
                        "team keys are assigned by the server")
            if case is None:
                self.cases[event.case_id] = _Case(team_id=team, key=None, new=True)
            return None
        if (event.type == CASE_UPDATED and event.case_id is not None
                and event.payload.get("field") == "team_id"):
            value = event.payload.get("value")
            if not isinstance(value, str) or not self._team_exists(value):
                return "the case is moved to an unknown team"
            if value not in mine:  # the current team was checked above
                return "you can only move a case to a team you are a member of"
            if case is None:
                self.cases[event.case_id] = _Case(team_id=value, key=None, new=True)
            else:
                case.team_id, case.dirty = value, True
        return None

    def _assign_key(self, created: EventCreate, case_id: str) -> None:
        case = self.cases[case_id]
        team = _created_team(created)
        if not self._team_exists(team):
            team = created.team_id
            self._team_exists(team)
        prefix, number = self.team_numbers[team]
        self.team_numbers[team] = (prefix, number + 1)
        case.key, case.dirty = f"{prefix}-{number}", True
        self._append(uuid7(), case_id, case.team_id, KEY_ASSIGNED,
                     payload_json({"key": case.key}), SERVER_ACTOR, SERVER_DEVICE,
                     self.clock.after(created.hlc), None)

    def _append(self, event_id: str, case_id: str | None, team_id: str, type_: str,
                payload: str, actor: str, device_id: str, hlc: str, user_id: str | None,
                v: int = 1) -> int:
        self.seq += 1
        self.seen[event_id] = self.seq
        self.rows.append({
            "server_seq": self.seq, "id": event_id, "case_id": case_id, "team_id": team_id,
            "type": type_, "payload": payload, "actor": actor, "device_id": device_id,
            "hlc": hlc, "received_at": self.now, "user_id": user_id, "v": v,
        })
        return self.seq

    def flush(self) -> set[str]:
        """Write rows, cases, team numbers and the counter; return the teams to notify."""
        if not self.rows:
            return set()
        self.conn.execute(insert(events), self.rows)
        new = [{"case_id": k, "team_id": c.team_id, "key": c.key}
               for k, c in self.cases.items() if c.new]
        if new:
            self.conn.execute(insert(cases), new)
        for case_id, case in self.cases.items():
            if case.dirty and not case.new:
                self.conn.execute(update(cases).where(cases.c.case_id == case_id)
                                  .values(team_id=case.team_id, key=case.key))
        for team_id, (_prefix, number) in self.team_numbers.items():
            self.conn.execute(update(teams).where(teams.c.id == team_id)
                              .values(next_case_number=number))
        self.conn.execute(update(counters).where(counters.c.name == EVENT_SEQ).values(value=self.seq))
        notify = {row["team_id"] for row in self.rows}
        notify |= {self.cases[row["case_id"]].team_id for row in self.rows
                   if row["case_id"] in self.cases}
        record_blob_refs(self.conn, self.rows, {k: c.team_id for k, c in self.cases.items()})
        self.jobs.extend(self.mail.flush())
        if self.jobs:
            enqueue(self.conn, self.jobs)
        return notify


def push(engine: Engine, clock: ServerClock, principal: Principal,
         batch: Sequence[EventCreate | dict[str, Any]], *,
         max_clock_ahead_ms: int = MAX_CLOCK_AHEAD_MS,
         job_give_up_ms: int = DEFAULT_GIVE_UP_MS) -> PushOutcome:
    """Store what may be stored; one result per item, in order (``dict`` items are items
    that are not valid EventCreates: each is refused with its reason)."""
    results: list[PushResultPublic | None] = []
    accepted: list[EventCreate] = []
    for item in batch:
        event = _envelope(item)
        if isinstance(event, PushResultPublic):
            results.append(event)
            continue
        reason = _precheck(principal, event)
        results.append(None if reason is None else
                       PushResultPublic(id=event.id, status="rejected", reason=reason))
        if reason is None:
            accepted.append(event)
    outcome = PushOutcome(results=[])
    if accepted:
        with write_tx(engine) as conn:
            state = _Batch(conn, principal, clock, lock_counter(conn), max_clock_ahead_ms)
            state.job_give_up_ms = job_give_up_ms
            state.load(accepted)
            applied = iter([state.apply(event) for event in accepted])
            outcome.teams = state.flush()
            if state.rows:
                outcome.last_seq = state.seq
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": NOTIFY_CHANNEL, "p": json.dumps(
                        {"seq": state.seq, "teams": sorted(outcome.teams)})})
        results = [r if r is not None else next(applied) for r in results]
    outcome.results = [r for r in results if r is not None]
    return outcome


def _json(value: str | None) -> str:
    return json.dumps(value)


def _page_query(mine: list[str], low: int, high: int, limit: int) -> Select[Any]:
    return (
        select(events.c.server_seq, events.c.id, events.c.case_id, events.c.team_id,
               events.c.type, events.c.payload, events.c.actor, events.c.device_id, events.c.hlc,
               events.c.v)
        .select_from(events.outerjoin(cases, cases.c.case_id == events.c.case_id))
        .where(events.c.server_seq > low, events.c.server_seq <= high,
               or_(events.c.team_id.in_(mine), cases.c.team_id.in_(mine)))
        .order_by(events.c.server_seq)
        .limit(limit)
    )


def _render(r: Row[Any]) -> str:
    return (
        f'{{"id":{_json(r.id)},"case_id":{_json(r.case_id)},"team_id":{_json(r.team_id)},'
        f'"type":{_json(r.type)},"payload":{r.payload},"actor":{_json(r.actor)},'
        f'"device_id":{_json(r.device_id)},"hlc":{_json(r.hlc)},"server_seq":{r.server_seq},'
        f'"v":{int(r.v)}}}'
    )


def _next_visible(conn: Connection, mine: list[str], after: int, high: int) -> int | None:
    """The first visible ``server_seq`` in (after, high], by index seeks rather than a scan
    (a team's own events by ``ix_events_team_seq``; events of cases moved into a team by
    the join), or None."""
    found: list[int] = []
    for team in mine:
        seq = conn.execute(select(events.c.server_seq).where(
            events.c.team_id == team, events.c.server_seq > after, events.c.server_seq <= high,
        ).order_by(events.c.server_seq).limit(1)).scalar()
        if seq is not None:
            found.append(int(seq))
    bound = min([high, *found])
    # A short stretch is scanned in sequence order; a long one through the team's cases
    # (coalesce() keeps the planner off the cases index for the short one).
    case_team: ColumnElement[Any] = (cases.c.team_id if bound - after > _SEEK_SCAN_MAX
                                     else func.coalesce(cases.c.team_id, ""))
    moved = conn.execute(
        select(events.c.server_seq)
        .select_from(events.join(cases, cases.c.case_id == events.c.case_id))
        .where(case_team.in_(mine), events.c.team_id.not_in(mine),
               events.c.server_seq > after, events.c.server_seq <= bound)
        .order_by(events.c.server_seq).limit(1)).scalar()
    if moved is not None:
        found.append(int(moved))
    return min(found) if found else None


def pull(engine: Engine, principal: Principal, since: int, limit: int,
         max_bytes: int = PULL_MAX_BYTES) -> tuple[bytes, int, bool]:
    """A page of visible events after ``since`` as pre-rendered JSON items, the next cursor
    and whether more may follow.

    A page holds at most ``limit`` events and stops before its rendered size would pass
    ``max_bytes`` (always at least one event). The log is scanned in bounded windows of
    sequence numbers; a window with nothing visible is skipped to the next visible event
    by index seeks, so every query stays cheap however few events the user may see.

    The cursor never passes the last event returned (``since`` when none is): it must not
    show the global counter, i.e. how much other teams write. A client at the end of its
    visible log so re-reads at most one window of others' events per pull.
    """
    mine = sorted(principal.team_ids)
    if not mine:
        return b"", since, False
    items: list[str] = []
    size, last, full = 0, since, False
    with engine.connect() as conn:
        high = current_seq(conn)  # everything up to here is committed and visible
        low = since
        for _ in range(_MAX_WINDOWS):
            if full or low >= high:
                break
            top = min(high, low + _WINDOW_FACTOR * limit)
            found = False
            result = conn.execute(_page_query(mine, low, top, limit + 1 - len(items)),
                                  execution_options={"yield_per": 16})
            for r in result:  # streamed: a page of big events is never all in memory
                item = _render(r)
                if len(items) >= limit or (items and size + len(item) + 1 > max_bytes):
                    full = True
                    break
                items.append(item)
                size += len(item) + 1
                last, found = int(r.server_seq), True
            result.close()
            if found or top >= high:
                low = top
            else:
                nxt = _next_visible(conn, mine, top, high)
                low = high if nxt is None else nxt - 1
    # Stopped early (page full, or out of windows): more may follow. Never say so with an
    # unchanged cursor: the client would ask the same question forever.
    has_more = (full or low < high) and last > since
    return ",".join(items).encode(), last, has_more

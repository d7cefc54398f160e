"""The server's view of which cases link which remote records, and recording
``integration.record`` events on those cases (a refresh, a webhook).

``integration_links`` is a fold of the integration.done / integration.record events, brought
up to date (from a cursor) before it is read: it never decides anything the log does not say.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text, update

from app.core.event_schema import SERVER_ACTOR, SERVER_DEVICE, InvalidEvent, validate_payload
from sync_server.db import write_tx
from sync_server.ids import ServerClock, uuid7
from sync_server.schemas.events import payload_json
from sync_server.services.events import NOTIFY_CHANNEL, current_seq, lock_counter
from sync_server.tables import EVENT_SEQ, LINKS_SEQ, cases, counters, events, integration_links

RECORD = "integration.record"
DONE = "integration.done"
_FOLD_PAGE = 2_000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Link:
    case_id: str
    team_id: str
    remote_id: str
    remote_key: str
    linked: bool
    snapshot: dict[str, Any]


def _cursor(conn: Connection) -> int:
    # UPDATE first: it takes the row lock on PostgreSQL, so two folders take turns.
    value = conn.execute(update(counters).where(counters.c.name == LINKS_SEQ)
                         .values(value=counters.c.value).returning(counters.c.value)).scalar()
    if value is None:
        conn.execute(insert(counters).values(name=LINKS_SEQ, value=0))
        return 0
    return int(value)


def _fold_one(conn: Connection, case_id: str, payload: dict[str, Any]) -> None:
    record, system = payload.get("record"), payload.get("system")
    if not (isinstance(record, dict) and isinstance(system, str)
            and isinstance(record.get("remote_id"), str)):
        return
    snapshot = record.get("snapshot")
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    values = {"remote_key": str(record.get("remote_key") or record["remote_id"])[:200],
              "linked": bool(record.get("linked")), "snapshot": payload_json(snapshot),
              "fetched_ms": int(record.get("fetched_ms") or 0)}
    where = (integration_links.c.system == system,
             integration_links.c.remote_id == record["remote_id"][:200],
             integration_links.c.case_id == case_id)
    if conn.execute(update(integration_links).where(*where).values(**values)).rowcount == 0:
        conn.execute(insert(integration_links).values(
            system=system, remote_id=record["remote_id"][:200], case_id=case_id, **values))


def fold_links(engine: Engine) -> None:
    """Bring ``integration_links`` up to the newest stored event."""
    with write_tx(engine) as conn:
        low = _cursor(conn)
        high = current_seq(conn)
        while low < high:
            rows = conn.execute(
                select(events.c.server_seq, events.c.case_id, events.c.payload)
                .where(events.c.server_seq > low, events.c.server_seq <= high,
                       events.c.type.in_((DONE, RECORD)))
                .order_by(events.c.server_seq).limit(_FOLD_PAGE)).all()
            for row in rows:
                try:
                    payload = json.loads(row.payload)
                except ValueError:
                    continue
                if row.case_id and isinstance(payload, dict):
                    _fold_one(conn, row.case_id, payload)
            low = int(rows[-1].server_seq) if len(rows) == _FOLD_PAGE else high
        conn.execute(update(counters).where(counters.c.name == LINKS_SEQ).values(value=high))


def links_of(engine: Engine, system: str, remote_id: str | None = None) -> list[Link]:
    """The cases linked (or once linked) to ``remote_id`` (every remote record when None),
    with each case's team as the server has it now."""
    fold_links(engine)
    query = (select(integration_links, cases.c.team_id)
             .join(cases, cases.c.case_id == integration_links.c.case_id)
             .where(integration_links.c.system == system))
    if remote_id is not None:
        query = query.where(integration_links.c.remote_id == remote_id)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(integration_links.c.remote_id,
                                           integration_links.c.case_id)).all()
    return [Link(case_id=r.case_id, team_id=r.team_id, remote_id=r.remote_id,
                 remote_key=r.remote_key, linked=bool(r.linked),
                 snapshot=json.loads(r.snapshot)) for r in rows]


@dataclass(frozen=True)
class Recorded:
    last_seq: int | None
    teams: frozenset[str]
    count: int = 0


def _valid(payload: dict[str, Any]) -> bool:
    """Whether every client will accept the event: what a remote system sent is checked
    against the event schema before it is stored, never after (a laptop would set it aside)."""
    try:
        validate_payload(RECORD, 1, payload)
    except InvalidEvent as exc:
        log.warning("not recorded: %s", exc.reason)
        return False
    return True


def record_events(conn: Connection, clock: ServerClock,
                  items: Sequence[tuple[Link, dict[str, Any]]]) -> Recorded:
    """Append one server-authored ``integration.record`` event per (link, payload), in the
    caller's write transaction (gap-free: the sequence lock is held to commit)."""
    items = [item for item in items if _valid(item[1])]
    if not items:
        return Recorded(None, frozenset())
    seq = lock_counter(conn)
    rows: list[dict[str, Any]] = []
    now = time.time()
    for link, payload in items:
        last = conn.execute(select(events.c.hlc).where(events.c.case_id == link.case_id)
                            .order_by(events.c.hlc.desc()).limit(1)).scalar()
        seq += 1
        rows.append({"server_seq": seq, "id": uuid7(), "case_id": link.case_id,
                     "team_id": link.team_id, "type": RECORD, "payload": payload_json(payload),
                     "actor": SERVER_ACTOR, "device_id": SERVER_DEVICE,
                     "hlc": clock.after(last or "0000000000000.000000"), "received_at": now,
                     "user_id": None, "v": 1})
    conn.execute(insert(events), rows)
    conn.execute(update(counters).where(counters.c.name == EVENT_SEQ).values(value=seq))
    teams = frozenset(r["team_id"] for r in rows)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": NOTIFY_CHANNEL, "p": json.dumps(
            {"seq": seq, "teams": sorted(teams)})})
    return Recorded(seq, teams, len(rows))


def same_snapshot(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return old == new


def record_changes(engine: Engine, clock: ServerClock, system: str,
                   changed: Sequence[tuple[Link, dict[str, Any]]]) -> Recorded:
    """Record ``integration.record`` events for ``(link, record)`` pairs whose snapshot or
    linked state differs from what the cases have; returns what was stored."""
    items = [(link, {"system": system, "record": record}) for link, record in changed
             if not (same_snapshot(link.snapshot, record["snapshot"])
                     and link.linked == record["linked"])]
    if not items:
        return Recorded(None, frozenset())
    with write_tx(engine) as conn:
        return record_events(conn, clock, items)

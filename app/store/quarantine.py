"""Pulled events this build cannot apply, kept verbatim so a later build can.

A teammate's event may be of a type or schema version this build does not know, or simply
broken. Such an event must never stop the sync: it is stored here, in the same transaction
as the good events of its page and the cursor, and re-validated when the app is upgraded
(or on demand). An event id held here is never also applied.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, or_, select, update

from app.core import event_schema as es
from app.core.events import Event
from app.store import schema as s

if TYPE_CHECKING:
    from app.store.repo import Store

MAX_REASON = 500


def _app_version() -> str:
    try:
        from app import __version__

        return str(__version__)[:32]
    except ImportError:  # pragma: no cover - a build without the attribute
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("smart-support-agent")[:32]
        except PackageNotFoundError:
            return "unknown"


APP_VERSION = _app_version()


@dataclass(slots=True)
class Held:
    """One pulled item that was not applied, and why."""

    id: str
    raw: str
    reason: str
    type: str | None = None
    case_id: str | None = None
    server_seq: int | None = None


def _uuid_text(value: object) -> str | None:
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return value


def held_id(raw: str, value: object) -> str:
    """The item's own id if it is a UUID; else an id derived from its text (so the same
    broken item pulled twice is stored once)."""
    own = _uuid_text(value.get("id")) if isinstance(value, dict) else None
    if own is not None:
        return own
    h = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _bounded(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def hold(raw: str, value: object, reason: str) -> Held:
    data = value if isinstance(value, dict) else {}
    seq = data.get("server_seq")
    return Held(id=held_id(raw, value), raw=raw, reason=reason[:MAX_REASON],
                type=_bounded(data.get("type"), 200),
                case_id=_uuid_text(data.get("case_id")),
                server_seq=seq if isinstance(seq, int) and not isinstance(seq, bool)
                and 0 < seq < 2**63 else None)


def triage(items: Iterable[tuple[str, Any]], *, now_ms: int) -> tuple[list[Event], list[Held]]:
    """Split pulled items into events this build can apply and items to hold back."""
    good: list[Event] = []
    held: list[Held] = []
    for raw, value in items:
        try:
            event = es.validate_wire(value, now_ms=now_ms)
            es.check_pulled(event)
            good.append(event)
        except es.InvalidEvent as exc:
            held.append(hold(raw, value, str(exc) or type(exc).__name__))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError,
                RecursionError) as exc:
            # The validator itself tripped: a bug, but never a reason to stop the sync.
            held.append(hold(raw, value, f"could not be validated: {exc.__class__.__name__}"))
    return good, held


def for_event(e: Event, reason: str) -> Held:
    """An event that validated but could not be applied (a bug in the projector)."""
    raw = json.dumps({**e.to_wire(), "server_seq": e.server_seq}, ensure_ascii=False,
                     separators=(",", ":"))
    return Held(id=e.id, raw=raw, reason=reason[:MAX_REASON], type=e.type[:200],
                case_id=e.case_id, server_seq=e.server_seq)


def store_held(conn: Connection, held: Iterable[Held], *, received_ms: int | None = None) -> int:
    """Insert held items (a duplicate id is stored once); returns how many were new."""
    now = int(time.time() * 1000) if received_ms is None else received_ms
    rows = [(h.id, h.server_seq, h.case_id, h.type, h.raw, h.reason, now, APP_VERSION)
            for h in held]
    if not rows:
        return 0
    before = count(conn)
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO quarantine (id, server_seq, case_id, type, raw, reason, "
        "received_ms, app_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return count(conn) - before


def not_logged(conn: Connection, held: list[Held]) -> list[Held]:
    """Drop items whose id is already in the event log: a broken copy of an event this
    device has is a replay, and the log keeps the event it has."""
    ids = [h.id for h in held]
    logged: set[str] = set()
    for i in range(0, len(ids), 500):
        logged.update(conn.execute(select(s.events.c.id)
                                   .where(s.events.c.id.in_(ids[i:i + 500]))).scalars())
    return [h for h in held if h.id not in logged]


def held_ids(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        found.update(conn.execute(select(s.quarantine.c.id)
                                  .where(s.quarantine.c.id.in_(ids[i:i + 500]))).scalars())
    return found


def release(conn: Connection, ids: Iterable[str]) -> None:
    wanted = list(ids)
    for i in range(0, len(wanted), 500):
        conn.execute(delete(s.quarantine).where(s.quarantine.c.id.in_(wanted[i:i + 500])))


def count(conn: Connection, case_id: str | None = None) -> int:
    q = select(func.count()).select_from(s.quarantine)
    if case_id is not None:
        q = q.where(s.quarantine.c.case_id == case_id)
    return int(conn.execute(q).scalar() or 0)


def rows(conn: Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """The held items, newest first (for check and the health read model)."""
    result = conn.execute(select(s.quarantine).order_by(s.quarantine.c.received_ms.desc(),
                                                        s.quarantine.c.id).limit(limit))
    return [dict(r._mapping) for r in result]


def _due() -> Any:
    """Rows worth checking again without being asked: held by another build (an upgrade
    happened), or held only because their clock was too far ahead (time catches up)."""
    return or_(s.quarantine.c.app_version != APP_VERSION,
               s.quarantine.c.reason.like(CLOCK_AHEAD_REASON))


# event_schema.check_clock's reason for a clock beyond the bound: "clock is N h ahead of …"
CLOCK_AHEAD_REASON = "clock is % ahead of %"


def has_due(conn: Connection) -> bool:
    """Whether some held row is due for another check (see ``_due``)."""
    return conn.execute(select(s.quarantine.c.id).where(_due()).limit(1)).first() is not None


def reapply(store: Store, *, now_ms: int | None = None, everything: bool = False) -> int:
    """Re-validate held rows (those due, see ``_due``, or all of them): the ones that now
    pass are ingested as if just pulled and leave the quarantine. Returns how many."""
    now = store.clock.wall_ms() if now_ms is None else now_ms

    def load(conn: Connection) -> list[tuple[str, str]]:
        q = select(s.quarantine.c.id, s.quarantine.c.raw)
        if not everything:
            q = q.where(_due())
        return [(r.id, r.raw) for r in conn.execute(q.order_by(s.quarantine.c.server_seq))]

    candidates = store.read(load)
    if not candidates:
        return 0
    passed: list[Event] = []
    still: list[tuple[str, str]] = []
    for row_id, raw in candidates:
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        good, bad = triage([(raw, value)], now_ms=now)
        if good and good[0].id == row_id:
            passed += good
        else:
            still.append((row_id, bad[0].reason if bad else "its id changed"))

    def restamp(conn: Connection) -> None:
        # Checked by this build now: not again until the next upgrade (or on demand).
        for row_id, reason in still:
            conn.execute(update(s.quarantine).where(s.quarantine.c.id == row_id)
                         .values(app_version=APP_VERSION, reason=reason[:MAX_REASON]))

    if still:
        store.write(restamp)
    if not passed:
        return 0
    left: list[Held] = []
    store.ingest(passed, release=[e.id for e in passed], held=left)
    return len(passed) - len(left)

"""The local store: one SQLite file holding the event log and its projections."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from app.core import events as ev
from app.core.changes import Changes
from app.core.commands import EventFactory
from app.core.hlc import HybridClock
from app.core.ids import uuid7
from app.store import schema as s
from app.store.conflicts import after_ingest, before_ingest
from app.store.db import StoreError, describe_error, open_engine
from app.store.projector import apply_events, bulk_insert, event_row, row_event
from app.store.queries import case_route_team
from app.store.rebuild import rebuild_projections

T = TypeVar("T")
# Device codes always hold a digit and team prefixes never do, so the two key forms
# (K7QF-12 provisional, SUP-1042 from the server) can never collide.
_CODE_LETTERS = "ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_DIGITS = "23456789"
DEFAULT_ACTOR = "me@localhost"


def _device_code() -> str:
    chars = [secrets.choice(_CODE_LETTERS) for _ in range(3)]
    chars.insert(secrets.randbelow(4), secrets.choice(_CODE_DIGITS))
    return "".join(chars)


class Store:
    def __init__(self, path: Path, *, migrate: bool = True,
                 check: bool | str = "auto") -> None:
        """Open (and create or migrate) the store.

        ``check="auto"`` runs SQLite's quick_check when the last session did not close
        cleanly or the last check is more than a day old (it reads the whole file: about a
        second per 500 MB, too slow for every start); ``True`` always, ``False`` never.
        """
        self.path = Path(path)
        self.engine = open_engine(self.path, migrate=migrate, check=check is True)
        self._write_lock = threading.Lock()
        meta: dict[str, str] = self.read(lambda c: {
            r[0]: r[1] for r in c.execute(select(s.meta.c.key, s.meta.c.value))})
        now_ms = int(time.time() * 1000)
        if check == "auto" and (meta.get("clean_shutdown") == "0"
                                or now_ms - int(meta.get("last_check_ms", "0")) > 86_400_000):
            self.verify_integrity()
            meta["last_check_ms"] = str(now_ms)
        updates: dict[str, str] = {"clean_shutdown": "0"}
        if "last_check_ms" in meta:
            updates["last_check_ms"] = meta["last_check_ms"]
        if "device_id" not in meta:
            updates["device_id"] = uuid7()
            updates["device_code"] = _device_code()
        if updates:
            self._write(lambda c: [self._set_meta(c, k, v) for k, v in updates.items()])
            meta.update(updates)
        self.device_id = meta["device_id"]
        self.device_code = meta["device_code"]
        self.actor = meta.get("actor", DEFAULT_ACTOR)
        self.clock = HybridClock(meta.get("hlc"))

    def close(self) -> None:
        try:
            self._write(lambda c: self._set_meta(c, "clean_shutdown", "1"))
        except StoreError:
            pass  # a store that cannot be written is checked again on the next open
        self.engine.dispose()

    def verify_integrity(self) -> None:
        """Run SQLite's quick_check; raise StoreCorrupt with the repair hint if it fails."""
        from app.store.db import StoreCorrupt, quick_check

        try:
            result = quick_check(self.engine)
        except (OperationalError, DatabaseError) as exc:
            raise describe_error(exc.orig or exc, self.path) from exc
        if result != "ok":
            raise StoreCorrupt(f"The database {self.path} failed its integrity check ({result}). "
                               "Run `smart-support check --repair`.")

    # --- transactions -------------------------------------------------------------------
    def read(self, fn: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as conn:
                return fn(conn)
        except (OperationalError, DatabaseError) as exc:
            raise describe_error(exc.orig or exc, self.path) from exc

    def _write(self, fn: Callable[[Connection], T]) -> T:
        with self._write_lock:
            try:
                with self.engine.connect().execution_options(write=True) as conn:
                    with conn.begin():
                        return fn(conn)
            except (OperationalError, DatabaseError) as exc:
                if isinstance(exc, IntegrityError):
                    raise StoreError(f"The change was refused by the database: {exc.orig}") from exc
                raise describe_error(exc.orig or exc, self.path) from exc

    @staticmethod
    def _set_meta(conn: Connection, key: str, value: str) -> None:
        conn.execute(s.meta.insert().prefix_with("OR REPLACE"), {"key": key, "value": value})

    def set_actor(self, actor: str) -> None:
        self._write(lambda c: self._set_meta(c, "actor", actor))
        self.actor = actor

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        value = self.read(lambda c: c.execute(
            select(s.meta.c.value).where(s.meta.c.key == key)).scalar())
        return default if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        self._write(lambda c: self._set_meta(c, key, value))

    def write(self, fn: Callable[[Connection], T]) -> T:
        """A local-only write (saved views, settings): no events."""
        return self._write(fn)

    def get_default_team(self, conn: Connection) -> str | None:
        value = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "default_team")).scalar()
        if value:
            return str(value)
        return conn.execute(select(s.teams.c.id).order_by(s.teams.c.name).limit(1)).scalar()

    def factory(self) -> EventFactory:
        return EventFactory(actor=self.actor, device_id=self.device_id, clock=self.clock)

    def next_provisional_key(self, conn: Connection) -> str:
        value = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "key_counter")).scalar()
        n = int(value or 0) + 1
        self._set_meta(conn, "key_counter", str(n))
        return f"{self.device_code}-{n}"

    # --- recording ----------------------------------------------------------------------
    def record(self, build: Callable[[Connection, EventFactory], list[ev.Event]],
               *, label: str, undoable: bool = True) -> Changes:
        """Build events from the current state and record them, all in one transaction."""

        def tx(conn: Connection) -> Changes:
            events = build(conn, self.factory())
            if not events:
                return Changes(message="nothing to change")
            op_id = uuid7() if undoable else None
            for e in events:
                e.op_id = op_id
                if e.case_id and e.team_id is None:  # the server refuses an event with no team
                    e.team_id = case_route_team(conn, e.case_id)
            conn.execute(insert(s.events), [event_row(e) for e in events])
            touched = apply_events(conn, events)
            if op_id:
                conn.execute(insert(s.operations), {
                    "id": op_id, "label": label, "event_ids": json.dumps([e.id for e in events]),
                    "created_ms": int(time.time() * 1000), "undone": False})
            self._set_meta(conn, "hlc", self.clock.last)
            return _changes_for(events, touched, label)

        return self._write(tx)

    def ingest(self, remote: Iterable[ev.Event], *, cursor: int | None = None,
               held: list[Any] | None = None, release: Iterable[str] = ()) -> Changes:
        """Store events from the server: new ones are applied, known ones get their seq.

        ``cursor`` (the last server_seq of a pulled page) is saved in the same transaction,
        so a crash anywhere resumes from a consistent point. ``held`` (quarantine.Held
        items: pulled items this build cannot apply) are stored in that same transaction;
        an event the projector still fails on is appended to ``held`` and stored too,
        instead of failing the page. ``release`` names quarantined ids being re-applied.
        """
        from app.store import quarantine as qt

        def tx(conn: Connection) -> Changes:
            if release:
                qt.release(conn, release)
            incoming = list(remote)
            known: dict[str, int | None] = {}
            ids = [e.id for e in incoming]
            for i in range(0, len(ids), 500):
                rows = conn.execute(select(s.events.c.id, s.events.c.server_seq)
                                    .where(s.events.c.id.in_(ids[i:i + 500])))
                for event_id, seq in rows:
                    known[event_id] = seq
            barred = qt.held_ids(conn, ids) | {h.id for h in held or []}
            fresh: list[ev.Event] = []
            acks: list[tuple[int, str]] = []
            for e in incoming:
                if e.id in barred:
                    continue  # a held id is never also applied
                self.clock.observe(e.hlc)
                if e.id not in known:
                    known[e.id] = e.server_seq
                    fresh.append(e)
                elif known[e.id] is None and e.server_seq is not None:
                    acks.append((e.server_seq, e.id))  # our own event, back from the server
            if acks:
                conn.exec_driver_sql("UPDATE events SET server_seq = ? WHERE id = ? "
                                     "AND server_seq IS NULL", acks)
            applied, touched, conflicted, failed = _apply_isolated(conn, fresh, self.device_id)
            hold = held if held is not None else []
            hold.extend(qt.for_event(e, reason) for e, reason in failed)
            hold[:] = qt.not_logged(conn, hold)
            qt.store_held(conn, hold)
            self._set_meta(conn, "hlc", self.clock.last)
            if cursor is not None:
                self._set_meta(conn, "pull_cursor", str(cursor))
            changes = _changes_for(applied, touched, "sync")
            changes.remote = True
            changes.conflict_case_ids = conflicted
            changes.sync = True
            return changes

        return self._write(tx)

    def undo_last(self) -> Changes:
        def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
            op = conn.execute(select(s.operations).where(s.operations.c.undone.is_(False))
                              .order_by(s.operations.c.created_ms.desc(),
                                        s.operations.c.id.desc()).limit(1)).first()
            if op is None:
                raise StoreError("There is nothing to undo.")
            ids = json.loads(op.event_ids)
            rows = conn.execute(select(s.events).where(s.events.c.id.in_(ids))).all()
            order = {eid: i for i, eid in enumerate(ids)}
            original = sorted((row_event(r) for r in rows), key=lambda e: order[e.id])
            conn.execute(update(s.operations).where(s.operations.c.id == op.id)
                         .values(undone=True))
            from app.core.commands import inverse

            return inverse(f, original)

        changes = self.record(build, label="undo", undoable=False)
        return changes

    def last_undoable_label(self) -> str | None:
        return self.read(lambda c: c.execute(
            select(s.operations.c.label).where(s.operations.c.undone.is_(False))
            .order_by(s.operations.c.created_ms.desc(), s.operations.c.id.desc()).limit(1)
        ).scalar())

    def bulk_load(self, events: list[ev.Event]) -> None:
        """Append many events and fold them in memory, in one transaction (demo, import)."""
        from app.store.rebuild import Folded, load_folded

        def tx(conn: Connection) -> None:
            bulk_insert(conn, s.events, (event_row(e) for e in events))
            folded = Folded()
            for e in events:
                folded.add(e)
            load_folded(conn, folded)
            self._set_meta(conn, "hlc", self.clock.last)

        self._write(tx)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        return self._write(lambda c: rebuild_projections(c, progress))

    def outbox_count(self) -> int:
        from sqlalchemy import func

        return int(self.read(lambda c: c.execute(
            select(func.count()).select_from(s.events).where(
                s.events.c.server_seq.is_(None), s.events.c.sync_error.is_(None))
        ).scalar() or 0))

    def adopt_teamless(self, team_id: str, *, actor: str | None = None,
                       first_sign_in: bool = False) -> int:
        """Give work done before signing in a team and (``actor``) the signed-in agent as
        author. Only events that never left this device are rewritten (app/store/adopt.py);
        the server stores only events of the signed-in user in one of their teams."""
        from app.store.adopt import adopt_unsynced

        count = self._write(lambda c: adopt_unsynced(
            c, team_id, actor=actor, placeholder=DEFAULT_ACTOR, anyone=first_sign_in))

        def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
            # Only a case whose creation already reached the server lacks a team now.
            from app.core.commands import set_fields
            from app.store.projector import load_case

            ids = conn.execute(select(s.cases.c.id).where(
                s.cases.c.team_id.is_(None), s.cases.c.exists.is_(True))).scalars().all()
            out: list[ev.Event] = []
            for case_id in ids:
                state = load_case(conn, case_id)
                if state is not None:
                    out += set_fields(f, state, {"team_id": team_id})
            return out

        self.record(build, label="assign team to cases made before signing in", undoable=False)
        return count

    def mark_pushed(self, results: list[tuple[str, int | None, str | None]]) -> None:
        """Record the server's answer per event: its seq, or the reason it was refused."""

        def tx(conn: Connection) -> None:
            stored = [(seq, eid) for eid, seq, _ in results if seq is not None]
            refused = [(err or "refused", eid) for eid, seq, err in results if seq is None]
            if stored:
                conn.exec_driver_sql("UPDATE events SET server_seq = ? WHERE id = ? "
                                     "AND server_seq IS NULL", stored)
            if refused:
                conn.exec_driver_sql("UPDATE events SET sync_error = ? WHERE id = ? "
                                     "AND server_seq IS NULL", refused)

        self._write(tx)


def _apply_page(conn: Connection, fresh: list[ev.Event],
                device_id: str) -> tuple[set[str], set[str]]:
    bulk_insert(conn, s.events, (event_row(e) for e in fresh))
    candidates = before_ingest(conn, fresh, device_id)
    touched = apply_events(conn, fresh)
    return touched, after_ingest(conn, candidates)


def _apply_isolated(conn: Connection, fresh: list[ev.Event], device_id: str) -> tuple[
        list[ev.Event], set[str], set[str], list[tuple[ev.Event, str]]]:
    """Apply a page in a savepoint; if that raises (a projector bug: validated events must
    fold), apply event by event and hand back the ones that fail, so one event cannot
    stop a page. Database faults (disk full, locked) still fail the whole transaction."""
    if not fresh:
        return [], set(), set(), []
    try:
        with conn.begin_nested():
            touched, conflicted = _apply_page(conn, fresh, device_id)
        return fresh, touched, conflicted, []
    except OperationalError:
        raise
    except Exception:  # noqa: BLE001 - isolated below, event by event
        pass
    applied: list[ev.Event] = []
    touched, conflicted = set(), set()
    failed: list[tuple[ev.Event, str]] = []
    for e in fresh:
        try:
            with conn.begin_nested():
                t, c = _apply_page(conn, [e], device_id)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - quarantined with its reason
            failed.append((e, f"could not be applied: {exc.__class__.__name__}: {exc}"[:300]))
            continue
        applied.append(e)
        touched |= t
        conflicted |= c
    return applied, touched, conflicted, failed


# The case field an event type changes (case.updated names its own in the payload).
_FIELD_OF_TYPE = {
    ev.TAG_ADDED: "tags", ev.TAG_REMOVED: "tags", ev.LINK_ADDED: "links",
    ev.LINK_REMOVED: "links", ev.ATTACHMENT_ADDED: "attachments",
    ev.ATTACHMENT_REMOVED: "attachments", ev.CASE_KEY_ASSIGNED: "key",
    ev.CASE_MERGED: "status",
    **dict.fromkeys(ev.INTEGRATION_EVENT_TYPES, "integrations"),  # links and requests
}


def _changes_for(events: list[ev.Event], touched: set[str], label: str) -> Changes:
    changes = Changes(case_ids=touched, event_ids=[e.id for e in events], message=label)
    for e in events:
        if e.type == ev.CASE_CREATED:
            changes.created = changes.membership = True
        elif e.type in (ev.COMMENT_ADDED, ev.COMMENT_REDACTED):
            changes.comments = True
            if e.case_id:
                changes.comment_case_ids.add(e.case_id)
        elif e.type in ev.DIRECTORY_EVENT_TYPES:
            changes.directory = True
        elif e.type == ev.CASE_UPDATED:
            name = e.payload.get("field")
            if isinstance(name, str):
                changes.fields.add(name)
                changes.membership |= name == "deleted"
        elif e.type in _FIELD_OF_TYPE:
            changes.fields.add(_FIELD_OF_TYPE[e.type])
            changes.membership |= e.type == ev.CASE_MERGED
    changes.sync = bool(events)
    return changes


def dump_projections(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row, sorted: two stores with equal dumps have equal state."""
    from app.store.rebuild import PROJECTIONS

    out = {}
    for table in PROJECTIONS:
        rows = conn.execute(select(table)).all()
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out

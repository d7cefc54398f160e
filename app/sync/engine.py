"""One sync round: push the outbox in batches, then pull pages since the saved cursor."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from app.core.changes import Changes
from app.core.events import Event
from app.store import quarantine
from app.store import queries as q
from app.store.repo import Store
from app.sync.api import ApiError, Offline, PulledPage, Unauthorized
from app.sync.session import SyncSession

# Batch sizes; the environment can lower them (slow links, and the kill tests).
PUSH_BATCH = max(1, min(1000, int(os.environ.get("SMART_SUPPORT_SYNC_BATCH", "1000"))))
PULL_PAGE = max(1, min(1000, int(os.environ.get("SMART_SUPPORT_SYNC_PAGE", "1000"))))


# A laptop clock this far from the server's is worth telling the agent about.
CLOCK_WARN_MS = 5 * 60 * 1000
# Whole-batch answers that mean "something in this batch is unacceptable" (an older server
# refusing one bad envelope, or one oversized event): split the batch to find it. Others
# (401, 403, 408, 429, 5xx) say nothing about the events and are raised as before.
_SPLIT_ON = frozenset({400, 413, 422})


@dataclass(slots=True)
class SyncReport:
    pushed: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    pulled: int = 0
    conflicts: int = 0
    blobs_uploaded: int = 0
    quarantined: list[tuple[str, str | None, str]] = field(default_factory=list)
    reapplied: int = 0
    clock_offset_ms: int | None = None  # laptop minus server, when beyond CLOCK_WARN_MS
    changes: Changes = field(default_factory=Changes)

    def summary(self) -> str:
        parts = [f"pushed {self.pushed}", f"pulled {self.pulled}"]
        if self.duplicates:
            parts.append(f"{self.duplicates} already on the server")
        if self.rejected:
            parts.append(f"{len(self.rejected)} refused")
        if self.conflicts:
            parts.append(f"{self.conflicts} conflicting edits (see the cases)")
        if self.quarantined:
            parts.append(f"{len(self.quarantined)} could not be applied (kept aside)")
        if self.reapplied:
            parts.append(f"{self.reapplied} kept aside earlier now applied")
        text = ", ".join(parts)
        warning = clock_warning(self.clock_offset_ms)
        return f"{text}. {warning}" if warning else text

    def to_json(self) -> dict[str, Any]:
        return {"pushed": self.pushed, "duplicates": self.duplicates, "pulled": self.pulled,
                "rejected": [{"id": i, "reason": r} for i, r in self.rejected],
                "conflicts": self.conflicts, "blobs_uploaded": self.blobs_uploaded,
                "quarantined": {"count": len(self.quarantined),
                                "events": [{"id": i, "type": t, "reason": r}
                                           for i, t, r in self.quarantined]},
                "reapplied": self.reapplied, "clock_offset_ms": self.clock_offset_ms}


def clock_warning(offset_ms: int | None) -> str:
    """'Your computer's clock is N min ahead/behind the server', or '' when it is close."""
    if offset_ms is None or abs(offset_ms) <= CLOCK_WARN_MS:
        return ""
    minutes = round(abs(offset_ms) / 60_000)
    amount = f"{minutes} min" if minutes < 120 else f"{round(minutes / 60)} h"
    side = "ahead of" if offset_ms > 0 else "behind"
    return f"Your computer's clock is {amount} {side} the server"


def _splittable(exc: ApiError) -> bool:
    return not isinstance(exc, Unauthorized | Offline) and exc.status in _SPLIT_ON


def _send(session: SyncSession, batch: list[Event]) -> list[dict[str, Any]]:
    """Push ``batch``; a whole-batch refusal is narrowed down by halving, so only the
    event(s) the server cannot take are set aside and the rest still goes."""
    wire = [e.to_wire() for e in batch]

    def send(token: str, w: list[dict[str, Any]] = wire) -> list[dict[str, Any]]:
        return session.api.push(token, w)

    try:
        results = session.call(send)
    except ApiError as exc:
        if not _splittable(exc):
            raise
        if len(batch) == 1:
            return [{"id": batch[0].id, "status": "rejected",
                     "reason": f"refused by the server: {exc}"[:500]}]
        half = len(batch) // 2
        return _send(session, batch[:half]) + _send(session, batch[half:])
    ours = {e.id for e in batch}
    out: list[dict[str, Any]] = []
    for i, r in enumerate(results if isinstance(results, list) else []):
        if not isinstance(r, dict):
            continue
        if r.get("id") not in ours and len(results) == len(batch):
            r = {**r, "id": batch[i].id}  # answered in order, without a usable id
        out.append(r)
    return out


def push(store: Store, session: SyncSession, report: SyncReport,
         cancel: Callable[[], bool] | None = None, size: int = PUSH_BATCH) -> None:
    while not (cancel and cancel()):
        unreadable: list[str] = []

        def read(conn: Connection, u: list[str] = unreadable) -> list[Event]:
            return q.outbox(conn, size, u)

        batch = store.read(read)
        if unreadable:
            store.mark_pushed([(i, None, "unreadable on this device") for i in unreadable])
            report.rejected += [(i, "unreadable on this device") for i in unreadable]
            report.changes.sync = True
        if not batch:
            if unreadable:
                continue
            return
        results = _send(session, batch)
        ours = {e.id for e in batch}
        cases = {e.id: e.case_id for e in batch}
        marks: list[tuple[str, int | None, str | None]] = []
        for r in results:
            if r.get("id") not in ours:
                continue
            status, seq = r.get("status"), r.get("server_seq")
            if status == "rejected":
                reason = str(r.get("reason") or "refused")[:500]
                report.rejected.append((str(r["id"]), reason))
                case_id = cases.get(str(r["id"]))
                if case_id:  # the case view shows the refusal
                    report.changes.case_ids.add(case_id)
                marks.append((str(r["id"]), None, reason))
            elif status in ("stored", "duplicate") and isinstance(seq, int) \
                    and not isinstance(seq, bool) and seq > 0:
                report.pushed += status == "stored"
                report.duplicates += status == "duplicate"
                marks.append((str(r["id"]), seq, None))
            # anything else (a newer server's status, a malformed answer): sent again later
        if not marks:
            return  # the server answered nothing we sent: stop rather than loop
        store.mark_pushed(marks)
        report.changes.sync = True
        resend_after_server_upgrade(store, session)


def resend_after_server_upgrade(store: Store, session: SyncSession) -> int:
    """When the server's event schema changed (it was upgraded), put back into the outbox
    the events it refused only because it did not know their type or version. Returns how
    many; they go in this same round."""
    from app.core.event_schema import refused_for_not_understanding

    schema = getattr(session.api, "server_schema", None)
    if not schema or store.get_meta("server_event_schema") == schema:
        return 0

    def tx(conn: Connection) -> int:
        rows = conn.exec_driver_sql("SELECT id, sync_error FROM events WHERE server_seq IS "
                                    "NULL AND sync_error IS NOT NULL").all()
        again = [(r[0],) for r in rows if refused_for_not_understanding(r[1])]
        if again:
            conn.exec_driver_sql("UPDATE events SET sync_error = NULL WHERE id = ?", again)
        conn.exec_driver_sql("INSERT OR REPLACE INTO meta (key, value) VALUES "
                             "('server_event_schema', ?)", (schema,))
        return len(again)

    return store.write(tx)


def pull(store: Store, session: SyncSession, report: SyncReport,
         cancel: Callable[[], bool] | None = None, size: int = PULL_PAGE) -> None:
    cursor = int(store.get_meta("pull_cursor", "0") or 0)
    while not (cancel and cancel()):
        def fetch(token: str, since: int = cursor) -> PulledPage:
            return session.api.pull_raw(token, since, size)

        page = session.call(fetch)
        # Every pulled item is untrusted: what this build cannot apply is held, verbatim,
        # in the same transaction as the rest of the page and the cursor.
        events, held = quarantine.triage(page.events, now_ms=_now_ms(store, session))
        next_cursor = page.next_cursor
        if page.events or next_cursor != cursor:
            changes = store.ingest(events, cursor=next_cursor, held=held)
            report.pulled += len(changes.event_ids)
            report.conflicts += len(changes.conflict_case_ids)
            report.quarantined += [(h.id, h.type, h.reason) for h in held]
            report.changes.merge(changes)
        cursor = next_cursor
        if not page.has_more:
            return


def _now_ms(store: Store, session: SyncSession) -> int:
    """'Now' for the clock bound: the laptop's clock, or the server's when that is later (a
    laptop whose clock is behind must not hold back every teammate's event as too new)."""
    return max(store.clock.wall_ms(), session.api.server_date_ms or 0)


def note_clock(store: Store, session: SyncSession, report: SyncReport) -> None:
    """Compare the laptop's clock with the server's (its last Date header)."""
    server = session.api.server_date_ms
    if server is None:
        return
    offset = store.clock.wall_ms() - server
    report.clock_offset_ms = offset if abs(offset) > CLOCK_WARN_MS else 0
    try:
        saved = int(store.get_meta("clock_offset_ms", "0") or 0)
    except ValueError:
        saved = 1  # unreadable: write it again
    # Saved when it appears, goes or moves by a minute (not a write every sync).
    if (saved == 0) != (report.clock_offset_ms == 0) or \
            abs(saved - report.clock_offset_ms) > 60_000:
        store.set_meta("clock_offset_ms", str(report.clock_offset_ms))


def sync_once(store: Store, session: SyncSession, cancel: Callable[[], bool] | None = None,
              *, push_batch: int = PUSH_BATCH, pull_page: int = PULL_PAGE) -> SyncReport:
    report = SyncReport()
    if store.read(quarantine.has_due):  # a new build may apply what an older one held
        report.reapplied = quarantine.reapply(store, now_ms=_now_ms(store, session))
    push(store, session, report, cancel, push_batch)
    from app.sync.blobs import upload_missing

    report.blobs_uploaded = upload_missing(store, session)
    pull(store, session, report, cancel, pull_page)
    note_clock(store, session, report)
    if resend_after_server_upgrade(store, session):  # learnt from this round's answers
        push(store, session, report, cancel, push_batch)
    return report

"""One sync round: push the outbox in batches, then pull pages since the saved cursor."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.changes import Changes
from app.core.events import Event
from app.store import queries as q
from app.store.repo import Store
from app.sync.session import SyncSession

# Batch sizes; the environment can lower them (slow links, and the kill tests).
PUSH_BATCH = max(1, min(1000, int(os.environ.get("SMART_SUPPORT_SYNC_BATCH", "1000"))))
PULL_PAGE = max(1, min(1000, int(os.environ.get("SMART_SUPPORT_SYNC_PAGE", "1000"))))


@dataclass(slots=True)
class SyncReport:
    pushed: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    pulled: int = 0
    conflicts: int = 0
    blobs_uploaded: int = 0
    changes: Changes = field(default_factory=Changes)

    def summary(self) -> str:
        parts = [f"pushed {self.pushed}", f"pulled {self.pulled}"]
        if self.duplicates:
            parts.append(f"{self.duplicates} already on the server")
        if self.rejected:
            parts.append(f"{len(self.rejected)} refused")
        if self.conflicts:
            parts.append(f"{self.conflicts} conflicting edits (see the cases)")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"pushed": self.pushed, "duplicates": self.duplicates, "pulled": self.pulled,
                "rejected": [{"id": i, "reason": r} for i, r in self.rejected],
                "conflicts": self.conflicts, "blobs_uploaded": self.blobs_uploaded}


def push(store: Store, session: SyncSession, report: SyncReport,
         cancel: Callable[[], bool] | None = None, size: int = PUSH_BATCH) -> None:
    while not (cancel and cancel()):
        batch = store.read(lambda c: q.outbox(c, size))
        if not batch:
            return
        wire = [e.to_wire() for e in batch]
        def send(token: str, w: list[dict[str, Any]] = wire) -> list[dict[str, Any]]:
            return session.api.push(token, w)

        results = session.call(send)
        marks: list[tuple[str, int | None, str | None]] = []
        for r in results:
            if r["status"] == "rejected":
                report.rejected.append((r["id"], r.get("reason") or "refused"))
                marks.append((r["id"], None, r.get("reason") or "refused"))
            else:
                report.pushed += r["status"] == "stored"
                report.duplicates += r["status"] == "duplicate"
                marks.append((r["id"], int(r["server_seq"]), None))
        answered = {r["id"] for r in results}
        if not answered & {e.id for e in batch}:
            return  # the server answered nothing we sent: stop rather than loop
        store.mark_pushed(marks)
        report.changes.sync = True


def pull(store: Store, session: SyncSession, report: SyncReport,
         cancel: Callable[[], bool] | None = None, size: int = PULL_PAGE) -> None:
    cursor = int(store.get_meta("pull_cursor", "0") or 0)
    while not (cancel and cancel()):
        def fetch(token: str, since: int = cursor) -> dict[str, Any]:
            return session.api.pull(token, since, size)

        page = session.call(fetch)
        events = [Event.from_wire(e) for e in page["events"]]
        next_cursor = int(page["next_cursor"])
        if events or next_cursor != cursor:
            changes = store.ingest(events, cursor=next_cursor)
            report.pulled += len(changes.event_ids)
            report.conflicts += len(changes.conflict_case_ids)
            report.changes.merge(changes)
        cursor = next_cursor
        if not page.get("has_more"):
            return


def sync_once(store: Store, session: SyncSession, cancel: Callable[[], bool] | None = None,
              *, push_batch: int = PUSH_BATCH, pull_page: int = PULL_PAGE) -> SyncReport:
    report = SyncReport()
    push(store, session, report, cancel, push_batch)
    from app.sync.blobs import upload_missing

    report.blobs_uploaded = upload_missing(store, session)
    pull(store, session, report, cancel, pull_page)
    return report

"""Rebuilding every projection from the event log (recovery, and the proof of determinism)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, delete, select

from app.core import events as ev
from app.core.fold import (
    AttachmentState,
    CaseState,
    CommentState,
    apply_attachment_event,
    apply_case_event,
    apply_comment_event,
    apply_directory_event,
    attachment_id_of,
    comment_id_of,
)
from app.core.integrations import IntegrationFold
from app.store import schema as s
from app.store.integration_tables import write_fold
from app.store.projector import (
    attachment_row,
    bulk_insert,
    case_row,
    comment_row,
    directory_row,
    key_of,
    row_event,
)

PROJECTIONS = (s.attachments, s.case_keys, s.case_tags, s.case_links, s.comments, s.cases, s.customers,
               s.organizations, s.agents, s.teams, s.integration_links,
               s.integration_requests)


class Folded:
    """Projection state folded in memory, ready to be written in bulk."""

    def __init__(self) -> None:
        self.cases: dict[str, CaseState] = {}
        self.comments: dict[str, CommentState] = {}
        self.directory: dict[str, dict[str, dict[str, Any]]] = {
            name: {} for name in s.DIRECTORY_TABLES}
        self.keys: dict[str, tuple[str, str]] = {}  # key -> (claim clock, case id)
        self.attachments: dict[str, AttachmentState] = {}
        self.integrations = IntegrationFold()

    def add(self, e: ev.Event) -> None:
        if e.type in ev.INTEGRATION_EVENT_TYPES:
            self.integrations.add(e)
        if e.case_id and e.type in ev.CASE_EVENT_TYPES:
            state = self.cases.get(e.case_id)
            if state is None:
                state = self.cases[e.case_id] = CaseState(id=e.case_id)
            apply_case_event(state, e)
            key = key_of(e)
            if key and (key not in self.keys or e.clock < self.keys[key][0]):
                self.keys[key] = (e.clock, e.case_id)  # the earliest claim wins
            aid = attachment_id_of(e)
            if aid is not None:
                att = self.attachments.get(aid)
                if att is None:
                    att = self.attachments[aid] = AttachmentState(id=aid, case_id=e.case_id)
                apply_attachment_event(att, e)
            cid = comment_id_of(e)
            if cid is not None:
                comment = self.comments.get(cid)
                if comment is None:
                    comment = self.comments[cid] = CommentState(id=cid, case_id=e.case_id)
                apply_comment_event(comment, e)
        elif e.type in ev.DIRECTORY_EVENT_TYPES:
            apply_directory_event(self.directory[ev.DIRECTORY_EVENT_TYPES[e.type]], e)

    def write(self, conn: Connection) -> None:
        def bulk(table: Any, rows: Iterable[dict[str, Any]]) -> None:
            bulk_insert(conn, table, rows)

        bulk(s.cases, (case_row(c) for c in self.cases.values()))
        bulk(s.case_keys, ({"key": k, "case_id": case_id, "clock": clock}
                           for k, (clock, case_id) in self.keys.items()))
        bulk(s.case_tags, ({"case_id": c.id, "tag": t, "clock": ck, "present": p}
                           for c in self.cases.values() for t, (ck, p) in c.tags.items()))
        bulk(s.case_links, ({"case_id": c.id, "other_id": k.partition(":")[2],
                             "kind": k.partition(":")[0], "clock": ck, "present": p}
                            for c in self.cases.values() for k, (ck, p) in c.links.items()))
        bulk(s.comments, (comment_row(c) for c in self.comments.values()))
        bulk(s.attachments, (attachment_row(a) for a in self.attachments.values()))
        write_fold(conn, self.integrations)
        for name, records in self.directory.items():
            bulk(s.DIRECTORY_TABLES[name], (directory_row(name, r) for r in records.values()))


def rebuild_projections(conn: Connection,
                        progress: Callable[[int], None] | None = None) -> int:
    """Replace every projection with a fresh fold of the log. Caller owns the transaction."""
    folded = Folded()
    count = 0
    for row in conn.execute(select(s.events).order_by(s.events.c.seq)).yield_per(5000):
        folded.add(row_event(row))
        count += 1
        if progress and count % 50_000 == 0:
            progress(count)
    for table in PROJECTIONS:
        conn.execute(delete(table))
    folded.write(conn)
    return count


def load_folded(conn: Connection, folded: Folded) -> None:
    """Write freshly folded state; when projections already hold data, rebuild them all."""
    empty = all(conn.execute(select(t).limit(1)).first() is None for t in PROJECTIONS)
    if empty:
        folded.write(conn)
    else:
        rebuild_projections(conn)

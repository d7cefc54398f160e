"""The sidebar's counts: how many cases each view lists, read again only when a change
may have moved one (a counted field, list membership, a saved view, an "updated within"
window a case entered)."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.changes import Changes
from app.operations.insights import count_sla
from app.operations.lists import FILTERED_FIELDS, UPDATED, CaseFilter, count_scope, counts_change
from app.operations.navigation import BUILTIN_VIEWS, load_counts, parse_query
from app.ui.bridge import Bridge, describe
from app.ui.case_list import CaseTableModel
from app.ui.sidebar import Sidebar

DAY_MS = 86_400_000


class ViewCounts(QObject):
    """Fills ``sidebar``'s counts; ``model`` (the list on screen) tells which changed cases
    were already recently updated."""

    sig_error = Signal(str)
    """str: a count failed; the message is meant for the agent."""

    def __init__(self, bridge: Bridge, sidebar: Sidebar, model: CaseTableModel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.sidebar = sidebar
        self.model = model
        self.loading = False
        self.refreshes = 0  # how many times the counts were read (tests count them)
        # What the counts read (all a filter can, until the saved views are known).
        self.fields: set[str] = set(FILTERED_FIELDS)
        self.windows: list[int] = count_scope(counted_filters([]))[1]

    def on_changes(self, changes: Changes) -> None:
        if counts_change(changes, self.fields, self.known_recent):
            self.refresh()

    def known_recent(self, case_id: str) -> bool:
        """The list shows ``case_id`` as updated within every counted window already."""
        if not self.windows:
            return True
        row = self.model.row_of(case_id)
        if row < 0:
            return False
        updated = self.model.rows()[row][UPDATED] or 0
        return bool(updated >= time.time() * 1000 - min(self.windows) * DAY_MS)

    def refresh(self) -> None:
        self.loading = True
        self.refreshes += 1

        def done(data: dict[str, Any]) -> None:
            self.loading = False
            self.fields, self.windows = count_scope(counted_filters(data.get("saved", [])))
            self.sidebar.set_counts(data)

        def failed(exc: Exception) -> None:
            self.loading = False
            self.sig_error.emit(describe(exc))

        self.bridge.query(load_counts, self.bridge.store.actor, on_done=done, on_error=failed)

    def refresh_sla(self, analytics: Any) -> None:
        """The SLA queues' counts (the analytics read model; a background refresh)."""
        self.bridge.read(count_sla, analytics, int(time.time() * 1000),
                         on_done=self.sidebar.set_extra_counts,
                         on_error=lambda e: self.sig_error.emit(describe(e)), track=False)


def counted_filters(saved: list[dict[str, Any]]) -> list[CaseFilter]:
    """The filters the counts use: the built-in views' and the saved views' (a saved search
    is counted by the index, a query that no longer parses not at all)."""
    out = [flt for _title, flt, _sort in BUILTIN_VIEWS.values()]
    for view in saved:
        query = str(view.get("query", ""))
        if query.startswith("search:"):
            continue
        try:
            out.append(parse_query(query))
        except ValueError:
            continue
    return out

"""The case list: loading a view (first page, then the rest), sorting, the time-left column,
the selection, and keeping rows current after an edit without fetching the view again.

A change whose fields the view's filter does not read updates just the changed rows (one
read), moved in memory when it touched the sort key; a change that may move cases in or out
of the view (membership, a created case, a filter field) reloads it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelectionModel, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMenu

from app.core.changes import Changes
from app.operations.insights import SLA_VIEWS, load_due
from app.operations.lists import (
    DUE,
    FIELD_OF_COLUMN,
    FIELD_OF_SORT,
    Row,
    Update,
    fetch_rows,
    filter_fields,
    moves_rows,
    plan_update,
    query_order,
    refreshed_list,
    sort_rows,
    view_filter,
)
from app.ui.bridge import Bridge, describe
from app.ui.case_list import COLUMNS, DUE_COLUMN, CaseTable, CaseTableModel, Due
from app.ui.sidebar import View

if TYPE_CHECKING:
    from app.operations.lists import CaseFilter
    from app.operations.store import Store

FIRST_PAGE = 200
DEFAULT_VIEW = "my-open"
RELOAD_DELAY_MS = 120  # coalesces a burst of changes into one reload


class ListController(QObject):
    """Owns the case table and its model; loads the current view on reader threads."""

    sig_loaded = Signal()
    """The list finished loading (all rows of the current view are in the model)."""

    sig_count = Signal(str)
    """str: the line beside the view's title ("1,234 cases", "loading…")."""

    sig_current_case = Signal(str)
    """str: the case the detail pane should show (the current row, or a case selected that
    is not in the list)."""

    sig_filter_invalid = Signal(object)
    """str | None: why the filter field does not parse (None: it does again)."""

    sig_error = Signal(str)
    """str: a read failed; the message is meant for the agent."""

    sig_open_case = Signal(str)
    """str: open this case in a tab (a double click, Return, the context menu)."""

    sig_edit_selected = Signal()
    """Edit the selected cases together (the context menu)."""

    def __init__(self, bridge: Bridge, analytics: Any, parent: QObject | None = None, *,
                 filter_text: Callable[[], str] = lambda: "",
                 pane_case: Callable[[], str | None] = lambda: None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.store: Store = bridge.store
        self.analytics = analytics  # AnalyticsController: .ready, .model, .start()
        self.filter_text = filter_text
        self.pane_case = pane_case  # the case the detail pane shows
        self.view = View(DEFAULT_VIEW, "My open cases", "", "updated")
        self.sort_column: int | None = None  # a COLUMNS index chosen in the header
        self.descending = True
        self.list_loading = False
        self.rows_refreshing = False
        self.blocked: Callable[[], bool] = lambda: False  # the list is not on screen
        self.on_first_page: Callable[[Callable[[], None]], None] | None = None
        self.pending_select: str | None = None
        self._generation = 0
        self._started = False
        self._due_loading = self._due_again = False
        self._pending_ids: set[str] = set()
        self._pending_moves = False
        self.model = CaseTableModel()
        self.model.sig_sort_requested.connect(self._sort_requested)
        self.table = CaseTable(self.model)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.sig_visible_changed.connect(self.load_visible_due)
        self.table.sig_activated_case.connect(self.sig_open_case)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        self.table.setMinimumWidth(360)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(RELOAD_DELAY_MS)
        self.refresh_timer.timeout.connect(lambda: self.reload(first_page=False))

    # --- the view -----------------------------------------------------------------------
    def current_filter(self) -> CaseFilter:
        """The filter of the current view and filter field; raises ValueError on a bad one."""
        return view_filter(self.view.id, self.view.builtin, self.view.query, self.filter_text())

    def source(self) -> tuple[str, Any] | None:
        if self.view.id in SLA_VIEWS:
            return ("sla", SLA_VIEWS[self.view.id][1])
        if "ids" in self.view.extra:
            return ("ids", list(self.view.extra["ids"]))
        return None

    def set_view(self, view: View) -> None:
        """Show ``view`` sorted its own way (SLA queues: soonest deadline first)."""
        self.view = view
        self.sort_column = None
        self.descending = view.id not in SLA_VIEWS
        self.model.suppress_sort = True
        header = self.table.horizontalHeader()
        if view.id in SLA_VIEWS:
            header.setSortIndicator(DUE_COLUMN, Qt.SortOrder.AscendingOrder)
        else:
            header.setSortIndicator(6, Qt.SortOrder.DescendingOrder)
        self.model.suppress_sort = False
        self.reload()

    def invalidate(self) -> None:
        """Drop any load in flight (its answer must not land on what shows now)."""
        self._generation += 1
        self.list_loading = False

    def sort_spec(self) -> tuple[str, int | None]:
        """(query sort, header column to sort in memory or None)."""
        if self.sort_column is None:
            return self.view.sort, None
        name = COLUMNS[self.sort_column][2]
        return (name, None) if name else ("updated", self.sort_column)

    def sort_field(self) -> str | None:
        """The case field the rows on screen are ordered by (None: an order no edit moves)."""
        if self.sort_column is not None:
            return FIELD_OF_COLUMN.get(COLUMNS[self.sort_column][1])
        return None if self.source() is not None else FIELD_OF_SORT.get(self.view.sort)

    # --- loading ------------------------------------------------------------------------
    def reload(self, first_page: bool = True) -> None:
        """Load the current view on reader threads: a first page at once, then the rest."""
        if self.blocked():
            return
        source = self.source()
        try:
            flt = self.current_filter() if source is None else None
        except ValueError as exc:
            self.sig_filter_invalid.emit(str(exc))
            return
        self.sig_filter_invalid.emit(None)
        self._generation += 1
        generation = self._generation
        self.list_loading = True
        sort, column = self.sort_spec()
        by = COLUMNS[column][1] if column is not None else None
        analytics = self.analytics.model
        if source is not None and source[0] == "sla" and analytics is None:
            self.sig_count.emit("loading SLA clocks…")
            self.analytics.start()  # analytics_ready reloads the view
            self.list_loading = False
            self.model.set_rows([])
            return

        def failed(exc: Exception) -> None:
            self._failed(generation, exc)

        if by is not None or source is not None:
            # A column the query cannot sort, or rows that are not a filter: on the worker.
            self.bridge.read(fetch_rows, self.store, flt, sort, self.descending, None, by,
                             analytics, source,
                             on_done=lambda r: self._loaded(generation, r, full=True,
                                                            replace_all=True),
                             on_error=failed)
            return

        def full_load(replace_all: bool) -> None:
            if generation != self._generation:
                return
            self.bridge.read(fetch_rows, self.store, flt, sort, self.descending, None,
                             on_done=lambda r: self._loaded(generation, r, full=True,
                                                            replace_all=replace_all),
                             on_error=failed)

        if not first_page:
            full_load(True)
            return

        def first_done(result: tuple[list[Row], Any]) -> None:
            self._loaded(generation, result, full=False, replace_all=True)
            if not self._started and self.on_first_page is not None:
                # The first page is on screen: let it paint, then start everything else.
                self._started = True
                start = self.on_first_page
                QTimer.singleShot(0, lambda: start(lambda: full_load(False)))
                return
            full_load(False)  # only now: the first page had the reader to itself

        self.bridge.read(fetch_rows, self.store, flt, sort, self.descending, FIRST_PAGE,
                         on_done=first_done, on_error=failed)

    def _failed(self, generation: int, exc: Exception) -> None:
        if generation == self._generation:
            self.list_loading = False
        self.sig_error.emit(describe(exc))

    def _loaded(self, generation: int, result: tuple[list[Row], dict[str, Due] | None], *,
                full: bool, replace_all: bool) -> None:
        if generation != self._generation:
            return
        rows, deadlines = result
        if deadlines is not None:
            self.model.set_deadlines(deadlines)
        self.sig_count.emit(f"{len(rows):,} cases" if full else "loading…")
        if not replace_all and not full:
            return
        self._put_rows(rows, keep=full and not replace_all)
        if full:
            self.list_loading = False
            self._next_refresh()
            if self.pending_select:
                self.select_case(self.pending_select)
                self.pending_select = None
            elif self.table.currentIndex().row() < 0 and self.model.rowCount() and \
                    self.pane_case() is None:
                self.table.selectRow(0)
            self.sig_loaded.emit()
        elif self.table.currentIndex().row() < 0 and self.model.rowCount():
            if self.pending_select and self.model.row_of(self.pending_select) >= 0:
                self.select_case(self.pending_select)
                self.pending_select = None
            else:
                self.table.selectRow(0)

    def _put_rows(self, rows: list[Row], *, keep: bool) -> None:
        """Show ``rows``; ``keep``: the rows on screen lead them (the first page), so they
        stay (and the selection with them) and the rest is appended."""
        old = self.model.rows()
        if keep and len(old) <= len(rows) and \
                all(a[0] == b[0] for a, b in zip(old, rows, strict=False)):
            if len(old) == len(rows):
                self.model.update_rows(rows)
            else:
                self.model.append_rows(rows[len(old):])
                if any(a != b for a, b in zip(old, rows, strict=False)):
                    self.model.update_rows(rows)
            return
        current_id = self.model.case_id(self.table.currentIndex().row())
        selected = set(self.table.selected_case_ids())
        self.model.set_rows(rows)
        self.restore_selection(current_id, selected)

    # --- sorting ------------------------------------------------------------------------
    def _sort_requested(self, column: int, descending: bool) -> None:
        self.sort_column = column
        self.descending = descending
        rows = self.model.rows()
        if rows and not self.list_loading and not self.blocked() \
                and column != DUE_COLUMN:  # deadlines are only loaded for visible rows
            # Everything is loaded: sort a copy in memory on a reader thread (about 60 ms for
            # 50,000 rows) instead of asking SQLite to sort the whole view again.
            self._generation += 1
            generation = self._generation
            self.list_loading = True
            self.bridge.read(sort_rows, list(rows), COLUMNS[column][1], descending,
                             dict(self.model.deadlines),
                             on_done=lambda r: self._loaded(generation, (r, None), full=True,
                                                            replace_all=True),
                             on_error=lambda e: self._failed(generation, e))
            return
        self.reload()

    def _order(self) -> Callable[[list[Row]], list[Row]] | None:
        """The rows' order on screen, redone in memory (None: none an edit can move)."""
        descending = self.descending
        if self.sort_column is not None:
            field = COLUMNS[self.sort_column][1]
            if field == DUE:
                return None  # deadlines reload with the read model
            deadlines = dict(self.model.deadlines)
            return lambda rows: sort_rows(rows, field, descending, deadlines)
        return None if self.source() is not None else query_order(self.view.sort, descending)

    # --- changes ------------------------------------------------------------------------
    def on_changes(self, changes: Changes) -> None:
        """Keep the list current: rows in place when the view keeps its cases, else reload."""
        if self.blocked():
            return
        reads: set[str] | None = None
        if self.source() is None:
            try:
                reads = filter_fields(self.current_filter())
            except ValueError:
                return  # the filter field is invalid: nothing is listed from it
        in_list = [c for c in sorted(changes.case_ids) if self.model.row_of(c) >= 0]
        plan = plan_update(changes, reads=reads, in_list=in_list)
        if plan is Update.RELOAD or (plan is Update.ROWS and self.list_loading):
            self.refresh_timer.start()  # a load in flight may predate the change
        elif plan is Update.ROWS:
            self.refresh_rows(in_list, moved=moves_rows(changes, self.sort_field()))

    def refresh_rows(self, case_ids: list[str], *, moved: bool = False) -> None:
        """Read these rows again (one read) and show them in place, in order again when
        ``moved``. One refresh at a time: a later one waits and merges."""
        if self.rows_refreshing:
            self._pending_ids |= set(case_ids)
            self._pending_moves |= moved
            return
        self.rows_refreshing = True
        generation = self._generation
        order = self._order() if moved else None

        def done(rows: list[Row]) -> None:
            self.rows_refreshing = False
            if generation == self._generation and not self.list_loading:
                self._show_rows(rows)
            else:
                # The rows were replaced meanwhile (e.g. an in-memory sort of the rows before
                # this change): read these again into what shows, once it is loaded.
                self._pending_ids |= set(case_ids)
                self._pending_moves |= moved
            self._next_refresh()

        def failed(exc: Exception) -> None:
            self.rows_refreshing = False
            self.sig_error.emit(describe(exc))
            self._next_refresh()

        self.bridge.read(refreshed_list, self.store, list(self.model.rows()), case_ids, order,
                         on_done=done, on_error=failed)

    def _next_refresh(self) -> None:
        if self.rows_refreshing or self.list_loading:
            return  # after the refresh or the load in flight
        ids = sorted(c for c in self._pending_ids if self.model.row_of(c) >= 0)
        moved = self._pending_moves
        self._pending_ids, self._pending_moves = set(), False
        if ids:
            self.refresh_rows(ids, moved=moved)

    def _show_rows(self, rows: list[Row]) -> None:
        old = self.model.rows()
        if len(old) == len(rows) and all(a[0] == b[0] for a, b in zip(old, rows, strict=True)):
            self.model.update_rows(rows)
        else:
            self.model.reorder_rows(rows)

    # --- time left (the SLA read model) -------------------------------------------------
    def analytics_updated(self) -> None:
        self.model.set_deadlines({}, replace=True)
        self.load_visible_due(*self.table.visible_rows())
        if self.view.id in SLA_VIEWS:
            self.refresh_timer.start()

    def load_visible_due(self, first: int, last: int) -> None:
        """Time left for the rows on screen only (the analytics read model, a reader)."""
        if not self.analytics.ready or not self.model.rowCount():
            return
        if self._due_loading:
            self._due_again = True
            return
        ids = self.model.missing_deadlines(first, last)
        if not ids:
            return
        self._due_loading = True

        def done(deadlines: dict[str, Due]) -> None:
            self._due_loading = False
            self.model.set_deadlines(deadlines)
            if self._due_again:
                self._due_again = False
                self.load_visible_due(*self.table.visible_rows())

        def failed(exc: Exception) -> None:
            self._due_loading = False
            self.sig_error.emit(describe(exc))

        self.bridge.read(load_due, self.analytics.model, ids, int(time.time() * 1000),
                         on_done=done, on_error=failed, track=False)

    # --- selection ----------------------------------------------------------------------
    def restore_selection(self, current_id: str | None, selected: set[str]) -> None:
        if not current_id:
            return
        row = self.model.row_of(current_id)
        if row < 0:
            return
        sm = self.table.selectionModel()
        sm.blockSignals(True)
        flags = QItemSelectionModel.SelectionFlag
        for cid in selected:
            r = self.model.row_of(cid)
            if r >= 0:
                sm.select(self.model.index(r, 0), flags.Select | flags.Rows)
        sm.setCurrentIndex(self.model.index(row, 0), flags.Current | flags.Rows | flags.Select)
        sm.blockSignals(False)
        self.table.viewport().update()

    def select_case(self, case_id: str) -> bool:
        """Select ``case_id`` in the list; a case not listed is still shown in the pane."""
        row = self.model.row_of(case_id)
        if row < 0:
            self.sig_current_case.emit(case_id)
            return False
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    def _current_changed(self, current: Any, _previous: Any) -> None:
        case_id = self.model.case_id(current.row())
        if case_id and case_id != self.pane_case():
            self.sig_current_case.emit(case_id)

    def move_selection(self, step: int) -> None:
        if not self.model.rowCount():
            return
        row = self.table.currentIndex().row()
        row = max(0, min(self.model.rowCount() - 1, row + step if row >= 0 else 0))
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))

    def _menu(self, pos: Any) -> None:
        ids = self.table.selected_case_ids()
        if not ids:
            return
        menu = QMenu(self.table)
        if len(ids) > 1:
            menu.addAction(f"Edit {len(ids)} cases…", self.sig_edit_selected.emit)
        else:
            menu.addAction("Open in a tab", lambda: self.sig_open_case.emit(ids[0]))
            menu.addAction("Edit…", self.sig_edit_selected.emit)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def current_case(self) -> str | None:
        return self.model.case_id(self.table.currentIndex().row())

    def is_idle(self) -> bool:
        return not self.list_loading and not self.rows_refreshing and \
            not self.refresh_timer.isActive()

    def shutdown(self) -> None:
        self.refresh_timer.stop()

"""The main window: builds the sidebar, header, case list, detail pane, case tabs and status
bar, and wires them. The parts live in their own modules: the list in
:mod:`app.ui.list_controller`, tabs in :mod:`app.ui.case_tabs`, the status bar in
:mod:`app.ui.status_area`, the search field in :mod:`app.ui.search_box`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.changes import Changes
from app.operations.insights import SLA_VIEWS
from app.operations.lists import filter_to_query, load_agents
from app.ui import theme
from app.ui.bridge import Bridge
from app.ui.case_detail import CaseDetail
from app.ui.case_tabs import MAX_LIVE_TABS, SPARE_DELAY_MS, CaseTabs
from app.ui.commands import palette_actions, shortcut_entries
from app.ui.dashboard_host import DashboardHost
from app.ui.insights import AnalyticsController, NotificationController
from app.ui.list_controller import DEFAULT_VIEW, FIRST_PAGE, ListController
from app.ui.list_header import ListHeader
from app.ui.palette import CommandPalette
from app.ui.search_box import SearchBox
from app.ui.search_ui import SearchController
from app.ui.shortcuts import ShortcutsDialog, install
from app.ui.sidebar import COUNT_ROLE, Sidebar, View
from app.ui.status_area import Banner, StatusArea
from app.ui.view_actions import SEARCH_PREFIX, ViewActions
from app.ui.view_counts import ViewCounts

if TYPE_CHECKING:
    from app.operations.store import Store

__all__ = ["DEFAULT_VIEW", "FIRST_PAGE", "MAX_LIVE_TABS", "SPARE_DELAY_MS", "MainWindow"]


def _part(part: str, name: str) -> Any:
    """A read-only window attribute that is ``part.name``."""
    return property(lambda self: getattr(getattr(self, part), name))


class MainWindow(QMainWindow):
    sig_list_loaded = Signal()
    """The case list finished loading (all rows of the current view are in the model)."""

    sig_started = Signal()
    """The deferred start-up (counts, sync, search index, read models) has been kicked off."""

    sig_search_shown = Signal(str)
    """str: the query whose results the search view now shows."""

    sig_dashboard_shown = Signal()
    """The dashboard was mounted and shown (it loads its figures on its own thread)."""

    def __init__(self, store: Store, parent: QWidget | None = None, *,
                 loop: Any = None, sync_interval: float = 30.0) -> None:
        super().__init__(parent)
        self.store = store
        self.data_dir = store.path.parent
        self.bridge = Bridge(store, self)
        from app.ui.sync_ui import SyncController

        self.sync = SyncController(self.bridge, loop, sync_interval, self)
        self.search = SearchController(self.bridge, self.data_dir, self)
        self.analytics = AnalyticsController(self.bridge, self.data_dir, self)
        self.closed = False
        self.agents: list[tuple[str, str]] = []
        self.setWindowTitle("Smart Support Agent")
        self.resize(1400, 900)
        self._keep_view = False
        self._build()
        self._build_shortcuts()
        self.bridge.sig_changes_applied.connect(self.on_changes)
        self.bridge.sig_error.connect(self.show_error)
        self.bridge.sig_message.connect(self.show_message)
        self.startup_pending = True  # the deferred start-up chain has not run yet
        self.sidebar.select(DEFAULT_VIEW)
        from app.operations import session as session_ops

        self.bridge.read(session_ops.load_session, store, on_done=self._restore_session)

    # --- building -----------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget()
        self.setCentralWidget(central)
        root = QHBoxLayout(central)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        self.sidebar = Sidebar(self.store.actor)
        root.addWidget(self.sidebar)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("MainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setElideMode(Qt.TextElideMode.ElideRight)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        root.addWidget(self.tabs, 1)
        self.tabs.addTab(self._build_cases_page(), theme.icon("layers"), "Cases")
        bar = self.tabs.tabBar()
        for side in (bar.ButtonPosition.RightSide, bar.ButtonPosition.LeftSide):
            close_button = bar.tabButton(0, side)
            if close_button is not None:
                close_button.hide()
        self.case_tabs = CaseTabs(self.bridge, self.tabs, self._tab_detail,
                                  lambda c: self.model.case_key(self.model.row_of(c)), self)
        self.case_tabs.sig_current_changed.connect(self._update_viewing)
        self._build_status()
        from app.ui.terminal_dock import TerminalDock

        self.terminal = TerminalDock(self.bridge, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.terminal)
        self.terminal.hide()
        self._wire()

    def _build_cases_page(self) -> QWidget:
        """The "Cases" tab: header, banner, the list (or search results) beside the case."""
        cases = QWidget()
        cl = QVBoxLayout(cases)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        self.search_box = SearchBox(self.search, self)
        self.search_edit = self.search_box.edit
        self.search_help_button = self.search_box.help_button
        self.results = self.search_box.results
        self.header = ListHeader("My open cases", self.search_box)
        self.view_title, self.view_count = self.header.view_title, self.header.view_count
        self.filter_edit, self.bell = self.header.filter_edit, self.header.bell
        self.new_button = self.header.new_button
        self.notifications = NotificationController(self.bridge, self.data_dir, self.bell, self)
        self.lists = ListController(self.bridge, self.analytics, self,
                                    filter_text=self.filter_edit.text,
                                    pane_case=lambda: self.detail.case_id)
        self.lists.blocked = lambda: self.view.id == "dashboard" or bool(self.search_query) \
            or self.closed
        self.lists.on_first_page = self._start_up
        self.model, self.table = self.lists.model, self.lists.table
        cl.addWidget(self.header)
        self.banner = Banner()
        cl.addWidget(self.banner)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setChildrenCollapsible(False)
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.table)
        self.list_stack.addWidget(self.results)
        self.split.addWidget(self.list_stack)
        self.detail = CaseDetail(self.bridge)
        self._wire_detail(self.detail)
        self.split.addWidget(self.detail)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([600, 550])
        self.main_stack = QStackedWidget()
        self.main_stack.addWidget(self.split)
        cl.addWidget(self.main_stack, 1)
        self.dashboards = DashboardHost(self.bridge, self.analytics, self.main_stack,
                                        self.data_dir, self)
        self.counts = ViewCounts(self.bridge, self.sidebar, self.model, self)
        self.saved_views = ViewActions(self.bridge, self, self.show_message)
        return cases

    def _build_status(self) -> None:
        status = self.status = StatusArea(self.bridge, self.sync, self.statusBar(), self.banner,
                                          self)
        self.sync_status = self.sync_label = status.sync_status  # round-1 name
        self.sync_status.sign_in_action.triggered.connect(self.open_sign_in)
        self.outbox_label, self.message_label = status.outbox_label, status.message_label
        self.index_label, self.undo_hint = status.index_label, status.undo_hint
        status.index_cancel.clicked.connect(self.search.cancel_indexing)

    def _wire(self) -> None:
        header = self.header
        header.sig_filter_changed.connect(self.reload_list)
        header.sig_new_case.connect(self.new_case)
        header.sig_palette.connect(self.open_palette)
        header.sig_terminal.connect(self.toggle_terminal)
        header.sig_shortcuts.connect(self.show_cheatsheet)
        self.notifications.sig_open_case.connect(self.open_case_tab)
        self.notifications.sig_opened.connect(self.check_sla)  # whichever opens last
        self.dashboards.sig_open_cases.connect(self.open_cases_query)
        self.dashboards.sig_error.connect(self.show_error)
        self.counts.sig_error.connect(self.show_error)
        self.sync.sig_state.connect(lambda _s: self.refresh_status())
        self.sync.sig_session.connect(self._session_changed)
        self.sync.sig_viewers.connect(self._viewers)
        self.sidebar.sig_view_selected.connect(self.set_view)
        self.sidebar.sig_save_view.connect(self.save_current_view)
        self.sidebar.sig_rename_view.connect(self.saved_views.rename)
        self.sidebar.sig_delete_view.connect(self.delete_view)
        lists = self.lists
        lists.sig_loaded.connect(self.sig_list_loaded)
        lists.sig_count.connect(self.view_count.setText)
        lists.sig_current_case.connect(self.detail.load)
        lists.sig_filter_invalid.connect(self._filter_invalid)
        lists.sig_error.connect(self.show_error)
        lists.sig_open_case.connect(self.open_case_tab)
        lists.sig_edit_selected.connect(self.bulk_edit)
        self.results.sig_open_case.connect(self.open_case_tab)
        self.results.sig_current_case.connect(self._show_in_pane)
        self.results.sig_save_view.connect(
            lambda: self.saved_views.ask_save_search(self.search_query))
        self.search_box.sig_text.connect(self._search_text_changed)
        self.search_box.sig_result.connect(self._search_results)
        self.search.sig_progress.connect(self.status.index_progress)
        self.search.sig_ready.connect(self.status.index_done)
        self.search.sig_failed.connect(self._index_failed)
        self.analytics.sig_ready.connect(self._analytics_ready)
        self.analytics.sig_updated.connect(self._analytics_updated)

    def _build_shortcuts(self) -> None:
        self.shortcut_help, self.shortcuts = install(self, shortcut_entries(self))
        self.command_palette = CommandPalette(self.bridge, palette_actions(self), self)
        self.command_palette.sig_search.connect(self.search_for)
        self.command_palette.sig_open_case.connect(self.open_case_tab)

    # --- what the parts hold, under the names the tests, bench and screenshots use --------
    view = _part("lists", "view")
    sort_column = _part("lists", "sort_column")
    list_loading = _part("lists", "list_loading")
    search_query = _part("search_box", "query")
    tab_details = _part("case_tabs", "tab_details")
    parked = _part("case_tabs", "parked")
    drafts = _part("case_tabs", "drafts")
    spare_detail = _part("case_tabs", "spare_detail")
    dashboard = _part("dashboards", "dashboard")
    dashboard_area = _part("dashboards", "area")
    counts_loading = _part("counts", "loading")
    undo_label = _part("status", "undo_label")
    outbox = _part("status", "outbox")

    # --- views and the list -------------------------------------------------------------
    def _show_list_area(self) -> None:
        self.filter_edit.show()
        if self.main_stack.currentIndex() != 0:
            # Hiding the dashboard would hand the focus to the sidebar, whose list then
            # picks its first row as current (a view change nobody asked for).
            self.search_edit.setFocus()
            self.main_stack.setCurrentIndex(0)

    def set_view(self, view: View) -> None:
        if view.id == "dashboard":
            self.show_dashboard()
            return
        if view.query.startswith(SEARCH_PREFIX):  # a saved search: run it
            self.lists.view = view
            self._show_list_area()
            self.search_for(view.query[len(SEARCH_PREFIX):].strip(), keep_view=True)
            return
        self.lists.view = view
        self.view_title.setText(view.title)
        self._show_list_area()
        self.filter_edit.setEnabled(view.id not in SLA_VIEWS and "ids" not in view.extra)
        self._leave_search()
        self.lists.set_view(view)

    def reload_list(self, first_page: bool = True) -> None:
        self.lists.reload(first_page)

    def select_case(self, case_id: str) -> bool:
        return self.lists.select_case(case_id)

    def move_selection(self, step: int) -> None:
        if self.tabs.currentIndex() == 0:
            self.lists.move_selection(step)

    def open_current_in_tab(self) -> None:
        case_id = self.lists.current_case()
        if case_id:
            self.open_case_tab(case_id)

    def _filter_invalid(self, message: str | None) -> None:
        self.header.show_filter_error(message)
        if message:
            self.show_message(f"Filter: {message}")

    # --- deferred start-up --------------------------------------------------------------
    def _start_up(self, load_rest: Callable[[], None]) -> None:
        """After the first page is painted, one step per event-loop turn: the rest of the
        list, counts and status, agents, sync (APScheduler), the search index (Whoosh), the
        read models (SLA clocks, notifications). Nothing of it delays the first paint."""
        steps: list[Callable[[], None]] = [
            load_rest,
            self.refresh_counts,
            self.refresh_status,
            self._load_agents,
            self.sync.start,
            self.search.start,
            self.analytics.start,
            self.notifications.start,
            lambda: self.sync.every("sla-check", 60.0, self.check_sla),  # it only enqueues
            lambda: QTimer.singleShot(SPARE_DELAY_MS, self.case_tabs.prepare_spare),
        ]

        def run(i: int) -> None:
            if self.closed:
                return
            if i >= len(steps):
                self.startup_pending = False
                self.sig_started.emit()
                return
            steps[i]()
            QTimer.singleShot(0, lambda: run(i + 1))

        run(0)

    def check_sla(self) -> None:
        """SLA warnings for my cases (every minute, and once the read model is ready)."""
        if self.analytics.ready:
            self.notifications.check_sla(self.analytics.model)

    # --- tabs ---------------------------------------------------------------------------
    def open_case_tab(self, case_id: str) -> CaseDetail:
        return self.case_tabs.open(case_id)

    def close_tab(self, index: int) -> None:
        self.case_tabs.close(index)

    def current_detail(self) -> CaseDetail:
        return self.case_tabs.current() or self.detail

    def _tab_detail(self) -> CaseDetail:
        detail = CaseDetail(self.bridge)
        self._wire_detail(detail)
        return detail

    def _wire_detail(self, detail: CaseDetail) -> None:
        detail.sig_open_case.connect(self.open_case_tab)
        detail.sig_split_done.connect(self.open_case_tab)
        detail.sig_loaded.connect(lambda _cid: self._update_viewing())

    def _show_in_pane(self, case_id: str) -> None:
        if case_id != self.detail.case_id:
            self.detail.load(case_id)

    def _update_viewing(self) -> None:
        self.sync.set_viewing(self.current_detail().case_id)

    def _viewers(self, case_id: str, viewers: list[dict[str, Any]]) -> None:
        for detail in (self.detail, *self.tab_details.values()):
            detail.set_viewers(case_id, viewers)

    # --- actions ------------------------------------------------------------------------
    def new_case(self) -> None:
        from app.ui.new_case_dialog import NewCaseDialog

        dialog = NewCaseDialog(self.bridge, self.agents, self)
        dialog.sig_created.connect(self._case_created)
        self.new_case_dialog = dialog
        dialog.open()

    def _case_created(self, case_id: str, key: str) -> None:
        self.lists.pending_select = case_id
        self.tabs.setCurrentIndex(0)
        self.show_message(f"Created {key}")

    def focus_filter(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def focus_composer(self, internal: bool) -> None:
        self.current_detail().focus_reply(internal)

    def undo(self) -> None:
        from app.operations import cases as ops

        label = self.undo_label

        def done(_r: Any) -> None:
            self.show_message(f"Undone: {label}" if label else "Undone")

        self.bridge.run(ops.undo, on_done=done, initiator=self)

    def open_palette(self) -> None:
        self.command_palette.open_palette()

    def toggle_terminal(self) -> None:
        if self.terminal.isVisible() and self.terminal.input.hasFocus():
            self.terminal.hide()
        else:
            self.terminal.focus_input()

    def show_cheatsheet(self) -> None:
        dialog = ShortcutsDialog(self.shortcut_help, self)
        self.cheatsheet = dialog
        dialog.open()

    def save_current_view(self) -> None:
        try:
            query = filter_to_query(self.lists.current_filter())
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self.saved_views.save_filter(query, self.filter_edit.text().strip() or self.view.title)

    def delete_view(self, name: str) -> None:
        if self.view.id == "saved:" + name:
            self.sidebar.select(DEFAULT_VIEW)
        self.saved_views.delete(name)

    def bulk_edit(self) -> None:
        from app.ui.widgets import BulkEditDialog

        ids = self.table.selected_case_ids()
        if not ids:
            self.show_message("Select cases in the list first (Shift/Ctrl+click)")
            return
        cases = [(cid, self.model.case_key(self.model.row_of(cid)) or cid) for cid in ids]
        dialog = BulkEditDialog(self.bridge, cases, self.agents, self)
        self.bulk_dialog = dialog
        dialog.open()

    # --- sync ---------------------------------------------------------------------------
    def open_sign_in(self) -> None:
        from app.ui.sync_ui import SignInDialog

        server = self.sync.session.server if self.sync.session else ""
        dialog = SignInDialog(self.sync, server, parent=self)
        self.sign_in_dialog = dialog
        dialog.open()

    def _session_changed(self, session: Any) -> None:
        self.sidebar.who.setText(session.email if session else self.store.actor)
        self.refresh_status()
        self._update_viewing()

    def refresh_all(self) -> None:
        if self.view.id == "dashboard" and self.dashboard is not None:
            self.dashboard.reload()
        elif self.search_query:
            self.search.search(self.search_query)
        self.reload_list()
        self.refresh_counts()
        self.refresh_status()
        self.detail.reload()

    # --- search -------------------------------------------------------------------------
    def focus_search(self) -> None:
        self.tabs.setCurrentIndex(0)
        self._show_list_area()
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def search_for(self, query: str, *, keep_view: bool = False) -> None:
        """Show the results of ``query`` (a saved search keeps its sidebar entry lit)."""
        self.tabs.setCurrentIndex(0)
        self._show_list_area()
        self._keep_view = keep_view
        self.search_box.set_text(query)
        self._keep_view = False

    def _search_text_changed(self, query: str) -> None:
        saved = self.view.query.startswith(SEARCH_PREFIX)
        if not query:
            if self.search_query:
                self._leave_search()
                if not saved:
                    self.reload_list()
                else:
                    self.sidebar.select(DEFAULT_VIEW)
            return
        if not self.search_query:
            self.list_stack.setCurrentIndex(1)
            self._show_list_area()
            self.filter_edit.setEnabled(False)
            if not self._keep_view and not saved:
                self.sidebar.clear_selection()
        if not self._keep_view and saved and self.view.query[len(SEARCH_PREFIX):].strip() \
                != query:
            self.sidebar.clear_selection()  # edited: no longer the saved search
        self.view_title.setText(self.view.title if saved else "Search")
        self.lists.invalidate()  # a list load in flight must not land on the results
        self.search_box.run(query)

    def _leave_search(self) -> None:
        if not self.search_query and self.list_stack.currentIndex() == 0:
            return
        self.search_box.leave()
        self.list_stack.setCurrentIndex(0)
        self.filter_edit.setEnabled(self.view.id not in SLA_VIEWS)
        self.view_title.setText(self.view.title)

    def _search_results(self, result: Any) -> None:
        self.view_count.setText(f"{result.total:,} found")
        if self.view.query.startswith(SEARCH_PREFIX):
            item = self.sidebar.items.get(self.view.id)
            if item is not None:
                item.setData(COUNT_ROLE, int(result.total))
        self.sig_search_shown.emit(result.query)

    def _index_failed(self, message: str) -> None:
        self.status.index_done()
        self.search_box.index_failed(message)
        self.show_message(message)

    def save_search(self, name: str, query: str) -> None:
        self.saved_views.save_search(name, query)

    # --- dashboard ----------------------------------------------------------------------
    def show_dashboard(self) -> None:
        """Mount the analytics dashboard (built on first open) in place of the list."""
        self._leave_search()
        self.lists.view = View("dashboard", "Dashboard", "", "updated")
        self.view_title.setText("Dashboard")
        self.view_count.setText("")
        self.filter_edit.setEnabled(False)
        self.filter_edit.hide()  # the dashboard has its own filters
        self.tabs.setCurrentIndex(0)
        if self.dashboards.show():
            self.sig_dashboard_shown.emit()
        else:  # built on the window's read model once it is open: one catch-up writer
            self.view_count.setText("loading the figures…")

    def open_cases_query(self, payload: Any) -> None:
        """The dashboard's drill-down: the list filtered by a query (or a list of ids)."""
        if isinstance(payload, list | tuple):
            view = View("drill", "From the dashboard", "", "updated", False,
                        {"ids": [str(x) for x in payload]})
        else:
            query = str(payload)
            view = View("drill", f"Dashboard · {query}", query, "updated", False)
        self.sidebar.clear_selection()
        self.set_view(view)

    # --- SLA clocks ---------------------------------------------------------------------
    def _analytics_ready(self) -> None:
        self._analytics_updated()
        self.check_sla()
        if self.dashboards.analytics_ready() and self.view.id == "dashboard":
            self.show_dashboard()

    def _analytics_updated(self) -> None:
        self.lists.analytics_updated()
        self.counts.refresh_sla(self.analytics.model)

    # --- changes, counts, status --------------------------------------------------------
    def on_changes(self, changes: Changes) -> None:
        """Each part refreshes only what ``changes`` names; a hidden dashboard goes stale."""
        self.search.on_changes(changes)  # findable within a second (one indexing thread)
        self.analytics.on_changes(changes)
        self.notifications.on_changes(changes)
        self.dashboards.on_changes(changes)
        self.counts.on_changes(changes)
        self.lists.on_changes(changes)
        self.refresh_status()
        if changes.directory:
            self._load_agents()

    def _load_agents(self) -> None:
        self.bridge.query(load_agents, on_done=self._agents_loaded)

    def _agents_loaded(self, agents: list[tuple[str, str]]) -> None:
        self.agents = agents

    def refresh_counts(self) -> None:
        self.counts.refresh()

    def refresh_status(self) -> None:
        self.status.refresh()

    def show_message(self, text: str) -> None:
        self.status.show_message(text)

    def show_error(self, text: str) -> None:
        self.status.show_error(text)

    # --- state for tests and screenshots ------------------------------------------------
    def is_idle(self) -> bool:
        details = [self.detail, *self.tab_details.values()]
        return (self.bridge.pending == 0 and not self.startup_pending
                and self.lists.is_idle() and not self.counts_loading
                and not self.status.loading and not any(d.loading for d in details)
                and self.header.idle())

    def search_idle(self) -> bool:
        """The index is ready and the newest query's results are on screen."""
        return self.search_box.idle()

    def _restore_session(self, saved: dict[str, Any]) -> None:
        """The tabs and the view of the last session (the tab in front stays in front)."""
        if self.closed:
            return
        view = saved.get("view")
        if view and view != DEFAULT_VIEW and view != getattr(self.lists.view, "id", None):
            self.sidebar.select(str(view))
        front = self.tabs.currentWidget()
        for case_id in saved.get("tabs", []):
            self.case_tabs.open(case_id)
        if front is not None:
            self.tabs.setCurrentWidget(front)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.closed = True
        self.lists.shutdown()
        self.header.filter_timer.stop()
        self.sync.shutdown()
        self.search.shutdown()
        self.analytics.shutdown()
        self.notifications.shutdown()
        self.dashboards.shutdown()
        from app.operations import session as session_ops

        self.bridge.run(session_ops.save_session, tabs=self.case_tabs.open_case_ids(),
                        view=getattr(self.lists.view, "id", None))
        kept = self.case_tabs.flush_drafts() + self.detail.composer.flush_draft()
        if kept:  # written before the writer stops: nothing lost
            self.show_message("Unsent drafts kept: they are back when you open their cases.")
        self.bridge.shutdown()
        self.case_tabs.shutdown()
        super().closeEvent(event)

"""The main window: views sidebar, filter, case list, detail pane, case tabs, status bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.changes import Changes
from app.store.repo import Store
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.case_detail import CaseDetail
from app.ui.case_list import COLUMNS, DUE_COLUMN, CaseTable, CaseTableModel, Due, Row, sort_rows
from app.ui.insights import (
    SLA_VIEWS,
    AnalyticsController,
    BellButton,
    NotificationController,
    load_due,
    load_sla_rows,
)
from app.ui.palette import Action, CommandPalette
from app.ui.search_ui import SearchController, SearchHelp, SearchResultsView
from app.ui.sidebar import Sidebar, View, load_counts, parse_query
from app.ui.widgets import plain_label, plain_tip

FIRST_PAGE = 200
DEFAULT_VIEW = "my-open"
SPARE_DELAY_MS = 50  # a spare tab view is built this long after an open (in idle time)
MAX_LIVE_TABS = 8  # case tabs kept as live widgets; older ones become light placeholders
SEARCH_PREFIX = "search:"


# --- reader-thread functions -------------------------------------------------------------
def fetch_rows(store: Store, flt: Any, sort: str, descending: bool, limit: int | None,
               column: int | None = None, analytics: Any = None,
               source: tuple[str, Any] | None = None
               ) -> tuple[list[Row], dict[str, Due] | None]:
    """Rows for the list, and (when sorting by "Due in") the time left of every row.

    ``column``: sort here (a column the query cannot sort). ``source``: rows that are not a
    case filter: ``("sla", view)`` (an SLA queue) or ``("ids", [...])`` (a drill-down)."""
    from app.store import queries as q

    now = int(time.time() * 1000)
    if source is not None and source[0] == "sla":
        rows = load_sla_rows(analytics, store, source[1], now) if analytics is not None else []
    elif source is not None and source[0] == "ids":
        ids = list(source[1])
        rows = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows += store.read(lambda c, p=part: q.list_rows(c, p))  # type: ignore[misc]
    else:
        rows = store.read(lambda conn: q.list_cases(conn, flt, me=store.actor, now_ms=now,
                                                   sort=sort, descending=descending,
                                                   limit=limit))
    deadlines: dict[str, Due] | None = None
    if column == DUE_COLUMN and analytics is not None:
        deadlines = load_due(analytics, [r[0] for r in rows], now)
    if column is not None:
        rows = sort_rows(rows, column, descending, deadlines)
    return rows, deadlines


def refresh_rows(store: Store, case_ids: list[str]) -> list[Row]:
    from app.store import queries as q

    return store.read(lambda conn: q.list_rows(conn, case_ids))


def rename_view(store: Store, *, old: str, new: str, query: str) -> Changes:
    """Writer thread: save under the new name, then drop the old one."""
    from app.operations import cases as ops

    changes: Changes = ops.save_view(store, name=new, query=query)
    if " ".join(new.split()) != old:
        changes.merge(ops.delete_view(store, name=old))
    changes.message = f"Renamed view '{old}' to '{new}'"
    return changes


def load_agents(conn: Any) -> list[tuple[str, str]]:
    from app.store import queries as q

    return [(str(a["id"]), str(a["name"])) for a in q.directory(conn, "agents")]


def fetch_status(store: Store) -> tuple[int, str | None]:
    return store.outbox_count(), store.last_undoable_label()


def combine(base: Any, extra: Any) -> Any:
    """The view's filter refined by the filter field: fields typed there win."""
    out = replace(base, statuses=list(base.statuses), priorities=list(base.priorities),
                  tags=list(base.tags))
    if extra.statuses:
        out.statuses = list(extra.statuses)
    if extra.priorities:
        out.priorities = list(extra.priorities)
    for name in ("assignee", "product", "team", "type"):
        if getattr(extra, name):
            setattr(out, name, getattr(extra, name))
    out.tags += [t for t in extra.tags if t not in out.tags]
    if extra.text:
        out.text = f"{out.text} {extra.text}" if out.text else extra.text
    return out


def filter_to_query(flt: Any) -> str:
    """A CaseFilter back in the filter syntax (for "Save current filter as view")."""
    from app.core.model import OPEN_STATUSES

    parts: list[str] = []
    if flt.updated_within_days:
        parts.append(f"updated:<{flt.updated_within_days}d")
    if flt.statuses:
        if set(flt.statuses) == set(OPEN_STATUSES):
            parts.append("is:open")
        else:
            parts.append("status:" + ",".join(flt.statuses))
    if flt.priorities:
        parts.append("priority:" + ",".join(flt.priorities))
    if flt.assignee == "none":
        parts.append("is:unassigned")
    elif flt.assignee:
        parts.append(f"assignee:{flt.assignee}")
    parts += [f"tag:{t}" for t in flt.tags]
    for name in ("product", "team", "type"):
        value = getattr(flt, name)
        if value and " " not in value:
            parts.append(f"{name}:{value}")
    if flt.text:
        parts.append(flt.text)
    return " ".join(parts)


class Banner(QFrame):
    """A non-blocking error banner above the list; hides itself after a while."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(14, 6, 8, 6)
        self.label = plain_label()  # errors quote subjects and names
        self.label.setObjectName("BannerText")
        self.label.setWordWrap(True)
        lay.addWidget(self.label, 1)
        close = QToolButton()
        close.setObjectName("Flat")
        close.setIcon(theme.icon("close", theme.current().danger_text))
        close.setAccessibleName("Dismiss message")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        lay.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()
        self._timer.start(10_000)


class ShortcutsDialog(QDialog):
    """The cheat sheet (F1 or ?): every shortcut and what it does."""

    def __init__(self, shortcuts: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(22, 18, 22, 14)
        title = QLabel("Keyboard shortcuts")
        title.setObjectName("ViewTitle")
        lay.addWidget(title)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(8)
        for i, (keys, what) in enumerate(shortcuts):
            key = QLabel(keys)
            key.setObjectName("Kbd")
            key.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(key, i, 0, Qt.AlignmentFlag.AlignLeft)
            grid.addWidget(QLabel(what), i, 1)
        lay.addLayout(grid)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)


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
        self.dashboard: Any = None
        self.search_query = ""  # the query on screen ("" when the list shows a view)
        self.tab_order: list[str] = []  # case ids of tabs, most recently used last
        self.parked: dict[str, QWidget] = {}  # case id → placeholder of a parked tab
        self.drafts: dict[str, tuple[str, bool]] = {}  # parked tabs' composer drafts
        self.spare_detail: CaseDetail | None = None  # a built, empty view for the next tab
        self._due_loading = False
        self._due_again = False
        self.closed = False
        self.setWindowTitle("Smart Support Agent")
        self.resize(1400, 900)
        self.view: View = View(DEFAULT_VIEW, "My open cases", "", "updated")
        self.sort_column: int | None = None  # a COLUMNS index chosen in the header
        self.descending = True
        self.list_loading = False
        self.counts_loading = False
        self.status_loading = False
        self._list_generation = 0
        self._pending_select: str | None = None
        self.agents: list[tuple[str, str]] = []
        self.tab_details: dict[str, CaseDetail] = {}
        self.undo_label: str | None = None
        self._build()
        self._build_shortcuts()
        self.bridge.sig_changes_applied.connect(self.on_changes)
        self.bridge.sig_error.connect(self.show_error)
        self.bridge.sig_message.connect(self.show_message)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(120)
        self._refresh_timer.timeout.connect(lambda: self.reload_list(first_page=False))
        self._started = False  # counts and status load after the first page
        self.startup_pending = True  # the deferred start-up chain has not run yet
        self.rows_refreshing = False
        self.outbox = 0
        self.sidebar.select(DEFAULT_VIEW)

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

        cases = QWidget()
        cl = QVBoxLayout(cases)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        header = QFrame()
        header.setObjectName("ListHeader")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        hl = QHBoxLayout(header)
        hl.setContentsMargins(16, 10, 12, 10)
        hl.setSpacing(10)
        self.view_title = plain_label(self.view.title)
        self.view_title.setObjectName("ViewTitle")
        hl.addWidget(self.view_title)
        self.view_count = QLabel("")
        self.view_count.setObjectName("ViewCount")
        hl.addWidget(self.view_count)
        hl.addStretch(1)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("SearchEdit")
        self.search_edit.setAccessibleName("Search all cases")
        self.search_edit.setPlaceholderText("Search all cases…  (Ctrl+F)")
        self.search_edit.addAction(theme.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(180)
        self.search_edit.setToolTip("Instant offline search: words, \"phrases\", status:open "
                                    "tag:vip assignee:me updated:<7d … (? for the syntax)")
        self.search_edit.textChanged.connect(self._search_text_changed)
        self.search_edit.returnPressed.connect(self._search_return)
        self.search_edit.installEventFilter(self)
        hl.addWidget(self.search_edit, 2)
        self.search_help_button = QToolButton()
        self.search_help_button.setObjectName("Flat")
        self.search_help_button.setText("?")
        self.search_help_button.setToolTip("Search syntax")
        self.search_help_button.setAccessibleName("Search syntax")
        self.search_help_button.clicked.connect(self.show_search_help)
        hl.addWidget(self.search_help_button)
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("FilterEdit")
        self.filter_edit.setAccessibleName("Filter cases")
        self.filter_edit.setPlaceholderText("Filter: status:open priority:urgent tag:vip…")
        self.filter_edit.addAction(theme.icon("layers"), QLineEdit.ActionPosition.LeadingPosition)
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(140)
        self.filter_edit.setToolTip("Ctrl+L · refine this view: status priority assignee tag "
                                    "product team type is:open is:unassigned")
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(220)
        self._filter_timer.timeout.connect(self.reload_list)
        self.filter_edit.textChanged.connect(lambda _t: self._filter_timer.start())
        hl.addWidget(self.filter_edit, 1)
        self.new_button = QPushButton("New case")
        self.new_button.setObjectName("Primary")
        self.new_button.setIcon(theme.icon("plus", theme.current().accent_text))
        self.new_button.setToolTip("New case (Ctrl+N)")
        self.new_button.clicked.connect(self.new_case)
        hl.addWidget(self.new_button)
        button: QToolButton
        for name, tip, slot in (("command", "Command palette (Ctrl+K)", self.open_palette),
                                ("terminal", "Terminal (Ctrl+`)", self.toggle_terminal)):
            button = QToolButton()
            button.setIcon(theme.icon(name))
            button.setToolTip(tip)
            button.setAccessibleName(tip.split(" (")[0])
            button.clicked.connect(slot)
            hl.addWidget(button)
        self.bell = BellButton()
        hl.addWidget(self.bell)
        button = QToolButton()
        button.setIcon(theme.icon("help"))
        button.setToolTip("Keyboard shortcuts (F1)")
        button.setAccessibleName("Keyboard shortcuts")
        button.clicked.connect(self.show_cheatsheet)
        hl.addWidget(button)
        self.notifications = NotificationController(self.bridge, self.data_dir, self.bell, self)
        self.notifications.sig_open_case.connect(self.open_case_tab)
        self.notifications.sig_opened.connect(self.check_sla)  # whichever opens last
        cl.addWidget(header)
        self.banner = Banner()
        cl.addWidget(self.banner)

        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setChildrenCollapsible(False)
        self.model = CaseTableModel(self)
        self.model.sig_sort_requested.connect(self._sort_requested)
        self.table = CaseTable(self.model)
        self.table.sig_activated_case.connect(self.open_case_tab)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.sig_visible_changed.connect(self._load_visible_due)
        self.results = SearchResultsView()
        self.results.sig_open_case.connect(self.open_case_tab)
        self.results.sig_current_case.connect(self._search_current)
        self.results.sig_apply_query.connect(self.search_edit.setText)
        self.results.sig_save_view.connect(self.save_search_as_view)
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.table)
        self.list_stack.addWidget(self.results)
        self.split.addWidget(self.list_stack)
        self.detail = CaseDetail(self.bridge)
        self._wire_detail(self.detail)
        self.split.addWidget(self.detail)
        self.table.setMinimumWidth(360)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([600, 550])
        self.main_stack = QStackedWidget()
        self.main_stack.addWidget(self.split)
        cl.addWidget(self.main_stack, 1)
        self.tabs.addTab(cases, theme.icon("layers"), "Cases")
        bar = self.tabs.tabBar()
        for side in (bar.ButtonPosition.RightSide, bar.ButtonPosition.LeftSide):
            close_button = bar.tabButton(0, side)
            if close_button is not None:
                close_button.hide()

        sb = self.statusBar()
        sb.setSizeGripEnabled(False)
        from app.ui.sync_ui import SyncStatus

        self.sync_status = SyncStatus(self.sync)
        self.sync_status.sign_in_action.triggered.connect(self.open_sign_in)
        self.sync_label = self.sync_status  # round-1 name
        sb.addWidget(self.sync_status)
        self.sync.sig_state.connect(lambda _s: self.refresh_status())
        self.sync.sig_session.connect(self._session_changed)
        self.sync.sig_viewers.connect(self._viewers)
        self.outbox_label = QLabel("")
        sb.addWidget(self.outbox_label)
        self.index_label = QLabel("")
        self.index_label.setObjectName("Meta")
        self.index_label.hide()
        sb.addWidget(self.index_label)
        self.index_cancel = QToolButton()
        self.index_cancel.setObjectName("Flat")
        self.index_cancel.setText("Cancel")
        self.index_cancel.setToolTip("Stop building the search index (search stays off)")
        self.index_cancel.clicked.connect(self.search.cancel_indexing)
        self.index_cancel.hide()
        sb.addWidget(self.index_cancel)
        # both quote subjects ("Ctrl+Z to undo: import e-mail '<h1>…'"): plain text
        self.message_label = plain_label("")
        sb.addWidget(self.message_label, 1)
        self.undo_hint = plain_label("")
        sb.addPermanentWidget(self.undo_hint)

        from app.ui.terminal_dock import TerminalDock

        self.terminal = TerminalDock(self.bridge, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.terminal)
        self.terminal.hide()
        self.sidebar.sig_view_selected.connect(self.set_view)
        self.sidebar.sig_save_view.connect(self.save_current_view)
        self.sidebar.sig_rename_view.connect(self.rename_view)
        self.sidebar.sig_delete_view.connect(self.delete_view)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.search.sig_progress.connect(self._index_progress)
        self.search.sig_ready.connect(self._index_ready)
        self.search.sig_failed.connect(self._index_failed)
        self.search.sig_results.connect(self._search_results)
        self.search.sig_updated.connect(self._index_updated)
        self.analytics.sig_ready.connect(self._analytics_ready)
        self.analytics.sig_updated.connect(self._analytics_updated)

    def _build_shortcuts(self) -> None:
        self.shortcut_help: list[tuple[str, str]] = []
        entries: list[tuple[str, str, Callable[[], None]]] = [
            ("Ctrl+N", "New case", self.new_case),
            ("Ctrl+K", "Command palette: jump to a case or run a command", self.open_palette),
            ("Ctrl+F", "Search every case (as you type)", self.focus_search),
            ("Ctrl+L", "Filter the current view", self.focus_filter),
            ("J", "Next case in the list", lambda: self.move_selection(1)),
            ("K", "Previous case in the list", lambda: self.move_selection(-1)),
            ("Return", "Open the selected case in a tab", self.open_current_in_tab),
            ("R", "Reply to the requester", lambda: self.focus_composer(False)),
            ("N", "Write an internal note", lambda: self.focus_composer(True)),
            ("Ctrl+Return", "Send the reply or note", lambda: None),
            ("Ctrl+Shift+L", "Ask the LLM about the case (redacted prompt)", lambda: None),
            ("Ctrl+Z", "Undo the last change", self.undo),
            ("Ctrl+E", "Edit the selected cases together", self.bulk_edit),
            ("Ctrl+W", "Close the case tab", lambda: self.close_tab(self.tabs.currentIndex())),
            ("Ctrl+Tab", "Next tab", lambda: self._cycle_tab(1)),
            ("Ctrl+Shift+Tab", "Previous tab", lambda: self._cycle_tab(-1)),
            ("Ctrl+`", "Show or hide the terminal", self.toggle_terminal),
            ("F5", "Refresh", self.refresh_all),
            ("F1", "This cheat sheet (also ?)", self.show_cheatsheet),
            ("?", "", self.show_cheatsheet),
        ]
        self.shortcuts: dict[str, QShortcut] = {}
        for keys, what, slot in entries:
            if what:
                self.shortcut_help.append((keys, what))
            if keys in ("Return", "Ctrl+Return", "Ctrl+Shift+L"):
                continue  # handled by the list, the composer and the case view
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)
            self.shortcuts[keys] = sc
        self.command_palette = CommandPalette(self.bridge, self._palette_actions(), self)
        self.command_palette.sig_search.connect(self.search_for)
        self.command_palette.sig_open_case.connect(self.open_case_tab)

    def _palette_actions(self) -> list[Action]:
        from app.store.queries import BUILTIN_VIEWS

        actions = [
            Action("New case", "Ctrl+N", self.new_case),
            Action("Undo the last change", "Ctrl+Z", self.undo),
            Action("Search…", "Ctrl+F", self.focus_search),
            Action("Filter the current view", "Ctrl+L", self.focus_filter),
            Action("Go to the dashboard", "", partial(self.sidebar.select, "dashboard")),
            Action("Go to view: SLA at risk", "", partial(self.sidebar.select, "sla:at_risk")),
            Action("Go to view: Breached", "", partial(self.sidebar.select, "sla:breached")),
            Action("Notifications", "", self.notifications.toggle_panel),
            Action("Reply to the current case", "R", lambda: self.focus_composer(False)),
            Action("Internal note on the current case", "N", lambda: self.focus_composer(True)),
            Action("Save current filter as view", "", self.save_current_view),
            Action("Edit the selected cases", "Ctrl+E", self.bulk_edit),
            Action("Sync now", "", self.sync.sync_now),
            Action("Sign in to sync…", "", self.open_sign_in),
            Action("Sign out", "", self.sync.sign_out),
            Action("Show the terminal", "Ctrl+`", self.toggle_terminal),
            Action("Keyboard shortcuts", "F1", self.show_cheatsheet),
            Action("Refresh", "F5", self.refresh_all),
        ]
        for view_id, (title, _f, _s) in BUILTIN_VIEWS.items():
            actions.append(Action(f"Go to view: {title}", "", partial(self.sidebar.select,
                                                                       view_id)))
        return actions

    # --- views and the list -------------------------------------------------------------
    def current_filter(self) -> Any:
        """The filter of the current view and filter field; raises on a bad field."""
        from app.store.queries import BUILTIN_VIEWS, CaseFilter

        if self.view.builtin and self.view.id in BUILTIN_VIEWS:
            base = BUILTIN_VIEWS[self.view.id][1]
        elif self.view.query:
            base = parse_query(self.view.query)
        else:
            base = CaseFilter()
        text = self.filter_edit.text().strip()
        return combine(base, CaseFilter.parse(text)) if text else base

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
            self.view = view
            self._show_list_area()
            self.search_for(view.query[len(SEARCH_PREFIX):].strip(), keep_view=True)
            return
        self.view = view
        self.view_title.setText(view.title)
        self._show_list_area()
        self.filter_edit.setEnabled(view.id not in SLA_VIEWS and "ids" not in view.extra)
        self._leave_search()
        self.sort_column = None
        self.descending = view.id not in SLA_VIEWS  # SLA queues: soonest deadline first
        self.model.suppress_sort = True
        if view.id in SLA_VIEWS:
            self.table.horizontalHeader().setSortIndicator(DUE_COLUMN,
                                                           Qt.SortOrder.AscendingOrder)
        else:
            self.table.horizontalHeader().setSortIndicator(6, Qt.SortOrder.DescendingOrder)
        self.model.suppress_sort = False
        self.reload_list()

    def _source(self) -> tuple[str, Any] | None:
        if self.view.id in SLA_VIEWS:
            return ("sla", SLA_VIEWS[self.view.id][1])
        if "ids" in self.view.extra:
            return ("ids", list(self.view.extra["ids"]))
        return None

    def reload_list(self, first_page: bool = True) -> None:
        """Load the current view on reader threads: a first page at once, then the rest."""
        if self.view.id == "dashboard" or self.search_query or self.closed:
            return
        source = self._source()
        try:
            flt = self.current_filter() if source is None else None
        except ValueError as exc:
            self._filter_invalid(str(exc))
            return
        self._filter_invalid(None)
        self._list_generation += 1
        generation = self._list_generation
        self.list_loading = True
        sort, column = self._sort_spec()
        analytics = self.analytics.model
        if source is not None and source[0] == "sla" and analytics is None:
            self.view_count.setText("loading SLA clocks…")
            self.analytics.start()  # _analytics_ready reloads the view
            self.list_loading = False
            self.model.set_rows([])
            return
        if column is not None or source is not None:
            # A column the query cannot sort, or rows that are not a filter: on the worker.
            self.bridge.read(fetch_rows, self.store, flt, sort, self.descending, None, column,
                             analytics, source,
                             on_done=lambda r: self._rows_loaded(generation, r, full=True,
                                                                 replace_all=True),
                             on_error=lambda e: self._list_failed(generation, e))
            return

        def full_load(replace_all: bool) -> None:
            if generation != self._list_generation:
                return
            self.bridge.read(fetch_rows, self.store, flt, sort, self.descending, None,
                             on_done=lambda r: self._rows_loaded(generation, r, full=True,
                                                                 replace_all=replace_all),
                             on_error=lambda e: self._list_failed(generation, e))

        if not first_page:
            full_load(True)
            return

        def first_done(result: tuple[list[Row], Any]) -> None:
            self._rows_loaded(generation, result, full=False, replace_all=True)
            if not self._started:
                # The first page is on screen: let it paint, then start everything else.
                self._started = True
                QTimer.singleShot(0, lambda: self._start_up(lambda: full_load(False)))
                return
            full_load(False)  # only now: the first page had the reader to itself

        self.bridge.read(fetch_rows, self.store, flt, sort, self.descending, FIRST_PAGE,
                         on_done=first_done,
                         on_error=lambda e: self._list_failed(generation, e))

    # --- deferred start-up --------------------------------------------------------------
    def _start_up(self, load_rest: Callable[[], None]) -> None:
        """After the first page is painted, one step per event-loop turn: the rest of the
        list, counts and status, agents, sync (APScheduler), the search index (Whoosh), the
        read models (SLA clocks, notifications). Nothing of it delays the first paint."""
        steps: list[Callable[[], None]] = [
            load_rest,
            self.refresh_counts,
            self.refresh_status,
            lambda: self.bridge.query(load_agents, on_done=self._agents_loaded),
            self.sync.start,
            self.search.start,
            self.analytics.start,
            self.notifications.start,
            self._schedule_jobs,
            lambda: QTimer.singleShot(SPARE_DELAY_MS, self._prepare_spare),
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

    def _schedule_jobs(self) -> None:
        # The scheduler only enqueues: the check runs on the notifications thread.
        self.sync.every("sla-check", 60.0, self.check_sla)

    def check_sla(self) -> None:
        """SLA warnings for my cases (every minute, and once the read model is ready)."""
        if self.analytics.ready:
            self.notifications.check_sla(self.analytics.model)

    def _sort_spec(self) -> tuple[str, int | None]:
        if self.sort_column is None:
            return self.view.sort, None
        name = COLUMNS[self.sort_column][2]
        return (name, None) if name else ("updated", self.sort_column)

    def _sort_requested(self, column: int, descending: bool) -> None:
        self.sort_column = column
        self.descending = descending
        rows = self.model.rows()
        if rows and not self.list_loading and not self.search_query \
                and column != DUE_COLUMN:  # deadlines are only loaded for visible rows
            # Everything is loaded: sort a copy in memory on a reader thread (about 60 ms for
            # 50,000 rows) instead of asking SQLite to sort the whole view again.
            self._list_generation += 1
            generation = self._list_generation
            self.list_loading = True
            self.bridge.read(sort_rows, list(rows), column, descending,
                             dict(self.model.deadlines),
                             on_done=lambda r: self._rows_loaded(generation, (r, None),
                                                                 full=True, replace_all=True),
                             on_error=lambda e: self._list_failed(generation, e))
            return
        self.reload_list()

    def _filter_invalid(self, message: str | None) -> None:
        self.filter_edit.setProperty("invalid", message is not None)
        # the message quotes the filter as typed: shown literally
        self.filter_edit.setToolTip(plain_tip(message) if message else
                                    "Ctrl+F · fields: status priority assignee tag "
                                    "product team type is:open is:unassigned")
        self.filter_edit.style().unpolish(self.filter_edit)
        self.filter_edit.style().polish(self.filter_edit)
        if message:
            self.show_message(f"Filter: {message}")

    def _list_failed(self, generation: int, exc: Exception) -> None:
        if generation == self._list_generation:
            self.list_loading = False
        self.show_error(describe(exc))

    def _rows_loaded(self, generation: int, result: tuple[list[Row], dict[str, Due] | None], *,
                     full: bool, replace_all: bool) -> None:
        if generation != self._list_generation:
            return
        rows, deadlines = result
        if deadlines is not None:
            self.model.set_deadlines(deadlines)
        if not full:
            self.view_count.setText("loading…")
        else:
            self.view_count.setText(f"{len(rows):,} cases")
        current_id = self.model.case_id(self.table.currentIndex().row())
        selected = set(self.table.selected_case_ids())
        old = self.model.rows()
        if not replace_all and not full:
            return
        if full and not replace_all and len(old) <= len(rows) and \
                all(a[0] == b[0] for a, b in zip(old, rows, strict=False)):
            if len(old) == len(rows):
                self.model.update_rows(rows)
            else:
                # The first page is on screen: keep it (and the selection), add the rest.
                self.model.append_rows(rows[len(old):])
                if any(a != b for a, b in zip(old, rows, strict=False)):
                    self.model.update_rows(rows)
        else:
            self.model.set_rows(rows)
            self._restore_selection(current_id, selected)
        if full:
            self.list_loading = False
            if self._pending_select:
                self.select_case(self._pending_select)
                self._pending_select = None
            elif self.table.currentIndex().row() < 0 and self.model.rowCount() and \
                    self.detail.case_id is None:
                self.table.selectRow(0)
            self.sig_list_loaded.emit()
        elif self.table.currentIndex().row() < 0 and self.model.rowCount():
            if self._pending_select and self.model.row_of(self._pending_select) >= 0:
                self.select_case(self._pending_select)
                self._pending_select = None
            else:
                self.table.selectRow(0)

    def _restore_selection(self, current_id: str | None, selected: set[str]) -> None:
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
        row = self.model.row_of(case_id)
        if row < 0:
            self.detail.load(case_id)
            return False
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    def _current_changed(self, current: Any, _previous: Any) -> None:
        case_id = self.model.case_id(current.row())
        if case_id and case_id != self.detail.case_id:
            self.detail.load(case_id)

    def move_selection(self, step: int) -> None:
        if self.tabs.currentIndex() != 0 or not self.model.rowCount():
            return
        row = self.table.currentIndex().row()
        row = max(0, min(self.model.rowCount() - 1, row + step if row >= 0 else 0))
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))

    def open_current_in_tab(self) -> None:
        case_id = self.model.case_id(self.table.currentIndex().row())
        if case_id:
            self.open_case_tab(case_id)

    # --- tabs ---------------------------------------------------------------------------
    def open_case_tab(self, case_id: str) -> CaseDetail:
        existing = self.tab_details.get(case_id)
        if existing is not None:
            self.tabs.setCurrentWidget(existing)
            return existing
        placeholder = self.parked.get(case_id)
        if placeholder is not None:
            self.tabs.setCurrentWidget(placeholder)  # _tab_changed brings it back to life
            return self.tab_details[case_id]
        detail = self._new_tab_detail(case_id)
        # The key from the list until the case loads: a tab parked before its case came
        # back (opened in a quick burst) keeps a name rather than "Loading…".
        row = self.model.row_of(case_id)
        index = self.tabs.addTab(detail, self.model.case_key(row) or "Loading…")
        self.tabs.setCurrentIndex(index)
        detail.load(case_id)  # once in the tab bar: a cached answer may retitle at once
        if self.spare_detail is None:
            QTimer.singleShot(SPARE_DELAY_MS, self._prepare_spare)
        return detail

    def _new_tab_detail(self, case_id: str) -> CaseDetail:
        """A live CaseDetail for a tab (the caller puts it in the tab bar, then loads): the
        spare view when there is one, else a new one."""
        detail = self.spare_detail or self._build_tab_detail()
        self.spare_detail = None
        self.tab_details[case_id] = detail
        self._touch_tab(case_id)
        draft = self.drafts.pop(case_id, None)
        if draft is not None:
            self._restore_draft(detail, draft)
        return detail

    def _build_tab_detail(self) -> CaseDetail:
        detail = CaseDetail(self.bridge)
        self._wire_detail(detail)
        detail.sig_title_changed.connect(lambda title, d=detail: self._retitle(d, title))
        return detail

    def _prepare_spare(self) -> None:
        """Build the next tab's view while the agent reads (the event loop is idle), so
        opening a case in a tab costs the query and the fill, not the widget tree."""
        if self.spare_detail is not None or self.closed:
            return
        detail = self._build_tab_detail()
        # Made a child of the tab pages already: with the app style sheet, reparenting
        # re-polishes the whole tree (about half of what building it costs).
        pages = self.tabs.findChild(QStackedWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        if pages is not None:
            detail.setParent(pages)
            detail.hide()
        self.spare_detail = detail

    def _retitle(self, detail: CaseDetail, title: str) -> None:
        index = self.tabs.indexOf(detail)
        if index >= 0:
            short = title if len(title) <= 34 else title[:32] + "…"
            self.tabs.setTabText(index, short)
            self.tabs.setTabToolTip(index, title)

    def close_tab(self, index: int) -> None:
        if index <= 0:
            return
        widget = self.tabs.widget(index)
        self.tabs.removeTab(index)
        for case_id, detail in list(self.tab_details.items()):
            if detail is widget:
                self._retire_detail(case_id)
        for case_id, placeholder in list(self.parked.items()):
            if placeholder is widget:
                del self.parked[case_id]
                self.drafts.pop(case_id, None)
                placeholder.deleteLater()
        self.tab_order = [c for c in self.tab_order
                          if c in self.tab_details or c in self.parked]

    def _retire_detail(self, case_id: str) -> None:
        """A tab's view is no longer needed: it becomes the spare (emptied) when there is
        none, else it is deleted."""
        if self.spare_detail is not None or self.closed:
            self._drop_detail(case_id)
            return
        detail = self.tab_details.pop(case_id)
        detail.recycle()
        self.spare_detail = detail

    def _drop_detail(self, case_id: str) -> None:
        detail = self.tab_details.pop(case_id)
        try:
            self.bridge.sig_changes_applied.disconnect(detail.on_changes)
        except (RuntimeError, TypeError):
            pass
        detail.deleteLater()

    # Memory: every live CaseDetail holds its conversation document, history and composer
    # (several MB each). Only the MAX_LIVE_TABS most recently used tabs stay live; older
    # ones become placeholders (title and draft kept) rebuilt when activated.
    def _touch_tab(self, case_id: str) -> None:
        if case_id in self.tab_order:
            self.tab_order.remove(case_id)
        self.tab_order.append(case_id)
        live = [c for c in self.tab_order if c in self.tab_details]
        current = self.tabs.currentWidget()
        for old in live[:max(0, len(live) - MAX_LIVE_TABS)]:
            if self.tab_details[old] is not current and old != case_id:
                self._park(old)

    def _park(self, case_id: str) -> None:
        detail = self.tab_details[case_id]
        index = self.tabs.indexOf(detail)
        if index < 0:
            return
        draft = self._draft_of(detail)
        if draft is not None:
            self.drafts[case_id] = draft
        placeholder = QLabel("Loading…")
        placeholder.setObjectName("Meta")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setProperty("case_id", case_id)
        text, tip = self.tabs.tabText(index), self.tabs.tabToolTip(index)
        self.tabs.blockSignals(True)
        self.tabs.insertTab(index, placeholder, text)
        self.tabs.setTabToolTip(index, tip)
        self.tabs.removeTab(index + 1)
        self.tabs.blockSignals(False)
        self.parked[case_id] = placeholder
        self._retire_detail(case_id)

    def _unpark(self, case_id: str) -> None:
        placeholder = self.parked.pop(case_id)
        index = self.tabs.indexOf(placeholder)
        text, tip = self.tabs.tabText(index), self.tabs.tabToolTip(index)
        detail = self._new_tab_detail(case_id)
        self.tabs.blockSignals(True)
        self.tabs.insertTab(index, detail, text)
        self.tabs.setTabToolTip(index, tip)
        self.tabs.removeTab(index + 1)
        self.tabs.setCurrentIndex(index)
        self.tabs.blockSignals(False)
        placeholder.deleteLater()
        detail.load(case_id)
        self._update_viewing()

    @staticmethod
    def _draft_of(detail: CaseDetail) -> tuple[str, bool] | None:
        composer = getattr(detail, "composer", None)
        editor = getattr(composer, "editor", None)
        if editor is None:
            return None
        text = editor.toPlainText()
        return (text, bool(getattr(composer, "internal", False))) if text.strip() else None

    @staticmethod
    def _restore_draft(detail: CaseDetail, draft: tuple[str, bool]) -> None:
        composer = getattr(detail, "composer", None)
        editor = getattr(composer, "editor", None)
        if editor is None:
            return
        editor.setPlainText(draft[0])
        note_button = getattr(composer, "note_button", None)
        if draft[1] and note_button is not None:
            note_button.setChecked(True)

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        for case_id, placeholder in list(self.parked.items()):
            if placeholder is widget:
                self._unpark(case_id)
                return
        for case_id, detail in self.tab_details.items():
            if detail is widget:
                self._touch_tab(case_id)
                break
        self._update_viewing()

    def _cycle_tab(self, step: int) -> None:
        count = self.tabs.count()
        if count:
            self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % count)

    def current_detail(self) -> CaseDetail:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, CaseDetail) else self.detail

    # --- actions ------------------------------------------------------------------------
    def new_case(self) -> None:
        from app.ui.new_case_dialog import NewCaseDialog

        dialog = NewCaseDialog(self.bridge, self.agents, self)
        dialog.sig_created.connect(self._case_created)
        self.new_case_dialog = dialog
        dialog.open()

    def _case_created(self, case_id: str, key: str) -> None:
        self._pending_select = case_id
        self.tabs.setCurrentIndex(0)
        self.show_message(f"Created {key}")

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
        if self.search_edit.text() == query:
            self._search_text_changed(query)
        else:
            self.search_edit.setText(query)
        self._keep_view = False

    _keep_view = False

    def _search_text_changed(self, text: str) -> None:
        query = text.strip()
        if not query:
            if self.search_query:
                self._leave_search()
                if not self.view.query.startswith(SEARCH_PREFIX):
                    self.reload_list()
                else:
                    self.sidebar.select(DEFAULT_VIEW)
            return
        if not self.search_query:
            self.list_stack.setCurrentIndex(1)
            self._show_list_area()
            self.filter_edit.setEnabled(False)
            if not self._keep_view and not self.view.query.startswith(SEARCH_PREFIX):
                self.sidebar.clear_selection()
        if not self._keep_view and self.view.query.startswith(SEARCH_PREFIX) and \
                self.view.query[len(SEARCH_PREFIX):].strip() != query:
            self.sidebar.clear_selection()  # edited: no longer the saved search
        self.search_query = query
        self.view_title.setText("Search" if not self.view.query.startswith(SEARCH_PREFIX)
                                else self.view.title)
        self._list_generation += 1  # a list load in flight must not land on the results
        self.list_loading = False
        self.search.search(query)
        if not self.search.ready:
            self.results.show_waiting("Preparing the search index… results appear as soon "
                                      "as it is ready")
            self.search.start()

    def _leave_search(self) -> None:
        if not self.search_query and self.list_stack.currentIndex() == 0:
            return
        self.search_query = ""
        self.search.generation += 1  # drop any answer still on its way
        self.list_stack.setCurrentIndex(0)
        self.filter_edit.setEnabled(self.view.id not in SLA_VIEWS)
        self.view_title.setText(self.view.title)
        if self.search_edit.text():
            self.search_edit.blockSignals(True)
            self.search_edit.clear()
            self.search_edit.blockSignals(False)

    def _search_results(self, result: Any) -> None:
        if not self.search_query:
            return
        self.results.show_result(result)
        self.view_count.setText(f"{result.total:,} found")
        if self.view.query.startswith(SEARCH_PREFIX):
            item = self.sidebar.items.get(self.view.id)
            if item is not None:
                from app.ui.sidebar import COUNT_ROLE

                item.setData(COUNT_ROLE, int(result.total))
        self.sig_search_shown.emit(result.query)

    def _search_current(self, case_id: str) -> None:
        if case_id != self.detail.case_id:
            self.detail.load(case_id)

    def _search_return(self) -> None:
        if self.search_query and self.results.model.rowCount():
            self.results.table.setFocus()

    def _index_updated(self, _count: int) -> None:
        if self.search_query:  # an edit or a synced case may change the results
            self.search.search(self.search_query)

    def show_search_help(self) -> None:
        popup = SearchHelp(self)
        self.search_help = popup
        popup.adjustSize()
        corner = self.search_help_button.mapToGlobal(
            self.search_help_button.rect().bottomRight())
        popup.move(corner.x() - popup.width(), corner.y() + 4)
        popup.show()

    def save_search_as_view(self) -> None:
        query = self.search_query
        if not query:
            return
        name, ok = QInputDialog.getText(self, "Save search as view",
                                        f"Name for the view\n(search: {query})", text=query)
        if ok and name.strip():
            self.save_search(name.strip(), query)

    def save_search(self, name: str, query: str) -> None:
        from app.operations import cases as ops

        self.bridge.run(ops.save_view, name=name, query=SEARCH_PREFIX + query,
                        on_done=lambda _r: self.show_message(f"Saved search '{name}'"))

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802
        from PySide6.QtCore import QEvent

        if watched is self.search_edit and event.type() == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Escape and self.search_edit.text():
                self.search_edit.clear()
                return True
            if event.key() == Qt.Key.Key_Down and self.search_query:
                self.results.table.setFocus()
                return True
        return super().eventFilter(watched, event)

    def _index_progress(self, done: int, total: int) -> None:
        self.index_label.setText(f"Indexing {done:,}/{total:,}…")
        self.index_label.show()
        self.index_cancel.show()

    def _index_ready(self) -> None:
        self.index_label.hide()
        self.index_cancel.hide()

    def _index_failed(self, message: str) -> None:
        self.index_label.hide()
        self.index_cancel.hide()
        if self.search_query:
            self.results.show_waiting(message)
        self.show_message(message)

    # --- dashboard ----------------------------------------------------------------------
    def show_dashboard(self) -> None:
        """Mount the analytics dashboard (built on first open) in place of the list."""
        self._leave_search()
        self.view = View("dashboard", "Dashboard", "", "updated")
        self.view_title.setText("Dashboard")
        self.view_count.setText("")
        self.filter_edit.setEnabled(False)
        self.filter_edit.hide()  # the dashboard has its own filters
        self.tabs.setCurrentIndex(0)
        if self.dashboard is None and not self.analytics.ready:
            # Built on the window's read model once it is open: one catch-up writer.
            self.view_count.setText("loading the figures…")
            self._dashboard_waiting = True
            self.analytics.start()
            return
        if self.dashboard is None:
            from app.ui.dashboard import build_dashboard

            # The window's read model when it is open (one catch-up writer for the file).
            self.dashboard = build_dashboard(self.store, self.data_dir,
                                             model=self.analytics.model)
            self.dashboard.sig_open_cases.connect(self.open_cases_query)
            self.dashboard.sig_error.connect(self.show_error)
            from PySide6.QtWidgets import QScrollArea, QSizePolicy

            # Its period line may shrink (elided) so the charts fit the window's width.
            self.dashboard.status.setSizePolicy(QSizePolicy.Policy.Ignored,
                                                QSizePolicy.Policy.Preferred)
            self.dashboard.status.setMinimumWidth(60)

            # Scrolls rather than widening the window past the screen on small displays.
            self.dashboard_area = QScrollArea()
            self.dashboard_area.setObjectName("DashboardArea")
            self.dashboard_area.setFrameShape(QFrame.Shape.NoFrame)
            self.dashboard_area.setWidgetResizable(True)
            self.dashboard_area.setWidget(self.dashboard)
            self.main_stack.addWidget(self.dashboard_area)
        elif self._dashboard_stale:
            self.dashboard.reload()
        self._dashboard_stale = False
        self.main_stack.setCurrentWidget(self.dashboard_area)
        self.sig_dashboard_shown.emit()

    _dashboard_stale = False
    _dashboard_waiting = False

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
        if self._dashboard_waiting:
            self._dashboard_waiting = False
            if self.view.id == "dashboard":
                self.show_dashboard()

    def _analytics_updated(self) -> None:
        self.model.set_deadlines({}, replace=True)
        self._load_visible_due(*self.table.visible_rows())
        self._load_sla_counts()
        if self.view.id in SLA_VIEWS:
            self._refresh_timer.start()

    def _load_visible_due(self, first: int, last: int) -> None:
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
                self._load_visible_due(*self.table.visible_rows())

        def failed(exc: Exception) -> None:
            self._due_loading = False
            self.show_error(describe(exc))

        self.bridge.read(load_due, self.analytics.model, ids, int(time.time() * 1000),
                         on_done=done, on_error=failed, track=False)

    def _load_sla_counts(self) -> None:
        from app.ui.insights import count_sla

        self.bridge.read(count_sla, self.analytics.model, int(time.time() * 1000),
                         on_done=self.sidebar.set_extra_counts,
                         on_error=lambda e: self.show_error(describe(e)), track=False)

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

        self.bridge.run(ops.undo, on_done=done)

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
            query = filter_to_query(self.current_filter())
        except ValueError as exc:
            self.show_error(str(exc))
            return
        name, ok = QInputDialog.getText(self, "Save view", f"Name for the view\n({query})",
                                        text=self.filter_edit.text().strip() or self.view.title)
        if not ok or not name.strip():
            return
        from app.operations import cases as ops

        self.bridge.run(ops.save_view, name=name, query=query)

    def rename_view(self, name: str, query: str) -> None:
        new, ok = QInputDialog.getText(self, "Rename view", "New name", text=name)
        if ok and new.strip() and new.strip() != name:
            self.bridge.run(rename_view, old=name, new=new.strip(), query=query)

    def delete_view(self, name: str) -> None:
        from app.operations import cases as ops

        if self.view.id == "saved:" + name:
            self.sidebar.select(DEFAULT_VIEW)
        self.bridge.run(ops.delete_view, name=name,
                        on_done=lambda _r: self.show_message(f"Deleted view '{name}'"))

    def _table_menu(self, pos: Any) -> None:
        from PySide6.QtWidgets import QMenu

        ids = self.table.selected_case_ids()
        if not ids:
            return
        menu = QMenu(self)
        if len(ids) > 1:
            menu.addAction(f"Edit {len(ids)} cases…", self.bulk_edit)
        else:
            menu.addAction("Open in a tab", lambda: self.open_case_tab(ids[0]))
            menu.addAction("Edit…", self.bulk_edit)
        menu.exec(self.table.viewport().mapToGlobal(pos))

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

    def _wire_detail(self, detail: CaseDetail) -> None:
        detail.sig_open_case.connect(self.open_case_tab)
        detail.sig_split_done.connect(self.open_case_tab)
        detail.sig_loaded.connect(lambda _cid: self._update_viewing())

    def _update_viewing(self) -> None:
        self.sync.set_viewing(self.current_detail().case_id)

    def _viewers(self, case_id: str, viewers: list[dict[str, Any]]) -> None:
        for detail in (self.detail, *self.tab_details.values()):
            detail.set_viewers(case_id, viewers)

    def refresh_all(self) -> None:
        if self.view.id == "dashboard" and self.dashboard is not None:
            self.dashboard.reload()
        elif self.search_query:
            self.search.search(self.search_query)
        self.reload_list()
        self.refresh_counts()
        self.refresh_status()
        self.detail.reload()

    # --- changes, counts, status --------------------------------------------------------
    def on_changes(self, changes: Changes) -> None:
        self.search.on_changes(changes)  # findable within a second (one indexing thread)
        self.analytics.on_changes(changes)
        self.notifications.on_changes(changes)
        if self.dashboard is not None and (changes.cases or changes.comments):
            if self.main_stack.currentWidget() is self.dashboard_area:
                self.dashboard.reload()
            else:
                self._dashboard_stale = True
        if self.view.id == "dashboard" or self.search_query:
            if changes.cases or changes.views:
                self.refresh_counts()
            self.refresh_status()
            return
        if changes.created or changes.rebuilt:
            self._refresh_timer.start()
        elif changes.case_ids:
            self.refresh_changed_rows(sorted(changes.case_ids))
        if changes.cases or changes.views:
            self.refresh_counts()
        self.refresh_status()
        if changes.directory:
            self.bridge.query(load_agents, on_done=self._agents_loaded)

    def refresh_changed_rows(self, case_ids: list[str]) -> None:
        """Refresh just these rows in place; re-fetch the view if one may move or enter it."""
        if any(self.model.row_of(cid) < 0 for cid in case_ids) or self.list_loading:
            self._refresh_timer.start()  # it may have entered the view
            return
        self.rows_refreshing = True
        sort, column = self._sort_spec()
        index = COLUMNS[column][1] if column is not None else {
            "updated": 7, "key": 1, "subject": 2, "status": 3, "priority": 4,
            "requester": 5, "assignee": 6}.get(sort)

        def done(rows: list[Row]) -> None:
            self.rows_refreshing = False
            old = {r[0]: r for r in self.model.rows()}
            if index is None or any(index < len(r) and old.get(r[0]) is not None and
                                    old[r[0]][index] != r[index] for r in rows):
                self._refresh_timer.start()  # the sort key changed: the row may move
                return
            fresh = {r[0]: r for r in rows}
            self.model.update_rows([fresh.get(x[0], x) for x in self.model.rows()])

        def failed(exc: Exception) -> None:
            self.rows_refreshing = False
            self.show_error(describe(exc))

        self.bridge.read(refresh_rows, self.store, case_ids, on_done=done, on_error=failed)

    def _agents_loaded(self, agents: list[tuple[str, str]]) -> None:
        self.agents = agents

    def refresh_counts(self) -> None:
        self.counts_loading = True

        def done(data: dict[str, Any]) -> None:
            self.counts_loading = False
            self.sidebar.set_counts(data)

        def failed(exc: Exception) -> None:
            self.counts_loading = False
            self.show_error(describe(exc))

        self.bridge.query(load_counts, self.store.actor, on_done=done, on_error=failed)

    def refresh_status(self) -> None:
        self.status_loading = True

        def done(result: tuple[int, str | None]) -> None:
            self.status_loading = False
            outbox, label = result
            self.outbox = outbox
            self.sync_status.refresh()
            if self.sync.signed_in:
                self.outbox_label.setText(
                    "All changes synced" if not outbox else
                    f"{outbox:,} change{'s' if outbox != 1 else ''} waiting to sync")
            else:
                self.outbox_label.setText(
                    "All changes saved on this device" if not outbox else
                    f"{outbox:,} change{'s' if outbox != 1 else ''} saved on this device")
            self.undo_label = label
            self.undo_hint.setText(f"Ctrl+Z to undo: {label}" if label else "")

        def failed(exc: Exception) -> None:
            self.status_loading = False
            self.show_error(describe(exc))

        self.bridge.read(fetch_status, self.store, on_done=done, on_error=failed)

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)

    def show_error(self, text: str) -> None:
        self.banner.show_message(text)
        self.message_label.setText(text)

    # --- state for tests and screenshots ------------------------------------------------
    def is_idle(self) -> bool:
        details = [self.detail, *self.tab_details.values()]
        return (self.bridge.pending == 0 and not self.startup_pending
                and not self.list_loading and not self.counts_loading
                and not self.status_loading and not any(d.loading for d in details)
                and not self.rows_refreshing
                and not self._refresh_timer.isActive() and not self._filter_timer.isActive())

    def search_idle(self) -> bool:
        """The index is ready and the newest query's results are on screen."""
        return self.search.ready and not self.search.busy and \
            self.search.shown_generation == self.search.generation

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.closed = True
        self._refresh_timer.stop()
        self._filter_timer.stop()
        self.sync.shutdown()
        self.search.shutdown()
        self.analytics.shutdown()
        self.notifications.shutdown()
        if self.dashboard is not None:
            self.dashboard.shutdown()
        self.bridge.shutdown()
        if self.spare_detail is not None:
            self.spare_detail.deleteLater()
            self.spare_detail = None
        super().closeEvent(event)

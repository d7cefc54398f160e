"""Search in the app: the index controller (background indexing) and the results view.

Threads: one ``search-index`` thread opens/builds the Whoosh index (``ensure_index``, with
progress and cancel) and runs every ``catch_up`` after applied changes (bursts coalesce into
one run). Queries run on a reader thread; at most one is in flight, and a newer query
replaces the waiting one, so a stale result never replaces a newer one. The work itself is
in ``app.operations.search``; nothing here imports Whoosh (it loads on the indexing thread).
"""

from __future__ import annotations

import html
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.changes import Changes
from app.operations.search import (
    HELP_TEXT,
    IndexCancelled,
    catch_up,
    dir_lock,
    ensure_index,
    open_service,
    run_search,
)
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.case_list import PillDelegate, draw_item_background, full_time, relative_time
from app.ui.widgets import plain_label, plain_tip

SEARCH_LIMIT = 200
MARK_OPEN, MARK_CLOSE = "«", "»"  # as the index marks matches in snippets


def snippet_html(snippet: str, open_tag: str = "<b>", close_tag: str = "</b>") -> str:
    """The snippet as HTML: text escaped, « » matches in bold (or in ``open_tag``)."""
    out: list[str] = []
    rest = snippet or ""
    while rest:
        start = rest.find(MARK_OPEN)
        if start < 0:
            out.append(html.escape(rest))
            break
        end = rest.find(MARK_CLOSE, start + 1)
        if end < 0:
            out.append(html.escape(rest.replace(MARK_OPEN, "")))
            break
        out.append(html.escape(rest[:start]))
        out.append(f"{open_tag}{html.escape(rest[start + 1:end])}{close_tag}")
        rest = rest[end + 1:]
    return "".join(out)


def elide_marked(snippet: str, fm: QFontMetrics, width: int) -> str:
    """``snippet`` cut (with "…") to fit ``width`` pixels, its « » marks kept balanced.
    Text before the first match is shortened first, so a match is always in view."""
    if fm.horizontalAdvance(plain_snippet(snippet)) <= width:
        return snippet
    first = snippet.find(MARK_OPEN)
    if first > 0:  # a few words of lead-in when there is room, else start at the match
        lead = snippet[:first].rstrip()
        cut_at = lead.rfind(" ", 0, len(lead) - 12) if width > 360 else -1
        snippet = "…" + snippet[cut_at + 1 if cut_at >= 0 else first:]
        if fm.horizontalAdvance(plain_snippet(snippet)) <= width:
            return snippet
    lo, hi = 0, len(snippet)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if fm.horizontalAdvance(plain_snippet(snippet[:mid]) + "…") <= width:
            lo = mid
        else:
            hi = mid - 1
    cut = snippet[:lo]
    if cut.count(MARK_OPEN) > cut.count(MARK_CLOSE):
        cut += MARK_CLOSE
    return cut + "…"


def plain_snippet(snippet: str) -> str:
    return (snippet or "").replace(MARK_OPEN, "").replace(MARK_CLOSE, "")


class SearchController(QObject):
    """Owns the search service (the index and its queries) of one window."""

    sig_ready = Signal()
    """The index is open and caught up: searches can run."""

    sig_progress = Signal(int, int)
    """(done, total): a full index build is under way (every 2,000 cases)."""

    sig_failed = Signal(str)
    """str: the index could not be opened or built (the message is for the agent)."""

    sig_updated = Signal(int)
    """int: a catch-up indexed this many events (results on screen may be stale)."""

    sig_results = Signal(object)
    """SearchResult: the results of the newest query (never those of a superseded one)."""

    _sig_progress = Signal(int, int)  # indexing thread → GUI

    def __init__(self, bridge: Bridge, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.data_dir = Path(data_dir)
        self.service: Any = None
        self.ready = False
        self.indexing = False  # ensure_index or catch_up running
        self._catch_up_again = False
        self._cancel = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-index")
        self._sig_progress.connect(self.sig_progress.emit, Qt.ConnectionType.QueuedConnection)
        self.generation = 0  # of the newest query asked
        self.shown_generation = 0  # of the results last emitted
        self.searching = False
        self._waiting: tuple[int, str] | None = None  # the newest query, not started yet
        self.started = False

    # --- the index ------------------------------------------------------------------------
    def start(self) -> None:
        """Open the index on the indexing thread (a missing or damaged one is rebuilt)."""
        if self.started:
            return
        self.started = True
        self.indexing = True
        store = self.bridge.store
        cancel = self._cancel

        lock = dir_lock(self.data_dir)

        def work() -> int:
            with lock:
                if cancel.is_set():
                    raise IndexCancelled("closed")
                if self.service is None:
                    self.service = open_service(self.data_dir, store)
                return ensure_index(self.service, self._progress, cancel)

        self.bridge.background(self._executor, work, on_done=self._opened,
                               on_error=self._open_failed, track=False)

    def _progress(self, done: int, total: int) -> None:
        try:
            self._sig_progress.emit(done, total)
        except RuntimeError:  # the window was deleted while the build runs
            pass

    def cancel_indexing(self) -> None:
        self._cancel.set()

    def _opened(self, _seq: int) -> None:
        self.indexing = False
        self.ready = True
        self.sig_ready.emit()
        if self._catch_up_again:
            self.catch_up()
        if self._waiting is not None:
            self._next()

    def _open_failed(self, exc: Exception) -> None:
        self.indexing = False
        self.started = False  # a later start() tries again
        if isinstance(exc, IndexCancelled):
            self._cancel = threading.Event()
            self.sig_failed.emit("Indexing cancelled: search is off until the next start")
            return
        self.sig_failed.emit(f"Search index unavailable: {describe(exc)}")

    def on_changes(self, changes: Changes) -> None:
        """After every applied change (local operation or sync): index it within ~1 s."""
        if changes.case_ids or changes.created or changes.rebuilt or changes.comments \
                or changes.directory or changes.event_ids:
            self.catch_up()

    def catch_up(self) -> None:
        if not self.ready or self.indexing:
            self._catch_up_again = True  # one more run once the current one is done
            return
        self.indexing = True
        self._catch_up_again = False
        lock = dir_lock(self.data_dir)
        service = self.service

        def work() -> int:
            with lock:
                return catch_up(service)

        self.bridge.background(self._executor, work, on_done=self._caught_up, on_error=self._catch_up_failed,
                               track=False)

    def _caught_up(self, count: int) -> None:
        self.indexing = False
        if count:
            self.sig_updated.emit(count)
        if self._catch_up_again:
            self.catch_up()

    def _catch_up_failed(self, exc: Exception) -> None:
        self.indexing = False
        self.bridge.sig_error.emit(f"Search index: {describe(exc)}")

    # --- queries --------------------------------------------------------------------------
    def search(self, query: str) -> int:
        """Ask for ``query``; returns its generation. Older queries' results are dropped."""
        self.generation += 1
        self._waiting = (self.generation, query)
        if self.ready and not self.searching:
            self._next()
        return self.generation

    def _next(self) -> None:
        if self._waiting is None or not self.ready:
            return
        generation, query = self._waiting
        self._waiting = None
        self.searching = True
        me = self.bridge.store.actor
        self.bridge.read(run_search, self.service, query, me, SEARCH_LIMIT,
                         on_done=lambda r: self._answered(generation, r),
                         on_error=lambda e: self._search_failed(generation, e))

    def _answered(self, generation: int, result: Any) -> None:
        self.searching = False
        if generation == self.generation:
            self.shown_generation = generation
            self.sig_results.emit(result)
        self._next()

    def _search_failed(self, generation: int, exc: Exception) -> None:
        self.searching = False
        if generation == self.generation:
            self.bridge.sig_error.emit(f"Search failed: {describe(exc)}")
        self._next()

    @property
    def busy(self) -> bool:
        """A query is running or waiting (tests and screenshots wait on this)."""
        return self.searching or self._waiting is not None

    def shutdown(self) -> None:
        self._cancel.set()
        service = self.service

        lock = dir_lock(self.data_dir)

        def close() -> None:
            if service is not None:
                with lock:
                    service.close()

        self._executor.submit(close)
        self._executor.shutdown(wait=False, cancel_futures=True)


# --- the results view --------------------------------------------------------------------
COLS = ("Key", "Subject", "Status", "Priority", "Updated")
HIT_ROLE = Qt.ItemDataRole.UserRole + 20
CASE_ID_ROLE = Qt.ItemDataRole.UserRole + 1  # as the case list (PillDelegate reads RAW_ROLE)
RAW_ROLE = Qt.ItemDataRole.UserRole + 2


class SearchResultsModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.hits: list[dict[str, Any]] = []
        self._now = time.time()

    def set_hits(self, hits: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.hits = list(hits)
        self._now = time.time()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.hits)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLS[section]
        return None

    def case_id(self, row: int) -> str | None:
        return str(self.hits[row]["id"]) if 0 <= row < len(self.hits) else None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        hit = self.hits[index.row()]
        col = index.column()
        if role == HIT_ROLE:
            return hit
        if role == CASE_ID_ROLE:
            return hit["id"]
        if role == RAW_ROLE:
            return {2: hit.get("status"), 3: hit.get("priority")}.get(col)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(hit, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(hit, col)
        if role == Qt.ItemDataRole.ForegroundRole and col in (0, 4):
            return QColor(theme.current().muted)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{hit.get('key')}: {hit.get('subject')}, {hit.get('status')}"
        return None

    def _display(self, hit: dict[str, Any], col: int) -> Any:
        """data() for the display role."""
        if col == 0:
            return hit.get("key") or ""
        if col == 1:
            return f"{hit.get('subject') or ''}  —  {plain_snippet(hit.get('snippet', ''))}"
        if col in (2, 3):
            return str(hit.get("status" if col == 2 else "priority") or "") \
                .replace("-", " ").capitalize()
        return relative_time(hit.get("updated_ms"), self._now)

    @staticmethod
    def _tooltip(hit: dict[str, Any], col: int) -> Any:
        """data() for the tooltip role."""
        if col == 4:
            return full_time(hit.get("updated_ms"))
        if col == 1:
            return plain_tip(f"{hit.get('subject')}\n\n"
                             f"{plain_snippet(hit.get('snippet', ''))}")
        return None


def hit_html(hit: dict[str, Any], font: QFont, width: int) -> str:
    """A hit's two lines as rich text (for the highlight): the subject, then the snippet
    with its matches marked. Every piece of the case's text is escaped before any markup
    is added (``snippet_html`` escapes between the marks)."""
    t = theme.current()
    source = hit.get("snippet_source") or ""
    where = {"comment": "in a comment", "description": "in the description"}.get(source, "")
    fm = QFontMetrics(font)
    bold = QFont(font)
    bold.setWeight(QFont.Weight.DemiBold)
    raw = str(hit.get("snippet") or "")
    if source == "subject" and MARK_OPEN in raw:
        # The match is in the subject: highlight it there, say so below.
        subject = snippet_html(elide_marked(raw, QFontMetrics(bold), width),
                               f'<span style="background:{t.selection}">', "</span>")
        snippet = f'<span style="color:{t.muted}">match in the subject</span>'
        tag = ""
    else:
        subject = html.escape(QFontMetrics(bold).elidedText(
            str(hit.get("subject") or ""), Qt.TextElideMode.ElideRight, width))
        # Where it matched, when the column has room to say so.
        tag = (f' <span style="color:{t.muted}">· {where}</span>'
               if where and width > 320 else "")
        room = width - (fm.horizontalAdvance(f" · {where}") if tag else 0)
        snippet = snippet_html(elide_marked(raw, fm, room))
    return (f'<div style="color:{t.text}; font-weight:600">{subject}</div>'
            f'<div style="color:{t.muted}">{snippet}{tag}</div>')


class HitDelegate(PillDelegate):
    """Subject on the first line, the snippet (matches in bold) on the second; pills for
    status and priority (as in the case list)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        if index.column() in (2, 3):
            self._paint_pill(painter, option, index)
            return
        if index.column() != 1:
            super(PillDelegate, self).paint(painter, option, index)
            return
        hit = index.data(HIT_ROLE) or {}
        draw_item_background(self, painter, option, index)
        t = theme.current()
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(0)
        rect = option.rect.adjusted(8, 6, -8, -4)
        doc.setHtml(hit_html(hit, option.font, rect.width()))
        doc.setTextWidth(-1)
        painter.save()
        painter.setClipRect(rect)
        painter.translate(rect.topLeft())
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.clip = QRectF(0, 0, rect.width(), rect.height())
        ctx.palette.setColor(QPalette.ColorRole.Text, QColor(t.text))
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def _paint_pill(self, painter: QPainter, option: QStyleOptionViewItem,
                    index: QModelIndex | QPersistentModelIndex) -> None:
        from app.ui.case_list import PRIORITY, STATUS

        self.paint_pill(painter, option, index, STATUS if index.column() == 2 else PRIORITY)

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), 52)


class SearchResultsView(QWidget):
    """The results screen in the list area: a summary line, notes, did-you-mean, the hits."""

    sig_open_case = Signal(str)
    """str: case id to open in a tab (Enter or double-click)."""

    sig_current_case = Signal(str)
    """str: the highlighted hit (the detail pane follows it)."""

    sig_apply_query = Signal(str)
    """str: the agent clicked "Did you mean …?": search for this instead."""

    sig_save_view = Signal()
    """The agent asked to save this search as a sidebar view."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SearchResults")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self._build_summary_bar())
        self._build_table()
        lay.addWidget(self.table, 1)
        self.result: Any = None

    def _build_summary_bar(self) -> QFrame:
        """The bar above the hits: summary, did-you-mean, "Save as view", notes."""
        bar = QFrame()
        bar.setObjectName("SearchSummaryBar")
        bar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        bl = QVBoxLayout(bar)
        bl.setContentsMargins(14, 8, 10, 8)
        bl.setSpacing(4)
        top = QHBoxLayout()
        top.setSpacing(10)
        self.summary = plain_label("Type to search every case on this device")
        self.summary.setObjectName("SearchSummary")
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary.setMinimumWidth(120)
        top.addWidget(self.summary, 1)
        self.suggestion = QLabel()
        self.suggestion.setObjectName("SearchSuggestion")
        # rich text for the link; the suggestion is escaped where it is set
        self.suggestion.setTextFormat(Qt.TextFormat.RichText)
        self.suggestion.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                                | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.suggestion.linkActivated.connect(self._suggestion_clicked)
        self.suggestion.hide()
        top.addWidget(self.suggestion)
        self.save_button = QPushButton("Save as view")
        self.save_button.setIcon(theme.icon("star"))
        self.save_button.setToolTip("Keep this search in the sidebar")
        self.save_button.clicked.connect(self.sig_save_view)
        self.save_button.setEnabled(False)
        top.addWidget(self.save_button)
        bl.addLayout(top)
        self.notes = plain_label()  # notes quote the query
        self.notes.setObjectName("SearchNotes")
        self.notes.setWordWrap(True)
        self.notes.hide()
        bl.addWidget(self.notes)
        return bar

    def _build_table(self) -> None:
        """The results model and its table view."""
        self.model = SearchResultsModel(self)
        self.table = QTableView()
        self.table.setObjectName("CaseTable")
        self.table.setAccessibleName("Search results")
        self.table.setModel(self.model)
        self.table.setItemDelegate(HitDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(54)
        hh = self.table.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 96), (2, 100), (3, 96), (4, 92)):
            self.table.setColumnWidth(col, width)
        self.table.doubleClicked.connect(self._open_index)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.installEventFilter(self)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        width = self.table.viewport().width()
        self.table.setColumnHidden(3, width < 620)  # priority first, then updated
        self.table.setColumnHidden(4, width < 500)

    def show_result(self, result: Any) -> None:
        self.result = result
        self.model.set_hits(result.hits)
        total = int(result.total)
        shown = len(result.hits)
        found = f"{total:,} found" if total != 1 else "1 found"
        more = f" · showing the best {shown:,}" if shown < total else ""
        self.summary.setText(f"{found} in {result.took_ms:,.0f} ms{more}"
                             if result.query.strip() else "Type to search")
        if result.suggestion:
            link = html.escape(result.suggestion)
            self.suggestion.setText(f'Did you mean <a href="apply"><b>{link}</b></a>?')
            self.suggestion.show()
        else:
            self.suggestion.hide()
        if result.notes:
            self.notes.setText("Note: " + " · ".join(result.notes))
            self.notes.show()
        else:
            self.notes.hide()
        self.save_button.setEnabled(bool(result.query.strip()))
        if self.model.rowCount():
            self.table.selectRow(0)

    def show_waiting(self, text: str) -> None:
        self.summary.setText(text)

    def _suggestion_clicked(self, _link: str) -> None:
        if self.result is not None and self.result.suggestion:
            self.sig_apply_query.emit(str(self.result.suggestion))

    def _open_index(self, index: QModelIndex) -> None:
        case_id = self.model.case_id(index.row())
        if case_id:
            self.sig_open_case.emit(case_id)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        case_id = self.model.case_id(current.row())
        if case_id:
            self.sig_current_case.emit(case_id)

    def open_current(self) -> None:
        index = self.table.currentIndex()
        if index.isValid():
            self._open_index(index)

    def eventFilter(self, watched: QObject, event: Any) -> bool:  # noqa: N802
        from PySide6.QtCore import QEvent

        if watched is self.table and event.type() == QEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_current()
            return True
        return super().eventFilter(watched, event)


class SearchHelp(QFrame):
    """The "?" popup next to the search field: the query language in short."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("Palette")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 12)
        title = QLabel("Search syntax")
        title.setObjectName("ViewTitle")
        lay.addWidget(title)
        self.text = QLabel(HELP_TEXT)
        self.text.setObjectName("SearchHelpText")
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.text)


def start_soon(fn: Any) -> None:
    QTimer.singleShot(0, fn)

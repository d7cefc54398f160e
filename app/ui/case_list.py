"""The case list: a flat table model over row tuples and a delegate painting pills.

Rows come from ``queries.list_cases`` on a reader thread: first a small page (shown at
once), then the whole result appended. Nothing here creates per-row widgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from app.operations import lists
from app.ui import theme
from app.ui.widgets import plain_tip

Row = tuple[Any, ...]  # (id, key, subject, status, priority, requester, assignee, updated, tags)
ID, KEY, SUBJECT, STATUS, PRIORITY, REQUESTER, ASSIGNEE, UPDATED, TAGS = range(9)
DUE = 100  # not in the row: the model's deadlines (loaded for the visible rows only)

# (title, row index, query sort name or None when sorted on the worker)
COLUMNS: list[tuple[str, int, str | None]] = [
    ("Key", KEY, "key"), ("Subject", SUBJECT, "subject"), ("Status", STATUS, "status"),
    ("Priority", PRIORITY, "priority"), ("Requester", REQUESTER, None),
    ("Assignee", ASSIGNEE, None), ("Updated", UPDATED, "updated"), ("Tags", TAGS, None),
    ("Due in", DUE, None),
]
DUE_COLUMN = len(COLUMNS) - 1
CASE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
RAW_ROLE = Qt.ItemDataRole.UserRole + 2
DUE_STATE_ROLE = Qt.ItemDataRole.UserRole + 3
DUE_COLORS = {"breached": "#d63a3d", "at_risk": "#c77700"}
Due = tuple[int | None, str]  # (deadline ms or None while paused, state)


def due_text(due: Due | None, now_ms: int) -> str:
    """"3 h 20 min", "2 d 4 h", "overdue 40 min", "paused" (empty: no running SLA)."""
    if due is None:
        return ""
    deadline, state = due
    if deadline is None:
        return "paused" if state in ("paused", "at_risk") else ""
    left = deadline - now_ms
    if left <= 0:  # one unit is enough for how late: "2 d late", "5 h late"
        return _span(-left).split(" ", 2)[0] + " " + _span(-left).split(" ", 2)[1] + " late"
    return _span(left)


def _span(ms: int) -> str:
    minutes = ms // 60_000
    if minutes < 60:
        return f"{max(1, minutes)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
PRIORITY_ORDER, STATUS_ORDER = lists.PRIORITY_ORDER, lists.STATUS_ORDER


def relative_time(ms: int | None, now: float | None = None) -> str:
    if not ms:
        return ""
    now = time.time() if now is None else now
    delta = now - ms / 1000
    if delta < 0:
        delta = 0
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86_400:
        return f"{int(delta // 3600)} h ago"
    if delta < 7 * 86_400:
        days = int(delta // 86_400)
        return "yesterday" if days == 1 else f"{days} days ago"
    moment = datetime.fromtimestamp(ms / 1000)
    if delta < 300 * 86_400:
        return moment.strftime("%d %b")
    return moment.strftime("%d %b %Y")


def full_time(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000).strftime("%a %d %b %Y, %H:%M")


def sort_rows(rows: list[Row], column: int, descending: bool,
              deadlines: dict[str, Due] | None = None) -> list[Row]:
    """A sorted copy by a header column (see :func:`app.operations.lists.sort_rows`)."""
    return lists.sort_rows(rows, COLUMNS[column][1], descending, deadlines)


class CaseTableModel(QAbstractTableModel):
    sig_sort_requested = Signal(int, bool)
    """(column, descending): the view asked for a sort; the owner reloads off the UI thread."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self.deadlines: dict[str, Due] = {}  # case id → (deadline, state), visible rows
        self.suppress_sort = False
        self._now = time.time()
        self._bold = QFont()
        self._bold.setWeight(QFont.Weight.DemiBold)

    # --- data in ------------------------------------------------------------------------
    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self._rows = rows
        self._index = {r[ID]: i for i, r in enumerate(rows)}
        self._now = time.time()
        self.endResetModel()

    def append_rows(self, rows: list[Row]) -> None:
        if not rows:
            return
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        self._rows.extend(rows)
        for i, r in enumerate(rows, start):
            self._index[r[ID]] = i
        self.endInsertRows()

    def update_rows(self, rows: list[Row]) -> None:
        """Same ids in the same order: replace values and repaint only."""
        self._rows = rows
        self._now = time.time()
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))

    def reorder_rows(self, rows: list[Row]) -> None:
        """The same cases in a new order (an edit moved their sort key): a layout change, so
        the selection and the current row follow their cases and the view keeps its place."""
        if sorted(r[ID] for r in rows) != sorted(r[ID] for r in self._rows):
            self.set_rows(rows)
            return
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        ids = [self._rows[i.row()][ID] if 0 <= i.row() < len(self._rows) else None
               for i in before]
        self._rows = rows
        self._index = {r[ID]: i for i, r in enumerate(rows)}
        self._now = time.time()
        after = [self.index(self._index[c], i.column()) if c is not None else QModelIndex()
                 for c, i in zip(ids, before, strict=True)]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def rows(self) -> list[Row]:
        return self._rows

    def set_deadlines(self, deadlines: dict[str, Due], *, replace: bool = False) -> None:
        """Time-left data for some rows (fetched off the UI thread); repaints that column."""
        if replace:
            self.deadlines = dict(deadlines)
        else:
            self.deadlines.update(deadlines)
        self._now = time.time()
        if self._rows:
            self.dataChanged.emit(self.index(0, DUE_COLUMN),
                                  self.index(len(self._rows) - 1, DUE_COLUMN))

    def missing_deadlines(self, first: int, last: int) -> list[str]:
        """Ids of rows ``first..last`` whose time left is not loaded yet."""
        return [r[ID] for r in self._rows[max(0, first):last + 1]
                if r[ID] not in self.deadlines]

    def row_of(self, case_id: str) -> int:
        return self._index.get(case_id, -1)

    def case_id(self, row: int) -> str | None:
        return self._rows[row][ID] if 0 <= row < len(self._rows) else None

    def case_key(self, row: int) -> str | None:
        return self._rows[row][KEY] if 0 <= row < len(self._rows) else None

    # --- Qt model -----------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        field = COLUMNS[index.column()][1]
        if field == DUE:
            return self._due_data(row, role)
        read = self._READERS.get(role)
        return read(self, row, field) if read is not None else None

    def _due_data(self, row: Row, role: int) -> Any:
        due = self.deadlines.get(row[ID])
        if role == Qt.ItemDataRole.DisplayRole:
            return due_text(due, int(self._now * 1000))
        if role == DUE_STATE_ROLE:
            if due is None:
                return None
            if due[0] is not None and due[0] <= self._now * 1000:
                return "breached"
            return due[1]
        if role == Qt.ItemDataRole.ToolTipRole and due is not None and due[0]:
            return f"Next SLA deadline: {full_time(due[0])}"
        if role == CASE_ID_ROLE:
            return row[ID]
        return None

    # What data() answers for each role of a column other than time left.
    def _display(self, row: Row, field: int) -> Any:
        value = row[field]
        if field == UPDATED:
            return relative_time(value, self._now)
        if field == TAGS:
            return "  ".join(f"#{t}" for t in (value or "").split())
        if field in (STATUS, PRIORITY):
            return str(value).replace("-", " ").capitalize()
        return value or ("Unassigned" if field == ASSIGNEE else "")

    def _tooltip(self, row: Row, field: int) -> Any:
        if field == UPDATED:
            return full_time(row[UPDATED])
        if field == SUBJECT:
            return plain_tip(str(row[SUBJECT] or ""))  # a subject is the sender's text
        return None

    def _font(self, row: Row, field: int) -> Any:
        return self._bold if field == KEY else None

    def _foreground(self, row: Row, field: int) -> Any:
        if field in (KEY, UPDATED, TAGS) or (field == ASSIGNEE and not row[ASSIGNEE]):
            return QColor(theme.current().muted)
        return None

    def _accessible(self, row: Row, field: int) -> Any:
        return f"{row[KEY]}: {row[SUBJECT]}, {row[STATUS]}, {row[PRIORITY]} priority"

    _READERS: ClassVar[dict[int, Callable[[CaseTableModel, Row, int], Any]]] = {
        Qt.ItemDataRole.DisplayRole: _display,
        RAW_ROLE: lambda self, row, field: row[field],
        CASE_ID_ROLE: lambda self, row, field: row[ID],
        Qt.ItemDataRole.ToolTipRole: _tooltip,
        Qt.ItemDataRole.FontRole: _font,
        Qt.ItemDataRole.ForegroundRole: _foreground,
        Qt.ItemDataRole.AccessibleTextRole: _accessible,
    }

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if self.suppress_sort:
            return
        self.sig_sort_requested.emit(column, order == Qt.SortOrder.DescendingOrder)


def draw_item_background(delegate: QStyledItemDelegate, painter: QPainter,
                         option: QStyleOptionViewItem,
                         index: QModelIndex | QPersistentModelIndex) -> None:
    """The cell's background (selection, hover) as the style draws it, without its text: a
    delegate then paints its own content on top."""
    opt = QStyleOptionViewItem(option)
    delegate.initStyleOption(opt, index)
    opt.text = ""
    style = opt.widget.style() if opt.widget else None
    if style is not None:
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)


class PillDelegate(QStyledItemDelegate):
    """Paints status as a rounded pill and priority as a coloured dot with its name."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        field = COLUMNS[index.column()][1]
        if field == DUE:
            self.paint_due(painter, option, index)
            return
        if field not in (STATUS, PRIORITY):
            super().paint(painter, option, index)
            return
        self.paint_pill(painter, option, index, field)

    def paint_due(self, painter: QPainter, option: QStyleOptionViewItem,
                  index: QModelIndex | QPersistentModelIndex) -> None:
        """Time left to the next SLA deadline: red when breached, amber at risk."""
        draw_item_background(self, painter, option, index)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        if not text:
            return
        state = index.data(DUE_STATE_ROLE)
        painter.save()
        font = QFont(option.font)
        color = option.palette.text().color()
        if state in ("breached", "at_risk"):
            color = QColor(DUE_COLORS[state])
            font.setWeight(QFont.Weight.DemiBold)
        elif state == "paused":
            color = QColor(theme.current().muted)
        painter.setFont(font)
        painter.setPen(color)
        painter.drawText(option.rect.adjusted(8, 0, -4, 0),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        painter.restore()

    def paint_pill(self, painter: QPainter, option: QStyleOptionViewItem,
                   index: QModelIndex | QPersistentModelIndex, field: int) -> None:
        """Status (``field`` STATUS) or priority (PRIORITY) of ``index``'s RAW_ROLE value."""
        draw_item_background(self, painter, option, index)
        raw = str(index.data(RAW_ROLE) or "")
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        font.setWeight(QFont.Weight.DemiBold if field == STATUS else QFont.Weight.Normal)
        painter.setFont(font)
        fm = QFontMetrics(font)
        rect: QRect = option.rect
        if field == STATUS:
            bg, fg = theme.status_colors(raw)
            width = fm.horizontalAdvance(text) + 18
            height = fm.height() + 4
            pill = QRectF(rect.x() + 8, rect.center().y() - height / 2 + 1, width, height)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(bg)
            painter.drawRoundedRect(pill, height / 2, height / 2)
            painter.setPen(fg)
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        else:
            color = theme.priority_color(raw)
            d = 8
            cy = rect.center().y() + 1
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawEllipse(QRectF(rect.x() + 10, cy - d / 2, d, d))
            painter.setPen(option.palette.text().color() if raw != "urgent" else color)
            text_rect = QRect(rect.x() + 10 + d + 7, rect.y(), rect.width() - d - 17, rect.height())
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + 20, size.height())


class CaseTable(QTableView):
    """The case list view: whole-row multi-selection, uniform row height, sortable header."""

    sig_activated_case = Signal(str)
    """str: case id the agent opened (double-click or Enter)."""

    sig_visible_changed = Signal(int, int)
    """(first, last): the rows on screen changed (scrolled, resized, reloaded); debounced."""

    def __init__(self, model: CaseTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CaseTable")
        self.setAccessibleName("Case list")
        self.setModel(model)
        model.suppress_sort = True
        self.setItemDelegate(PillDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setSortingEnabled(True)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        vh = self.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(36)
        hh = self.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hh.setSortIndicator(6, Qt.SortOrder.DescendingOrder)
        hh.setStretchLastSection(False)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 90), (2, 100), (3, 90), (4, 140), (5, 130), (6, 92), (7, 150),
                           (8, 100)):
            self.setColumnWidth(col, width)
        model.suppress_sort = False
        self.doubleClicked.connect(self._open_index)
        from PySide6.QtCore import QTimer

        self._visible_timer = QTimer(self)
        self._visible_timer.setSingleShot(True)
        self._visible_timer.setInterval(60)
        self._visible_timer.timeout.connect(self._emit_visible)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._visible_timer.start())
        model.modelReset.connect(self._visible_timer.start)
        model.rowsInserted.connect(lambda *_a: self._visible_timer.start())

    def visible_rows(self) -> tuple[int, int]:
        """(first, last) row indexes on screen (with a screenful of margin below)."""
        first = max(0, self.rowAt(0))
        last = self.rowAt(self.viewport().height() - 1)
        if last < 0:
            last = self.model().rowCount() - 1
        return first, min(self.model().rowCount() - 1, last + (last - first) + 1)

    def _emit_visible(self) -> None:
        if self.model().rowCount():
            self.sig_visible_changed.emit(*self.visible_rows())

    def _open_index(self, index: QModelIndex) -> None:
        case_id = index.data(CASE_ID_ROLE)
        if case_id:
            self.sig_activated_case.emit(str(case_id))

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            index = self.currentIndex()
            if index.isValid():
                self._open_index(index)
                return
        super().keyPressEvent(event)

    # Columns dropped first when the list is narrow (the detail pane takes the rest);
    # priority goes last: it is what an agent triages by.
    OPTIONAL = (7, 4, 5, 8, 6, 3)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_columns()
        self._visible_timer.start()

    def _fit_columns(self) -> None:
        width = self.viewport().width()
        need = {0: 90, 1: 200, 2: 100, 3: 90, 4: 140, 5: 130, 6: 92, 7: 150, 8: 100}
        hidden: set[int] = set()
        total = sum(need.values())
        for col in self.OPTIONAL:
            if total <= width:
                break
            hidden.add(col)
            total -= need[col]
        for col in need:
            self.setColumnHidden(col, col in hidden)

    def selected_case_ids(self) -> list[str]:
        model = self.model()
        assert isinstance(model, CaseTableModel)
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [cid for cid in (model.case_id(r) for r in rows) if cid]

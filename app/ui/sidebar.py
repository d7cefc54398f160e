"""The sidebar: built-in views and saved views, each with a live count."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.operations.navigation import BUILTIN_VIEWS, load_counts, parse_query
from app.ui import theme
from app.ui.widgets import plain_label, plain_tip

# The main window still imports load_counts and parse_query from here (H1 moves it on).
__all__ = ["COUNT_ROLE", "INSIGHT_VIEWS", "VIEW_ROLE", "CountDelegate", "Sidebar", "View",
           "load_counts", "parse_query"]

COUNT_ROLE = Qt.ItemDataRole.UserRole + 10
VIEW_ROLE = Qt.ItemDataRole.UserRole + 11
VIEW_ICONS = {"my-open": "user", "unassigned": "inbox", "all-open": "layers",
              "pending": "pause", "recent": "clock", "solved": "check",
              "dashboard": "chart", "sla:at_risk": "timer", "sla:breached": "flame"}
# Views that are not a case filter: the dashboard and the SLA queues (analytics read model).
INSIGHT_VIEWS = (("dashboard", "Dashboard"), ("sla:at_risk", "SLA at risk"),
                 ("sla:breached", "Breached"))


@dataclass(slots=True)
class View:
    id: str  # builtin id or "saved:<name>"
    title: str
    query: str  # CaseFilter syntax ("" for a builtin)
    sort: str = "updated"
    builtin: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class CountDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        count = index.data(COUNT_ROLE)
        if count is None:
            return
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(QColor(theme.current().text if selected else theme.current().muted))
        text = f"{count:,}"
        rect = QRect(option.rect.adjusted(0, 0, -10, 0))
        painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), max(size.height(), 32))


class Sidebar(QFrame):
    sig_view_selected = Signal(object)
    """View: the agent picked a view."""

    sig_save_view = Signal()
    """The agent asked to save the current filter as a view."""

    sig_rename_view = Signal(str, str)
    """(name, query): rename this saved view."""

    sig_delete_view = Signal(str)
    """str: delete the saved view of that name."""

    def __init__(self, actor: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(210)
        self.setMaximumWidth(280)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 14, 10, 10)
        lay.setSpacing(0)
        title = QLabel("Smart Support")
        title.setObjectName("SidebarTitle")
        lay.addWidget(title)
        self.who = plain_label(actor)
        self.who.setObjectName("SidebarSubtitle")
        lay.addWidget(self.who)
        lay.addWidget(self._section("VIEWS"))
        self.views = self._list("Views")
        lay.addWidget(self.views)
        lay.addWidget(self._section("INSIGHTS"))
        self.insights = self._list("Insights")
        lay.addWidget(self.insights)
        lay.addWidget(self._section("SAVED VIEWS"))
        self.saved = self._list("Saved views")
        self.saved.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.saved.customContextMenuRequested.connect(self._saved_menu)
        lay.addWidget(self.saved, 1)
        self.save_button = QPushButton("Save current filter as view…")
        self.save_button.setIcon(theme.icon("save"))
        self.save_button.clicked.connect(self.sig_save_view)
        lay.addWidget(self.save_button)
        self.items: dict[str, QListWidgetItem] = {}
        for view_id, (vtitle, _flt, sort) in BUILTIN_VIEWS.items():
            item = QListWidgetItem(theme.icon(VIEW_ICONS.get(view_id, "layers")), vtitle)
            item.setData(VIEW_ROLE, View(view_id, vtitle, "", sort))
            self.views.addItem(item)
            self.items[view_id] = item
        self.views.setFixedHeight(len(BUILTIN_VIEWS) * 34 + 6)
        for view_id, vtitle in INSIGHT_VIEWS:
            item = QListWidgetItem(theme.icon(VIEW_ICONS[view_id]), vtitle)
            item.setData(VIEW_ROLE, View(view_id, vtitle, "", "deadline"))
            self.insights.addItem(item)
            self.items[view_id] = item
        self.insights.setFixedHeight(len(INSIGHT_VIEWS) * 34 + 6)
        self.extra_counts: dict[str, int | None] = {}
        for lst in (self.views, self.insights, self.saved):
            lst.currentItemChanged.connect(lambda cur, _prev, src=lst: self._picked(cur, src))
        self.counts_loaded = False

    def saved_menu(self, item: QListWidgetItem) -> QMenu | None:
        view = item.data(VIEW_ROLE)
        if not isinstance(view, View) or view.builtin:
            return None
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.sig_rename_view.emit(view.title, view.query))
        menu.addAction("Delete", lambda: self.sig_delete_view.emit(view.title))
        return menu

    def _saved_menu(self, pos: Any) -> None:
        item = self.saved.itemAt(pos)
        menu = self.saved_menu(item) if item is not None else None
        if menu is not None:
            menu.exec(self.saved.viewport().mapToGlobal(pos))

    def _section(self, text: str) -> QLabel:
        lab = QLabel(text)
        lab.setObjectName("SidebarSection")
        return lab

    def _list(self, name: str) -> QListWidget:
        lst = QListWidget()
        lst.setObjectName("ViewList")
        lst.setAccessibleName(name)
        lst.setItemDelegate(CountDelegate(lst))
        lst.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        lst.setIconSize(QSize(16, 16))
        return lst

    def _picked(self, item: QListWidgetItem | None, source: QListWidget) -> None:
        if item is None:
            return
        for other in (self.views, self.insights, self.saved):
            if other is source:
                continue
            other.blockSignals(True)
            other.setCurrentRow(-1)
            other.clearSelection()
            other.blockSignals(False)
        self.sig_view_selected.emit(item.data(VIEW_ROLE))

    def select(self, view_id: str) -> None:
        item = self.items.get(view_id)
        if item is None:
            return
        lst = item.listWidget()
        if lst.currentItem() is item:
            self._picked(item, lst)  # picked again: reload it
        else:
            lst.setCurrentItem(item)

    def clear_selection(self) -> None:
        """No view highlighted (a search or a dashboard drill-down is on screen)."""
        for lst in (self.views, self.insights, self.saved):
            lst.blockSignals(True)
            lst.setCurrentRow(-1)
            lst.clearSelection()
            lst.blockSignals(False)

    def set_extra_counts(self, counts: dict[str, int | None]) -> None:
        """Counts of the SLA views (from the analytics read model)."""
        self.extra_counts.update(counts)
        for vid, count in counts.items():
            item = self.items.get(vid)
            if item is not None:
                item.setData(COUNT_ROLE, count)

    def _builtin_ids(self) -> set[str]:
        return set(BUILTIN_VIEWS)

    def set_counts(self, data: dict[str, Any]) -> None:
        counts: dict[str, int] = data["counts"]
        current = self.saved.currentItem()
        current_id = current.data(VIEW_ROLE).id if current else None
        self.saved.blockSignals(True)
        self.saved.clear()
        for key in [k for k in self.items if k.startswith("saved:")]:
            del self.items[key]
        for view in data["saved"]:
            name = str(view["name"])
            vid = "saved:" + name
            query = str(view["query"])
            item = QListWidgetItem(theme.icon("search" if query.startswith("search:")
                                              else "star"), name)
            item.setData(VIEW_ROLE, View(vid, name, query, "updated", False))
            item.setToolTip(plain_tip(str(view["query"])))
            self.saved.addItem(item)
            self.items[vid] = item
            if vid == current_id:
                self.saved.setCurrentItem(item)
        if not data["saved"]:
            empty = QListWidgetItem("No saved views yet")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.saved.addItem(empty)
        self.saved.blockSignals(False)
        for vid, item in self.items.items():
            item.setData(COUNT_ROLE, counts.get(vid, self.extra_counts.get(vid)))
        self.counts_loaded = True

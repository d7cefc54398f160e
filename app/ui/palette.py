"""The command palette (Ctrl+K): jump to a case by key or subject, or run an action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.operations.navigation import search_cases
from app.ui.bridge import Bridge, describe


@dataclass(slots=True)
class Action:
    title: str
    shortcut: str
    run: Callable[[], None]


def fuzzy_score(query: str, text: str) -> int | None:
    """Higher is better; None when the letters of ``query`` are not in ``text`` in order."""
    q, t = query.casefold(), text.casefold()
    if not q:
        return 0
    if q in t:
        return 1000 - t.index(q) * 2 - len(t) // 10
    score, pos, prev = 0, 0, -2
    for ch in q:
        found = t.find(ch, pos)
        if found < 0:
            return None
        score += 8 if found == prev + 1 else 1
        if found == 0 or t[found - 1] in " -_:/":
            score += 5
        prev, pos = found, found + 1
    return score


class CommandPalette(QDialog):
    sig_open_case = Signal(str)
    """str: the case id the agent picked."""

    sig_search = Signal(str)
    """str: the agent picked "Search for …": run this full-text search in the list area."""

    def __init__(self, bridge: Bridge, actions: list[Action],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup | Qt.WindowType.FramelessWindowHint)
        self.bridge = bridge
        self.actions_list = actions
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.setMinimumSize(560, 380)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        frame = QFrame()
        frame.setObjectName("Palette")
        outer.addWidget(frame)
        lay = QVBoxLayout(frame)
        lay.setContentsMargins(6, 6, 6, 6)
        self.edit = QLineEdit()
        self.edit.setObjectName("PaletteEdit")
        self.edit.setAccessibleName("Command palette")
        self.edit.setPlaceholderText("Jump to a case (key or subject) or run a command…")
        self.edit.installEventFilter(self)
        lay.addWidget(self.edit)
        self.list = QListWidget()
        self.list.setObjectName("PaletteList")
        self.list.setAccessibleName("Palette results")
        self.list.itemActivated.connect(self._activate)
        lay.addWidget(self.list)
        hint = QLabel("↑↓ to move · Enter to open · Esc to close")
        hint.setObjectName("ComposerHint")
        lay.addWidget(hint)
        self._generation = 0
        self._cases: list[tuple[Any, ...]] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(80)
        self._timer.timeout.connect(self._query_cases)
        self.edit.textChanged.connect(self._changed)
        self.searching = False

    def open_palette(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            geo = parent.geometry()
            self.move(geo.x() + (geo.width() - self.width()) // 2, geo.y() + 90)
        self.edit.clear()
        self._cases = []
        self._refresh()
        self.show()
        self.raise_()
        self.activateWindow()
        self.edit.setFocus()
        self._query_cases()

    def _changed(self, _text: str) -> None:
        self._refresh()
        self._timer.start()

    def _query_cases(self) -> None:
        self._generation += 1
        generation = self._generation
        text = self.edit.text().strip()
        self.searching = True
        me = self.bridge.store.actor
        self.bridge.query(search_cases, text, me,
                          on_done=lambda rows: self._cases_loaded(generation, rows),
                          on_error=lambda exc: self._query_failed(generation, exc))

    def _query_failed(self, generation: int, exc: Exception) -> None:
        # The actions still work: show them, and say why no case is listed.
        self._cases_loaded(generation, [])
        self.bridge.sig_error.emit(f"Case search: {describe(exc)}")

    def _cases_loaded(self, generation: int, rows: list[tuple[Any, ...]]) -> None:
        if generation != self._generation:
            return
        self.searching = False
        self._cases = rows
        self._refresh()

    def _refresh(self) -> None:
        text = self.edit.text().strip()
        self.list.clear()
        scored: list[tuple[int, QListWidgetItem]] = []
        for action in self.actions_list:
            score = fuzzy_score(text, action.title)
            if score is None:
                continue
            item = QListWidgetItem(f"›  {action.title}" + (f"    {action.shortcut}"
                                                             if action.shortcut else ""))
            item.setData(Qt.ItemDataRole.UserRole, ("action", action))
            scored.append((score, item))
        scored.sort(key=lambda p: -p[0])
        case_items = []
        for case_id, key, subject, status in self._cases:
            item = QListWidgetItem(f"{key}   {subject}   · {status}")
            item.setData(Qt.ItemDataRole.UserRole, ("case", case_id))
            case_items.append(item)
        items = case_items + [i for _s, i in scored] if text else [i for _s, i in scored] + \
            case_items
        if text:
            search = QListWidgetItem(f"⌕  Search all cases for “{text}”    Ctrl+F")
            search.setData(Qt.ItemDataRole.UserRole, ("search", text))
            items.insert(len(case_items), search)
        for item in items:
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if key == Qt.Key.Key_Down else -1
                row = max(0, min(self.list.count() - 1, self.list.currentRow() + step))
                self.list.setCurrentRow(row)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                item = self.list.currentItem()
                if item is not None:
                    self._activate(item)
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(watched, event)

    def _activate(self, item: QListWidgetItem) -> None:
        kind, payload = item.data(Qt.ItemDataRole.UserRole)
        self.close()
        if kind == "case":
            self.sig_open_case.emit(str(payload))
        elif kind == "search":
            self.sig_search.emit(str(payload))
        else:
            payload.run()

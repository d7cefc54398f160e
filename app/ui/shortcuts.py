"""Window shortcuts and their cheat sheet (F1 or ?)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QGridLayout, QLabel, QVBoxLayout, QWidget

Entry = tuple[str, str, Callable[[], None]]  # (keys, what it does: "" to leave it off the sheet)
# Keys a child widget handles itself (the list, the composer, the case view): on the sheet only.
HANDLED_BY_WIDGETS = ("Return", "Ctrl+Return", "Ctrl+Shift+L")


def install(window: QWidget, entries: list[Entry]
            ) -> tuple[list[tuple[str, str]], dict[str, QShortcut]]:
    """Window-wide shortcuts for ``entries``; returns the sheet's lines and the shortcuts."""
    sheet: list[tuple[str, str]] = []
    shortcuts: dict[str, QShortcut] = {}
    for keys, what, slot in entries:
        if what:
            sheet.append((keys, what))
        if keys in HANDLED_BY_WIDGETS:
            continue
        sc = QShortcut(QKeySequence(keys), window)
        sc.setContext(Qt.ShortcutContext.WindowShortcut)
        sc.activated.connect(slot)
        shortcuts[keys] = sc
    return sheet, shortcuts


class ShortcutsDialog(QDialog):
    """The cheat sheet: every shortcut and what it does."""

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

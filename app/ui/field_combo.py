"""A drop-down for a stored value (status, priority, type, assignee): it changes only on an
explicit choice.

A plain QComboBox changes its value when the wheel turns over it (scrolling the case view
past the fields edits the case) and on an arrow key or a letter while it is closed. Here
the wheel goes on to what is under the field (it scrolls), and a key on the closed field
opens the list (Up, Down, Page keys, Space, F4, Alt+Down) or does nothing; the value
changes when the agent picks an entry in the open list.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import QComboBox, QWidget

__all__ = ["FieldCombo"]

OPENING_KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown,
                Qt.Key.Key_Space, Qt.Key.Key_F4)
# Keys for the window, not the value: Tab moves on, Escape and Enter reach the dialog.
PASSED_KEYS = (Qt.Key.Key_Tab, Qt.Key.Key_Backtab, Qt.Key.Key_Escape, Qt.Key.Key_Return,
               Qt.Key.Key_Enter)


class FieldCombo(QComboBox):
    """A QComboBox whose closed field ignores the wheel and value-changing keys."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel does not focus it

    def _open(self) -> bool:
        view = self.view()
        return view is not None and view.isVisible()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self._open():
            super().wheelEvent(event)
        else:
            event.ignore()  # Qt hands it to the parent: the scroll area scrolls

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if self._open() or event.key() in PASSED_KEYS:
            super().keyPressEvent(event)
        elif event.key() in OPENING_KEYS:
            self.showPopup()
        elif event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                  | Qt.KeyboardModifier.MetaModifier):
            event.ignore()  # window shortcuts (Ctrl+Z, ...) still work from here
        # else a letter: a closed QComboBox would jump to the first match silently

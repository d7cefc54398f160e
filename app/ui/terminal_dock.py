"""The dockable terminal: the command language of ``app.terminal`` inside the app.

Commands run on the writer thread (they may write); their ``Changes`` go out through the
bridge's ``sig_changes_applied`` like any other operation.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QLineEdit,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.operations.terminal import available, complete, run_line
from app.ui import theme
from app.ui.bridge import Bridge, describe


class TerminalDock(QDockWidget):
    sig_command_done = Signal(bool, str)
    """(ok, text): a command finished and its output was printed."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("Terminal", parent)
        self.setObjectName("TerminalDock")
        self.bridge = bridge
        self.history: list[str] = []
        self._history_pos = 0
        self.busy = False
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(8, 6, 8, 8)
        lay.setSpacing(6)
        self.output = QTextEdit()
        self.output.setObjectName("TerminalOutput")
        self.output.setReadOnly(True)
        self.output.setAccessibleName("Terminal output")
        lay.addWidget(self.output, 1)
        self.input = QLineEdit()
        self.input.setObjectName("TerminalInput")
        self.input.setAccessibleName("Terminal command")
        self.input.installEventFilter(self)
        self.input.returnPressed.connect(self.submit)
        lay.addWidget(self.input)
        self.setWidget(body)
        self.unavailable = not available()
        if self.unavailable:
            self.input.setEnabled(False)
            self.input.setPlaceholderText("terminal unavailable")
            note = QLabel("terminal unavailable: the command runner is not installed")
            note.setObjectName("Meta")
            lay.insertWidget(0, note)
            self.output.hide()
        else:
            self.input.setPlaceholderText("Type a command (try: help) · Tab completes · ↑↓ history")

    def focus_input(self) -> None:
        self.show()
        self.raise_()
        self.input.setFocus()

    def _print(self, text: str, color: str | None = None) -> None:
        # Inserted as text, not HTML: output is shown literally, spaces and columns kept
        # (HTML collapses runs of spaces, so `case list` columns would not line up).
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = QTextCharFormat()
        if color:
            fmt.setForeground(QColor(color))
        cursor.insertText(text + "\n", fmt)
        self.output.setTextCursor(cursor)
        self.output.ensureCursorVisible()

    def submit(self) -> None:
        line = self.input.text().strip()
        if not line or self.busy or self.unavailable:
            return
        if not self.history or self.history[-1] != line:
            self.history.append(line)
        self._history_pos = len(self.history)
        self.input.clear()
        t = theme.current()
        self._print(f"› {line}", t.accent)
        self.busy = True
        self.bridge.run(run_line, line=line, on_done=self._done, on_error=self._failed)

    def _done(self, result: Any) -> None:
        self.busy = False
        ok = bool(getattr(result, "ok", True))
        text = str(getattr(result, "text", "") or "")
        if text:
            self._print(text, None if ok else theme.current().danger_text)
        self.sig_command_done.emit(ok, text)

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        message = describe(exc)
        self._print(message, theme.current().danger_text)
        self.sig_command_done.emit(False, message)

    def _complete(self) -> None:
        """Tab: ask the runner for completions on a reader thread (it may read the store)."""
        if self.unavailable:
            return
        line = self.input.text()
        self.bridge.read(complete, self.bridge.store, line,
                         on_done=lambda options: self._completed(line, list(options)),
                         on_error=lambda exc: self._print(describe(exc), theme.current().muted))

    def _completed(self, line: str, options: list[str]) -> None:
        if self.input.text() != line:  # the agent kept typing
            return
        # The options complete the last word (the runner's contract), not the whole line.
        word = "" if not line or line.endswith(" ") else line.split()[-1]
        head = line[:len(line) - len(word)]
        if len(options) == 1:
            self.input.setText(head + options[0])
        elif options:
            prefix = _common_prefix(options)
            if len(prefix) > len(word):
                self.input.setText(head + prefix)
            self._print("  ".join(options[:40]), theme.current().muted)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.input and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key == Qt.Key.Key_Tab:
                self._complete()
                return True
            if key == Qt.Key.Key_Up and self.history:
                self._history_pos = max(0, self._history_pos - 1)
                self.input.setText(self.history[self._history_pos])
                return True
            if key == Qt.Key.Key_Down and self.history:
                self._history_pos = min(len(self.history), self._history_pos + 1)
                self.input.setText(self.history[self._history_pos]
                                   if self._history_pos < len(self.history) else "")
                return True
        return super().eventFilter(watched, event)


def _common_prefix(options: list[str]) -> str:
    first, last = min(options), max(options)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


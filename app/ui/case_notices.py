"""Notices under the case header: local edits that lost to another agent's (with "Restore my
value" and "Dismiss"), and this device's changes the server refused."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.operations.case_queries import conflict_text
from app.operations.sync_health import refused_notice
from app.ui import theme
from app.ui.widgets import plain_label

__all__ = ["ConflictBanner", "RefusedNotice"]


class ConflictBanner(QFrame):
    """One row per open conflict: "Ben changed priority to Urgent while you set it to
    Low —  Restore my value · Dismiss"; hidden when there is none."""

    sig_restore = Signal(str)
    """str: the id of the conflict whose local value the agent wants back."""

    sig_dismiss = Signal(str)
    """str: the id of the conflict the agent dismissed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConflictBanner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.rows_layout = QVBoxLayout(self)
        self.rows_layout.setContentsMargins(16, 6, 12, 6)
        self.rows_layout.setSpacing(4)
        self.rows: list[tuple[QLabel, QPushButton, QPushButton]] = []
        self.hide()

    def show_conflicts(self, conflicts: list[dict[str, Any]]) -> None:
        for label, restore, dismiss in self.rows:
            for w in (label, restore, dismiss):
                w.deleteLater()
        while self.rows_layout.count():
            item = self.rows_layout.takeAt(0)
            sub = item.layout() if item is not None else None
            if sub is not None:
                sub.deleteLater()
        self.rows = []
        for c in conflicts:
            row = QHBoxLayout()
            icon = QLabel()
            icon.setPixmap(theme.icon("alert", theme.current().internal_text, 14).pixmap(14, 14))
            row.addWidget(icon)
            label = plain_label(conflict_text(c) + " —")  # quotes the values typed
            label.setObjectName("ConflictText")
            label.setWordWrap(True)
            row.addWidget(label, 1)
            restore = QPushButton("Restore my value")
            restore.setObjectName("ConflictButton")
            restore.clicked.connect(lambda _c=False, cid=str(c["id"]): self.sig_restore.emit(cid))
            dismiss = QPushButton("Dismiss")
            dismiss.setObjectName("ConflictButton")
            dismiss.clicked.connect(lambda _c=False, cid=str(c["id"]): self.sig_dismiss.emit(cid))
            row.addWidget(restore)
            row.addWidget(dismiss)
            self.rows_layout.addLayout(row)
            self.rows.append((label, restore, dismiss))
        self.setVisible(bool(conflicts))


class RefusedNotice(QLabel):
    """This device's changes the server refused (set aside, not sent): the server's reason,
    shown literally."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setObjectName("RefusedNotice")
        self.setWordWrap(True)
        self.setContentsMargins(16, 4, 12, 4)
        self.hide()

    def show_refused(self, rows: list[dict[str, Any]]) -> None:
        self.setText(refused_notice(rows))
        self.setVisible(bool(rows))

"""The bar above the case list: the view's title and count, the search and filter fields,
"New case" and the palette, terminal, notifications and shortcuts buttons."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton

from app.ui import theme
from app.ui.insights import BellButton
from app.ui.search_box import SearchBox
from app.ui.widgets import plain_label, plain_tip

FILTER_TIP = ("Ctrl+L · refine this view: status priority assignee tag product team type "
              "is:open is:unassigned")
FILTER_DELAY_MS = 220  # typing pauses this long before the view reloads


class ListHeader(QFrame):
    sig_filter_changed = Signal()
    """The filter field changed and typing paused: the view should load again."""

    sig_new_case = Signal()
    """"New case" was clicked."""

    sig_palette = Signal()
    """The command palette button was clicked."""

    sig_terminal = Signal()
    """The terminal button was clicked."""

    sig_shortcuts = Signal()
    """The keyboard-shortcuts button was clicked."""

    def __init__(self, title: str, search_box: SearchBox) -> None:
        super().__init__()
        self.setObjectName("ListHeader")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        hl = QHBoxLayout(self)
        hl.setContentsMargins(16, 10, 12, 10)
        hl.setSpacing(10)
        self.view_title = plain_label(title)
        self.view_title.setObjectName("ViewTitle")
        hl.addWidget(self.view_title)
        self.view_count = QLabel("")
        self.view_count.setObjectName("ViewCount")
        hl.addWidget(self.view_count)
        hl.addStretch(1)
        hl.addWidget(search_box.edit, 2)
        hl.addWidget(search_box.help_button)
        fe = self.filter_edit = QLineEdit()
        fe.setObjectName("FilterEdit")
        fe.setAccessibleName("Filter cases")
        fe.setPlaceholderText("Filter: status:open priority:urgent tag:vip…")
        fe.addAction(theme.icon("layers"), QLineEdit.ActionPosition.LeadingPosition)
        fe.setClearButtonEnabled(True)
        fe.setMinimumWidth(140)
        fe.setToolTip(FILTER_TIP)
        self.filter_timer = QTimer(self)
        self.filter_timer.setSingleShot(True)
        self.filter_timer.setInterval(FILTER_DELAY_MS)
        self.filter_timer.timeout.connect(self.sig_filter_changed)
        fe.textChanged.connect(lambda _t: self.filter_timer.start())
        hl.addWidget(fe, 1)
        self.new_button = QPushButton("New case")
        self.new_button.setObjectName("Primary")
        self.new_button.setIcon(theme.icon("plus", theme.current().accent_text))
        self.new_button.setToolTip("New case (Ctrl+N)")
        self.new_button.clicked.connect(self.sig_new_case)
        hl.addWidget(self.new_button)
        hl.addWidget(tool_button("command", "Command palette (Ctrl+K)", self.sig_palette.emit))
        hl.addWidget(tool_button("terminal", "Terminal (Ctrl+`)", self.sig_terminal.emit))
        self.bell = BellButton()
        hl.addWidget(self.bell)
        hl.addWidget(tool_button("help", "Keyboard shortcuts (F1)", self.sig_shortcuts.emit))

    def show_filter_error(self, message: str | None) -> None:
        """Mark the filter field invalid (``message`` quotes it as typed: shown literally)."""
        fe = self.filter_edit
        fe.setProperty("invalid", message is not None)
        fe.setToolTip(plain_tip(message) if message else FILTER_TIP)
        fe.style().unpolish(fe)
        fe.style().polish(fe)

    def idle(self) -> bool:
        return not self.filter_timer.isActive()


def tool_button(icon: str, tip: str, slot: Callable[[], None]) -> QToolButton:
    button = QToolButton()
    button.setIcon(theme.icon(icon))
    button.setToolTip(tip)
    button.setAccessibleName(tip.split(" (")[0])
    button.clicked.connect(slot)
    return button

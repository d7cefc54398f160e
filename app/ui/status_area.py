"""What the window tells the agent in passing: the status bar (sync, changes waiting, index
progress, the last message, what Ctrl+Z undoes) and the error banner above the list."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStatusBar, QToolButton, QWidget

from app.operations.lists import fetch_status
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.widgets import plain_label


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


class StatusArea(QObject):
    """Fills ``bar``: sync state, the outbox, search-index progress, messages, undo hint."""

    def __init__(self, bridge: Bridge, sync: Any, bar: QStatusBar, banner: Banner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        from app.ui.sync_ui import SyncStatus

        self.bridge = bridge
        self.sync = sync  # SyncController: .signed_in
        self.banner = banner
        self.loading = False
        self.outbox = 0
        self.undo_label: str | None = None
        bar.setSizeGripEnabled(False)
        self.sync_status = SyncStatus(sync)
        bar.addWidget(self.sync_status)
        self.outbox_label = QLabel("")
        bar.addWidget(self.outbox_label)
        self.index_label = QLabel("")
        self.index_label.setObjectName("Meta")
        self.index_label.hide()
        bar.addWidget(self.index_label)
        self.index_cancel = QToolButton()
        self.index_cancel.setObjectName("Flat")
        self.index_cancel.setText("Cancel")
        self.index_cancel.setToolTip("Stop building the search index (search stays off)")
        self.index_cancel.hide()
        bar.addWidget(self.index_cancel)
        # both quote subjects ("Ctrl+Z to undo: import e-mail '<h1>…'"): plain text
        self.message_label = plain_label("")
        bar.addWidget(self.message_label, 1)
        self.undo_hint = plain_label("")
        bar.addPermanentWidget(self.undo_hint)

    def refresh(self) -> None:
        """Changes waiting and the undo label, read again (a reader)."""
        self.loading = True

        def done(result: tuple[int, str | None]) -> None:
            self.loading = False
            outbox, label = result
            self.outbox = outbox
            self.sync_status.refresh()
            plural = "s" if outbox != 1 else ""
            if self.sync.signed_in:
                self.outbox_label.setText("All changes synced" if not outbox else
                                          f"{outbox:,} change{plural} waiting to sync")
            else:
                self.outbox_label.setText("All changes saved on this device" if not outbox
                                          else f"{outbox:,} change{plural} saved on this "
                                          "device")
            self.undo_label = label
            self.undo_hint.setText(f"Ctrl+Z to undo: {label}" if label else "")

        def failed(exc: Exception) -> None:
            self.loading = False
            self.show_error(describe(exc))

        self.bridge.read(fetch_status, self.bridge.store, on_done=done, on_error=failed)

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)

    def show_error(self, text: str) -> None:
        self.banner.show_message(text)
        self.message_label.setText(text)

    def index_progress(self, done: int, total: int) -> None:
        self.index_label.setText(f"Indexing {done:,}/{total:,}…")
        self.index_label.show()
        self.index_cancel.show()

    def index_done(self) -> None:
        self.index_label.hide()
        self.index_cancel.hide()

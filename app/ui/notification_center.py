"""The notification centre panel and the tray helper.

The panel lists stored notifications (newest first, unread in bold), marks them read and
opens the case on click. The tray helper pops a system message when the platform has a
tray that supports messages, and otherwise falls back to the in-app centre (the panel's
unread badge and ``sig_fallback``). Reads and writes run on a worker thread through the
window's :class:`~app.ui.bridge.Bridge`; a failure reaches ``Bridge.sig_error`` (the status
bar), never silence.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from app.operations.insights import mark_read, notification_list
from app.operations.notifications import KIND_LABELS, Notification, NotificationCenter
from app.ui.bridge import Bridge, describe
from app.ui.widgets import plain_label, plain_tip

KIND_MARKS = {"assigned": "●", "mention": "@", "customer_reply": "↩", "sla": "◔",
              "integration": "⇄", "conflict": "⚠"}


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%d %b %H:%M")


class NotificationPanel(QWidget):
    sig_open_case = Signal(str)
    """str: the id of the case a clicked notification is about."""

    sig_unread_changed = Signal(int)
    """int: the number of unread notifications (for a badge)."""

    sig_loaded = Signal(int)
    """int: how many notifications the list shows after a refresh."""

    def __init__(self, center: NotificationCenter, bridge: Bridge,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.center = center
        self.bridge = bridge
        # Its own thread: a slow notifications.db never waits behind the writer or a read.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notifications")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        head = QHBoxLayout()
        self.title = plain_label("Notifications")
        f = QFont(self.title.font())
        f.setBold(True)
        self.title.setFont(f)
        head.addWidget(self.title)
        head.addStretch(1)
        self.mark_all = QPushButton("Mark all read")
        self.mark_all.clicked.connect(self.mark_all_read)
        head.addWidget(self.mark_all)
        lay.addLayout(head)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemClicked.connect(self._clicked)
        lay.addWidget(self.list, 1)
        self.empty = plain_label("Nothing new.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.empty)
        self.items: list[Notification] = []

    def _submit(self, fn: Callable[..., Any], *args: Any,
                then: Callable[[Any], None]) -> None:
        self.bridge.background(self._executor, fn, *args, on_done=then,
                               on_error=self._failed, track=False)

    def _failed(self, exc: Exception) -> None:
        self.bridge.sig_error.emit(f"Notifications: {describe(exc)}")

    def refresh(self) -> None:
        self._submit(notification_list, self.center, then=self._show)

    def _show(self, result: tuple[list[Notification], int]) -> None:
        items, unread = result
        self.items = items
        self.list.clear()
        for n in items:
            mark = KIND_MARKS.get(n.kind, "•")
            text = f"{mark}  {n.title}\n{n.body}\n{KIND_LABELS.get(n.kind, n.kind)} · " \
                   f"{_when(n.created_ms)}"
            item = QListWidgetItem(text)  # list items draw plain text; tooltips need escaping
            item.setToolTip(plain_tip(f"{n.title}\n{n.body}"))
            item.setData(Qt.ItemDataRole.UserRole, n.id)
            font = item.font()
            font.setBold(not n.read)
            item.setFont(font)
            self.list.addItem(item)
        self.empty.setVisible(not items)
        self.title.setText(f"Notifications ({unread} unread)" if unread else "Notifications")
        self.sig_unread_changed.emit(unread)
        self.sig_loaded.emit(len(items))

    def _clicked(self, item: QListWidgetItem) -> None:
        row = self.list.row(item)
        if not 0 <= row < len(self.items):
            return
        n = self.items[row]
        if n.id is not None and not n.read:
            self._submit(mark_read, self.center, [n.id], then=lambda _r: self.refresh())
        if n.case_id:
            self.sig_open_case.emit(n.case_id)

    def mark_all_read(self) -> None:
        self._submit(mark_read, self.center, None, then=lambda _r: self.refresh())

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class TrayNotifier(QObject):
    """Pops new notifications in the system tray when it can; else leaves them to the centre."""

    sig_fallback = Signal(object)
    """Notification: could not be shown in the tray (none, or no message support); the
    main window shows it in the in-app centre (e.g. opens the panel or flashes the badge)."""

    def __init__(self, icon: QIcon | None = None, parent: QObject | None = None,
                 tray: QSystemTrayIcon | None = None) -> None:
        super().__init__(parent)
        self.tray: QSystemTrayIcon | None = tray
        if self.tray is None and self.available():
            self.tray = QSystemTrayIcon(icon or QIcon(), self)
            self.tray.show()

    @staticmethod
    def available() -> bool:
        return bool(QSystemTrayIcon.isSystemTrayAvailable()
                    and QSystemTrayIcon.supportsMessages())

    def notify(self, notes: list[Notification], *, dnd: bool = False) -> int:
        """Show ``notes``; returns how many went to the tray. Do-not-disturb shows nothing
        (they stay in the centre)."""
        if dnd:
            return 0
        shown = 0
        for n in notes:
            if self.tray is not None and self.available():
                self.tray.showMessage(n.title, n.body, QSystemTrayIcon.MessageIcon.Information,
                                      8000)
                shown += 1
            else:
                self.sig_fallback.emit(n)
        return shown

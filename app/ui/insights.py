"""Read models in the window: SLA clocks (time left, the SLA views) and notifications.

Threads: the analytics read model (``analytics.db``) is opened and caught up on its own
``analytics`` thread (bursts of changes coalesce into one catch-up); its queries run on a
reader thread. The notification centre (``notifications.db``) follows the event log on
its own ``notifications`` thread; the tray and the panel are refreshed on the GUI thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.changes import Changes
from app.operations.insights import (
    DND_HOURS,
    SLA_VIEWS,
    analytics_catch_up,
    check_sla,
    count_sla,
    dnd_state,
    follow,
    load_due,
    load_sla_rows,
    open_analytics,
    open_center,
    set_dnd,
)
from app.ui import theme
from app.ui.bridge import Bridge, describe

if TYPE_CHECKING:
    from app.operations.insights import AnalyticsModel
    from app.operations.notifications import Notification, NotificationCenter
    from app.ui.notification_center import NotificationPanel, TrayNotifier

# The main window still imports the reads from here (H1 moves it to app.operations.insights).
__all__ = ["SLA_VIEWS", "AnalyticsController", "BellButton", "NotificationController",
           "NotificationPopup", "count_sla", "load_due", "load_sla_rows"]


class AnalyticsController(QObject):
    """Owns the window's analytics read model (SLA clocks, the dashboard's figures)."""

    sig_ready = Signal()
    """The read model is open and caught up."""

    sig_updated = Signal()
    """A catch-up folded new events (time left and the SLA views may have changed)."""

    def __init__(self, bridge: Bridge, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.data_dir = Path(data_dir)
        self.model: AnalyticsModel | None = None
        self.ready = False
        self.busy = False
        self._again = False
        self.started = False
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics")

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.busy = True
        self.bridge.background(self.executor, open_analytics, self.bridge.store, self.data_dir,
                               on_done=self._opened, on_error=self._failed, track=False)

    def _opened(self, model: AnalyticsModel) -> None:
        self.model = model
        self.ready = True
        self.busy = False
        self.sig_ready.emit()
        if self._again:
            self.catch_up()

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        self.bridge.sig_error.emit(f"SLA figures unavailable: {describe(exc)}")

    def on_changes(self, changes: Changes) -> None:
        if changes.case_ids or changes.created or changes.rebuilt or changes.comments:
            self.catch_up()

    def catch_up(self) -> None:
        if not self.ready or self.busy:
            self._again = True
            return
        self.busy = True
        self._again = False
        self.bridge.background(self.executor, analytics_catch_up, self.model,
                               on_done=self._caught_up, on_error=self._catch_up_failed,
                               track=False)

    def _caught_up(self, _count: int) -> None:
        self.busy = False
        self.sig_updated.emit()
        if self._again:
            self.catch_up()

    def _catch_up_failed(self, exc: Exception) -> None:
        self.busy = False
        self.bridge.sig_error.emit(f"SLA figures: {describe(exc)}")

    def shutdown(self) -> None:
        # The model is the store's shared one: closed with it, not here.
        self.executor.shutdown(wait=False, cancel_futures=True)


class BellButton(QToolButton):
    """The toolbar bell with an unread badge."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BellButton")
        self.setIcon(theme.icon("bell"))
        self.setToolTip("Notifications")
        self.setAccessibleName("Notifications")
        self.unread = 0

    def set_unread(self, count: int) -> None:
        self.unread = count
        self.setToolTip(f"Notifications ({count} unread)" if count else "Notifications")
        self.setAccessibleName(f"Notifications, {count} unread" if count else "Notifications")
        self.update()

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self.unread:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = str(self.unread) if self.unread < 100 else "99+"
        font = painter.font()
        font.setPixelSize(9)
        font.setBold(True)
        painter.setFont(font)
        width = max(14, painter.fontMetrics().horizontalAdvance(text) + 7)
        rect = self.rect()
        from PySide6.QtCore import QRectF
        from PySide6.QtGui import QColor

        badge = QRectF(rect.right() - width, 0, width, 14)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#e0484b"))
        painter.drawRoundedRect(badge, 7, 7)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()


class NotificationPopup(QFrame):
    """The bell's popup: the notification panel and a do-not-disturb switch."""

    def __init__(self, panel: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("NotificationPopup")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 8)
        lay.setSpacing(4)
        lay.addWidget(panel, 1)
        row = QHBoxLayout()
        row.setContentsMargins(10, 0, 10, 0)
        self.dnd = QCheckBox(f"Do not disturb ({DND_HOURS} h)")
        self.dnd.setToolTip("Keep collecting notifications here, but pop nothing up")
        row.addWidget(self.dnd)
        row.addStretch(1)
        hint = QLabel("Click a notification to open the case")
        hint.setObjectName("ComposerHint")
        row.addWidget(hint)
        lay.addLayout(row)
        self.resize(420, 480)

    def show_under(self, button: QWidget) -> None:
        corner = button.mapToGlobal(QPoint(button.width(), button.height() + 4))
        self.move(corner.x() - self.width(), corner.y())
        self.show()
        self.raise_()


class NotificationController(QObject):
    """The centre, its panel, the tray; follows every applied change or sync ingest."""

    sig_notified = Signal(object)
    """list[Notification]: new notifications were stored (after follow / SLA / conflicts)."""

    sig_opened = Signal()
    """The centre is open (the window then runs its first SLA check)."""

    def __init__(self, bridge: Bridge, data_dir: Path, bell: BellButton,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.data_dir = Path(data_dir)
        self.bell = bell
        self.center: NotificationCenter | None = None
        self.panel: NotificationPanel | None = None
        self.popup: NotificationPopup | None = None
        self.tray: TrayNotifier | None = None
        self.dnd = False
        self.busy = False
        self._again = False
        self._conflicts: set[str] = set()
        self.started = False
        self.sla_checks = 0  # SLA checks finished (tests wait on it)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notifications")
        bell.clicked.connect(self.toggle_panel)

    # --- life -----------------------------------------------------------------------------
    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.busy = True
        self.bridge.background(self.executor, open_center, self.bridge.store, self.data_dir,
                               on_done=self._opened, on_error=self._failed, track=False)

    def _opened(self, center: NotificationCenter) -> None:
        from app.ui.notification_center import NotificationPanel, TrayNotifier

        self.center = center
        self.busy = False
        self.panel = NotificationPanel(center, self.bridge)
        self.panel.sig_unread_changed.connect(self.bell.set_unread)
        self.panel.sig_open_case.connect(self._open_case)
        # The popup owns the panel from the start (a parentless panel would be deleted by
        # Python's garbage collector, possibly while its worker still answers).
        window = self.parent()
        self.popup = NotificationPopup(self.panel, window if isinstance(window, QWidget)
                                       else None)
        self.popup.dnd.toggled.connect(self.set_dnd)
        self.tray = TrayNotifier(theme.icon("bell"), self)
        self.tray.sig_fallback.connect(lambda _n: None)  # the badge already shows it
        self.panel.refresh()
        self.bridge.background(self.executor, dnd_state, center, on_done=self._dnd_loaded,
                               track=False)
        self.sig_opened.emit()
        if self._again or self._conflicts:
            self.follow()

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        self.bridge.sig_error.emit(f"Notifications unavailable: {describe(exc)}")

    def shutdown(self) -> None:
        if self.panel is not None:
            self.panel.shutdown()
        center = self.center
        if center is not None:
            self.executor.submit(center.close)
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- following ------------------------------------------------------------------------
    def on_changes(self, changes: Changes) -> None:
        self._conflicts |= set(changes.conflict_case_ids)
        if changes.event_ids or changes.case_ids or changes.created or changes.comments \
                or changes.rebuilt or changes.sync or changes.conflict_case_ids:
            self.follow()

    def follow(self) -> None:
        if self.center is None or self.busy:
            self._again = True
            return
        self.busy = True
        self._again = False
        conflicts = sorted(self._conflicts)
        self._conflicts.clear()
        self.bridge.background(self.executor, follow, self.center, conflicts,
                               on_done=self._followed, on_error=self._follow_failed,
                               track=False)

    def check_sla(self, model: AnalyticsModel | None) -> None:
        """The minute's job (enqueued by the scheduler): SLA warnings for my cases."""
        if self.center is None or model is None:
            return
        def done(result: tuple[list[Notification], bool]) -> None:
            self.sla_checks += 1
            self._delivered(result)

        self.bridge.background(self.executor, check_sla, self.center, model,
                               on_done=done, on_error=self._follow_failed, track=False)

    def _followed(self, result: tuple[list[Notification], bool]) -> None:
        self.busy = False
        self._delivered(result)
        if self._again or self._conflicts:
            self.follow()

    def _delivered(self, result: tuple[list[Notification], bool]) -> None:
        fresh, dnd = result
        self.dnd = dnd
        if fresh:
            if self.tray is not None:
                self.tray.notify(fresh, dnd=dnd)
            self.sig_notified.emit(fresh)
        if self.panel is not None and (fresh or self.popup_visible):
            self.panel.refresh()

    def _follow_failed(self, exc: Exception) -> None:
        self.busy = False
        self.bridge.sig_error.emit(f"Notifications: {describe(exc)}")

    # --- the panel ------------------------------------------------------------------------
    @property
    def popup_visible(self) -> bool:
        return self.popup is not None and self.popup.isVisible()

    def toggle_panel(self) -> None:
        if self.panel is None:
            self.start()
            return
        assert self.popup is not None
        if self.popup.isVisible():
            self.popup.hide()
            return
        self.panel.refresh()
        self.popup.show_under(self.bell)

    def set_dnd(self, on: bool) -> None:
        if self.center is None:
            return
        self.bridge.background(self.executor, set_dnd, self.center, on,
                               on_done=self._dnd_loaded, track=False)

    def _dnd_loaded(self, on: bool) -> None:
        self.dnd = bool(on)
        if self.popup is not None and self.popup.dnd.isChecked() != self.dnd:
            self.popup.dnd.blockSignals(True)
            self.popup.dnd.setChecked(self.dnd)
            self.popup.dnd.blockSignals(False)

    sig_open_case = Signal(str)
    """str: a clicked notification's case."""

    def _open_case(self, case_id: str) -> None:
        if self.popup is not None:
            self.popup.hide()
        self.sig_open_case.emit(case_id)

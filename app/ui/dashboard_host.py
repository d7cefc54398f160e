"""Where the analytics dashboard is mounted: built on first open (on the window's read
model, once it is open), reloaded when shown after a change, stale while hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QStackedWidget

from app.core.changes import Changes
from app.ui.bridge import Bridge


class DashboardHost(QObject):
    """Mounts the dashboard as a page of ``stack``; ``analytics`` is the window's
    AnalyticsController (``ready``, ``model``, ``start``)."""

    sig_open_cases = Signal(object)
    """list | str: the dashboard's drill-down (case ids or a filter query)."""

    sig_error = Signal(str)
    """str: the dashboard failed to load; the message is meant for the agent."""

    def __init__(self, bridge: Bridge, analytics: Any, stack: QStackedWidget, data_dir: Path,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.analytics = analytics
        self.stack = stack
        self.data_dir = data_dir
        self.dashboard: Any = None
        self.area: QScrollArea | None = None
        self.stale = False  # a change came while it was hidden
        self.waiting = False  # asked for before the read model was open

    def show(self) -> bool:
        """Show it (building it first); False while the read model still opens (then
        :meth:`analytics_ready` shows it)."""
        if self.dashboard is None and not self.analytics.ready:
            self.waiting = True
            self.analytics.start()
            return False
        if self.dashboard is None:
            self._mount()
        elif self.stale:
            self.dashboard.reload()
        self.stale = False
        if self.area is not None:
            self.stack.setCurrentWidget(self.area)
        return True

    def analytics_ready(self) -> bool:
        """The read model is open: True when a show was waiting for it."""
        waiting, self.waiting = self.waiting, False
        return waiting

    def showing(self) -> bool:
        return self.area is not None and self.stack.currentWidget() is self.area

    def on_changes(self, changes: Changes) -> None:
        if self.dashboard is None or not (changes.cases or changes.comments):
            return
        if self.showing():
            self.dashboard.reload()
        else:
            self.stale = True

    def _mount(self) -> None:
        from app.ui.dashboard import build_dashboard

        # The window's read model (one catch-up writer for the file) and bridge.
        self.dashboard = build_dashboard(self.bridge.store, self.data_dir,
                                         model=self.analytics.model, bridge=self.bridge)
        self.dashboard.sig_open_cases.connect(self.sig_open_cases)
        self.dashboard.sig_error.connect(self.sig_error)
        # Its period line may shrink (elided) so the charts fit the window's width.
        self.dashboard.status.setSizePolicy(QSizePolicy.Policy.Ignored,
                                            QSizePolicy.Policy.Preferred)
        self.dashboard.status.setMinimumWidth(60)
        # Scrolls rather than widening the window past the screen on small displays.
        self.area = QScrollArea()
        self.area.setObjectName("DashboardArea")
        self.area.setFrameShape(QFrame.Shape.NoFrame)
        self.area.setWidgetResizable(True)
        self.area.setWidget(self.dashboard)
        self.stack.addWidget(self.area)

    def shutdown(self) -> None:
        if self.dashboard is not None:
            self.dashboard.shutdown()

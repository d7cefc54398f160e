"""What the JIRA and customer panels share: snapshot text and ages, the list of requests
under way, and the panel base (reads its case lazily, reloads only when ``"integrations"``
changed for its case, records requests through the bridge as their initiator)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.core.changes import Changes
from app.operations.integration_queries import integration_panel
from app.operations.integrations import SYSTEM_NAMES
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.widgets import plain_label

Clock = Callable[[], int]


def now_ms() -> int:
    return int(time.time() * 1000)


def ago(age_ms: int) -> str:
    """"just now", "12 min ago", "3 h ago", "2 days ago"."""
    minutes = max(0, age_ms) // 60_000
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"


def as_of(fetched_ms: int, now: int) -> str:
    return f"as of {ago(now - fetched_ms)}" if fetched_ms else "not fetched yet"


def text_of(value: Any) -> str:
    """A snapshot value as one line of text (a remote object: its display name)."""
    if isinstance(value, dict):
        value = value.get("displayName") or value.get("name")
    if isinstance(value, bool) or value is None:
        return ""
    return " ".join(str(value).split())[:300]


def request_text(req: dict[str, Any], now: int) -> str:
    """One request as a line: what, its state, and why / when next."""
    what = f"{SYSTEM_NAMES.get(req['system'], req['system'])} {req['action']}"
    key = text_of((req.get("params") or {}).get("issue_key"))
    line = f"{what}{' ' + key if key else ''}: {req['state']}"
    detail = text_of(req.get("reason"))
    next_try = req.get("next_try_ms")
    if req["state"] == "waiting" and isinstance(next_try, int):
        when = time.strftime("%H:%M", time.localtime(next_try / 1000))
        wait = max(0, next_try - now) // 60_000
        detail = f"{detail}; next try {when}" + (f" (in {wait} min)" if wait else "")
        detail = detail.strip("; ")
    return line + (f": {detail}" if detail else "")


class RequestList(QWidget):
    """The requests of one system that are not done, each with its state (failed ones in
    the danger colours)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)
        self.lay.setSpacing(3)
        self.labels: list[QLabel] = []

    def show_requests(self, requests: list[dict[str, Any]], now: int) -> None:
        for label in self.labels:
            label.deleteLater()
        self.labels = []
        t = theme.current()
        for req in requests:
            label = plain_label(request_text(req, now))
            label.setWordWrap(True)
            label.setObjectName("IntegrationRequest")
            if req["state"] in ("failed", "refused"):
                label.setStyleSheet(f"background: {t.danger_bg}; color: {t.danger_text}; "
                                    "border-radius: 6px; padding: 4px 8px;")
            else:
                label.setStyleSheet(f"color: {t.muted}; padding: 2px 8px;")
            self.lay.addWidget(label)
            self.labels.append(label)
        self.setVisible(bool(requests))


class IntegrationPanelBase(QWidget):
    """One system's side of a case: a button bar, the records (``items``), the requests
    under way. Subclasses set ``SYSTEM`` and ``EMPTY`` and fill ``items`` in
    :meth:`_fill_items`."""

    SYSTEM = ""
    EMPTY = ""

    sig_loaded = Signal(int, int)
    """(int, int): records and open requests shown after a (re)load."""

    def __init__(self, bridge: Bridge, buttons: list[QPushButton],
                 parent: QWidget | None = None, *, clock: Clock = now_ms) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.clock = clock
        self.case_id: str | None = None
        self.data: dict[str, Any] = {}
        self.shown_links: list[dict[str, Any]] = []
        self.shown_requests: list[dict[str, Any]] = []
        self.reloads = 0  # reads started: tests check that unrelated changes start none
        self._loaded_case: str | None = None
        self._reading: str | None = None  # the case a read is under way for
        self._then: list[Callable[[], None]] = []
        self._stale = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        bar = QHBoxLayout()
        for b in buttons:
            bar.addWidget(b)
        bar.addStretch(1)
        outer.addLayout(bar)
        self.error = plain_label()
        self.error.setWordWrap(True)
        self.error.setObjectName("Meta")
        self.error.hide()
        outer.addWidget(self.error)
        outer.addWidget(self._body(), 1)
        self._tick = QTimer(self)  # ages move on while the panel shows
        self._tick.setInterval(60_000)
        self._tick.timeout.connect(self._retime)
        self._tick.start()
        bridge.sig_changes_applied.connect(self._on_changes)

    def _body(self) -> QScrollArea:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        self.empty = plain_label(self.EMPTY)
        self.empty.setObjectName("Meta")
        self.empty.setWordWrap(True)
        lay.addWidget(self.empty)
        self.items = QVBoxLayout()
        lay.addLayout(self.items)
        self.requests = RequestList()
        lay.addWidget(self.requests)
        lay.addStretch(1)
        scroll.setWidget(body)
        return scroll

    # --- data ---------------------------------------------------------------------------
    def set_case(self, case_id: str | None) -> None:
        """Show ``case_id``; while hidden (another tab of the case view shows), only
        mark the panel stale: it reads when shown."""
        if case_id != self.case_id:
            self._show({})
            self._loaded_case = None
            self._then = []
        self.case_id = case_id
        if case_id is not None and not self.isVisible():
            self._stale = True
            return
        self.refresh()

    def when_loaded(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the current case's data shows (now, if it does)."""
        if self.case_id is None:
            return
        if self._loaded_case == self.case_id and not self._stale:
            fn()
            return
        self._then.append(fn)
        if self._reading != self.case_id and (not self._stale or self.isVisible()):
            self.refresh()

    def refresh(self) -> None:
        case_id = self.case_id
        self._stale = False
        if case_id is None:
            self._show({})
            return
        self.reloads += 1
        self._reading = case_id
        self.bridge.query(integration_panel, case_id,
                          on_done=lambda d: self._loaded(case_id, d), on_error=self._fail)

    def _loaded(self, case_id: str, data: dict[str, Any]) -> None:
        if isValid(self) and case_id == self.case_id:
            self._reading = None
            self._show(data)
            self._loaded_case = case_id
            self.sig_loaded.emit(len(self.shown_links), len(self.shown_requests))
            then, self._then = self._then, []
            for fn in then:
                fn()

    def _on_changes(self, changes: Changes) -> None:
        if not self.case_id or changes.made_by(self):
            return
        if not (changes.rebuilt or ("integrations" in changes.fields
                                    and self.case_id in changes.case_ids)):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True  # hidden: refresh when shown

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _show(self, data: dict[str, Any]) -> None:
        if not isValid(self):
            return
        self.data = data
        self.error.hide()
        now = self.clock()
        links = [lk for lk in data.get("links", []) if lk.get("system") == self.SYSTEM]
        self._fill_items(links, now)
        self.empty.setVisible(not links)
        open_requests = [r for r in data.get("requests", [])
                         if r.get("system") == self.SYSTEM and r.get("state") != "done"]
        self.requests.show_requests(open_requests, now)
        self.shown_links, self.shown_requests = links, open_requests
        self._enable(bool(data.get("key")), bool(links))

    # The three hooks below are what each panel (JIRA issues, Salesforce records) defines;
    # the base class is never shown on its own.
    def _fill_items(self, links: list[dict[str, Any]], now: int) -> None:
        """Show this system's linked records."""
        raise NotImplementedError

    def _enable(self, has_case: bool, has_links: bool) -> None:
        """Enable the panel's actions for a case with (or without) linked records."""
        raise NotImplementedError

    def _retime(self) -> None:
        if self.isVisible() and self.data:
            now = self.clock()
            for widget in self._timed():
                widget.set_now(now)

    def _timed(self) -> list[Any]:
        """The shown records whose ``set_now(now)`` rewrites their age."""
        raise NotImplementedError

    def _fail(self, exc: Exception | str) -> None:
        if isValid(self):
            self._reading = None
            self.error.setText(exc if isinstance(exc, str) else describe(exc))
            self.error.show()

    def _request(self, op: Callable[..., Any], **kwargs: Any) -> None:
        """Record one request for the case; the panel then reads what it recorded."""
        if self.case_id is None:
            return
        self.bridge.run(op, initiator=self, case=self.case_id,
                        on_done=lambda _r: self.refresh(), on_error=self._fail, **kwargs)

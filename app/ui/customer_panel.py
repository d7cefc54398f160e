"""The case's customer panel: the requester's Salesforce Contact and Account from the last
lookup or snapshot (name, account, owner, tier and open opportunities where present, each
with its age: readable offline), the Salesforce Case if synced, and the requests under way.

Look up / Sync / Refresh record an ``integration.requested`` event (works offline); the
server runs it. Everything from Salesforce is shown as plain text.
"""

from __future__ import annotations

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
from app.operations import integrations as iops
from app.operations.integration_queries import integration_panel
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.integrations_panel import Clock, RequestList, as_of, now_ms, text_of
from app.ui.widgets import plain_label, plain_tip

KIND_TITLES = {"contact": "Contact", "account": "Account", "case": "Salesforce Case"}
KIND_ORDER = ("contact", "account", "case")


def record_lines(link: dict[str, Any]) -> list[str]:
    """The fields of a Contact, Account or Case snapshot worth a line, where present."""
    snap = link.get("snapshot") or {}
    kind = link.get("kind")
    lines: list[tuple[str, Any]] = []
    if kind == "contact":
        lines = [("Account", snap.get("account")), ("Title", snap.get("title")),
                 ("E-mail", snap.get("email")), ("Phone", snap.get("phone")),
                 ("Owner", snap.get("owner"))]
    elif kind == "account":
        opportunities = snap.get("opportunities")
        names = ", ".join(text_of(o.get("name")) for o in opportunities[:3]
                          if isinstance(o, dict)) if isinstance(opportunities, list) else ""
        count = snap.get("open_opportunities")
        open_text = (f"{count}" + (f" ({names})" if names else "")
                     if isinstance(count, int) and not isinstance(count, bool) else "")
        lines = [("Tier", snap.get("tier")), ("Type", snap.get("type")),
                 ("Industry", snap.get("industry")), ("Owner", snap.get("owner")),
                 ("Open opportunities", open_text)]
    elif kind == "case":
        lines = [("Number", snap.get("case_number") or link.get("remote_key")),
                 ("Status", snap.get("status")), ("Priority", snap.get("priority"))]
    return [f"{label}: {text_of(value)}" for label, value in lines if text_of(value)]


class RecordCard(QFrame):
    """One Salesforce record: its kind and name, its fields, the snapshot's age."""

    def __init__(self, link: dict[str, Any], now: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        snap = link.get("snapshot") or {}
        t = theme.current()
        self.setObjectName("RecordCard")
        self.setStyleSheet(f"#RecordCard {{ background: {t.surface}; border: 1px solid "
                           f"{t.border}; border-radius: 8px; }}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(2)
        kind = str(link.get("kind") or "")
        title = plain_label(KIND_TITLES.get(kind, kind.capitalize() or "Record"))
        title.setObjectName("Meta")
        lay.addWidget(title)
        name = text_of(snap.get("name")) or text_of(snap.get("summary")) \
            or text_of(link.get("remote_key"))
        self.name = plain_label(name or "?")
        self.name.setStyleSheet("font-weight: 700;")
        if link.get("url"):
            self.name.setToolTip(plain_tip(str(link["url"])))
        lay.addWidget(self.name)
        self.lines = [plain_label(line) for line in record_lines(link)]
        for label in self.lines:
            label.setWordWrap(True)
            lay.addWidget(label)
        self.age = plain_label()
        self.age.setObjectName("Meta")
        lay.addWidget(self.age)
        self.set_now(now)

    def set_now(self, now: int) -> None:
        self.age.setText(as_of(int(self.link.get("fetched_ms") or 0), now))


class CustomerPanel(QWidget):
    """The Salesforce side of one case."""

    sig_loaded = Signal(int, int)
    """(int, int): records and open requests shown after a (re)load."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None, *,
                 clock: Clock = now_ms) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.clock = clock
        self.case_id: str | None = None
        self.data: dict[str, Any] = {}
        self.shown_links: list[dict[str, Any]] = []
        self.shown_requests: list[dict[str, Any]] = []
        self.reloads = 0
        self._stale = False
        self.cards: list[RecordCard] = []
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        bar = QHBoxLayout()
        self.lookup_button = QPushButton("Look up in Salesforce")
        self.sync_button = QPushButton("Sync case to Salesforce")
        self.refresh_button = QPushButton("Refresh")
        self.lookup_button.clicked.connect(self.lookup)
        self.sync_button.clicked.connect(self.sync_case)
        self.refresh_button.clicked.connect(self.refresh_remote)
        for b in (self.lookup_button, self.sync_button, self.refresh_button):
            bar.addWidget(b)
        bar.addStretch(1)
        outer.addLayout(bar)
        self.error: QLabel = plain_label()
        self.error.setWordWrap(True)
        self.error.setObjectName("Meta")
        self.error.hide()
        outer.addWidget(self.error)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.body = QVBoxLayout(body)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.empty = plain_label("Nothing from Salesforce yet: look the requester up.")
        self.empty.setObjectName("Meta")
        self.body.addWidget(self.empty)
        self.records = QVBoxLayout()
        self.body.addLayout(self.records)
        self.requests = RequestList()
        self.body.addWidget(self.requests)
        self.body.addStretch(1)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)
        self._tick = QTimer(self)
        self._tick.setInterval(60_000)
        self._tick.timeout.connect(self._retime)
        self._tick.start()
        bridge.sig_changes_applied.connect(self._on_changes)
        self._show({})

    # --- data ---------------------------------------------------------------------------
    def set_case(self, case_id: str | None) -> None:
        if case_id != self.case_id:
            self._show({})
        self.case_id = case_id
        self.refresh()

    def refresh(self) -> None:
        case_id = self.case_id
        self._stale = False
        if case_id is None:
            self._show({})
            return
        self.reloads += 1
        self.bridge.query(integration_panel, case_id,
                          on_done=lambda d: self._loaded(case_id, d), on_error=self._fail)

    def _loaded(self, case_id: str, data: dict[str, Any]) -> None:
        if isValid(self) and case_id == self.case_id:
            self._show(data)
            self.sig_loaded.emit(len(self.shown_links), len(self.shown_requests))

    def _on_changes(self, changes: Changes) -> None:
        if not self.case_id or changes.made_by(self):
            return
        if not (changes.rebuilt or ("integrations" in changes.fields
                                    and self.case_id in changes.case_ids)):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _show(self, data: dict[str, Any]) -> None:
        if not isValid(self):
            return
        self.data = data
        self.error.hide()
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        now = self.clock()
        links = [lk for lk in data.get("links", []) if lk.get("system") == "salesforce"]
        links.sort(key=lambda lk: KIND_ORDER.index(lk["kind"]) if lk.get("kind") in KIND_ORDER
                   else len(KIND_ORDER))
        for link in links:
            card = RecordCard(link, now)
            self.records.addWidget(card)
            self.cards.append(card)
        self.empty.setVisible(not links)
        open_requests = [r for r in data.get("requests", [])
                         if r.get("system") == "salesforce" and r.get("state") != "done"]
        self.requests.show_requests(open_requests, now)
        has_case = bool(data.get("key"))
        email = data.get("requester_email")
        self.lookup_button.setEnabled(has_case and bool(email))
        self.lookup_button.setToolTip(plain_tip(f"Find the Contact and Account of {email}")
                                      if email else "The case has no requester e-mail")
        self.sync_button.setEnabled(has_case)
        self.refresh_button.setEnabled(has_case and bool(links))
        self.shown_links, self.shown_requests = links, open_requests

    def _retime(self) -> None:
        if self.isVisible() and self.data:
            now = self.clock()
            for card in self.cards:
                card.set_now(now)

    def _fail(self, exc: Exception | str) -> None:
        if isValid(self):
            self.error.setText(exc if isinstance(exc, str) else describe(exc))
            self.error.show()

    # --- requests -----------------------------------------------------------------------
    def _request(self, op: Callable[..., Any], **kwargs: Any) -> None:
        if self.case_id is None:
            return
        self.bridge.run(op, initiator=self, case=self.case_id,
                        on_done=lambda _r: self.refresh(), on_error=self._fail, **kwargs)

    def lookup(self) -> None:
        email = self.data.get("requester_email")
        if not email:
            self._fail("The case has no requester e-mail to look up")
            return
        self._request(iops.request_salesforce_lookup, email=str(email))

    def sync_case(self) -> None:
        self._request(iops.request_salesforce_sync)

    def refresh_remote(self) -> None:
        self._request(iops.request_salesforce_refresh)

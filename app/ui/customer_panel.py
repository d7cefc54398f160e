"""The case's customer panel: the requester's Salesforce Contact and Account from the last
lookup or snapshot (name, account, owner, tier and open opportunities where present, each
with its age: readable offline), the Salesforce Case if synced, and the requests under way.

Look up / Sync / Refresh record an ``integration.requested`` event (works offline); the
server runs it. Everything from Salesforce is shown as plain text.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.operations import integrations as iops
from app.ui import theme
from app.ui.bridge import Bridge
from app.ui.integration_parts import Clock, IntegrationPanelBase, as_of, now_ms, text_of
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


class CustomerPanel(IntegrationPanelBase):
    """The Salesforce side of one case."""

    SYSTEM = "salesforce"
    EMPTY = "Nothing from Salesforce yet: look the requester up."

    def __init__(self, bridge: Bridge, parent: QWidget | None = None, *,
                 clock: Clock = now_ms) -> None:
        self.lookup_button = QPushButton("Look up in Salesforce")
        self.sync_button = QPushButton("Sync case to Salesforce")
        self.refresh_button = QPushButton("Refresh")
        self.cards: list[RecordCard] = []
        self._row: QWidget | None = None
        super().__init__(bridge, [self.lookup_button, self.sync_button, self.refresh_button],
                         parent, clock=clock)
        self.lookup_button.clicked.connect(self.lookup)
        self.sync_button.clicked.connect(self.sync_case)
        self.refresh_button.clicked.connect(self.refresh_remote)
        self._show({})

    def _fill_items(self, links: list[dict[str, Any]], now: int) -> None:
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        links.sort(key=lambda lk: KIND_ORDER.index(lk["kind"]) if lk.get("kind") in KIND_ORDER
                   else len(KIND_ORDER))
        if self._row is not None:
            self._row.deleteLater()
            self._row = None
        if not links:
            return
        self._row = QWidget()  # the records side by side: each is short and narrow
        row = QHBoxLayout(self._row)
        row.setContentsMargins(0, 0, 0, 0)
        for link in links:
            card = RecordCard(link, now)
            row.addWidget(card, 1, Qt.AlignmentFlag.AlignTop)
            self.cards.append(card)
        self.items.addWidget(self._row)

    def _timed(self) -> list[Any]:
        return list(self.cards)

    def _enable(self, has_case: bool, has_links: bool) -> None:
        email = self.data.get("requester_email")
        self.lookup_button.setEnabled(has_case and bool(email))
        self.lookup_button.setToolTip(plain_tip(f"Find the Contact and Account of {email}")
                                      if email else "The case has no requester e-mail")
        self.sync_button.setEnabled(has_case)
        self.refresh_button.setEnabled(has_case and has_links)

    # --- requests -----------------------------------------------------------------------
    def lookup(self) -> None:
        """Look the requester up, once the case's requester is read."""
        self.when_loaded(self._lookup_now)

    def _lookup_now(self) -> None:
        email = self.data.get("requester_email")
        if not email:
            self._fail("The case has no requester e-mail to look up")
            return
        self._request(iops.request_salesforce_lookup, email=str(email))

    def sync_case(self) -> None:
        self._request(iops.request_salesforce_sync)

    def refresh_remote(self) -> None:
        self._request(iops.request_salesforce_refresh)

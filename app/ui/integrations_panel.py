"""The case's JIRA panel: each linked issue (key, summary, status chip by status category,
assignee, last update, the snapshot's age: readable offline) and the requests still under
way (pending, queued, waiting with the next try, failed with the remote reason).

Create / Link / Comment / Unlink / Refresh record an ``integration.requested`` event (works
offline); the server runs it. Everything from JIRA is shown as plain text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.core.changes import Changes
from app.operations import integrations as iops
from app.operations.errors import OperationError
from app.operations.integration_queries import integration_panel
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.widgets import plain_label, plain_tip

Clock = Callable[[], int]
# Status category -> the case status whose colours it borrows (theme-aware chips).
CATEGORY_COLOURS = {"todo": "new", "in_progress": "open", "done": "solved"}
CATEGORY_TEXT = {"todo": "To do", "in_progress": "In progress", "done": "Done"}
ISSUE_TYPES = ("Bug", "Task", "Story", "Incident")
_last_create: dict[str, str] = {"project": "", "issue_type": "Bug"}  # this session's last


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
    what = f"{iops.SYSTEM_NAMES.get(req['system'], req['system'])} {req['action']}"
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


class IssueRow(QFrame):
    """One linked issue: key, status chip, summary, assignee · updated · age; Comment…,
    Unlink."""

    def __init__(self, link: dict[str, Any], now: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        snap = link.get("snapshot") or {}
        t = theme.current()
        self.setObjectName("IssueRow")
        self.setStyleSheet(f"#IssueRow {{ background: {t.surface}; border: 1px solid "
                           f"{t.border}; border-radius: 8px; }}")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 8, 6)
        text = QVBoxLayout()
        text.setSpacing(2)
        top = QHBoxLayout()
        top.setSpacing(8)
        self.key_label = plain_label(text_of(link.get("remote_key")) or "?")
        self.key_label.setStyleSheet("font-weight: 700;")
        if link.get("url"):
            self.key_label.setToolTip(plain_tip(str(link["url"])))
        top.addWidget(self.key_label)
        category = str(link.get("status_category") or "todo")
        status = text_of(snap.get("status")) or CATEGORY_TEXT.get(category, category)
        bg, fg = theme.status_colors(CATEGORY_COLOURS.get(category, "closed"))
        self.chip = plain_label(status)
        self.chip.setObjectName("Pill")
        self.chip.setStyleSheet(f"background: {bg.name()}; color: {fg.name()};")
        self.chip.setToolTip(plain_tip(f"Status category: {CATEGORY_TEXT.get(category, '?')}"))
        top.addWidget(self.chip)
        top.addStretch(1)
        text.addLayout(top)
        self.summary = plain_label(text_of(snap.get("summary")) or "(no summary)")
        self.summary.setWordWrap(True)
        text.addWidget(self.summary)
        self.meta = plain_label()
        self.meta.setObjectName("Meta")
        text.addWidget(self.meta)
        lay.addLayout(text, 1)
        self.comment_button = QPushButton("Comment…")
        self.unlink_button = QPushButton("Unlink")
        for b in (self.comment_button, self.unlink_button):
            lay.addWidget(b)
        self.set_now(now)

    def set_now(self, now: int) -> None:
        snap = self.link.get("snapshot") or {}
        parts = [f"Assignee: {text_of(snap.get('assignee')) or 'unassigned'}"]
        if text_of(snap.get("updated")):
            parts.append(f"updated {text_of(snap.get('updated'))[:16].replace('T', ' ')}")
        parts.append(as_of(int(self.link.get("fetched_ms") or 0), now))
        self.meta.setText(" · ".join(parts))


class KeyDialog(QDialog):
    """Asks for a JIRA issue key; OK only while the key is valid (the reason shown)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Link a JIRA issue")
        lay = QVBoxLayout(self)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("e.g. ENG-42")
        self.edit.setAccessibleName("JIRA issue key")
        lay.addWidget(plain_label("Issue key"))
        lay.addWidget(self.edit)
        self.error = plain_label()
        self.error.setWordWrap(True)
        self.error.setObjectName("Meta")
        lay.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        self._check("")

    def key(self) -> str | None:
        try:
            return iops.jira_key(self.edit.text())
        except OperationError:
            return None

    def _check(self, text: str) -> None:
        ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            iops.jira_key(text)
            self.error.setText("")
            ok_button.setEnabled(True)
        except OperationError as exc:
            self.error.setText(str(exc) if text.strip() else "")
            ok_button.setEnabled(False)


class CreateIssueDialog(QDialog):
    """Project, issue type and the comments to include (defaults: the last used)."""

    def __init__(self, comments: list[dict[str, Any]], defaults: dict[str, str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Create a JIRA issue")
        self.setMinimumWidth(460)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.project = QLineEdit(defaults.get("project", ""))
        self.project.setPlaceholderText("the server's default project")
        form.addRow("Project", self.project)
        self.issue_type = QComboBox()
        self.issue_type.setEditable(True)
        self.issue_type.addItems(list(ISSUE_TYPES))
        self.issue_type.setCurrentText(defaults.get("issue_type", "Bug"))
        form.addRow("Issue type", self.issue_type)
        lay.addLayout(form)
        lay.addWidget(plain_label("Comments to include"))
        self.comments = QListWidget()
        for c in comments:
            item = QListWidgetItem(("Note: " if c.get("internal") else "") + str(c["snippet"]))
            item.setData(Qt.ItemDataRole.UserRole, c["id"])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.comments.addItem(item)
        lay.addWidget(self.comments)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def values(self) -> tuple[str | None, str | None, list[str]]:
        ids = [str(self.comments.item(i).data(Qt.ItemDataRole.UserRole))
               for i in range(self.comments.count())
               if self.comments.item(i).checkState() == Qt.CheckState.Checked]
        return (self.project.text().strip() or None,
                self.issue_type.currentText().strip() or None, ids)


class IntegrationsPanel(QWidget):
    """The JIRA side of one case."""

    sig_loaded = Signal(int, int)
    """(int, int): linked issues and open requests shown after a (re)load."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None, *,
                 clock: Clock = now_ms) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.clock = clock
        self.case_id: str | None = None
        self.data: dict[str, Any] = {}
        self.shown_links: list[dict[str, Any]] = []
        self.shown_requests: list[dict[str, Any]] = []
        self.reloads = 0  # reads started: tests check that unrelated changes start none
        self._stale = False
        self.rows: list[IssueRow] = []
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        bar = QHBoxLayout()
        self.create_button = QPushButton("Create JIRA issue…")
        self.link_button = QPushButton("Link existing…")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Ask the server for a fresh snapshot of each issue")
        self.create_button.clicked.connect(self.open_create_dialog)
        self.link_button.clicked.connect(self.open_link_dialog)
        self.refresh_button.clicked.connect(self.refresh_remote)
        for b in (self.create_button, self.link_button, self.refresh_button):
            bar.addWidget(b)
        bar.addStretch(1)
        outer.addLayout(bar)
        self.error = plain_label()
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
        self.empty = plain_label("No JIRA issue is linked to this case.")
        self.empty.setObjectName("Meta")
        self.body.addWidget(self.empty)
        self.issues = QVBoxLayout()
        self.body.addLayout(self.issues)
        self.requests = RequestList()
        self.body.addWidget(self.requests)
        self.body.addStretch(1)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)
        self._tick = QTimer(self)  # ages move on while the panel shows
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
        for row in self.rows:
            row.deleteLater()
        self.rows = []
        now = self.clock()
        links = [lk for lk in data.get("links", []) if lk.get("system") == "jira"]
        for link in links:
            row = IssueRow(link, now)
            key = str(link.get("remote_key") or "")
            row.comment_button.clicked.connect(partial(self.open_comment_dialog, key))
            row.unlink_button.clicked.connect(partial(self.unlink, key))
            self.issues.addWidget(row)
            self.rows.append(row)
        self.empty.setVisible(not links)
        open_requests = [r for r in data.get("requests", [])
                         if r.get("system") == "jira" and r.get("state") != "done"]
        self.requests.show_requests(open_requests, now)
        enabled = bool(data.get("key"))
        for b in (self.create_button, self.link_button):
            b.setEnabled(enabled)
        self.refresh_button.setEnabled(enabled and bool(links))
        self.shown_links, self.shown_requests = links, open_requests

    def _retime(self) -> None:
        if self.isVisible() and self.data:
            now = self.clock()
            for row in self.rows:
                row.set_now(now)

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

    def create_issue(self, project: str | None = None, issue_type: str | None = None,
                     comment_ids: list[str] | None = None) -> None:
        _last_create.update(project=project or "", issue_type=issue_type or "Bug")
        self._request(iops.request_jira_create, project=project, issue_type=issue_type,
                      comment_ids=comment_ids or [])

    def link_issue(self, issue_key: str) -> None:
        self._request(iops.request_jira_link, issue_key=issue_key)

    def comment(self, text: str, issue_key: str | None = None) -> None:
        self._request(iops.request_jira_comment, text=text, issue=issue_key)

    def unlink(self, issue_key: str) -> None:
        self._request(iops.request_jira_unlink, issue_key=issue_key)

    def refresh_remote(self) -> None:
        self._request(iops.request_jira_refresh)

    # --- dialogs ------------------------------------------------------------------------
    def create_defaults(self) -> dict[str, str]:
        """The last create asked on this case, else the last asked in this session."""
        for req in reversed(self.data.get("requests", [])):
            if req.get("system") == "jira" and req.get("action") == "create":
                params = req.get("params") or {}
                return {"project": text_of(params.get("project")),
                        "issue_type": text_of(params.get("issue_type")) or "Bug"}
        return dict(_last_create)

    def create_dialog(self) -> CreateIssueDialog:
        return CreateIssueDialog(self.data.get("comments", []), self.create_defaults(), self)

    def open_create_dialog(self) -> None:
        dialog = self.create_dialog()
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.create_issue(*dialog.values())

    def open_link_dialog(self) -> None:
        dialog = KeyDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.key():
            self.link_issue(str(dialog.key()))

    def open_comment_dialog(self, issue_key: str | None = None) -> None:
        text, ok = QInputDialog.getMultiLineText(
            self, "Comment on JIRA", f"Comment to add to {issue_key or 'the linked issue'}")
        if ok and text.strip():
            self.comment(text, issue_key)

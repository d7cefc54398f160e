"""The case's JIRA panel: each linked issue (key, summary, status chip by status category,
assignee, last update, the snapshot's age: readable offline) and the requests still under
way (pending, queued, waiting with the next try, failed with the remote reason).

Create / Link / Comment / Unlink / Refresh record an ``integration.requested`` event (works
offline); the server runs it. Everything from JIRA is shown as plain text.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.operations import integrations as iops
from app.operations.errors import OperationError
from app.ui import theme
from app.ui.bridge import Bridge
from app.ui.integration_parts import Clock, IntegrationPanelBase, as_of, now_ms, text_of
from app.ui.widgets import plain_label, plain_tip

# Status category -> the case status whose colours it borrows (theme-aware chips).
CATEGORY_COLOURS = {"todo": "new", "in_progress": "open", "done": "solved"}
CATEGORY_TEXT = {"todo": "To do", "in_progress": "In progress", "done": "Done"}
ISSUE_TYPES = ("Bug", "Task", "Story", "Incident")
_last_create: dict[str, str] = {"project": "", "issue_type": "Bug"}  # this session's last


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


class IntegrationsPanel(IntegrationPanelBase):
    """The JIRA side of one case."""

    SYSTEM = "jira"
    EMPTY = "No JIRA issue is linked to this case."

    def __init__(self, bridge: Bridge, parent: QWidget | None = None, *,
                 clock: Clock = now_ms) -> None:
        self.create_button = QPushButton("Create JIRA issue…")
        self.link_button = QPushButton("Link existing…")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Ask the server for a fresh snapshot of each issue")
        self.rows: list[IssueRow] = []
        super().__init__(bridge, [self.create_button, self.link_button, self.refresh_button],
                         parent, clock=clock)
        self.create_button.clicked.connect(self.open_create_dialog)
        self.link_button.clicked.connect(self.open_link_dialog)
        self.refresh_button.clicked.connect(self.refresh_remote)
        self._show({})

    def _fill_items(self, links: list[dict[str, Any]], now: int) -> None:
        for row in self.rows:
            row.deleteLater()
        self.rows = []
        for link in links:
            row = IssueRow(link, now)
            key = str(link.get("remote_key") or "")
            row.comment_button.clicked.connect(partial(self.open_comment_dialog, key))
            row.unlink_button.clicked.connect(partial(self.unlink, key))
            self.items.addWidget(row)
            self.rows.append(row)

    def _timed(self) -> list[Any]:
        return list(self.rows)

    def _enable(self, has_case: bool, has_links: bool) -> None:
        self.create_button.setEnabled(has_case)
        self.link_button.setEnabled(has_case)
        self.refresh_button.setEnabled(has_case and has_links)

    # --- requests -----------------------------------------------------------------------
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
        """The create dialog, once the case's comments are read (the palette may ask
        before the panel ever showed)."""
        self.when_loaded(self._create_now)

    def _create_now(self) -> None:
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

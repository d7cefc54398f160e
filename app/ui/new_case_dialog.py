"""The New case dialog: fields checked inline before anything is written."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.core.model import (
    MAX_PRODUCT,
    MAX_SUBJECT,
    CaseType,
    InvalidValue,
    Priority,
    normalize_tag,
)
from app.ui.bridge import Bridge, describe
from app.ui.field_combo import FieldCombo
from app.ui.form_draft import FormDraft
from app.ui.widgets import plain_label


def validate(values: dict[str, Any]) -> dict[str, str]:
    """Field name → message for every value the operation would refuse (no I/O)."""
    errors: dict[str, str] = {}
    subject = str(values.get("subject") or "").strip()
    if not subject:
        errors["subject"] = "A subject is required."
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = f"Keep the subject under {MAX_SUBJECT} characters."
    email = str(values.get("requester_email") or "").strip()
    if email and ("@" not in email or " " in email or email.startswith("@")
                  or email.endswith("@") or len(email) > 320):
        errors["requester_email"] = f"'{email}' is not an email address."
    bad = []
    for tag in values.get("tags") or []:
        try:
            normalize_tag(tag)
        except InvalidValue:
            bad.append(tag)
    if bad:
        errors["tags"] = ("Tags use lowercase letters, digits and - _ : . "
                          f"(not: {', '.join(bad)}).")
    if len(str(values.get("product") or "")) > MAX_PRODUCT:
        errors["product"] = f"Keep the product under {MAX_PRODUCT} characters."
    return errors


class NewCaseDialog(QDialog):
    sig_created = Signal(str, str)
    """(case id, key): the case was created."""

    def __init__(self, bridge: Bridge, agents: list[tuple[str, str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("New case")
        self.setMinimumWidth(520)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 18, 20, 16)
        title = QLabel("New case")
        title.setObjectName("ViewTitle")
        lay.addWidget(title)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.setVerticalSpacing(4)
        lay.addLayout(form)
        self._make_fields(agents)
        self.errors: dict[str, QLabel] = {}
        self._add_rows(form)
        self.general_error = plain_label()
        self.general_error.setObjectName("ErrorLabel")
        self.general_error.setWordWrap(True)
        self.general_error.hide()
        lay.addWidget(self.general_error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create case",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setObjectName("Primary")
        self.create_button.setDefault(True)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.subject.setFocus(Qt.FocusReason.OtherFocusReason)
        self._wire_draft()

    # --- the draft: what is typed survives a crash, a restart, Cancel -------------------
    def _wire_draft(self) -> None:
        texts = ("subject", "description", "requester", "tags", "product")
        self.draft = FormDraft(
            self.bridge, "new_case",
            {"subject": self.subject, "description": self.description,
             "requester": self.requester, "tags": self.tags, "product": self.product,
             "priority": self.priority, "type": self.type, "assignee": self.assignee},
            typed=lambda f: any(str(f[k]).strip() for k in texts),
            on_restored=lambda: self._say("Your unsent new case is back, as you left it.",
                                          error=False),
            parent=self)

    def done(self, result: int) -> None:
        """Closing without creating keeps the typing as a draft, and says so."""
        if self.draft.keep() and isValid(self.bridge):
            self.bridge.sig_message.emit(
                "New case draft kept: it is back when you open New case again.")
        super().done(result)

    def _say(self, text: str, *, error: bool) -> None:
        label = self.general_error
        label.setObjectName("ErrorLabel" if error else "Meta")
        label.style().unpolish(label)
        label.style().polish(label)
        label.setText(text)
        label.show()

    def _make_fields(self, agents: list[tuple[str, str]]) -> None:
        self.subject = QLineEdit()
        self.subject.setPlaceholderText("What is the problem, in a line")
        self.description = QPlainTextEdit()
        self.description.setPlaceholderText("Details, steps, error messages… (Markdown)")
        self.description.setMinimumHeight(110)
        self.description.setTabChangesFocus(True)  # Tab moves on; it is not typed
        self.requester = QLineEdit()
        self.requester.setPlaceholderText("name@company.com")
        self.priority = FieldCombo()  # changes on an explicit choice
        for p in Priority:
            self.priority.addItem(p.value.capitalize(), p.value)
        self.priority.setCurrentIndex(self.priority.findData("normal"))
        self.type = FieldCombo()  # changes on an explicit choice
        for c in CaseType:
            self.type.addItem(c.value.capitalize(), c.value)
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("vip billing …")
        self.assignee = FieldCombo()  # changes on an explicit choice
        self.assignee.addItem("Unassigned", "")
        self.assignee.addItem("Me", "me")
        for agent_id, name in agents:
            self.assignee.addItem(name, agent_id)
        self.assignee.setCurrentIndex(1)  # agents usually take the cases they log
        self.product = QLineEdit()
        self.product.setPlaceholderText("Optional")

    def _add_rows(self, form: QFormLayout) -> None:
        """Each field under its label, with room for its error below it."""
        for name, label, widget in (
            ("subject", "Subject", self.subject), ("description", "Description", self.description),
            ("requester_email", "Requester email", self.requester),
            ("priority", "Priority", self.priority), ("type", "Type", self.type),
            ("tags", "Tags", self.tags), ("assignee", "Assignee", self.assignee),
            ("product", "Product", self.product),
        ):
            widget.setAccessibleName(label)
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 6)
            v.setSpacing(2)
            v.addWidget(widget)
            err = plain_label()  # errors quote what was typed
            err.setObjectName("ErrorLabel")
            err.setWordWrap(True)
            err.hide()
            v.addWidget(err)
            self.errors[name] = err
            head = QLabel(label)
            head.setObjectName("FieldLabel")
            form.addRow(head, box)

    def values(self) -> dict[str, Any]:
        tags = [t.lstrip("#").strip().lower() for t in self.tags.text().replace(",", " ").split()]
        return {
            "subject": self.subject.text().strip(),
            "description": self.description.toPlainText().strip() or None,
            "requester_email": self.requester.text().strip() or None,
            "priority": self.priority.currentData(),
            "type": self.type.currentData(),
            "tags": tags,
            "assignee": self.assignee.currentData() or None,
            "product": self.product.text().strip() or None,
        }

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, label in self.errors.items():
            message = errors.get(name)
            label.setText(message or "")
            label.setVisible(bool(message))
        for name, widget in (("subject", self.subject), ("requester_email", self.requester),
                             ("tags", self.tags), ("product", self.product)):
            widget.setProperty("invalid", name in errors)
            widget.style().unpolish(widget)
            widget.style().polish(widget)

    def submit(self) -> None:
        values = self.values()
        errors = validate(values)
        self.show_errors(errors)
        self.general_error.hide()
        if errors:
            first = next(iter(errors))
            {"subject": self.subject, "requester_email": self.requester, "tags": self.tags,
             "product": self.product}.get(first, self.subject).setFocus()
            return
        from app.operations import cases as ops

        self.create_button.setEnabled(False)
        self.bridge.run(ops.create_case, **values, on_done=self._created,
                        on_error=self._failed)

    def _created(self, result: Any) -> None:
        case_id, key, _changes = result
        self.draft.finish()
        self.sig_created.emit(case_id, key)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.create_button.setEnabled(True)
        self._say(describe(exc), error=True)

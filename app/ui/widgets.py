"""Small shared widgets: an eliding label, tag chips, a due-date picker, a case picker, the
bulk-edit dialog."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QDate, QSize, Qt, QTimer, Signal
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.core.model import Priority, Status
from app.operations.cases import bulk_apply
from app.operations.navigation import search_cases
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.date_field import DateField
from app.ui.field_combo import FieldCombo
from app.ui.form_draft import FormDraft

NO_CHANGE = "\x00"


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that shows ``text`` as it is. Qt's default (AutoText) renders a string that
    looks like HTML as rich text: a subject '<h1>…' would show as a heading, an
    '<img src=…>' would load. Every label that can show user data is made with this."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def make_plain(*labels: QLabel) -> None:
    """Existing labels (built elsewhere) switched to plain text."""
    for label in labels:
        label.setTextFormat(Qt.TextFormat.PlainText)


def plain_tip(text: str) -> str:
    """A tooltip that shows ``text`` literally: tooltips have no text format, so text that
    Qt would take for HTML is escaped (line breaks kept); other text is left as it is."""
    if not GuiQt.mightBeRichText(text):
        return text
    escaped = html.escape(text, quote=False).replace("\n", "<br>")
    return f"<p style='white-space:pre-wrap'>{escaped}</p>"


def plain_box(icon: QMessageBox.Icon, title: str, text: str,
              buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.Ok,
              default: QMessageBox.StandardButton = QMessageBox.StandardButton.NoButton,
              parent: QWidget | None = None) -> QMessageBox:
    """A message box whose text is shown literally (QMessageBox's static helpers use
    AutoText: a case subject or an error naming a file could render as HTML)."""
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if default != QMessageBox.StandardButton.NoButton:
        box.setDefaultButton(default)
    return box


class ElidedLabel(QLabel):
    """A one-line label that gives up its width first and elides its text to fit; with
    ``shorter`` texts, it shows the longest that fits whole (or nothing) instead."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideLeft,
                 shorter: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)  # it shows names and subjects
        self.full_text = text
        self.mode = mode
        self.shorter = shorter
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setAlignment((Qt.AlignmentFlag.AlignRight if mode == Qt.TextElideMode.ElideLeft
                           else Qt.AlignmentFlag.AlignLeft) | Qt.AlignmentFlag.AlignVCenter)
        self.setToolTip(plain_tip(text))
        self._elide()

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(plain_tip(text))
        self._elide()

    def sizeHint(self) -> QSize:  # noqa: N802
        # The full text's width, whichever text is on show (a layout may give it back).
        hint = super().sizeHint()
        margins = self.contentsMargins()
        hint.setWidth(self.fontMetrics().horizontalAdvance(self.full_text) + margins.left()
                      + margins.right() + 2 * self.margin() + 1)
        return hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        hint.setWidth(self.minimumWidth())
        return hint

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(self.contentsRect().width(), 0)
        metrics = self.fontMetrics()
        if self.shorter:
            shown = next((t for t in (self.full_text, *self.shorter)
                          if metrics.horizontalAdvance(t) <= width), "")
        else:
            shown = metrics.elidedText(self.full_text, self.mode, width)
        if shown != self.text():
            self.setText(shown)


class TagChips(QFrame):
    """Tags as removable chips plus a small field to add one (Enter)."""

    sig_add = Signal(str)
    sig_remove = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TagChips")
        self.tags: list[str] = []
        self.lay = QHBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)
        self.lay.setSpacing(4)
        self.chips: dict[str, QFrame] = {}
        self.input = QLineEdit()
        self.input.setObjectName("TagInput")
        self.input.setAccessibleName("Add a tag")
        self.input.setPlaceholderText("+ tag")
        self.input.setMaximumWidth(110)
        self.input.returnPressed.connect(self._add)
        self.lay.addWidget(self.input)
        self.lay.addStretch(1)

    def set_tags(self, tags: list[str]) -> None:
        if tags == self.tags:
            return
        self.tags = list(tags)
        for chip in self.chips.values():
            self.lay.removeWidget(chip)
            chip.deleteLater()
        self.chips = {}
        for i, tag in enumerate(self.tags):
            chip = QFrame()
            chip.setObjectName("Chip")
            chip.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
            cl = QHBoxLayout(chip)
            cl.setContentsMargins(8, 1, 2, 1)
            cl.setSpacing(2)
            label = plain_label(tag)
            label.setObjectName("ChipText")
            cl.addWidget(label)
            remove = QToolButton()
            remove.setObjectName("ChipRemove")
            remove.setIcon(theme.icon("close", None, 10))
            remove.setAccessibleName(f"Remove tag {tag}")
            remove.setToolTip(plain_tip(f"Remove '{tag}'"))
            remove.clicked.connect(lambda _c=False, t=tag: self.sig_remove.emit(t))
            cl.addWidget(remove)
            self.lay.insertWidget(i, chip)
            self.chips[tag] = chip

    def _add(self) -> None:
        for word in self.input.text().replace(",", " ").split():
            tag = word.lstrip("#").lower()
            if tag and tag not in self.tags:
                self.sig_add.emit(tag)
        self.input.clear()


class DuePicker(QFrame):
    """A date with a calendar popup and a clear button; "No due date" when empty."""

    sig_changed = Signal(object)
    """str "YYYY-MM-DD" or None: the agent picked or cleared the date."""

    EMPTY = QDate(2000, 1, 1)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.edit = DateField(self.EMPTY)  # typed dates read, or refused with a message
        self.edit.setAccessibleName("Due date")
        self.edit.setDisplayFormat("ddd d MMM yyyy")
        self.edit.setMinimumDate(self.EMPTY)
        self.edit.setSpecialValueText("No due date")
        self.edit.setDate(self.EMPTY)
        self.edit.editingFinished.connect(self._commit)
        self.edit.calendarWidget().clicked.connect(lambda _d: QTimer.singleShot(0, self._commit))
        lay.addWidget(self.edit, 1)
        self.clear_button = QToolButton()
        self.clear_button.setObjectName("Flat")
        self.clear_button.setIcon(theme.icon("close", None, 12))
        self.clear_button.setToolTip("Clear the due date")
        self.clear_button.setAccessibleName("Clear due date")
        self.clear_button.clicked.connect(self.clear)
        lay.addWidget(self.clear_button)
        self._value: str | None = None

    def value(self) -> str | None:
        d = self.edit.date()
        return None if d == self.EMPTY else d.toString("yyyy-MM-dd")

    def set_value(self, value: str | None) -> None:
        self._value = value[:10] if value else None
        date = QDate.fromString(self._value, "yyyy-MM-dd") if self._value else self.EMPTY
        self.edit.blockSignals(True)
        self.edit.setDate(date if date.isValid() else self.EMPTY)
        self.edit.blockSignals(False)
        self.clear_button.setEnabled(self._value is not None)

    def set_date(self, date: QDate) -> None:
        """Pick ``date`` as the agent would (then commit)."""
        if self.edit.date() == self.EMPTY and date == self.EMPTY:
            return
        self.edit.setDate(date)
        self._commit()

    def clear(self) -> None:
        self.edit.setDate(self.EMPTY)
        self._commit()

    def _commit(self) -> None:
        value = self.value()
        if value != self._value:
            self._value = value
            self.clear_button.setEnabled(value is not None)
            self.sig_changed.emit(value)


class CasePicker(QDialog):
    """Pick another case by key or words (the palette's search), for link and merge."""

    def __init__(self, bridge: Bridge, title: str, action: str, exclude: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.exclude = exclude
        self.chosen: tuple[str, str] | None = None  # (id, key)
        self.setWindowTitle(title)
        self.setMinimumSize(520, 380)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 12)
        head = QLabel(title)
        head.setObjectName("ViewTitle")
        lay.addWidget(head)
        self.search = QLineEdit()
        self.search.setAccessibleName("Find a case")
        self.search.setPlaceholderText("Case key or words…")
        self.search.addAction(theme.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        lay.addWidget(self.search)
        self.results = QListWidget()
        self.results.setAccessibleName("Cases found")
        lay.addWidget(self.results, 1)
        self.kind = QComboBox()
        self.kind.setAccessibleName("Link kind")
        for k in ("related", "duplicate", "blocks", "blocked-by"):
            self.kind.addItem(k, k)
        self.kind.setVisible(action == "Link")
        lay.addWidget(self.kind)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = QPushButton(action)
        self.ok.setObjectName("Primary")
        self.ok.setEnabled(False)
        buttons.addButton(self.ok, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.searching = False
        self._generation = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._query)
        self.search.textChanged.connect(lambda _t: self._timer.start())
        self.results.currentRowChanged.connect(lambda r: self.ok.setEnabled(r >= 0))
        self.results.itemDoubleClicked.connect(lambda _i: self._accept())

    def _query(self) -> None:
        self._generation += 1
        generation = self._generation
        text = self.search.text().strip()
        if not text:
            self.results.clear()
            return
        self.searching = True
        self.bridge.query(search_cases, text, self.bridge.store.actor,
                          on_done=lambda rows: self._loaded(generation, rows))

    def _loaded(self, generation: int, rows: list[tuple[Any, ...]]) -> None:
        if generation != self._generation:
            return
        self.searching = False
        self.results.clear()
        for row in rows:
            if row[0] == self.exclude:
                continue
            item = QListWidgetItem(f"{row[1]}   {row[2]}")
            item.setData(Qt.ItemDataRole.UserRole, (str(row[0]), str(row[1])))
            self.results.addItem(item)
        if self.results.count():
            self.results.setCurrentRow(0)

    def _accept(self) -> None:
        item = self.results.currentItem()
        if item is None:
            return
        self.chosen = item.data(Qt.ItemDataRole.UserRole)
        self.accept()


class BulkEditDialog(QDialog):
    """Set status / priority / assignee / tags of N cases: preview (dry run), then apply."""

    sig_applied = Signal(int)

    def __init__(self, bridge: Bridge, cases: list[tuple[str, str]],
                 agents: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.cases = cases  # (id, key)
        self.setWindowTitle(f"Edit {len(cases)} cases")
        self.setMinimumSize(560, 460)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 16, 20, 12)
        head = QLabel(f"Edit {len(cases)} cases")
        head.setObjectName("ViewTitle")
        lay.addWidget(head)
        keys = ", ".join(k for _i, k in cases[:8]) + (" …" if len(cases) > 8 else "")
        sub = plain_label(keys)
        sub.setObjectName("Meta")
        sub.setWordWrap(True)
        lay.addWidget(sub)
        lay.addLayout(self._form(agents))
        self._build_preview(lay)
        self.previewed = False
        for w in (self.status, self.priority, self.assignee):
            w.currentIndexChanged.connect(lambda _i: self._dirty())
        for e in (self.add_tags, self.remove_tags):
            e.textChanged.connect(lambda _t: self._dirty())
        ids = sorted(i for i, _k in cases)
        self.draft = FormDraft(
            bridge, "bulk", {"status": self.status, "priority": self.priority,
                             "assignee": self.assignee, "add_tags": self.add_tags,
                             "remove_tags": self.remove_tags},
            typed=lambda f: any(f[k] != NO_CHANGE for k in ("status", "priority", "assignee"))
            or any(str(f[k]).strip() for k in ("add_tags", "remove_tags")),
            matches=lambda saved: saved.get("cases") == ids,  # a draft is for its cases
            extra=lambda: {"cases": ids},
            on_restored=lambda: self._hint("Your unsent changes to these cases are back: "
                                           "Preview, then Apply."),
            parent=self)

    def done(self, result: int) -> None:
        """Closing without applying keeps the choices as a draft (for these cases)."""
        if self.draft.keep() and isValid(self.bridge):
            self.bridge.sig_message.emit(
                "Bulk edit draft kept: it is back when you edit these cases again.")
        super().done(result)

    def _form(self, agents: list[tuple[str, str]]) -> QFormLayout:
        form = QFormLayout()
        self.status = self._combo("Status", [(s.value, s.value.replace("-", " ").capitalize())
                                             for s in Status])
        self.priority = self._combo("Priority", [(p.value, p.value.capitalize())
                                                 for p in Priority])
        self.assignee = self._combo("Assignee", [("", "Unassigned"), *agents])
        self.add_tags = QLineEdit()
        self.add_tags.setAccessibleName("Add tags")
        self.add_tags.setPlaceholderText("tags to add, space separated")
        self.remove_tags = QLineEdit()
        self.remove_tags.setAccessibleName("Remove tags")
        self.remove_tags.setPlaceholderText("tags to remove")
        form.addRow("Status", self.status)
        form.addRow("Priority", self.priority)
        form.addRow("Assignee", self.assignee)
        form.addRow("Add tags", self.add_tags)
        form.addRow("Remove tags", self.remove_tags)
        return form

    def _build_preview(self, lay: QVBoxLayout) -> None:
        self.preview = QListWidget()
        self.preview.setAccessibleName("Preview of the changes")
        lay.addWidget(QLabel("Preview"))
        lay.addWidget(self.preview, 1)
        self._hint("Choose the changes above, then Preview: nothing is written until Apply.")
        self.error = plain_label()  # errors quote what the agent typed
        self.error.setObjectName("ErrorLabel")
        self.error.setWordWrap(True)
        self.error.hide()
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.preview_button = QPushButton("Preview")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("Primary")
        self.apply_button.setEnabled(False)
        buttons.addButton(self.preview_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.apply_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        self.preview_button.clicked.connect(self.run_preview)
        self.apply_button.clicked.connect(self.apply)
        lay.addWidget(buttons)

    def _combo(self, name: str, items: list[tuple[str, str]]) -> QComboBox:
        combo = FieldCombo()  # changes only on an explicit choice
        combo.setAccessibleName(name)
        combo.addItem("— no change —", NO_CHANGE)
        for value, text in items:
            combo.addItem(text, value)
        return combo

    def _dirty(self) -> None:
        if self.previewed:  # a preview of other changes must not stay on screen
            self._hint("The changes were edited: Preview again.")
        self.previewed = False
        self.apply_button.setEnabled(False)
        self.apply_button.setText("Apply")

    def _hint(self, text: str) -> None:
        self.preview.clear()
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)  # greyed, not selectable
        self.preview.addItem(item)

    def _args(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name, combo in (("status", self.status), ("priority", self.priority),
                            ("assignee_id", self.assignee)):
            value = combo.currentData()
            if value != NO_CHANGE:
                changes[name] = value or None
        def words(e: QLineEdit) -> list[str]:
            return [w.lstrip("#").lower() for w in e.text().replace(",", " ").split()]
        return {"cases": [i for i, _k in self.cases], "changes": changes,
                "add_tags": words(self.add_tags), "remove_tags": words(self.remove_tags)}

    def run_preview(self) -> None:
        args = self._args()
        if not args["changes"] and not args["add_tags"] and not args["remove_tags"]:
            self._error("Choose at least one change.")
            return
        self.error.hide()
        self.bridge.run(bulk_apply, dry_run=True, on_done=self._previewed,
                        on_error=lambda e: self._error(describe(e)), initiator=self, **args)

    def _previewed(self, result: tuple[Any, Any]) -> None:
        preview = result[0]
        self.preview.clear()
        for key, field, old, new in preview.changes:
            self.preview.addItem(f"{key}   {field}: {old or '—'} → {new or '—'}")
        if not preview.changes:
            self._hint("Nothing would change.")
        self.previewed = bool(preview.changes)
        self.apply_button.setEnabled(self.previewed)
        self.apply_button.setText(f"Apply {len(preview.changes)} changes")

    def apply(self) -> None:
        if not self.previewed:
            return
        self.apply_button.setEnabled(False)
        # One operation (one transaction, one undo step) for fields and tags together.
        self.bridge.run(bulk_apply, on_done=self._applied,
                        on_error=lambda e: self._error(describe(e)), initiator=self,
                        **self._args())

    def _applied(self, _result: Any) -> None:
        self.draft.finish()
        self.sig_applied.emit(len(self.cases))
        self.accept()

    def _error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.apply_button.setEnabled(self.previewed)

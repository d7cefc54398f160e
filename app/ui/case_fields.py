"""The case's editable fields: status, priority, type, assignee, product, due date and
tags in a grid, and the "Linked:" line under them.

Each edit the agent finishes leaves as one signal carrying only what changed; the case view
runs the operation. After an edit the view calls :meth:`CaseFields.fill` with the stored
values, so a value the store normalised (an agent picked as "me") shows as stored.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from app.core.model import CaseType, Priority, Status
from app.ui import theme
from app.ui.field_combo import FieldCombo
from app.ui.widgets import DuePicker, TagChips

__all__ = ["UNASSIGNED", "CaseFields"]

UNASSIGNED = ""


def _label(text: str) -> QLabel:
    lab = QLabel(text.upper())
    lab.setObjectName("FieldLabel")
    return lab


class CaseFields(QWidget):
    """The field grid and the links line of one case."""

    sig_fields = Signal(dict)
    """dict: field name -> new value (None clears it) the agent just set."""

    sig_tags = Signal(list, list)
    """(list, list): tags to add and tags to remove."""

    sig_link = Signal(str)
    """str: the id of a linked case whose link the agent clicked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.detail: dict[str, Any] | None = None
        self.sent: dict[str, Any] = {}  # values emitted since the last fill (not yet shown)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        self.status_combo = self._combo("Status", [(s.value, s.value.replace("-", " ")
                                                    .capitalize()) for s in Status])
        self.priority_combo = self._combo("Priority", [(p.value, p.value.capitalize())
                                                       for p in Priority])
        self.type_combo = self._combo("Type", [(c.value, c.value.capitalize()) for c in CaseType])
        self.assignee_combo = self._combo("Assignee", [(UNASSIGNED, "Unassigned")])
        for name, combo in (("status", self.status_combo), ("priority", self.priority_combo),
                            ("type", self.type_combo), ("assignee_id", self.assignee_combo)):
            combo.activated.connect(lambda _i, n=name, c=combo: self._combo_done(n, c))
        self.product_edit = QLineEdit()
        self.product_edit.setAccessibleName("Product")
        self.product_edit.setPlaceholderText("No product")
        self.product_edit.editingFinished.connect(self._product_done)
        self.due_picker = DuePicker()
        self.due_picker.edit.setMinimumWidth(130)
        self.due_picker.sig_changed.connect(self._due_done)
        self.tags_chips = TagChips()
        self.tags_chips.sig_add.connect(lambda t: self._tags_done([t], []))
        self.tags_chips.sig_remove.connect(lambda t: self._tags_done([], [t]))
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        cells = [("Status", self.status_combo), ("Priority", self.priority_combo),
                 ("Type", self.type_combo), ("Assignee", self.assignee_combo),
                 ("Product", self.product_edit), ("Due date", self.due_picker),
                 ("Tags", self.tags_chips)]
        for i, (title, widget) in enumerate(cells):
            row, col = divmod(i, 4)
            span = 1
            if title == "Tags":  # chips need the width: a row of their own
                row, col, span = 2, 0, 4
            grid.addWidget(_label(title), row * 2, col, 1, span)
            grid.addWidget(widget, row * 2 + 1, col, 1, span)
        for col in range(4):
            grid.setColumnStretch(col, 1)
        outer.addLayout(grid)
        self.links_label = QLabel()
        self.links_label.setObjectName("Meta")
        self.links_label.setWordWrap(True)
        self.links_label.setTextFormat(Qt.TextFormat.RichText)
        self.links_label.linkActivated.connect(self.sig_link.emit)
        self.links_label.setContentsMargins(0, 6, 0, 0)
        outer.addWidget(self.links_label)

    @staticmethod
    def _combo(name: str, items: list[tuple[str, str]]) -> QComboBox:
        combo = FieldCombo()  # changes only on an explicit choice
        combo.setAccessibleName(name)
        for value, text in items:
            combo.addItem(text, value)
        return combo

    # --- showing a case -----------------------------------------------------------------
    def fill(self, d: dict[str, Any]) -> None:
        """Show the fields of case ``d``; the agents list when it carries one, the links
        when it carries them (a field refresh carries neither: they stay)."""
        self.detail = d
        self.sent = {}
        if "agents" in d:
            with QSignalBlocker(self.assignee_combo):
                self.assignee_combo.clear()
                self.assignee_combo.addItem("Unassigned", UNASSIGNED)
                for agent_id, name in d.get("agents", []):
                    self.assignee_combo.addItem(name, agent_id)
        for combo, value in ((self.status_combo, d["status"]),
                             (self.priority_combo, d["priority"]),
                             (self.type_combo, d["type"]),
                             (self.assignee_combo, d.get("assignee_id") or UNASSIGNED)):
            with QSignalBlocker(combo):
                i = combo.findData(value)
                if i < 0 and value:
                    combo.addItem(str(value), value)
                    i = combo.count() - 1
                combo.setCurrentIndex(max(i, 0))
        if not (self.product_edit.hasFocus() and self.product_edit.isModified()):
            self.product_edit.setText(d.get("product") or "")
            self.product_edit.setCursorPosition(0)  # show the start of a long name
            self.product_edit.setModified(False)
        if not self.due_picker.edit.hasFocus():
            self.due_picker.set_value(d.get("due_at"))
        self.tags_chips.set_tags(list(d.get("tags", [])))
        if "links" in d:
            self._fill_links(d["links"])

    def _fill_links(self, links: list[dict[str, Any]]) -> None:
        t = theme.current()
        self.links_label.setVisible(bool(links))
        self.links_label.setText("Linked: " + " · ".join(
            f"{html.escape(str(x['kind']))} "
            f"<a href='{html.escape(str(x['id']))}' style='color:{t.accent}'>"
            f"{html.escape(str(x.get('key') or x['id']))}</a> "
            f"<span style='color:{t.text}'>{html.escape(str(x.get('subject') or '')[:50])}</span>"
            for x in links))

    def reset(self) -> None:
        self.detail = None
        self.sent = {}
        self.product_edit.clear()
        self.product_edit.setModified(False)

    def discard_typing(self) -> None:
        """An edit failed: the next fill shows the stored product again."""
        self.product_edit.setModified(False)

    # --- edits --------------------------------------------------------------------------
    def _current(self, field: str) -> Any:
        """The field's value as last set: sent and not yet stored counts (a quick second
        edit back to the stored value is a change)."""
        if field in self.sent:
            return self.sent[field]
        return (self.detail or {}).get(field)

    def _emit(self, field: str, value: Any) -> None:
        if self.detail is not None:
            self.sent[field] = value
            self.sig_fields.emit({field: value})

    def _product_done(self) -> None:
        edit = self.product_edit
        if not self.detail or not edit.isModified():
            return
        edit.setModified(False)
        new = edit.text().strip()
        if new == str(self._current("product") or ""):
            return
        self._emit("product", new or None)

    def _combo_done(self, field: str, combo: QComboBox) -> None:
        if not self.detail:
            return
        value = combo.currentData()
        if value == (self._current(field) or UNASSIGNED):
            return
        self._emit(field, value or None)

    def _due_done(self, value: str | None) -> None:
        if not self.detail:
            return
        if (value or None) == ((self._current("due_at") or "")[:10] or None):
            return
        self._emit("due_at", value)

    def _tags_done(self, add: list[str], remove: list[str]) -> None:
        if not self.detail:
            return
        old = list(self._current("tags") or [])
        add = [t for t in add if t not in old]
        remove = [t for t in remove if t in old]
        if add or remove:
            self.sent["tags"] = [t for t in old if t not in remove] + add
            self.sig_tags.emit(add, remove)

"""Where drafts are waiting: every kept draft (a case's reply or note, a new case, a bulk
edit), newest first; Enter or a double click opens it where it was typed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.ui.bridge import Bridge, describe
from app.ui.widgets import plain_tip

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

__all__ = ["DraftsDialog", "describe_draft", "show_drafts"]

DRAFT_ROLE = Qt.ItemDataRole.UserRole + 1


def describe_draft(d: dict[str, Any]) -> str:
    """One line: where the draft is and how it starts."""
    kind = str(d.get("kind"))
    text = str(d.get("text") or "")
    if kind in ("new_case", "bulk"):
        try:
            form = json.loads(text)
        except ValueError:
            form = {}
        if kind == "new_case":
            where, start = "New case", str(form.get("subject") or "(no subject yet)")
        else:
            where, start = f"Bulk edit of {len(form.get('cases') or [])} cases", ""
    else:
        mode = "Internal note" if d.get("mode") == "note" else "Reply"
        where = f"{mode} on {d.get('case_key') or 'a case no longer here'}"
        start = " ".join(text.split())
        if d.get("case_subject"):
            where += f" ({d['case_subject']})"
    when = datetime.fromtimestamp(int(d.get("updated_ms") or 0) / 1000).strftime("%d %b %H:%M")
    start = start if len(start) <= 70 else start[:69] + "…"
    return f"{where} — {start}  · {when}" if start else f"{where}  · {when}"


class DraftsDialog(QDialog):
    """The list of kept drafts; opening one emits what to open."""

    sig_open_case = Signal(str)
    """str: the case id whose composer holds the draft."""

    sig_open_form = Signal(str)
    """str: "new_case" or "bulk": the dialog whose draft was chosen."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("Drafts")
        self.setMinimumSize(560, 320)
        lay = QVBoxLayout(self)
        title = QLabel("Drafts waiting to be sent")
        title.setObjectName("ViewTitle")
        lay.addWidget(title)
        self.list = QListWidget()
        self.list.setAccessibleName("Drafts")
        self.list.itemActivated.connect(self._open)
        lay.addWidget(self.list, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.loaded = False
        self.refresh()

    def refresh(self) -> None:
        from app.operations import drafts as dops

        store = self.bridge.store
        self.bridge.read(lambda: dops.list_drafts(store), on_done=self._fill,
                         on_error=lambda e: self._note(f"Drafts could not be read: {describe(e)}"))

    def _note(self, text: str) -> None:
        if not isValid(self):
            return
        self.list.clear()
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.list.addItem(item)
        self.loaded = True

    def _fill(self, drafts: list[dict[str, Any]]) -> None:
        if not isValid(self):
            return
        if not drafts:
            self._note("No drafts: everything typed has been sent.")
            return
        self.list.clear()
        for d in drafts:
            item = QListWidgetItem(describe_draft(d))
            item.setToolTip(plain_tip(str(d.get("text") or "")[:600]))
            item.setData(DRAFT_ROLE, d)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.loaded = True

    def _open(self, item: QListWidgetItem) -> None:
        d = item.data(DRAFT_ROLE)
        if not isinstance(d, dict):
            return
        if d.get("kind") in ("new_case", "bulk"):
            self.sig_open_form.emit(str(d["kind"]))
        elif d.get("case_key"):  # a case that is still here
            self.sig_open_case.emit(str(d["case_id"]))
        else:
            return
        self.accept()


def show_drafts(w: MainWindow) -> None:
    """The window's Drafts dialog: a case's draft opens its tab, a form's its dialog."""
    dialog = DraftsDialog(w.bridge, w)
    dialog.sig_open_case.connect(w.open_case_tab)
    dialog.sig_open_form.connect(lambda kind: w.new_case() if kind == "new_case"
                                 else w.bulk_edit())
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()

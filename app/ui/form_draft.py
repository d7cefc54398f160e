"""The draft of a dialog's form (new case, bulk edit): the fields as typed, saved locally
~500 ms after the last change (writer thread, :mod:`app.operations.drafts`), put back when
the dialog opens again (after Cancel, a restart or a crash) and deleted once the form's
work is done."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QComboBox, QLineEdit, QPlainTextEdit, QWidget
from shiboken6 import isValid

from app.ui.bridge import Bridge

__all__ = ["DRAFT_DELAY_MS", "FormDraft"]

DRAFT_DELAY_MS = 500  # typing pauses this long before the draft is written
Field = QLineEdit | QPlainTextEdit | QComboBox


def _get(widget: Field) -> Any:
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QPlainTextEdit):
        return widget.toPlainText()
    return widget.currentData()


def _set(widget: Field, value: Any) -> None:
    if isinstance(widget, QLineEdit):
        widget.setText(str(value or ""))
    elif isinstance(widget, QPlainTextEdit):
        widget.setPlainText(str(value or ""))
    else:
        i = widget.findData(value)
        if i >= 0:
            widget.setCurrentIndex(i)


class FormDraft(QObject):
    """Keeps ``fields`` (name → widget) of a dialog as the draft ``kind``.

    ``typed`` says whether the form holds anything worth keeping; ``matches(saved)``
    whether a saved draft belongs to this form (a bulk edit's draft is for its cases);
    ``on_restored`` runs after a draft filled the form (to tell the agent)."""

    def __init__(self, bridge: Bridge, kind: str, fields: dict[str, Field], *,
                 typed: Callable[[dict[str, Any]], bool],
                 matches: Callable[[dict[str, Any]], bool] = lambda _f: True,
                 extra: Callable[[], dict[str, Any]] = dict,
                 on_restored: Callable[[], None] = lambda: None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.kind, self.fields = bridge, kind, fields
        self._typed, self._matches, self._extra = typed, matches, extra
        self._on_restored = on_restored
        self.done = False  # the form's work is done: nothing more is kept
        self._restoring = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DRAFT_DELAY_MS)
        self.timer.timeout.connect(self.save)
        for widget in fields.values():
            if isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(self._changed)
            else:
                widget.textChanged.connect(self._changed)
        from app.operations import drafts as dops

        store = bridge.store
        # Untracked: opening a dialog is not work in flight (idleness ignores it).
        bridge.read(lambda: dops.load_draft(store, case_id=None, kind=kind),
                    on_done=self._loaded, track=False)

    def form(self) -> dict[str, Any]:
        return {**{name: _get(w) for name, w in self.fields.items()}, **self._extra()}

    def has_typing(self) -> bool:
        return self._typed(self.form())

    def _changed(self, *_args: object) -> None:
        if not self._restoring and not self.done:
            self.timer.start()

    def save(self) -> None:
        from app.operations import drafts as dops

        self.timer.stop()
        text = json.dumps(self.form()) if self.has_typing() else ""
        self.bridge.run(dops.save_draft, case_id=None, kind=self.kind, text=text)

    def keep(self) -> bool:
        """The dialog closes unfinished: write pending typing; whether a draft is kept."""
        if self.done or not isValid(self.bridge):  # the window (and its bridge) is gone
            return False
        if self.timer.isActive() or self.has_typing():
            self.save()
        return self.has_typing()

    def finish(self) -> None:
        """The form's work is done (created, applied): its draft is deleted."""
        from app.operations import drafts as dops

        self.done = True
        self.timer.stop()
        self.bridge.run(dops.delete_draft, case_id=None, kind=self.kind)

    def _loaded(self, draft: dict[str, Any] | None) -> None:
        if not isValid(self) or draft is None or self.done or self.has_typing():
            return
        try:
            saved = json.loads(str(draft.get("text") or "{}"))
        except ValueError:
            return  # a damaged draft: the empty form is the fallback
        if not isinstance(saved, dict) or not self._matches(saved):
            return
        self._restoring = True
        try:
            for name, widget in self.fields.items():
                if name in saved:
                    _set(widget, saved[name])
        finally:
            self._restoring = False
        self._on_restored()

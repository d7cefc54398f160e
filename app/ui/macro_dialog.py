"""Choose a macro, preview what it does to the selected cases, then apply it.

Preview and apply run on a worker thread (:mod:`app.operations.macros`); the preview lists
every change per case and every problem (a deleted agent, a missing placeholder value…),
and the Apply button is enabled only when the preview is clean.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.analytics.model import AnalyticsModel
from app.core.macros import Macro, MacroPreview
from app.operations import macros as mops
from app.store.repo import Store


class MacroDialog(QDialog):
    sig_applied = Signal(object)
    """Changes: the macro was applied (one undoable operation)."""

    sig_previewed = Signal(object)
    """MacroPreview: a preview is shown."""

    _sig_result = Signal(object, object, object)  # callback, result, error

    def __init__(self, store: Store, model: AnalyticsModel, cases: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Apply a macro to {len(cases)} case(s)")
        self.store, self.model, self.cases = store, model, cases
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="macro")
        self._sig_result.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        lay = QVBoxLayout(self)
        self.combo = QComboBox()
        self.combo.currentIndexChanged.connect(lambda _i: self.preview())
        lay.addWidget(QLabel("Macro"))
        lay.addWidget(self.combo)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMinimumSize(520, 260)
        lay.addWidget(self.text, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.macros: list[Macro] = []
        self._run(lambda: mops.list_macros(model, me=store.actor), self._fill)

    def _run(self, fn: Callable[[], Any], then: Callable[[Any], None]) -> None:
        future = self._executor.submit(fn)
        future.add_done_callback(lambda f: self._sig_result.emit(
            then, None if f.exception() else f.result(), f.exception()))

    def _deliver(self, then: Callable[[Any], None], result: Any, exc: Any) -> None:
        if exc is not None:
            self.text.setPlainText(f"Error: {exc}")
            self.apply_button.setEnabled(False)
            return
        then(result)

    def _fill(self, macros: list[Macro]) -> None:
        self.macros = macros
        self.combo.blockSignals(True)
        for m in macros:
            self.combo.addItem(f"{m.name}  ({m.scope})", m.id)
        self.combo.blockSignals(False)
        if macros:
            self.preview()
        else:
            self.text.setPlainText("No macros yet. Save one with: macro save NAME '{...}'")

    def preview(self) -> None:
        macro_id = self.combo.currentData()
        if not macro_id:
            return
        self.apply_button.setEnabled(False)
        self._run(lambda: mops.preview_macro(self.store, self.model, macro=macro_id,
                                             cases=self.cases), self._show_preview)

    def _show_preview(self, preview: MacroPreview) -> None:
        self.text.setPlainText(preview.text() + ("" if preview.ok else
                                                 "\n\nNothing can be applied until these "
                                                 "problems are fixed."))
        self.apply_button.setEnabled(preview.ok)
        self.sig_previewed.emit(preview)

    def apply(self) -> None:
        macro_id = self.combo.currentData()
        self.apply_button.setEnabled(False)
        self._run(lambda: mops.apply_macro(self.store, self.model, macro=macro_id,
                                           cases=self.cases), self._applied)

    def _applied(self, result: Any) -> None:
        self.sig_applied.emit(result[1])
        self.accept()

    def done(self, code: int) -> None:
        self._executor.shutdown(wait=False)
        super().done(code)

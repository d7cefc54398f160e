"""Choose a macro, preview what it does to the selected cases, then apply it.

Preview and apply run off the UI thread (:mod:`app.operations.macros`); the preview lists
every change per case and every problem (a deleted agent, a missing placeholder value…),
and the Apply button is enabled only when the preview is clean.

Given the app's :class:`~app.ui.bridge.Bridge`, the dialog reads on the bridge's reader
threads and applies on its single writer thread, so the applied changes reach every view
through ``Bridge.sig_changes_applied`` like any other operation. Without a bridge (a
headless tool or an old caller) it falls back to a private thread of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.analytics.model import AnalyticsModel, open_model
from app.core.macros import Macro, MacroPreview
from app.operations import macros as mops
from app.store.repo import Store
from app.ui.bridge import Bridge, describe

_MODEL_LOCK = threading.Lock()


def shared_model(store: Store) -> AnalyticsModel:
    """Worker thread: the analytics read model of ``store``, opened once per store and
    shared with the terminal's commands (cached as ``store._analytics_model``)."""
    with _MODEL_LOCK:
        model: AnalyticsModel | None = getattr(store, "_analytics_model", None)
        if model is None:
            model = open_model(store, Path(store.path).parent)
            store._analytics_model = model  # type: ignore[attr-defined]
        return model


class MacroDialog(QDialog):
    sig_applied = Signal(object)
    """Changes: the macro was applied (one undoable operation)."""

    sig_previewed = Signal(object)
    """MacroPreview: a preview is shown."""

    _sig_result = Signal(object, object, object)  # callback, result, error

    def __init__(self, store: Store, model: AnalyticsModel, cases: list[str],
                 parent: QWidget | None = None, *, bridge: Bridge | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Apply a macro to {', '.join(cases[:3])}" if len(cases) <= 3
                            else f"Apply a macro to {len(cases)} cases")
        self.store, self.model, self.cases = store, model, cases
        self.bridge = bridge
        self._executor: ThreadPoolExecutor | None = None
        if bridge is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="macro")
            self._sig_result.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._generation = 0
        from app.ui.llm_dialog import disabled_primary_style

        self.setStyleSheet(disabled_primary_style())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 14, 16, 14)
        lay.setSpacing(8)
        self.combo = QComboBox()
        self.combo.setAccessibleName("Macro")
        self.combo.currentIndexChanged.connect(lambda _i: self.preview())
        label = QLabel("MACRO")
        label.setObjectName("FieldLabel")
        lay.addWidget(label)
        lay.addWidget(self.combo)
        label = QLabel("WHAT IT WILL DO")
        label.setObjectName("FieldLabel")
        lay.addWidget(label)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMinimumSize(520, 260)
        self.text.setPlainText("Loading the macros…")
        lay.addWidget(self.text, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setObjectName("Primary")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        for button in self.buttons.buttons():
            if isinstance(button, QPushButton):
                button.setAutoDefault(False)  # Enter never applies a macro by surprise
        lay.addWidget(self.buttons)
        self.macros: list[Macro] = []
        self._read(lambda: mops.list_macros(model, me=store.actor), self._fill)

    # --- threads --------------------------------------------------------------------
    def _read(self, fn: Callable[[], Any], then: Callable[[Any], None]) -> None:
        if self.bridge is not None:
            self.bridge.read(fn, on_done=then, on_error=self._failed)
            return
        assert self._executor is not None
        future = self._executor.submit(fn)
        future.add_done_callback(lambda f: self._sig_result.emit(
            then, None if f.exception() else f.result(), f.exception()))

    def _deliver(self, then: Callable[[Any], None], result: Any, exc: Any) -> None:
        if exc is not None:
            self._failed(exc)
            return
        then(result)

    def _failed(self, exc: Exception) -> None:
        self.text.setPlainText(f"Error: {describe(exc)}")
        self.apply_button.setEnabled(False)

    # --- macros and the preview -----------------------------------------------------
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
        self._generation += 1
        generation = self._generation
        store, model, cases = self.store, self.model, self.cases
        self._read(lambda: mops.preview_macro(store, model, macro=macro_id, cases=cases),
                   lambda p: self._show_preview(p) if generation == self._generation else None)

    def _show_preview(self, preview: MacroPreview) -> None:
        self.text.setPlainText(preview.text() + ("" if preview.ok else
                                                 "\n\nNothing can be applied until these "
                                                 "problems are fixed."))
        self.apply_button.setEnabled(preview.ok)
        self.sig_previewed.emit(preview)

    def apply(self) -> None:
        macro_id = self.combo.currentData()
        if not macro_id:
            return
        self.apply_button.setEnabled(False)
        if self.bridge is not None:
            # The writer thread: one operation, announced by Bridge.sig_changes_applied.
            self.bridge.run(mops.apply_macro, model=self.model, macro=macro_id,
                            cases=self.cases, on_done=self._applied, on_error=self._failed)
            return
        store, model, cases = self.store, self.model, self.cases
        self._read(lambda: mops.apply_macro(store, model, macro=macro_id, cases=cases),
                   self._applied)

    def _applied(self, result: Any) -> None:
        self.sig_applied.emit(result[1])
        self.accept()

    def done(self, code: int) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        super().done(code)

"""Choose a macro, preview what it does to the selected cases, then apply it.

Preview and apply run off the UI thread (:mod:`app.operations.macros`); the preview lists
every change per case and every problem (a deleted agent, a missing placeholder value…),
and the Apply button is enabled only when the preview is clean.

The dialog reads on the app's :class:`~app.ui.bridge.Bridge` reader threads and applies on
its single writer thread, so the applied changes reach every view through
``Bridge.sig_changes_applied`` like any other operation (the dialog is their initiator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
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

from app.core.macros import Macro, MacroPreview
from app.operations import macros as mops
from app.operations.insights import shared_model
from app.ui.bridge import Bridge, describe

if TYPE_CHECKING:
    from app.operations.insights import AnalyticsModel
    from app.operations.store import Store

# The case detail and the composer still import it from here (H2 moves them on).
__all__ = ["MacroDialog", "shared_model"]


class MacroDialog(QDialog):
    sig_applied = Signal(object)
    """Changes: the macro was applied (one undoable operation)."""

    sig_previewed = Signal(object)
    """MacroPreview: a preview is shown."""

    def __init__(self, store: Store, model: AnalyticsModel, cases: list[str],
                 parent: QWidget | None = None, *, bridge: Bridge) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Apply a macro to {', '.join(cases[:3])}" if len(cases) <= 3
                            else f"Apply a macro to {len(cases)} cases")
        self.store, self.model, self.cases = store, model, cases
        self.bridge = bridge
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
        self.bridge.read(fn, on_done=then, on_error=self._failed)

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
        # The writer thread: one operation, announced by Bridge.sig_changes_applied.
        self.bridge.run(mops.apply_macro, model=self.model, macro=macro_id, cases=self.cases,
                        on_done=self._applied, on_error=self._failed, initiator=self)

    def _applied(self, result: Any) -> None:
        self.sig_applied.emit(result[1])
        self.accept()

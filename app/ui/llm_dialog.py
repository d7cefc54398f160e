"""The manual LLM workflow for one case: pick a template, check the redacted prompt,
copy it, paste the assistant's answer back, tick the changes to keep, accept.

Nothing is sent anywhere: the agent carries the prompt to their assistant of choice. The
copied prompt is marked as secret for clipboard managers that honour the hint and is
cleared after 60 s if the clipboard still holds it.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QClipboard, QColor, QFont, QGuiApplication, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.llm.prompt_builder import BuiltPrompt
from app.operations import llm as llm_ops
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.widgets import plain_label

CLEAR_AFTER_MS = llm_ops.CLEAR_CLIPBOARD_AFTER_S * 1000
SECRET_HINT = "x-kde-passwordManagerHint"
# (light, dark) highlight per redaction kind
KIND_COLORS: dict[str, tuple[str, str]] = {
    "PERSON": ("#ece4ff", "#3a2a66"), "EMAIL": ("#e0ecff", "#1f3366"),
    "PHONE": ("#dcf5e6", "#173f2c"), "ADDRESS": ("#ffe8d6", "#5a2e12"),
    "SECRET": ("#fde2e1", "#4a1f22"), "CARD": ("#fde2e1", "#4a1f22"),
    "IBAN": ("#fde2e1", "#4a1f22"), "IP": ("#fff3bf", "#4a3f12"),
    "ORG": ("#e3f4f4", "#16403f"), "ID": ("#f3e8d2", "#4a3a18"),
}
REDACT_KINDS = ("PERSON", "ORG", "ADDRESS", "SECRET", "EMAIL", "PHONE", "ID")
KIND_NAMES = {"ORG": "Organization", "ID": "ID number"}


def copy_secret(text: str, clipboard: QClipboard | None = None,
                clear_after_ms: int = CLEAR_AFTER_MS) -> QTimer:
    """Put ``text`` on the clipboard marked as a secret, and clear it after a while if
    it is still there. The timer belongs to the application, so it outlives the dialog."""
    board = clipboard or QGuiApplication.clipboard()
    mime = QMimeData()
    mime.setText(text)
    mime.setData(SECRET_HINT, b"secret")
    board.setMimeData(mime)
    timer = QTimer(QCoreApplication.instance())
    timer.setSingleShot(True)

    def clear() -> None:
        if board.text() == text:
            board.clear()
        timer.deleteLater()

    timer.timeout.connect(clear)
    timer.start(clear_after_ms)
    return timer


def disabled_primary_style() -> str:
    """A disabled primary button looks disabled (the app stylesheet keeps it blue)."""
    t = theme.current()
    return (f"QPushButton#Primary:disabled {{ background: {t.hover}; color: {t.muted}; "
            f"border: 1px solid {t.border}; }}")


def _legend() -> QHBoxLayout:
    """The colour of each kind of redaction, as in the prompt."""
    legend = QHBoxLayout()
    legend.setSpacing(6)
    t = theme.current()
    for kind in ("PERSON", "ORG", "EMAIL", "PHONE", "ADDRESS", "ID", "SECRET"):
        chip = QLabel(KIND_NAMES.get(kind, kind).lower())
        bg = KIND_COLORS[kind][1 if t.dark else 0]
        chip.setStyleSheet(f"background: {bg}; color: {t.text}; border-radius: 4px; "
                           "padding: 1px 6px; font-size: 8pt;")
        legend.addWidget(chip)
    legend.addStretch(1)
    return legend


def _section(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("FieldLabel")
    return label


class LlmDialog(QDialog):
    """Prompt → clipboard → answer → preview → accept, for one case."""

    sig_composer_text = Signal(str)
    """str: an accepted reply (draft or translation) for the case's composer; not sent."""

    sig_applied = Signal(object)
    """AppliedAnswer: the accepted changes were recorded (one undoable operation)."""

    sig_prompt_ready = Signal(str)
    """str: the sha256 of the prompt now shown (after building or redacting more)."""

    sig_preview_ready = Signal(object)
    """Preview: the pasted answer was read; its changes are listed for ticking."""

    def __init__(self, bridge: Bridge, case: str, parent: QWidget | None = None, *,
                 template: str | None = None, clipboard: QClipboard | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.case = case
        self.clipboard = clipboard or QGuiApplication.clipboard()
        self.built: BuiltPrompt | None = None
        self.preview: llm_ops.Preview | None = None
        self.copy_timer: QTimer | None = None
        self._boxes: list[tuple[llm_ops.ProposedChange, QCheckBox, QPlainTextEdit | None]] = []
        self._wanted = template
        self.setWindowTitle(f"Ask an LLM about {case}")
        self.resize(1100, 760)
        self.setStyleSheet(disabled_primary_style())

        root = QVBoxLayout(self)
        root.setContentsMargins(16, 14, 16, 14)
        root.setSpacing(10)
        self._build_head(root)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        root.addWidget(split, 1)
        split.addWidget(self._prompt_side())
        split.addWidget(self._answer_side())
        split.setSizes([600, 480])
        root.addLayout(self._bottom_row())

        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)  # Enter never accepts an answer by surprise
        self._show_preview(None)
        store = bridge.store
        bridge.read(llm_ops.template_list, store, on_done=self._templates, on_error=self._fail)

    # --- templates and the prompt -------------------------------------------------------

    def _build_head(self, root: QVBoxLayout) -> None:
        """The title, the template picker and the template's description."""
        head = QHBoxLayout()
        title = plain_label(f"Ask an LLM about {self.case}")
        title.setStyleSheet("font-size: 13pt; font-weight: 700;")
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(QLabel("Template"))
        self.picker = QComboBox()
        self.picker.setMinimumWidth(240)
        self.picker.currentIndexChanged.connect(self._template_changed)
        head.addWidget(self.picker)
        root.addLayout(head)
        self.description = plain_label()  # the template file's words
        self.description.setObjectName("Meta")
        root.addWidget(self.description)

    def _prompt_side(self) -> QWidget:
        """Left: the redacted prompt, the redaction legend and tools, Copy."""
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 8, 0)
        lv.setSpacing(6)
        row = QHBoxLayout()
        row.addWidget(_section("1 · Redacted prompt"))
        row.addStretch(1)
        self.redaction_count = QLabel()
        self.redaction_count.setObjectName("Meta")
        row.addWidget(self.redaction_count)
        lv.addLayout(row)
        self.prompt_view = QTextEdit()
        self.prompt_view.setReadOnly(True)
        self.prompt_view.setObjectName("PromptView")
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSize(9)
        self.prompt_view.setFont(mono)
        self.prompt_view.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.prompt_view.selectionChanged.connect(self._selection_changed)
        lv.addWidget(self.prompt_view, 1)
        lv.addLayout(_legend())
        t = theme.current()
        actions = QHBoxLayout()
        self.kind_picker = QComboBox()
        self.kind_picker.addItems([KIND_NAMES.get(k, k.capitalize()) for k in REDACT_KINDS])
        self.kind_picker.setToolTip("What the selected text is")
        actions.addWidget(self.kind_picker)
        self.redact_button = QPushButton("Redact selection")
        self.redact_button.setEnabled(False)
        self.redact_button.setToolTip("Replace the selected text (everywhere in the prompt) "
                                      "with a placeholder")
        self.redact_button.clicked.connect(self.redact_selection)
        actions.addWidget(self.redact_button)
        actions.addStretch(1)
        self.copy_button = QPushButton("Copy prompt")
        self.copy_button.setObjectName("Primary")
        self.copy_button.setIcon(theme.icon("lock", color=t.accent_text, size=14))
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_prompt)
        actions.addWidget(self.copy_button)
        lv.addLayout(actions)
        self.copy_status = plain_label()
        self.copy_status.setObjectName("Meta")
        lv.addWidget(self.copy_status)
        return left

    def _answer_side(self) -> QWidget:
        """Right: the pasted answer and the changes it proposes."""
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(8, 0, 0, 0)
        rv.setSpacing(6)
        row = QHBoxLayout()
        row.addWidget(_section("2 · The assistant's answer"))
        row.addStretch(1)
        self.paste_button = QPushButton("Paste answer")
        self.paste_button.clicked.connect(self.paste_answer)
        row.addWidget(self.paste_button)
        rv.addLayout(row)
        self.answer = QPlainTextEdit()
        self.answer.setPlaceholderText("Paste the assistant's answer here (the JSON it wrote, "
                                       "with or without the text around it).")
        self.answer.setMaximumHeight(150)
        self.answer.textChanged.connect(self._answer_changed)
        rv.addWidget(self.answer)
        self.read_timer = QTimer(self)
        self.read_timer.setSingleShot(True)
        self.read_timer.setInterval(400)
        self.read_timer.timeout.connect(self.read_answer)
        rv.addWidget(_section("3 · Proposed changes"))
        self.preview_area = QScrollArea()
        self.preview_area.setWidgetResizable(True)
        self.preview_area.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview_holder = QWidget()
        self.preview_layout = QVBoxLayout(self.preview_holder)
        self.preview_layout.setContentsMargins(10, 8, 10, 8)
        self.preview_layout.setSpacing(8)
        self.preview_area.setWidget(self.preview_holder)
        rv.addWidget(self.preview_area, 1)
        self.error = plain_label()
        self.error.setObjectName("ErrorLabel")
        self.error.setWordWrap(True)
        self.error.hide()
        rv.addWidget(self.error)
        return right

    def _bottom_row(self) -> QHBoxLayout:
        """The privacy note, Close and Accept."""
        bottom = QHBoxLayout()
        note = QLabel("Nothing leaves this computer except what you paste into your assistant.")
        note.setObjectName("ComposerHint")
        bottom.addWidget(note)
        bottom.addStretch(1)
        cancel = QPushButton("Close")
        cancel.clicked.connect(self.reject)
        bottom.addWidget(cancel)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("Primary")
        self.accept_button.setEnabled(False)
        self.accept_button.clicked.connect(self.accept_answer)
        bottom.addWidget(self.accept_button)
        return bottom

    def _templates(self, rows: list[dict[str, str]]) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for r in rows:
            self.picker.addItem(r["title"], r)
        self.picker.blockSignals(False)
        index = next((i for i, r in enumerate(rows) if r["name"] == self._wanted), 0)
        if index == self.picker.currentIndex():
            self._template_changed(index)
        else:
            self.picker.setCurrentIndex(index)  # builds through currentIndexChanged

    @property
    def template(self) -> str:
        data = self.picker.currentData()
        return str(data["name"]) if data else ""

    def set_template(self, name: str) -> None:
        for i in range(self.picker.count()):
            if self.picker.itemData(i)["name"] == name:
                self.picker.setCurrentIndex(i)
                return
        raise KeyError(name)

    def _template_changed(self, _index: int) -> None:
        data = self.picker.currentData()
        if not data:
            return
        self.description.setText(data.get("description", ""))
        self.built = None
        self.copy_button.setEnabled(False)
        self.prompt_view.setPlainText("Building the prompt…")
        self._show_preview(None)
        store, case, name = self.bridge.store, self.case, data["name"]
        self.bridge.read(lambda: llm_ops.build(store, case=case, template=name),
                         on_done=lambda built: self._show_prompt(built, name),
                         on_error=self._fail)

    def _show_prompt(self, built: BuiltPrompt, template: str) -> None:
        if template != self.template:
            return  # the agent picked another template meanwhile
        self.built = built
        self.error.hide()
        self.prompt_view.setPlainText(built.text)
        doc = self.prompt_view.document()
        dark = theme.current().dark
        for span in built.spans:
            fmt = QTextCharFormat()
            fmt.setBackground(QColor(KIND_COLORS.get(span.kind, ("#eee", "#333"))[int(dark)]))
            fmt.setFontWeight(QFont.Weight.DemiBold)
            fmt.setToolTip(f"{span.kind.lower()} redacted")
            cursor = QTextCursor(doc)
            cursor.setPosition(span.start)
            cursor.setPosition(span.end, QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(fmt)
        n = len(built.redaction_map)
        self.redaction_count.setText(f"{n} value{'s' if n != 1 else ''} redacted · "
                                     f"{len(built.text):,} characters")
        self.copy_button.setEnabled(True)
        self.sig_prompt_ready.emit(built.sha256)

    def _selection_changed(self) -> None:
        self.redact_button.setEnabled(self.built is not None
                                      and self.prompt_view.textCursor().hasSelection())

    def redact_selection(self) -> None:
        cursor = self.prompt_view.textCursor()
        built = self.built
        if built is None or not cursor.hasSelection():
            return
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        kind = REDACT_KINDS[self.kind_picker.currentIndex()]
        store, case, template = self.bridge.store, self.case, self.template
        self.bridge.read(lambda: llm_ops.redact_selection(store, case=case, built=built,
                                                          start=start, end=end, kind=kind),
                         on_done=lambda new: self._show_prompt(new, template),
                         on_error=self._fail)

    def copy_prompt(self) -> None:
        built = self.built
        if built is None:
            return
        self.copy_timer = copy_secret(built.text, self.clipboard)
        self.copy_status.setText(f"Copied ({len(built.text):,} characters). The clipboard is "
                                 f"cleared in {CLEAR_AFTER_MS // 1000} s.")
        self.bridge.run(llm_ops.record_copy, case=self.case, template=self.template,
                        prompt_sha256=built.sha256, on_error=self._fail)

    # --- the answer ---------------------------------------------------------------------
    def paste_answer(self) -> None:
        text = self.clipboard.text()
        if self.built is not None and text == self.built.text:
            self._fail("The clipboard still holds the prompt: copy the assistant's answer "
                       "first.")
            return
        if not text.strip():
            self._fail("The clipboard is empty.")
            return
        self.answer.setPlainText(text)
        self.read_answer()

    def _answer_changed(self) -> None:
        self.read_timer.start()

    def read_answer(self) -> None:
        self.read_timer.stop()
        text = self.answer.toPlainText()
        if not text.strip():
            self._show_preview(None)
            return
        store, case, template = self.bridge.store, self.case, self.template
        sha = self.built.sha256 if self.built else None
        self.bridge.read(lambda: llm_ops.preview_answer(store, case=case, template=template,
                                                        text=text, prompt_sha256=sha),
                         on_done=self._show_preview, on_error=self._preview_failed)

    def _preview_failed(self, exc: Exception) -> None:
        self._show_preview(None)
        self._fail(exc)

    def _clear_preview(self) -> None:
        while self.preview_layout.count():
            item = self.preview_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self._boxes = []

    def _show_preview(self, preview: llm_ops.Preview | None) -> None:
        self._clear_preview()
        self.preview = preview
        self.accept_button.setEnabled(preview is not None and bool(preview.changes))
        if preview is None:
            empty = QLabel("Copy the prompt into your assistant, then paste its answer here: "
                           "the changes it proposes appear in this list for you to review.")
            empty.setObjectName("Meta")
            empty.setWordWrap(True)
            self.preview_layout.addWidget(empty)
            self.preview_layout.addStretch(1)
            return
        self.error.hide()
        t = theme.current()
        for change in preview.changes:
            box = QCheckBox(change.label)
            box.setChecked(change.accepted)
            box.setStyleSheet("font-weight: 600;")
            self.preview_layout.addWidget(box)
            editor: QPlainTextEdit | None = None
            if change.kind in ("note", "reply"):
                editor = QPlainTextEdit(str(change.new))
                editor.setMinimumHeight(140)
                if change.kind == "note":
                    editor.setStyleSheet(f"background: {t.internal_bg}; color: {t.text}; "
                                         f"border: 1px solid {t.internal_border};")
                self.preview_layout.addWidget(editor)
            box.toggled.connect(self._update_accept)
            self._boxes.append((change, box, editor))
        for line in preview.info:
            label = plain_label(line)  # the answer's words, pasted in
            label.setObjectName("Meta")
            label.setWordWrap(True)
            self.preview_layout.addWidget(label)
        for line in preview.warnings:
            label = plain_label("⚠ " + line)
            label.setStyleSheet(f"color: {t.internal_text};")
            label.setWordWrap(True)
            self.preview_layout.addWidget(label)
        self.preview_layout.addStretch(1)
        self._update_accept()
        self.sig_preview_ready.emit(preview)

    def _update_accept(self) -> None:
        self.accept_button.setEnabled(any(box.isChecked() for _, box, _ in self._boxes))

    def accept_answer(self) -> None:
        preview = self.preview
        if preview is None:
            return
        for change, box, editor in self._boxes:
            change.accepted = box.isChecked()
            if editor is not None:
                change.new = editor.toPlainText()
        self.accept_button.setEnabled(False)
        self.bridge.run(llm_ops.apply_answer, case=self.case, preview=preview,
                        on_done=self._applied, on_error=self._apply_failed)

    def _apply_failed(self, exc: Exception) -> None:
        self._update_accept()
        self._fail(exc)

    def _applied(self, result: llm_ops.AppliedAnswer) -> None:
        if result.composer_text:
            self.sig_composer_text.emit(result.composer_text)
        self.sig_applied.emit(result)
        self.accept()

    def _fail(self, exc: Exception | str) -> None:
        self.error.setText(exc if isinstance(exc, str) else describe(exc))
        self.error.show()

    def done(self, result: int) -> None:
        self.read_timer.stop()
        super().done(result)

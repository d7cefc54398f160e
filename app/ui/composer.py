"""The reply / internal-note composer of a case.

* Ctrl+Enter (either Enter key) sends;
* ``@`` completes agent names (mentions);
* ``::`` completes saved replies: the list comes from the analytics read model on a reader
  thread (:func:`app.operations.macros.complete_replies`), the chosen reply is rendered for
  the case on a reader thread (:func:`app.operations.macros.render_reply`) and replaces the
  ``::prefix``; a placeholder with no value shows an inline message and inserts nothing;
* files or an image pasted or dropped into the text box are not inserted as text: they are
  handed to the case's attachments (``sig_attach_mime``);
* what is typed is a draft, saved locally ~500 ms after the last key (writer thread,
  :mod:`app.operations.drafts`) and put back when the case is shown again, after a restart
  or a crash; a sent reply deletes it;
* Escape leaves the text box (focus goes back to the case view).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QStandardItem, QStandardItemModel, QTextCursor
from PySide6.QtWidgets import (
    QButtonGroup,
    QCompleter,
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.widgets import ElidedLabel, plain_label, plain_tip

REPLY_ID_ROLE = Qt.ItemDataRole.UserRole + 1
REPLY_NAME_ROLE = Qt.ItemDataRole.UserRole + 2
DRAFT_DELAY_MS = 500  # typing pauses this long before the draft is written


def mention_prefix(text: str, position: int) -> str | None:
    """The word being typed after ``@`` at ``position`` (None when not in a mention)."""
    start = text.rfind("@", 0, position)
    if start < 0 or (start > 0 and not text[start - 1].isspace()):
        return None
    word = text[start + 1:position]
    if "\n" in word or word.count(" ") > 1 or word.startswith(" "):
        return None
    return word


def reply_prefix(text: str, position: int) -> str | None:
    """What is typed after ``::`` at ``position`` (None when not completing a saved reply).

    ``::`` starts a completion at the start of a line or after a space; the prefix is at
    most a few words on the same line."""
    start = text.rfind("::", 0, position)
    if start < 0 or (start > 0 and not text[start - 1].isspace()):
        return None
    word = text[start + 2:position]
    if "\n" in word or ":" in word or word.startswith(" ") or word.count(" ") > 3:
        return None
    return word


def attachable(mime: QMimeData | None) -> bool:
    """A paste or drop that is an attachment rather than text: local files, or an image
    with no text alongside."""
    if mime is None:
        return False
    if any(u.isLocalFile() for u in mime.urls()):
        return True
    return mime.hasImage() and not mime.hasText()


class ComposerEdit(QPlainTextEdit):
    """The composer's text box: Ctrl+Enter submits; ``@`` mentions; ``::`` saved replies."""

    sig_submit = Signal()
    """Ctrl+Enter was pressed."""

    sig_reply_query = Signal(str)
    """str: the text typed after ``::``; the owner answers with :meth:`show_replies`."""

    sig_reply_chosen = Signal(str, str)
    """(reply id, reply name): the agent picked a saved reply in the ``::`` popup."""

    sig_attach_mime = Signal(object)
    """QMimeData: files or an image were pasted or dropped here (attach them, now)."""

    sig_leave = Signal()
    """Escape (no popup open): the agent leaves the text box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names = QStringListModel(self)
        self.completer = QCompleter(self.names, self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self.insert_mention)
        popup = self.completer.popup()
        assert popup is not None
        self.popup: Any = popup
        self.popup.setAccessibleName("Mention an agent")

        self.replies = QStandardItemModel(self)
        self.reply_completer = QCompleter(self.replies, self)
        self.reply_completer.setWidget(self)
        self.reply_completer.setCompletionMode(
            QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.reply_completer.activated[QModelIndex].connect(  # type: ignore[index]
            self._reply_activated)
        reply_popup = self.reply_completer.popup()
        assert reply_popup is not None
        self.reply_popup: Any = reply_popup
        self.reply_popup.setAccessibleName("Insert a saved reply")
        self.reply_popup.setMinimumWidth(360)
        self.reply_query: str | None = None  # the ``::`` prefix being completed

    # --- mentions -----------------------------------------------------------------------
    def set_agents(self, names: list[str]) -> None:
        if names != self.names.stringList():
            self.names.setStringList(sorted(names, key=str.lower))

    def insert_mention(self, name: str) -> None:
        cursor = self.textCursor()
        text = self.toPlainText()
        prefix = mention_prefix(text, cursor.position())
        if prefix is None:
            return
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor,
                            len(prefix) + 1)
        cursor.insertText(f"@{name} ")
        self.setTextCursor(cursor)
        self.popup.hide()

    # --- saved replies ------------------------------------------------------------------
    def show_replies(self, prefix: str, rows: list[dict[str, str]]) -> None:
        """The answer to ``sig_reply_query(prefix)``; ignored when the agent typed on."""
        if prefix != self.reply_query:
            return
        self.replies.clear()
        for row in rows:
            preview = row.get("preview", "")
            item = QStandardItem(f"{row['name']}  —  {preview[:60]}" if preview
                                 else row["name"])
            item.setData(row["id"], REPLY_ID_ROLE)
            item.setData(row["name"], REPLY_NAME_ROLE)
            item.setToolTip(plain_tip(f"{row['name']} ({row.get('scope', 'shared')})\n{preview}"))
            self.replies.appendRow(item)
        if not rows:
            self.reply_popup.hide()
            return
        rect = self.cursorRect()
        rect.setWidth(380)
        self.reply_completer.setCompletionPrefix("")
        self.reply_completer.complete(rect)
        self.reply_popup.setCurrentIndex(self.reply_completer.completionModel().index(0, 0))

    def _reply_activated(self, index: QModelIndex) -> None:
        reply_id = index.data(REPLY_ID_ROLE)
        if reply_id:
            self.reply_popup.hide()
            self.reply_query = None
            self.sig_reply_chosen.emit(str(reply_id), str(index.data(REPLY_NAME_ROLE)))

    def replace_reply_prefix(self, text: str) -> None:
        """Put ``text`` where ``::prefix`` is typed (at the cursor when it is gone)."""
        cursor = self.textCursor()
        prefix = reply_prefix(self.toPlainText(), cursor.position())
        if prefix is not None:
            cursor.movePosition(QTextCursor.MoveOperation.Left,
                                QTextCursor.MoveMode.KeepAnchor, len(prefix) + 2)
        cursor.insertText(text)
        self.setTextCursor(cursor)
        self.reply_popup.hide()

    # --- keys ---------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        for popup, pick in ((self.popup, self._pick_mention),
                            (self.reply_popup, self._pick_reply)):
            if popup.isVisible() and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter,
                                                     Qt.Key.Key_Tab, Qt.Key.Key_Escape):
                if event.key() == Qt.Key.Key_Escape:
                    popup.hide()
                    self.reply_query = None
                    return
                pick(popup)
                return
        if event.key() == Qt.Key.Key_Escape and not event.modifiers():
            self.sig_leave.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.sig_submit.emit()
            return
        super().keyPressEvent(event)
        self._complete()

    def _pick_mention(self, popup: Any) -> None:
        index = popup.currentIndex()
        if not index.isValid():
            index = self.completer.completionModel().index(0, 0)
        if index.isValid():
            self.insert_mention(str(index.data()))

    def _pick_reply(self, popup: Any) -> None:
        index = popup.currentIndex()
        if not index.isValid():
            index = self.reply_completer.completionModel().index(0, 0)
        if index.isValid():
            self._reply_activated(index)

    def _complete(self) -> None:
        text, position = self.toPlainText(), self.textCursor().position()
        replies = reply_prefix(text, position)
        if replies is not None:
            self.popup.hide()
            if replies != self.reply_query:
                self.reply_query = replies
                self.sig_reply_query.emit(replies)
            return
        self.reply_query = None
        self.reply_popup.hide()
        prefix = mention_prefix(text, position)
        if prefix is None or not self.names.rowCount():
            self.popup.hide()
            return
        self.completer.setCompletionPrefix(prefix)
        if not self.completer.completionCount():
            self.popup.hide()
            return
        rect = self.cursorRect()
        rect.setWidth(240)
        self.completer.complete(rect)
        self.popup.setCurrentIndex(self.completer.completionModel().index(0, 0))

    # --- paste and drop: files and images are attachments -------------------------------
    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802
        return attachable(source) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802
        if attachable(source):
            self.sig_attach_mime.emit(source)
            return
        super().insertFromMimeData(source)


class Composer(QFrame):
    """Reply / internal-note composer; Ctrl+Enter sends; ``::`` inserts a saved reply."""

    sig_send = Signal(str, bool)
    """(body, internal): the agent pressed Send or Ctrl+Enter."""

    sig_reply_inserted = Signal(str)
    """str: the name of a saved reply just rendered into the text box."""

    def __init__(self, parent: QWidget | None = None, *, bridge: Bridge | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.case_ref: str | None = None  # the case key saved replies are rendered for
        self.draft_case: str | None = None  # the case id the typing is a draft of
        self._restoring = False  # filling the box from a draft: not a change to save
        # Drafts handed to the writer and not yet written, by case id: a quick switch back
        # reads these, not the table (the read could beat the write).
        self._writing: dict[str, tuple[str, bool]] = {}
        self.draft_timer = QTimer(self)
        self.draft_timer.setSingleShot(True)
        self.draft_timer.setInterval(DRAFT_DELAY_MS)
        self.draft_timer.timeout.connect(self.save_draft)
        self.setObjectName("Composer")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 12)
        lay.setSpacing(8)
        modes = self._mode_row()
        lay.addLayout(modes)
        self.editor = ComposerEdit()
        self.editor.sig_submit.connect(self.send)
        self.editor.sig_reply_query.connect(self._query_replies)
        self.editor.sig_reply_chosen.connect(self.insert_reply)
        self.editor.setObjectName("ComposerEdit")
        self.editor.setAccessibleName("Comment text")
        self.editor.setTabChangesFocus(True)
        self.editor.setFixedHeight(84)
        self.editor.textChanged.connect(self._typed)
        self.editor.sig_leave.connect(self._leave)
        lay.addWidget(self.editor)
        row = QHBoxLayout()
        self.error = plain_label()  # errors quote what the agent typed
        self.error.setObjectName("ErrorLabel")
        self.error.setWordWrap(True)
        self.error.hide()
        row.addWidget(self.error, 1)
        row.addStretch(0)
        self.send_button = QPushButton("Send reply")
        self.send_button.setObjectName("Primary")
        self.send_button.setIcon(theme.icon("send", theme.current().accent_text, 14))
        self.send_button.clicked.connect(self.send)
        row.addWidget(self.send_button)
        lay.addLayout(row)
        self._mode_changed()

    def _mode_row(self) -> QHBoxLayout:
        """Reply / Internal note toggles and the keyboard hint."""
        modes = QHBoxLayout()
        modes.setSpacing(6)
        self.reply_button = QToolButton()
        self.reply_button.setText("Reply")
        self.reply_button.setCheckable(True)
        self.reply_button.setChecked(True)
        self.reply_button.setObjectName("ModeButton")
        self.note_button = QToolButton()
        self.note_button.setText("Internal note")
        self.note_button.setCheckable(True)
        self.note_button.setObjectName("NoteModeButton")
        self.note_button.setIcon(theme.icon("lock", theme.current().internal_text, 14))
        self.note_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        group = QButtonGroup(self)
        group.setExclusive(True)
        for b in (self.reply_button, self.note_button):
            group.addButton(b)
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            modes.addWidget(b)
        self.reply_button.setToolTip("Public reply, visible to the requester (R)")
        self.note_button.setToolTip("Internal note, visible to agents only (N)")
        group.buttonToggled.connect(lambda *_: self._mode_changed())
        group.buttonToggled.connect(lambda *_: self._typed())
        self.hint = ElidedLabel(":: saved replies  ·  Ctrl+Enter to send",
                                shorter=("Ctrl+Enter to send", "Ctrl+Enter"))
        self.hint.setObjectName("ComposerHint")
        modes.addWidget(self.hint, 1)
        return modes

    @property
    def internal(self) -> bool:
        return self.note_button.isChecked()

    def set_internal(self, internal: bool) -> None:
        (self.note_button if internal else self.reply_button).setChecked(True)
        self.editor.setFocus()

    def set_case(self, case_ref: str | None) -> None:
        if case_ref != self.case_ref:
            self.error.hide()
        self.case_ref = case_ref

    def add_text(self, text: str, *, internal: bool = False) -> None:
        """Put ``text`` in the box (below what is already typed: nothing is lost) and switch
        to Reply (or Internal note) mode; nothing is sent."""
        self.set_internal(internal)
        current = self.editor.toPlainText()
        self.editor.setPlainText(f"{current.rstrip()}\n\n{text}" if current.strip() else text)
        self.editor.moveCursor(QTextCursor.MoveOperation.End)
        self.error.hide()

    def _mode_changed(self) -> None:
        internal = self.internal
        self.setProperty("internal", internal)
        self.editor.setPlaceholderText(
            "Write an internal note for your team… (Markdown, :: for saved replies)" if internal
            else "Write a public reply to the requester… (Markdown, :: for saved replies)")
        self.send_button.setText("Add note" if internal else "Send reply")
        for w in (self, self.editor):
            w.style().unpolish(w)
            w.style().polish(w)

    def _leave(self) -> None:
        """Escape: focus goes to the next thing outside the text box (the case view), so
        the window's keys work again; nothing typed is touched."""
        self.editor.clearFocus()
        target = self.parentWidget()
        if target is not None:
            target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    # --- drafts -------------------------------------------------------------------------
    @property
    def has_draft(self) -> bool:
        return bool(self.draft_case and self.editor.toPlainText().strip())

    def _typed(self) -> None:
        if self.draft_case and not self._restoring:
            self.draft_timer.start()

    def save_draft(self) -> None:
        """Write the draft now (writer thread): empty text deletes it."""
        self.draft_timer.stop()
        bridge, case_id = self.bridge, self.draft_case
        if bridge is None or not case_id:
            return
        from app.operations import drafts as dops

        mode, text = ("note" if self.internal else "reply"), self.editor.toPlainText()
        entry = (text, self.internal)
        self._writing[case_id] = entry

        def written(_kept: object) -> None:
            if isValid(self) and self._writing.get(case_id) is entry:
                del self._writing[case_id]

        def failed(exc: Exception) -> None:
            written(None)
            self.show_error(f"The draft was not saved: {describe(exc)}")

        bridge.run(dops.save_draft, case_id=case_id, kind=mode, text=text, mode=mode,
                   attachments=[], initiator=self, on_done=written, on_error=failed)

    def flush_draft(self) -> bool:
        """Save typing not yet written; whether a draft is kept (to say so)."""
        if self.draft_timer.isActive():
            self.save_draft()
        return self.has_draft

    def open_draft(self, case_id: str | None) -> None:
        """The composer now writes for ``case_id``: the last case's typing is saved first,
        then this case's kept draft (if any) fills an empty box (reader thread)."""
        if case_id == self.draft_case:
            return
        previous = self.draft_case
        self.flush_draft()
        self.draft_case = case_id
        if previous is not None:  # that case's typing is saved: it is not this case's
            self.restore("", False)
        bridge = self.bridge
        if bridge is None or not case_id:
            return
        if case_id in self._writing:
            if not self.editor.toPlainText().strip():
                self.restore(*self._writing[case_id])
            return
        from app.operations import drafts as dops

        store = bridge.store

        def done(draft: dict[str, Any] | None) -> None:
            if not isValid(self) or case_id != self.draft_case or draft is None:
                return
            if self.editor.toPlainText().strip():
                return  # typed (or restored from a parked tab) meanwhile: keep that
            self.restore(str(draft.get("text", "")), draft.get("mode") == "note")

        bridge.read(lambda: dops.load_draft(store, case_id=case_id, kind="reply"),
                    on_done=done, on_error=lambda e: self.show_error(
                        f"The saved draft could not be read: {describe(e)}"))

    def restore(self, text: str, internal: bool) -> None:
        """Fill the box with a draft (not a new change: nothing is written)."""
        self._restoring = True
        try:
            (self.note_button if internal else self.reply_button).setChecked(True)
            self.editor.setPlainText(text)
            self.editor.moveCursor(QTextCursor.MoveOperation.End)
        finally:
            self._restoring = False

    # --- saved replies ------------------------------------------------------------------
    def _query_replies(self, prefix: str) -> None:
        bridge = self.bridge
        if bridge is None:
            return
        from app.operations import macros as mops
        from app.ui.macro_dialog import shared_model

        store = bridge.store

        def job() -> list[dict[str, str]]:
            return mops.complete_replies(shared_model(store), prefix, me=store.actor)

        def done(rows: list[dict[str, str]]) -> None:
            if not isValid(self):
                return
            self.editor.show_replies(prefix, rows)
            if not rows and not prefix and self.editor.reply_query == "":
                self.show_hint("No saved replies yet: save one in the terminal with "
                               "reply save NAME 'text'.")

        bridge.read(job, on_done=done, on_error=lambda e: self.show_error(describe(e)))

    def insert_reply(self, reply_id: str, name: str) -> None:
        """Render saved reply ``reply_id`` for the case (reader thread), then insert it."""
        bridge, case = self.bridge, self.case_ref
        if bridge is None or not case:
            return
        from app.operations import macros as mops
        from app.ui.macro_dialog import shared_model

        store = bridge.store

        def job() -> str:
            return str(mops.render_reply(store, shared_model(store), reply=reply_id, case=case))

        def done(text: str) -> None:
            if not isValid(self) or case != self.case_ref:
                return  # the composer shows another case by now
            self.error.hide()
            self.editor.replace_reply_prefix(text)
            self.sig_reply_inserted.emit(name)

        def failed(exc: Exception) -> None:
            if isValid(self) and case == self.case_ref:
                self.show_error(f"Nothing inserted: {describe(exc)}")

        bridge.read(job, on_done=done, on_error=failed)

    # --- sending ------------------------------------------------------------------------
    def send(self) -> None:
        body = self.editor.toPlainText()
        if not body.strip():
            self.show_error("Write something first.")
            return
        self.error.hide()
        self.send_button.setEnabled(False)
        self.sig_send.emit(body, self.internal)

    def sent(self, case_id: str | None = None) -> None:
        """The comment on ``case_id`` (default: this one) is stored: its draft is deleted
        and, if the box still shows that case, the box empties."""
        case_id = case_id or self.draft_case
        if case_id:
            self._writing.pop(case_id, None)
        if self.bridge is not None and case_id:
            from app.operations import drafts as dops

            self.bridge.run(dops.delete_draft, case_id=case_id, kind="reply", initiator=self)
        if case_id != self.draft_case:
            return  # the agent moved on to another case meanwhile: its typing stays
        self.draft_timer.stop()
        self._restoring = True  # the delete above is the write
        try:
            self.editor.clear()
        finally:
            self._restoring = False
        self.send_button.setEnabled(True)
        self.error.hide()

    def show_hint(self, message: str) -> None:
        """A note in the message line under the text box (not an error)."""
        self.error.setText(message)
        self.error.show()

    def show_error(self, message: str) -> None:
        if not isValid(self):
            return
        self.send_button.setEnabled(True)
        self.error.setText(message)
        self.error.show()

"""One case: editable header, conversation, composer, history, links and merged cases."""

from __future__ import annotations

import html
from functools import partial
from typing import Any

from PySide6.QtCore import QPoint, QSignalBlocker, QStringListModel, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QPainter,
    QTextBlockFormat,
    QTextCursor,
    QTextDocument,
    QTextFrameFormat,
    QTextLength,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QCompleter,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QTextBrowser,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.changes import Changes
from app.core.model import CaseType, Priority, Status
from app.ui import theme
from app.ui.bridge import Bridge
from app.ui.case_list import full_time, relative_time
from app.ui.widgets import DuePicker, TagChips

UNASSIGNED = ""


def load_case_bundle(conn: Any, case_id: str) -> dict[str, Any] | None:
    """Reader thread: the case, its history and the agents for the assignee picker."""
    from app.store import queries as q

    detail = q.case_detail(conn, case_id)
    if detail is None:
        return None
    from app.store.conflicts import open_conflicts

    detail["history"] = q.case_history(conn, case_id)
    agents = q.directory(conn, "agents")
    detail["agents"] = [(a["id"], a["name"]) for a in agents]
    names = {str(a["id"]): str(a["name"]) for a in agents}
    names.update({str(a.get("email")): str(a["name"]) for a in agents if a.get("email")})
    conflicts = open_conflicts(conn, case_id)
    for c in conflicts:
        actor = str(c["remote_actor"])
        c["remote_name"] = names.get(actor) or (actor.split("@")[0].replace(".", " ").title()
                                                if "@" in actor else actor)
        for side in ("local", "remote"):
            value = c[f"{side}_value"]
            if c["field"] == "assignee_id":
                value = names.get(str(value), value) if value else "Unassigned"
            c[f"{side}_text"] = str(value) if value not in (None, "") else "nothing"
    detail["conflicts"] = conflicts
    return detail


FIELD_NAMES = {"assignee_id": "the assignee", "due_at": "the due date",
               "requester_id": "the requester", "team_id": "the team"}


def conflict_text(c: dict[str, Any]) -> str:
    """"Ben changed priority to Urgent while you set it to Low"."""
    field = FIELD_NAMES.get(str(c["field"]), str(c["field"]).replace("_", " "))

    def nice(v: str) -> str:
        return v.replace("-", " ").capitalize() if v.islower() and " " not in v else v

    return (f"{c['remote_name']} changed {field} to {nice(c['remote_text'])} "
            f"while you set it to {nice(c['local_text'])}")


def mention_prefix(text: str, position: int) -> str | None:
    """The word being typed after ``@`` at ``position`` (None when not in a mention)."""
    start = text.rfind("@", 0, position)
    if start < 0 or (start > 0 and not text[start - 1].isspace()):
        return None
    word = text[start + 1:position]
    if "\n" in word or word.count(" ") > 1 or word.startswith(" "):
        return None
    return word


def hlc_ms(hlc: str) -> int:
    try:
        return int(str(hlc).split(".")[0])
    except ValueError:
        return 0


class SafeBrowser(QTextBrowser):
    """A text browser that never fetches anything: no remote (or local file) resources."""

    sig_case_link = Signal(str)
    """str: a case id or key from a ``case:`` link the agent clicked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._clicked)

    def loadResource(self, type: int, name: QUrl | str) -> Any:  # noqa: A002, N802
        # Images the document holds (avatars, icons) are found in its cache before this
        # is called; everything else (http, file, ...) is refused.
        return None

    def _clicked(self, url: QUrl) -> None:
        if url.scheme() == "case":
            self.sig_case_link.emit(url.path())


def _avatar(name: str, size: int = 56) -> QImage:
    palette = ["#5c7cfa", "#f08c00", "#12b886", "#e64980", "#7950f2", "#1098ad", "#fa5252"]
    color = QColor(palette[sum(map(ord, name)) % len(palette)])
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawEllipse(0, 0, size, size)
    p.setPen(QColor("#ffffff"))
    font = QFont()
    font.setPixelSize(int(size * 0.4))
    font.setBold(True)
    p.setFont(font)
    initials = "".join(w[0] for w in name.split()[:2]).upper() or "?"
    p.drawText(img.rect(), Qt.AlignmentFlag.AlignCenter, initials)
    p.end()
    return img


class Conversation(SafeBrowser):
    """The description and comments, each in its own frame; internal notes in yellow."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Conversation")
        self.setAccessibleName("Conversation")
        self.rendered: list[dict[str, Any]] = []  # {"id", "internal", "body"} per frame

    sig_split = Signal(str)
    """str: comment id the agent wants to split into a new case."""

    def comment_at(self, pos: QPoint) -> dict[str, Any] | None:
        """The rendered item (description or comment) under ``pos`` (viewport coords)."""
        frame = self.cursorForPosition(pos).currentFrame()
        root = self.document().rootFrame()
        while frame is not None and frame.parentFrame() is not None and \
                frame.parentFrame() != root:
            frame = frame.parentFrame()
        if frame is None or frame == root:
            return None
        frames = root.childFrames()
        index = next((i for i, f in enumerate(frames) if f == frame), -1)
        return self.rendered[index] if 0 <= index < len(self.rendered) else None

    def contextMenuEvent(self, event: Any) -> None:  # noqa: N802
        menu = self.createStandardContextMenu(event.pos())
        item = self.comment_at(self.viewport().mapFrom(self, event.pos()))
        if item is not None and item.get("id") not in (None, "description"):
            menu.addSeparator()
            menu.addAction("Split into new case", partial(self.sig_split.emit, str(item["id"])))
        menu.exec(event.globalPos())

    def render(self, detail: dict[str, Any]) -> None:  # type: ignore[override]
        t = theme.current()
        doc = QTextDocument(self)
        doc.setDocumentMargin(14)
        lock = theme.icon("lock", t.internal_text, 12).pixmap(12, 12).toImage()
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("icon:lock"), lock)
        self.rendered = []
        cursor = QTextCursor(doc)
        requester = (detail.get("requester") or {}).get("name") or "Requester"
        items: list[dict[str, Any]] = []
        if detail.get("description"):
            items.append({"id": "description", "author_name": requester,
                          "author_kind": "customer", "created_ms": detail.get("created_ms"),
                          "body": detail["description"], "internal": False})
        items += detail.get("comments", [])
        if not items:
            cursor.insertHtml(f"<p style='color:{t.muted}'>No conversation yet.</p>")
        for item in items:
            self._frame(doc, cursor, item, detail.get("key"), t)
            cursor.setPosition(doc.rootFrame().lastPosition())
        self.setDocument(doc)
        self.moveCursor(QTextCursor.MoveOperation.End)
        self.ensureCursorVisible()

    def _frame(self, doc: QTextDocument, cursor: QTextCursor, item: dict[str, Any],
               case_key: str | None, t: theme.Theme) -> None:
        internal = bool(item.get("internal"))
        agent = item.get("author_kind") == "agent"
        fmt = QTextFrameFormat()
        fmt.setPadding(12)
        fmt.setTopMargin(5)
        fmt.setBottomMargin(5)
        fmt.setBorder(1)
        fmt.setBorderStyle(QTextFrameFormat.BorderStyle.BorderStyle_Solid)
        fmt.setWidth(QTextLength(QTextLength.Type.PercentageLength, 100))
        if internal:
            fmt.setBackground(QColor(t.internal_bg))
            fmt.setBorderBrush(QColor(t.internal_border))
        elif agent:
            fmt.setBackground(QColor(t.hover))
            fmt.setBorderBrush(QColor(t.border))
        else:
            fmt.setBackground(QColor(t.surface))
            fmt.setBorderBrush(QColor(t.border))
        cursor.insertFrame(fmt)
        name = str(item.get("author_name") or item.get("author") or "?")
        url = f"avatar:{abs(hash(name)) % 10**10}"
        if doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(url)) is None:
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(url), _avatar(name))
        ago = relative_time(item.get("created_ms"))
        role = "Agent" if agent else "Customer"
        badge = ""
        if internal:
            badge = (f"&nbsp;&nbsp;<img src='icon:lock' width='11' height='11'>"
                     f"<span style='color:{t.internal_text}; font-weight:700; font-size:8pt'>"
                     f"&nbsp;INTERNAL NOTE</span>")
        elif agent:
            badge = (f"&nbsp;&nbsp;<span style='color:{t.accent}; font-weight:700; "
                     f"font-size:8pt'>PUBLIC REPLY</span>")
        from_other = ""
        if case_key and item.get("case_key") and item.get("case_key") != case_key:
            from_other = f" <span style='color:{t.muted}'>(from merged {item['case_key']})</span>"
        cursor.insertHtml(
            f"<img src='{html.escape(url)}' width='26' height='26' style='vertical-align:middle'>"
            f"&nbsp;&nbsp;<b style='color:{t.text}'>{html.escape(name)}</b>{badge}"
            f"<span style='color:{t.muted}'>&nbsp;&nbsp;·&nbsp;{role}&nbsp;·&nbsp;"
            f"{html.escape(ago)}</span>{from_other}")
        spacer = QTextBlockFormat()
        spacer.setTopMargin(6)
        cursor.insertBlock(spacer)
        body = str(item.get("body") or "")
        cursor.insertMarkdown(body, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
        self.rendered.append({"id": item.get("id"), "internal": internal, "body": body,
                              "background": fmt.background().color().name()})


class ComposerEdit(QPlainTextEdit):
    """The composer's text box: Ctrl+Enter (either Enter key) submits; ``@`` mentions."""

    sig_submit = Signal()
    """Ctrl+Enter was pressed."""

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

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        popup = self.popup
        if popup.isVisible() and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter,
                                                 Qt.Key.Key_Tab, Qt.Key.Key_Escape):
            if event.key() == Qt.Key.Key_Escape:
                popup.hide()
                return
            index = popup.currentIndex()
            if not index.isValid():
                index = self.completer.completionModel().index(0, 0)
            if index.isValid():
                self.insert_mention(str(index.data()))
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.sig_submit.emit()
            return
        super().keyPressEvent(event)
        self._complete()

    def _complete(self) -> None:
        prefix = mention_prefix(self.toPlainText(), self.textCursor().position())
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


class Composer(QFrame):
    """Reply / internal-note composer; Ctrl+Enter sends."""

    sig_send = Signal(str, bool)
    """(body, internal): the agent pressed Send or Ctrl+Enter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 12)
        lay.setSpacing(8)
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
        modes.addStretch(1)
        self.hint = QLabel("Ctrl+Enter to send")
        self.hint.setObjectName("ComposerHint")
        modes.addWidget(self.hint)
        lay.addLayout(modes)
        self.editor = ComposerEdit()
        self.editor.sig_submit.connect(self.send)
        self.editor.setObjectName("ComposerEdit")
        self.editor.setAccessibleName("Comment text")
        self.editor.setTabChangesFocus(True)
        self.editor.setFixedHeight(84)
        lay.addWidget(self.editor)
        row = QHBoxLayout()
        self.error = QLabel()
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

    @property
    def internal(self) -> bool:
        return self.note_button.isChecked()

    def set_internal(self, internal: bool) -> None:
        (self.note_button if internal else self.reply_button).setChecked(True)
        self.editor.setFocus()

    def _mode_changed(self) -> None:
        internal = self.internal
        self.setProperty("internal", internal)
        self.editor.setPlaceholderText(
            "Write an internal note for your team… (Markdown)" if internal
            else "Write a public reply to the requester… (Markdown)")
        self.send_button.setText("Add note" if internal else "Send reply")
        for w in (self, self.editor):
            w.style().unpolish(w)
            w.style().polish(w)

    def send(self) -> None:
        body = self.editor.toPlainText()
        if not body.strip():
            self.show_error("Write something first.")
            return
        self.error.hide()
        self.send_button.setEnabled(False)
        self.sig_send.emit(body, self.internal)

    def sent(self) -> None:
        self.editor.clear()
        self.send_button.setEnabled(True)
        self.error.hide()

    def show_error(self, message: str) -> None:
        self.send_button.setEnabled(True)
        self.error.setText(message)
        self.error.show()


def _label(text: str) -> QLabel:
    lab = QLabel(text.upper())
    lab.setObjectName("FieldLabel")
    return lab


class CaseDetail(QWidget):
    """The selected case. Loads on a reader thread; every edit is an operation."""

    sig_loaded = Signal(str)
    """str: case id whose detail has just been rendered."""

    sig_open_case = Signal(str)
    """str: case id or key the agent wants to open (a link or merged case)."""

    sig_title_changed = Signal(str)
    """str: "KEY subject" after a load, for a tab title."""

    sig_split_done = Signal(str)
    """str: id of the case a comment was just split into."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.setObjectName("CaseDetail")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(440)
        self.case_id: str | None = None
        self.detail: dict[str, Any] | None = None
        self._generation = 0
        self.loading = False
        self._build()
        bridge.sig_changes_applied.connect(self.on_changes)

    # --- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)
        self.empty = QLabel("Select a case to see its conversation")
        self.empty.setObjectName("EmptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.empty)

        page = QWidget()
        self.stack.addWidget(page)
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)

        header = QWidget()
        hl = QVBoxLayout(header)
        hl.setContentsMargins(16, 12, 16, 10)
        hl.setSpacing(2)
        top = QHBoxLayout()
        self.key_label = QLabel()
        self.key_label.setObjectName("CaseKey")
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.key_label)
        self.merged_label = QLabel()
        self.merged_label.setObjectName("Meta")
        self.merged_label.linkActivated.connect(self._link)
        top.addWidget(self.merged_label)
        self.meta_label = QLabel()
        self.meta_label.setObjectName("Meta")
        self.meta_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.meta_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.meta_label, 1)
        self.viewers_box = QHBoxLayout()
        self.viewers_box.setSpacing(4)
        top.addLayout(self.viewers_box)
        self.viewer_chips: list[QLabel] = []
        self.menu_button = QToolButton()
        self.menu_button.setObjectName("Flat")
        self.menu_button.setIcon(theme.icon("more"))
        self.menu_button.setToolTip("More actions")
        self.menu_button.setAccessibleName("Case actions")
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.case_menu = QMenu(self.menu_button)
        self.case_menu.addAction("Link to…", lambda: self.pick_case("link"))
        self.case_menu.addAction("Merge into…", lambda: self.pick_case("merge"))
        self.case_menu.addSeparator()
        self.case_menu.addAction("Open in a tab",
                                 lambda: self.sig_open_case.emit(self.case_id or ""))
        self.menu_button.setMenu(self.case_menu)
        top.addWidget(self.menu_button)
        hl.addLayout(top)
        self.subject_edit = QLineEdit()
        self.subject_edit.setObjectName("SubjectEdit")
        self.subject_edit.setAccessibleName("Subject")
        self.subject_edit.editingFinished.connect(self._subject_done)
        hl.addWidget(self.subject_edit)
        self.requester_label = QLabel()
        self.requester_label.setObjectName("Meta")
        self.requester_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.requester_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                           QSizePolicy.Policy.Preferred)
        hl.addWidget(self.requester_label)
        hl.addSpacing(8)

        self.status_combo = self._combo("Status", [(s.value, s.value.replace("-", " ").capitalize())
                                                   for s in Status])
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
        self.product_edit.editingFinished.connect(
            lambda: self._text_done("product", self.product_edit))
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
        hl.addLayout(grid)
        self.links_label = QLabel()
        self.links_label.setObjectName("Meta")
        self.links_label.setWordWrap(True)
        self.links_label.setTextFormat(Qt.TextFormat.RichText)
        self.links_label.linkActivated.connect(self._link)
        self.links_label.setContentsMargins(0, 6, 0, 0)
        hl.addWidget(self.links_label)
        lay.addWidget(header)
        self.conflicts_box = QFrame()
        self.conflicts_box.setObjectName("ConflictBanner")
        self.conflicts_box.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.conflicts_layout = QVBoxLayout(self.conflicts_box)
        self.conflicts_layout.setContentsMargins(16, 6, 12, 6)
        self.conflicts_layout.setSpacing(4)
        self.conflict_rows: list[tuple[QLabel, QPushButton, QPushButton]] = []
        self.conflicts_box.hide()
        lay.addWidget(self.conflicts_box)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.conversation = Conversation()
        self.conversation.sig_case_link.connect(self._link)
        self.conversation.sig_split.connect(self.split_comment)
        self.tabs.addTab(self.conversation, "Conversation")
        self.history = QTreeWidget()
        self.history.setAccessibleName("History")
        self.history.setRootIsDecorated(False)
        self.history.setUniformRowHeights(True)
        self.history.setAlternatingRowColors(True)
        self.history.setHeaderLabels(["When", "Who", "What", "Sync"])
        self.history.setColumnWidth(0, 170)
        self.history.setColumnWidth(1, 130)
        self.history.setColumnWidth(2, 360)
        self.tabs.addTab(self.history, "History")
        lay.addWidget(self.tabs, 1)
        self.composer = Composer()
        self.composer.sig_send.connect(self._send)
        lay.addWidget(self.composer)

    def _combo(self, name: str, items: list[tuple[str, str]]) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        for value, text in items:
            combo.addItem(text, value)
        return combo

    # --- loading ------------------------------------------------------------------------
    def load(self, case_id: str | None) -> None:
        """Show ``case_id`` (None: the empty state). The query runs on a reader thread."""
        self._generation += 1
        generation = self._generation
        if case_id != self.case_id:
            self.detail = None
        self.case_id = case_id
        if case_id is None:
            self.loading = False
            self.stack.setCurrentIndex(0)
            return
        self.loading = True
        self.bridge.query(load_case_bundle, case_id,
                          on_done=lambda d: self._loaded(generation, case_id, d),
                          on_error=lambda e: self._failed(generation, e))

    def reload(self) -> None:
        if self.case_id:
            self.load(self.case_id)

    def _failed(self, generation: int, exc: Exception) -> None:
        if generation == self._generation:
            self.loading = False
        from app.ui.bridge import describe

        self.bridge.sig_error.emit(describe(exc))

    def _loaded(self, generation: int, case_id: str, detail: dict[str, Any] | None) -> None:
        if generation != self._generation:
            return
        self.loading = False
        if detail is None:
            self.empty.setText("This case no longer exists.")
            self.stack.setCurrentIndex(0)
            self.sig_loaded.emit(case_id)
            return
        self.detail = detail
        self._fill(detail)
        self.stack.setCurrentIndex(1)
        self.sig_title_changed.emit(f"{detail['key']}  {detail['subject']}")
        self.sig_loaded.emit(case_id)

    def _fill(self, d: dict[str, Any]) -> None:
        t = theme.current()
        self.key_label.setText(str(d["key"]))
        if d.get("merged_into"):
            key = d.get("merged_into_key") or d["merged_into"]
            self.merged_label.setText(
                f"· merged into <a href='{html.escape(str(d['merged_into']))}' "
                f"style='color:{t.accent}'>{html.escape(str(key))}</a>")
        elif d.get("merged_from"):
            keys = ", ".join(
                f"<a href='{html.escape(m['id'])}' style='color:{t.accent}'>"
                f"{html.escape(str(m['key']))}</a>" for m in d["merged_from"])
            self.merged_label.setText(f"· merged from {keys}")
        else:
            self.merged_label.setText("")
        created = relative_time(d.get("created_ms"))
        updated = relative_time(d.get("updated_ms"))
        self.meta_label.setText(f"Created {created} · Updated {updated}")
        self.meta_label.setToolTip(f"Created {full_time(d.get('created_ms'))}\n"
                                   f"Updated {full_time(d.get('updated_ms'))}")
        if not (self.subject_edit.hasFocus() and self.subject_edit.isModified()):
            self.subject_edit.setText(str(d["subject"]))
            self.subject_edit.setCursorPosition(0)
            self.subject_edit.setModified(False)
        req = d.get("requester") or {}
        org = d.get("organization") or {}
        who = html.escape(str(req.get("name") or "Unknown requester"))
        parts = [f"<b>{who}</b>"]
        if org.get("name"):
            parts.append(html.escape(str(org["name"])))
        if req.get("email"):
            parts.append(html.escape(str(req["email"])))
        self.requester_label.setText(" · ".join(parts))
        if req.get("phone"):
            parts.append(html.escape(str(req["phone"])))
        team = (d.get("team") or {}).get("name")
        if team:
            parts.append(f"team {html.escape(str(team))}")
        self.requester_label.setText(" · ".join(parts))

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
            self.product_edit.setModified(False)
        if not self.due_picker.edit.hasFocus():
            self.due_picker.set_value(d.get("due_at"))
        self.tags_chips.set_tags(list(d.get("tags", [])))
        self.composer.editor.set_agents([name for _i, name in d.get("agents", [])])
        self._fill_conflicts(d.get("conflicts", []))
        links = d.get("links", [])
        self.links_label.setVisible(bool(links))
        self.links_label.setText("Linked: " + " · ".join(
            f"{html.escape(str(x['kind']))} "
            f"<a href='{html.escape(str(x['id']))}' style='color:{t.accent}'>"
            f"{html.escape(str(x.get('key') or x['id']))}</a> "
            f"<span style='color:{t.text}'>{html.escape(str(x.get('subject') or '')[:50])}</span>"
            for x in links))

        self.conversation.render(d)
        self._fill_history(d)

    def _fill_history(self, d: dict[str, Any]) -> None:
        agents = dict(d.get("agents", []))
        self.history.clear()
        items = []
        for h in reversed(d.get("history", [])):
            ms = hlc_ms(h["hlc"])
            actor = agents.get(h["actor"], h["actor"])
            item = QTreeWidgetItem([full_time(ms), str(actor), str(h["summary"]),
                                    "✓" if h["synced"] else "local"])
            item.setToolTip(2, str(h["summary"]))
            item.setToolTip(1, str(h["actor"]))
            items.append(item)
        self.history.addTopLevelItems(items)
        self.tabs.setTabText(1, f"History ({len(items)})")

    # --- edits --------------------------------------------------------------------------
    @property
    def case_ref(self) -> str:
        return str(self.detail["key"]) if self.detail else str(self.case_id)

    def _set_fields(self, changes: dict[str, Any]) -> None:
        if not self.detail:
            return
        from app.operations import cases as ops

        self.bridge.run(ops.set_fields, case=self.case_ref, changes=changes,
                        on_error=self._edit_failed)

    def _edit_failed(self, exc: Exception) -> None:
        from app.ui.bridge import describe

        self.bridge.sig_error.emit(describe(exc))
        if self.detail:
            for edit in (self.subject_edit, self.product_edit):
                edit.setModified(False)
            self._fill(self.detail)  # back to the stored values: nothing half-written

    def _subject_done(self) -> None:
        if not self.detail or not self.subject_edit.isModified():
            return
        self.subject_edit.setModified(False)
        text = self.subject_edit.text()
        if text.strip() == str(self.detail["subject"]).strip():
            return
        self._set_fields({"subject": text})

    def _text_done(self, field: str, edit: QLineEdit) -> None:
        if not self.detail or not edit.isModified():
            return
        edit.setModified(False)
        old = str(self.detail.get(field) or "")
        if field == "due_at":
            old = old[:10]
        new = edit.text().strip()
        if new == old:
            return
        self._set_fields({field: new or None})

    def _combo_done(self, field: str, combo: QComboBox) -> None:
        if not self.detail:
            return
        value = combo.currentData()
        old = self.detail.get(field) or UNASSIGNED
        if value == old:
            return
        self._set_fields({field: value or None})

    def _due_done(self, value: str | None) -> None:
        if not self.detail:
            return
        if (value or None) == ((self.detail.get("due_at") or "")[:10] or None):
            return
        self._set_fields({"due_at": value})

    def _tags_done(self, add: list[str], remove: list[str]) -> None:
        if not self.detail:
            return
        old = list(self.detail.get("tags", []))
        add = [t for t in add if t not in old]
        remove = [t for t in remove if t in old]
        if not add and not remove:
            return
        from app.operations import cases as ops

        self.bridge.run(ops.tag, case=self.case_ref, add=add, remove=remove,
                        on_error=self._edit_failed)

    def _send(self, body: str, internal: bool) -> None:
        if not self.detail:
            return
        from app.operations import cases as ops
        from app.ui.bridge import describe

        self.bridge.run(ops.comment, case=self.case_ref, body=body, internal=internal,
                        on_done=lambda _r: self.composer.sent(),
                        on_error=lambda e: self.composer.show_error(describe(e)))

    def _link(self, target: str) -> None:
        self.sig_open_case.emit(target)

    # --- conflicts, presence, link / merge / split --------------------------------------
    def _fill_conflicts(self, conflicts: list[dict[str, Any]]) -> None:
        for label, restore, dismiss in self.conflict_rows:
            for w in (label, restore, dismiss):
                w.deleteLater()
        while self.conflicts_layout.count():
            item = self.conflicts_layout.takeAt(0)
            sub = item.layout() if item is not None else None
            if sub is not None:
                sub.deleteLater()
        self.conflict_rows = []
        for c in conflicts:
            row = QHBoxLayout()
            icon = QLabel()
            icon.setPixmap(theme.icon("alert", theme.current().internal_text, 14).pixmap(14, 14))
            row.addWidget(icon)
            label = QLabel(conflict_text(c) + " —")
            label.setObjectName("ConflictText")
            label.setWordWrap(True)
            row.addWidget(label, 1)
            restore = QPushButton("Restore my value")
            restore.setObjectName("ConflictButton")
            restore.clicked.connect(lambda _c=False, cid=str(c["id"]): self.restore_conflict(cid))
            dismiss = QPushButton("Dismiss")
            dismiss.setObjectName("ConflictButton")
            dismiss.clicked.connect(lambda _c=False, cid=str(c["id"]): self.dismiss_conflict(cid))
            row.addWidget(restore)
            row.addWidget(dismiss)
            self.conflicts_layout.addLayout(row)
            self.conflict_rows.append((label, restore, dismiss))
        self.conflicts_box.setVisible(bool(conflicts))

    def restore_conflict(self, conflict_id: str) -> None:
        from app.operations import cases as ops

        self.bridge.run(ops.restore_conflict, conflict_id=conflict_id,
                        on_error=self._edit_failed)

    def dismiss_conflict(self, conflict_id: str) -> None:
        from app.operations import cases as ops

        # The notice changes no case: reload this one when it is gone.
        self.bridge.run(ops.dismiss_conflict, conflict_id=conflict_id,
                        on_done=lambda _r: self.reload(), on_error=self._edit_failed)

    def set_viewers(self, case_id: str, viewers: list[dict[str, Any]]) -> None:
        """"Ben is viewing" chips (from GET presence) for the case on screen."""
        if case_id != self.case_id:
            return
        for chip in self.viewer_chips:
            self.viewers_box.removeWidget(chip)
            chip.deleteLater()
        self.viewer_chips = []
        for v in viewers[:4]:
            name = str(v.get("name") or v.get("email") or "Someone")
            chip = QLabel(f"{name.split()[0]} is viewing")
            chip.setObjectName("ViewerChip")
            chip.setToolTip(f"{name} ({v.get('email', '')}) has this case open")
            self.viewers_box.addWidget(chip)
            self.viewer_chips.append(chip)

    def pick_case(self, action: str) -> None:
        if not self.detail:
            return
        from app.ui.widgets import CasePicker

        title = (f"Link {self.case_ref} to…" if action == "link"
                 else f"Merge {self.case_ref} into…")
        picker = CasePicker(self.bridge, title, "Link" if action == "link" else "Merge",
                            exclude=self.case_id, parent=self)
        self.picker = picker
        picker.accepted.connect(lambda: self._picked(action, picker))
        picker.open()

    def _picked(self, action: str, picker: Any) -> None:
        if picker.chosen is None:
            return
        from app.operations import cases as ops

        other_id, other_key = picker.chosen
        if action == "link":
            self.bridge.run(ops.link, case=self.case_ref, other=other_id,
                            kind=str(picker.kind.currentData()), on_error=self._edit_failed)
        else:
            self.bridge.run(ops.merge, source=self.case_ref, target=other_id,
                            on_error=self._edit_failed)

    def split_comment(self, comment_id: str) -> None:
        if not self.detail:
            return
        from app.operations import cases as ops

        def done(result: tuple[str, str, Changes]) -> None:
            self.bridge.sig_message.emit(f"Split into {result[1]}")
            self.sig_split_done.emit(result[0])

        self.bridge.run(ops.split, case=self.case_ref, comment_id=comment_id, on_done=done,
                        on_error=self._edit_failed)

    # --- changes ------------------------------------------------------------------------
    def on_changes(self, changes: Changes) -> None:
        if self.case_id and (self.case_id in changes.case_ids or changes.rebuilt
                             or changes.directory or self.case_id in changes.conflict_case_ids):
            self.reload()

    def focus_reply(self, internal: bool = False) -> None:
        if self.detail:
            self.tabs.setCurrentIndex(0)
            self.composer.set_internal(internal)

"""The conversation of a case: the description and every comment in its own frame (internal
notes in yellow), quoted history and signatures folded under "▸" lines, drawn by a text
browser that never fetches a resource."""

from __future__ import annotations

import html
from functools import partial
from typing import Any

from PySide6.QtCore import QPoint, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFrameFormat,
    QTextLength,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

from app.ui import theme
from app.ui.case_list import relative_time

__all__ = ["Conversation", "SafeBrowser", "conversation_key"]


def conversation_key(detail: dict[str, Any]) -> tuple[Any, ...]:
    """What the conversation shows of ``detail``: equal keys draw the same frames, so a
    reload that changed only fields leaves the document (and its scroll) alone."""
    requester = (detail.get("requester") or {}).get("name")
    comments = tuple((c.get("id"), c.get("body"), bool(c.get("internal")), c.get("created_ms"),
                      c.get("author_name"), c.get("author_kind"), c.get("case_key"))
                     for c in detail.get("comments", []))
    return (detail.get("id"), detail.get("key"), detail.get("description"),
            detail.get("created_ms"), requester, comments)


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
    """The description and comments, each in its own frame; internal notes in yellow.

    A comment's quoted history and signature (``<details>`` sections of imported mail)
    show as collapsed "▸ Quoted history" lines under its text; a click expands one."""

    sig_split = Signal(str)
    """str: comment id the agent wants to split into a new case."""

    sig_paste = Signal()
    """Ctrl+V in the conversation: attach what the clipboard holds (a screenshot…)."""

    sig_section_toggled = Signal(str, bool)
    """(section key, expanded): a folded section was opened or closed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Conversation")
        self.setAccessibleName("Conversation")
        self.rendered: list[dict[str, Any]] = []  # {"id", "internal", "body"} per frame
        self.sections: dict[str, tuple[str, str]] = {}  # "item id:n" -> (summary, text)
        self.expanded: set[str] = set()
        self._detail: dict[str, Any] | None = None
        self.shown_key: tuple[Any, ...] | None = None  # conversation_key of what is drawn

    def show_detail(self, detail: dict[str, Any], *, force: bool = False) -> bool:
        """Draw ``detail``'s conversation unless it is the one already drawn (``force``:
        draw anyway, e.g. an explicit refresh); True when it was drawn."""
        if not force and self.shown_key is not None and \
                conversation_key(detail) == self.shown_key:
            self._detail = detail
            return False
        self.render(detail)
        return True

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

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.matches(QKeySequence.StandardKey.Paste):
            self.sig_paste.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def _clicked(self, url: QUrl) -> None:
        if url.scheme() == "fold":
            self.toggle_section(url.path())
            return
        super()._clicked(url)

    def toggle_section(self, key: str, expanded: bool | None = None) -> None:
        """Open or close the folded section ``key`` ("<item id>:<n>")."""
        if key not in self.sections or self._detail is None:
            return
        want = key not in self.expanded if expanded is None else expanded
        if want == (key in self.expanded):
            return
        if want:
            self.expanded.add(key)
        else:
            self.expanded.discard(key)
        bar = self.verticalScrollBar()
        position = bar.value()
        self.render(self._detail, keep_position=True)
        bar.setValue(position)
        self.sig_section_toggled.emit(key, want)

    def reset(self) -> None:
        """Nothing on screen (a recycled view about to show another case)."""
        self._detail = None
        self.shown_key = None
        self.rendered = []
        self.sections = {}
        self.expanded = set()
        self.setDocument(QTextDocument(self))

    def render(self, detail: dict[str, Any],  # type: ignore[override]
               keep_position: bool = False) -> None:
        t = theme.current()
        if self._detail is None or self._detail.get("id") != detail.get("id"):
            self.expanded = set()
        self._detail = detail
        self.shown_key = conversation_key(detail)
        doc = QTextDocument(self)
        doc.setDocumentMargin(14)
        lock = theme.icon("lock", t.internal_text, 12).pixmap(12, 12).toImage()
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("icon:lock"), lock)
        self.rendered = []
        self.sections = {}
        cursor = QTextCursor(doc)
        requester = (detail.get("requester") or {}).get("name") or "Requester"
        items: list[dict[str, Any]] = []
        if detail.get("description"):
            items.append({"id": "description", "author_name": requester,
                          "author_kind": "customer", "created_ms": detail.get("created_ms"),
                          "body": detail["description"], "internal": False,
                          "folded": detail.get("description_folded")})
        items += detail.get("comments", [])
        if not items:
            cursor.insertHtml(f"<p style='color:{t.muted}'>No conversation yet.</p>")
        for item in items:
            self._frame(doc, cursor, item, detail.get("key"), t)
            cursor.setPosition(doc.rootFrame().lastPosition())
        self.setDocument(doc)
        if not keep_position:
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
        folded = item.get("folded")
        if folded is None:
            from app.operations.intake import fold_sections

            folded = fold_sections(body)
        main, sections = folded
        cursor.insertMarkdown(main, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
        for n, (summary, text) in enumerate(sections):
            key = f"{item.get('id')}:{n}"
            self.sections[key] = (summary, text)
            self._section(cursor, key, summary, text, t)
        self.rendered.append({"id": item.get("id"), "internal": internal, "body": body,
                              "background": fmt.background().color().name(),
                              "sections": [f"{item.get('id')}:{n}"
                                           for n in range(len(sections))]})

    def _section(self, cursor: QTextCursor, key: str, summary: str, text: str,
                 t: theme.Theme) -> None:
        """One folded section: a "▸ summary" link line, and its text when expanded."""
        is_open = key in self.expanded
        block = QTextBlockFormat()
        block.setTopMargin(8)
        cursor.insertBlock(block, QTextCharFormat())
        arrow = "▾" if is_open else "▸"
        hint = "hide" if is_open else "show"
        cursor.insertHtml(
            f"<a href='fold:{html.escape(key)}' style='color:{t.muted}; "
            f"text-decoration:none; font-size:9pt'>{arrow}&nbsp;{html.escape(summary)}"
            f"&nbsp;&nbsp;<span style='color:{t.accent}'>{hint}</span></a>")
        if not is_open:
            return
        fmt = QTextFrameFormat()
        fmt.setPadding(8)
        fmt.setLeftMargin(4)
        fmt.setTopMargin(4)
        fmt.setBorder(0)
        fmt.setBackground(QColor(t.window))
        fmt.setWidth(QTextLength(QTextLength.Type.PercentageLength, 100))
        inner = cursor.insertFrame(fmt)
        char = QTextCharFormat()
        char.setForeground(QColor(t.muted))
        small = QFont()
        small.setPointSizeF(9)
        char.setFont(small)
        cursor.insertText(text, char)
        cursor.setPosition(inner.lastPosition() + 1)

"""One case: editable header (with its SLA badge, "Ask the LLM…" and "Macros…"), the
attachments bar, the conversation (quoted history and signatures folded), the composer
(saved replies with ``::``), the history, the error signatures and related cases.

Everything is read on the bridge's reader threads and written through operations on its
writer thread; the widgets mounted here (attachments bar, signatures panel, LLM and macro
dialogs) follow the same rule.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QSignalBlocker, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QFont,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QShortcut,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFrameFormat,
    QTextLength,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
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
from shiboken6 import isValid

from app.core.changes import Changes
from app.core.model import CaseType, Priority, Status
from app.core.sla import SlaConfig, SlaStatus, TargetStatus, format_duration
from app.ui import theme
from app.ui.attachments_bar import AttachmentsBar
from app.ui.bridge import Bridge, describe
from app.ui.case_list import full_time, relative_time
from app.ui.composer import Composer, ComposerEdit, mention_prefix, reply_prefix
from app.ui.signatures_panel import SignaturesPanel
from app.ui.widgets import DuePicker, ElidedLabel, TagChips, plain_label, plain_tip

__all__ = ["CaseDetail", "Composer", "ComposerEdit", "Conversation", "load_case_bundle",
           "mention_prefix", "reply_prefix", "sla_badge"]

UNASSIGNED = ""
TAB_CONVERSATION, TAB_HISTORY, TAB_SIGNATURES = 0, 1, 2
SLA_REFRESH_MS = 60_000
COMPACT_BELOW = 640  # px: narrower than this, the header buttons show their icon only


def now_ms() -> int:
    return int(time.time() * 1000)


def sla_config(store: Any) -> SlaConfig:
    """Worker thread: the SLA configuration of the store's analytics read model."""
    from app.ui.macro_dialog import shared_model

    return shared_model(store).config


def case_sla(conn: Any, case_id: str, config: SlaConfig, at_ms: int,
             history: list[dict[str, Any]] | None = None) -> SlaStatus:
    """Reader thread: the SLA clocks of one case at ``at_ms``, from its events."""
    from app.core import events as ev
    from app.core.sla import sla_status
    from app.store import queries as q

    rows = history if history is not None else q.case_history(conn, case_id)
    events = [ev.Event(id=h["id"], type=h["type"], payload=h["payload"], actor=h["actor"],
                       device_id="", hlc=h["hlc"], case_id=case_id) for h in rows]
    return sla_status(events, config, at_ms)


def load_case_bundle(conn: Any, case_id: str, *, sla: SlaConfig | None = None,
                     at_ms: int | None = None) -> dict[str, Any] | None:
    """Reader thread: the case, its history and the agents for the assignee picker; the
    comment bodies split into main text and folded sections; the SLA status when ``sla``
    (the configuration) is given."""
    from app.operations.intake import fold_sections
    from app.store import queries as q

    detail = q.case_detail(conn, case_id)
    if detail is None:
        return None
    from app.store.conflicts import open_conflicts

    detail["history"] = q.case_history(conn, case_id)
    if detail.get("description"):
        detail["description_folded"] = fold_sections(str(detail["description"]))
    for comment in detail.get("comments", []):
        comment["folded"] = fold_sections(str(comment.get("body") or ""))
    if sla is not None:
        detail["sla"] = case_sla(conn, case_id, sla, at_ms or now_ms(), detail["history"])
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
    from app.operations.sync_health import refused_in_case

    detail["refused"] = refused_in_case(conn, case_id)
    return detail


# --- the SLA badge ------------------------------------------------------------------------
# (light bg, light fg, dark bg, dark fg) per badge state
SLA_COLORS: dict[str, tuple[str, str, str, str]] = {
    "ok": ("#e0ecff", "#1c4fd6", "#1f3366", "#a9c4ff"),
    "at_risk": ("#fff0d4", "#a35200", "#4a3412", "#ffc978"),
    "breached": ("#fde2e1", "#b42318", "#4a1f22", "#ffb4b4"),
    "met": ("#dcf5e6", "#18794e", "#173f2c", "#8fe0b5"),
    "paused": ("#eceef1", "#4b5563", "#2a2d35", "#c3c8d2"),
    "error": ("#eceef1", "#4b5563", "#2a2d35", "#c3c8d2"),
}
SLA_ICONS = {"ok": "clock", "at_risk": "alert", "breached": "alert", "met": "check",
             "paused": "pause", "error": "alert"}


def _when(ms: int | None) -> str:
    if not ms:
        return "—"
    return datetime.fromtimestamp(ms / 1000).strftime("%a %d %b %H:%M")


def _target_line(t: TargetStatus) -> str:
    target = format_duration(t.target_ms)
    if t.stopped_ms is not None:
        verdict = "met" if t.state == "met" else "breached"
        return f"{t.label}: {verdict} ({_when(t.stopped_ms)}) · target {target}"
    if t.is_paused:
        left = f"{format_duration(max(t.left_ms, 0))} left" if t.left_ms >= 0 else \
            f"{format_duration(-t.left_ms)} over"
        return f"{t.label}: paused · {left} of {target}"
    if t.state == "breached":
        return (f"{t.label}: breached · {format_duration(-t.left_ms)} over {target} "
                f"(deadline {_when(t.deadline_ms)})")
    state = "at risk" if t.state == "at_risk" else "on track"
    return (f"{t.label}: {state} · {format_duration(t.left_ms)} left of {target} "
            f"(deadline {_when(t.deadline_ms)})")


def sla_badge(status: SlaStatus | None) -> tuple[str, str, str] | None:
    """``(state, text, tooltip)`` for the SLA badge of a case (None: no SLA policy).

    The badge names the next deadline of a target still running (breached first, then
    the earliest deadline); a paused clock shows the time left; when every target has
    stopped it says whether the SLA was met. The tooltip is the audit trail: each target
    with its deadline and every pause ("paused 2h10m while pending")."""
    if status is None or not status.targets:
        return None
    running = [t for t in status.targets if t.stopped_ms is None and not t.is_paused]
    paused = [t for t in status.targets if t.stopped_ms is None and t.is_paused]
    breached = [t for t in running if t.state == "breached"]
    if breached:
        t = min(breached, key=lambda x: x.left_ms)
        state, text = "breached", f"Breached · {t.label.lower()} {format_duration(-t.left_ms)} over"
    elif running:
        t = min(running, key=lambda x: x.deadline_ms or 0)
        left = format_duration(max(t.left_ms, 0))
        if t.state == "at_risk":
            state, text = "at_risk", f"At risk · {t.label.lower()} in {left}"
        else:
            state, text = "ok", f"{t.label} in {left}"
    elif paused:
        t = min(paused, key=lambda x: x.left_ms)
        state = "paused"
        text = (f"Paused · {t.label.lower()} {format_duration(t.left_ms)} left" if t.left_ms >= 0
                else f"Paused · {t.label.lower()} {format_duration(-t.left_ms)} over")
    elif any(t.state == "breached" for t in status.targets):
        state, text = "breached", "SLA missed"
    else:
        state, text = "met", "SLA met"
    lines = [f"SLA policy {status.policy} · {status.calendar} hours"]
    for t in status.targets:
        lines.append(_target_line(t))
        lines += [f"    {p}" for p in t.paused]
    return state, text, "\n".join(lines)


class SlaBadge(QFrame):
    """The case's SLA as a coloured pill: next deadline, at risk, breached, met, paused;
    the tooltip is the audit trail."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SlaBadge")
        self.setAccessibleName("SLA")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.state: str | None = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(7, 2, 9, 2)
        lay.setSpacing(4)
        self.icon = QLabel()
        self.label = plain_label()
        self.label.setObjectName("SlaText")
        lay.addWidget(self.icon)
        lay.addWidget(self.label)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def show_status(self, status: SlaStatus | None, error: str | None = None) -> None:
        badge = ("error", "SLA ?", f"The SLA cannot be computed: {error}") if error \
            else sla_badge(status)
        if badge is None:
            self.state = None
            self.label.setText("")
            self.setToolTip("")
            self.hide()
            return
        state, text, tip = badge
        self.state = state
        t = theme.current()
        lbg, lfg, dbg, dfg = SLA_COLORS[state]
        bg, fg = (dbg, dfg) if t.dark else (lbg, lfg)
        self.setStyleSheet(f"#SlaBadge {{ background: {bg}; border: 1px solid {bg}; "
                           "border-radius: 9px; } "
                           f"#SlaText {{ color: {fg}; font-size: 9pt; font-weight: 600; }}")
        self.icon.setPixmap(theme.icon(SLA_ICONS[state], fg, 12).pixmap(12, 12))
        self.label.setText(text)
        self.setToolTip(plain_tip(tip))  # may carry an error's words
        self.show()


FIELD_NAMES = {"assignee_id": "the assignee", "due_at": "the due date",
               "requester_id": "the requester", "team_id": "the team"}


def conflict_text(c: dict[str, Any]) -> str:
    """"Ben changed priority to Urgent while you set it to Low"."""
    field = FIELD_NAMES.get(str(c["field"]), str(c["field"]).replace("_", " "))

    def nice(v: str) -> str:
        return v.replace("-", " ").capitalize() if v.islower() and " " not in v else v

    return (f"{c['remote_name']} changed {field} to {nice(c['remote_text'])} "
            f"while you set it to {nice(c['local_text'])}")


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


def _label(text: str) -> QLabel:
    lab = QLabel(text.upper())
    lab.setObjectName("FieldLabel")
    return lab


class CaseDetail(QWidget):
    """The selected case. Loads on a reader thread; every edit is an operation.

    Files dropped anywhere on it are attached (the attachments bar shows them), Ctrl+V in
    the conversation attaches a screenshot, Ctrl+Shift+L opens "Ask the LLM…"."""

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
        self.clock: Callable[[], int] = now_ms
        """The time the SLA badge is computed for (tests pin it)."""
        self.llm_dialog: Any = None
        self.macro_dialog: Any = None
        self._compact = False
        self._meta_texts = ("", "")
        self._build()
        self.setAcceptDrops(True)
        self.sla_timer = QTimer(self)
        self.sla_timer.setInterval(SLA_REFRESH_MS)
        self.sla_timer.timeout.connect(self.refresh_sla)
        self.llm_shortcut = QShortcut(QKeySequence("Ctrl+Shift+L"), self)
        self.llm_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.llm_shortcut.activated.connect(self.open_llm)
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
        self.key_label = plain_label()
        self.key_label.setObjectName("CaseKey")
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.key_label)
        top.addSpacing(4)
        self.sla_badge = SlaBadge()
        top.addWidget(self.sla_badge)
        self.merged_label = QLabel()
        self.merged_label.setTextFormat(Qt.TextFormat.RichText)  # links; keys are escaped
        self.merged_label.setObjectName("Meta")
        self.merged_label.linkActivated.connect(self._link)
        top.addWidget(self.merged_label)
        # Elided at its end when the header is tight ("Updated 1 mi…", not "min ago").
        self.meta_label = ElidedLabel(mode=Qt.TextElideMode.ElideRight)
        self.meta_label.setObjectName("Meta")
        self.meta_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.meta_label, 1)
        self.viewers_box = QHBoxLayout()
        self.viewers_box.setSpacing(4)
        top.addLayout(self.viewers_box)
        self.viewer_chips: list[QLabel] = []
        self.llm_button = QPushButton()
        self.llm_button.setObjectName("HeaderAction")
        self.llm_button.setText("Ask the LLM…")
        self.llm_button.setIcon(theme.icon("star", theme.current().accent, 14))
        self.llm_button.setToolTip("Build a redacted prompt for your assistant and bring its "
                                   "answer back (Ctrl+Shift+L)")
        self.llm_button.clicked.connect(lambda: self.open_llm())
        self.macro_button = QPushButton()
        self.macro_button.setObjectName("HeaderAction")
        self.macro_button.setText("Macros…")
        self.macro_button.setIcon(theme.icon("layers", size=14))
        self.macro_button.setToolTip("Preview and apply a macro to this case")
        self.macro_button.clicked.connect(self.open_macros)
        t = theme.current()
        for button in (self.llm_button, self.macro_button):
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setStyleSheet(
                f"QPushButton#HeaderAction {{ border: 1px solid {t.border}; border-radius: 6px; "
                f"padding: 3px 9px; background: {t.surface}; color: {t.text}; }} "
                f"QPushButton#HeaderAction:hover {{ background: {t.hover}; "
                f"border: 1px solid {t.accent}; }}")
            button.setAutoDefault(False)
            top.addWidget(button)
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
        self.case_menu.addAction("Ask the LLM…", lambda: self.open_llm())
        self.case_menu.addAction("Apply a macro…", self.open_macros)
        self.case_menu.addAction("Attach files…", self._choose_files)
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
        self.requester_label.setTextFormat(Qt.TextFormat.RichText)  # the name bold; all escaped
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
        # This device's changes the server refused (set aside, not sent): the server's reason.
        self.refused_label = plain_label()
        self.refused_label.setObjectName("RefusedNotice")
        self.refused_label.setWordWrap(True)
        self.refused_label.setContentsMargins(16, 4, 12, 4)
        self.refused_label.hide()
        lay.addWidget(self.refused_label)

        self.attachments = AttachmentsBar(self.bridge)
        self.attachments.sig_error.connect(self.bridge.sig_message.emit)
        holder = QWidget()
        al = QVBoxLayout(holder)
        al.setContentsMargins(16, 2, 16, 8)
        al.addWidget(self.attachments)
        lay.addWidget(holder)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.conversation = Conversation()
        self.conversation.sig_case_link.connect(self._link)
        self.conversation.sig_split.connect(self.split_comment)
        self.conversation.sig_paste.connect(self.paste)
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
        self.signatures = SignaturesPanel(self.bridge)
        self.signatures.setAccessibleName("Error signatures and related cases")
        self.signatures.sig_loaded.connect(self._signatures_loaded)
        self.signatures.sig_open_case.connect(self.open_case_key)
        self.tabs.addTab(self.signatures, "Signatures")
        lay.addWidget(self.tabs, 1)
        self.composer = Composer(bridge=self.bridge)
        self.composer.sig_send.connect(self._send)
        self.composer.editor.sig_attach_mime.connect(self.attach_mime)
        lay.addWidget(self.composer)

    def _combo(self, name: str, items: list[tuple[str, str]]) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        for value, text in items:
            combo.addItem(text, value)
        return combo

    # --- loading ------------------------------------------------------------------------
    def load(self, case_id: str | None) -> None:
        """Show ``case_id`` (None: the empty state). The query runs on a reader thread;
        the attachments bar and the signatures panel load theirs alongside."""
        self._load(case_id)
        self.attachments.set_case(case_id)
        self.signatures.set_case(case_id)

    def _load(self, case_id: str | None) -> None:
        """(Re)load the case itself (header, conversation, history, SLA)."""
        self._generation += 1
        generation = self._generation
        if case_id != self.case_id:
            self.detail = None
            self.composer.set_case(None)
        self.case_id = case_id
        if case_id is None:
            self.loading = False
            self.sla_timer.stop()
            self.stack.setCurrentIndex(0)
            return
        self.loading = True
        store, at_ms = self.bridge.store, self.clock()

        def job() -> dict[str, Any] | None:
            config, error = None, None
            try:
                config = sla_config(store)
            except (OSError, ValueError) as exc:  # a broken sla.json: say so on the badge
                error = str(exc)
            detail = store.read(lambda conn: load_case_bundle(conn, case_id, sla=config,
                                                              at_ms=at_ms))
            if detail is not None and error:
                detail["sla_error"] = error
            return detail

        self.bridge.read(job, on_done=lambda d: self._loaded(generation, case_id, d),
                         on_error=lambda e: self._failed(generation, e))

    def reload(self) -> None:
        if self.case_id:
            self.load(self.case_id)

    def recycle(self) -> None:
        """Forget the case: back to the empty state, ready to show another one. A tab
        reuses a parked tab's view this way, since building one costs ~25 ms."""
        for name in ("llm_dialog", "macro_dialog"):
            dialog = getattr(self, name)
            if dialog is not None and isValid(dialog):
                dialog.close()
            setattr(self, name, None)
        if self.case_id:
            self.set_viewers(self.case_id, [])
        self.load(None)
        self.conversation.reset()
        self.history.clear()
        self._fill_conflicts([])
        self._fill_refused([])
        self.tabs.setCurrentIndex(TAB_CONVERSATION)
        self.composer.editor.clear()
        self.composer.reply_button.setChecked(True)  # not set_internal: that takes focus
        self.composer.set_case(None)
        for edit in (self.subject_edit, self.product_edit):
            edit.clear()
            edit.setModified(False)

    def refresh_sla(self) -> None:
        """Recompute the SLA badge for the current time (a reader-thread query)."""
        case_id = self.case_id
        if not case_id or self.detail is None or not self.isVisible():
            return
        store, at_ms = self.bridge.store, self.clock()
        self.bridge.read(
            lambda: store.read(lambda conn: case_sla(conn, case_id, sla_config(store), at_ms)),
            on_done=lambda st: self._sla_done(case_id, st, None),
            on_error=lambda e: self._sla_done(case_id, None, describe(e)))

    def _sla_done(self, case_id: str, status: SlaStatus | None, error: str | None) -> None:
        if isValid(self) and case_id == self.case_id:
            self.sla_badge.show_status(status, error)

    def _failed(self, generation: int, exc: Exception) -> None:
        if not isValid(self):  # closed (a tab) while the query ran
            return
        if generation == self._generation:
            self.loading = False
        from app.ui.bridge import describe

        self.bridge.sig_error.emit(describe(exc))

    def _loaded(self, generation: int, case_id: str, detail: dict[str, Any] | None) -> None:
        if not isValid(self) or generation != self._generation:
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
        if not self.sla_timer.isActive():
            self.sla_timer.start()
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
        # Narrow (beside the list, whose Updated column says it): no room, no meta line.
        self._meta_texts = (f"Created {created} · Updated {updated}", "")
        self._show_meta()
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
            self.product_edit.setCursorPosition(0)  # show the start of a long name
            self.product_edit.setModified(False)
        if not self.due_picker.edit.hasFocus():
            self.due_picker.set_value(d.get("due_at"))
        self.tags_chips.set_tags(list(d.get("tags", [])))
        self.composer.editor.set_agents([name for _i, name in d.get("agents", [])])
        self.composer.set_case(str(d["key"]))
        self.sla_badge.show_status(d.get("sla"), d.get("sla_error"))
        self._fill_conflicts(d.get("conflicts", []))
        self._fill_refused(d.get("refused", []))
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
            item.setToolTip(2, plain_tip(str(h["summary"])))
            item.setToolTip(1, plain_tip(str(h["actor"])))
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
    def _fill_refused(self, rows: list[dict[str, Any]]) -> None:
        from app.operations.sync_health import refused_notice

        self.refused_label.setText(refused_notice(rows))
        self.refused_label.setVisible(bool(rows))

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
            label = plain_label(conflict_text(c) + " —")  # quotes the values typed
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
            chip = plain_label(f"{(name.split() or ['Someone'])[0]} is viewing")
            chip.setObjectName("ViewerChip")
            chip.setToolTip(plain_tip(f"{name} ({v.get('email', '')}) has this case open"))
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
        # The attachments bar and the signatures panel follow the changes themselves.
        if self.case_id and (self.case_id in changes.case_ids or changes.rebuilt
                             or changes.directory or self.case_id in changes.conflict_case_ids):
            self._load(self.case_id)

    # --- layout that follows the width -------------------------------------------------
    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._compact_header(self.width() < COMPACT_BELOW)

    def _compact_header(self, compact: bool) -> None:
        """Icon-only header buttons and a shorter meta line in a narrow pane (the split
        view), text otherwise."""
        self._compact = compact
        self._show_meta()
        for button, text in ((self.llm_button, "Ask the LLM…"), (self.macro_button, "Macros…")):
            want = "" if compact else text
            if button.text() != want:
                button.setText(want)

    def _show_meta(self) -> None:
        self.meta_label.set_full_text(self._meta_texts[int(self._compact)])
        if self.detail:  # the tooltip has both full times (set_full_text put the short text)
            d = self.detail
            self.meta_label.setToolTip(f"Created {full_time(d.get('created_ms'))}\n"
                                       f"Updated {full_time(d.get('updated_ms'))}")

    # --- attachments: drop anywhere, paste in the conversation --------------------------
    def attach_mime(self, mime: QMimeData) -> bool:
        """Attach the files, image or text of a drop or paste to this case."""
        if not self.case_id:
            return False
        return self.attachments.attach_mime(mime)

    def _choose_files(self) -> None:
        if self.case_id:
            self.attachments.choose_files()

    def paste(self) -> None:
        """Ctrl+V in the conversation: attach the clipboard's screenshot or files. Text is
        left alone (it is more likely copied from the conversation than a log): the
        attachments bar's Paste button attaches it on purpose."""
        if not self.case_id:
            return
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and (mime.hasImage() or any(u.isLocalFile() for u in mime.urls())):
            self.attachments.attach_mime(mime)
        else:
            self.attachments._fail("Ctrl+V here attaches a screenshot or copied files; the "
                                   "clipboard holds neither (Paste on this bar attaches text "
                                   "as a log).")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        mime = event.mimeData()
        if self.case_id and (mime.hasUrls() or mime.hasImage()):
            event.acceptProposedAction()
            self.attachments._style(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self.attachments._style(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.attachments._style(False)
        if self.attach_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # --- signatures -----------------------------------------------------------------
    def _signatures_loaded(self, signatures: int, _related: int) -> None:
        self.tabs.setTabText(TAB_SIGNATURES, f"Signatures ({signatures})" if signatures
                             else "Signatures")

    def open_case_key(self, key: str) -> None:
        """Open the case with ``key`` (resolved on a reader thread) through sig_open_case."""
        from app.store import queries as q

        def found(case_id: str | None) -> None:
            if not isValid(self):
                return
            if case_id:
                self.sig_open_case.emit(case_id)
            else:
                self.bridge.sig_error.emit(f"No case {key}")

        self.bridge.query(q.resolve_case, key, on_done=found,
                          on_error=lambda e: self.bridge.sig_error.emit(describe(e)))

    # --- the LLM and macros -----------------------------------------------------------
    def open_llm(self, template: str | None = None) -> Any:
        """The "Ask the LLM…" dialog for this case; an accepted reply lands in the
        composer (Reply mode), accepted field changes come back as Changes."""
        if not self.detail:
            return None
        from app.ui.llm_dialog import LlmDialog

        if self.llm_dialog is not None:
            self.llm_dialog.close()
        dialog = LlmDialog(self.bridge, self.case_ref, self, template=template)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.sig_composer_text.connect(self.composer_text)
        dialog.destroyed.connect(lambda *_: self._forget("llm_dialog", dialog))
        self.llm_dialog = dialog
        dialog.open()
        return dialog

    def composer_text(self, text: str) -> None:
        """Put an accepted draft into the composer, in Reply mode (nothing is sent)."""
        self.tabs.setCurrentIndex(TAB_CONVERSATION)
        self.composer.add_text(text, internal=False)

    def open_macros(self) -> None:
        """The macro dialog for this case (the read model is opened on a reader thread);
        it applies through the bridge, so the case refreshes like after any edit."""
        if not self.detail:
            return
        from app.ui.macro_dialog import shared_model

        key, store = self.case_ref, self.bridge.store
        self.bridge.read(shared_model, store,
                         on_done=lambda model: self._show_macros(model, key),
                         on_error=lambda e: self.bridge.sig_error.emit(describe(e)))

    def _show_macros(self, model: Any, key: str) -> None:
        if not isValid(self) or not self.detail or key != self.case_ref:
            return
        from app.ui.macro_dialog import MacroDialog

        if self.macro_dialog is not None:
            self.macro_dialog.close()
        dialog = MacroDialog(self.bridge.store, model, [key], self, bridge=self.bridge)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.destroyed.connect(lambda *_: self._forget("macro_dialog", dialog))
        self.macro_dialog = dialog
        dialog.open()

    def _forget(self, name: str, dialog: Any) -> None:
        if getattr(self, name, None) is dialog:
            setattr(self, name, None)

    def focus_reply(self, internal: bool = False) -> None:
        if self.detail:
            self.tabs.setCurrentIndex(0)
            self.composer.set_internal(internal)

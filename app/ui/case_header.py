"""The top of the case view: key, SLA badge, merged-into/from links, created/updated line,
"… is viewing" chips, "Ask the LLM…", "Macros…" and the actions menu; the editable
subject and the requester line.

It runs nothing itself: edits and actions leave as signals the case view turns into
operations.
"""

from __future__ import annotations

import html
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme
from app.ui.case_list import full_time, relative_time
from app.ui.sla_badge import SlaBadge
from app.ui.widgets import ElidedLabel, plain_label, plain_tip

__all__ = ["ACTIONS", "CaseHeader"]

ACTIONS = ("link", "merge", "llm", "macros", "attach", "open_tab")


class CaseHeader(QWidget):
    """Key, badge, meta line, viewers, header buttons, subject and requester of one case."""

    sig_subject = Signal(str)
    """str: the subject the agent typed (editing finished, different from the stored one)."""

    sig_link = Signal(str)
    """str: the id of a merged case whose link the agent clicked."""

    sig_action = Signal(str)
    """str: one of ACTIONS, from a header button or the actions menu."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.detail: dict[str, Any] | None = None
        self.sent_subject: str | None = None  # emitted since the last fill
        self.compact = False
        self.meta_texts = ("", "")
        hl = QVBoxLayout(self)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.setSpacing(2)
        hl.addLayout(self._top_row())
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

    def _top_row(self) -> QHBoxLayout:
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
        self.merged_label.linkActivated.connect(self.sig_link.emit)
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
        self.llm_button.setText("Ask the LLM…")
        self.llm_button.setIcon(theme.icon("star", theme.current().accent, 14))
        self.llm_button.setToolTip("Build a redacted prompt for your assistant and bring its "
                                   "answer back (Ctrl+Shift+L)")
        self.llm_button.clicked.connect(lambda: self.sig_action.emit("llm"))
        self.macro_button = QPushButton()
        self.macro_button.setText("Macros…")
        self.macro_button.setIcon(theme.icon("layers", size=14))
        self.macro_button.setToolTip("Preview and apply a macro to this case")
        self.macro_button.clicked.connect(lambda: self.sig_action.emit("macros"))
        t = theme.current()
        for button in (self.llm_button, self.macro_button):
            button.setObjectName("HeaderAction")
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
        for text, action in (("Link to…", "link"), ("Merge into…", "merge"), (None, None),
                             ("Ask the LLM…", "llm"), ("Apply a macro…", "macros"),
                             ("Attach files…", "attach"), (None, None),
                             ("Open in a tab", "open_tab")):
            if text is None:
                self.case_menu.addSeparator()
            else:
                self.case_menu.addAction(text, partial(self.sig_action.emit, action))
        self.menu_button.setMenu(self.case_menu)
        top.addWidget(self.menu_button)
        return top

    # --- showing a case -----------------------------------------------------------------
    def fill(self, d: dict[str, Any]) -> None:
        """Show case ``d`` (a case bundle, or its fields after an edit)."""
        self.detail = d
        self.sent_subject = None
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
        self.meta_texts = (f"Created {created} · Updated {updated}", "")
        self.show_meta()
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
        if req.get("phone"):
            parts.append(html.escape(str(req["phone"])))
        team = (d.get("team") or {}).get("name")
        if team:
            parts.append(f"team {html.escape(str(team))}")
        self.requester_label.setText(" · ".join(parts))

    def set_compact(self, compact: bool) -> None:
        """Icon-only header buttons and no meta line in a narrow pane (the split view)."""
        self.compact = compact
        self.show_meta()
        for button, text in ((self.llm_button, "Ask the LLM…"), (self.macro_button, "Macros…")):
            want = "" if compact else text
            if button.text() != want:
                button.setText(want)

    def show_meta(self) -> None:
        self.meta_label.set_full_text(self.meta_texts[int(self.compact)])
        if self.detail:  # the tooltip has both full times (set_full_text put the short text)
            d = self.detail
            self.meta_label.setToolTip(f"Created {full_time(d.get('created_ms'))}\n"
                                       f"Updated {full_time(d.get('updated_ms'))}")

    def set_viewers(self, viewers: list[dict[str, Any]]) -> None:
        """"Ben is viewing" chips (at most four)."""
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

    def reset(self) -> None:
        """Nothing typed kept (a recycled view about to show another case)."""
        self.detail = None
        self.subject_edit.clear()
        self.subject_edit.setModified(False)

    def discard_typing(self) -> None:
        """An edit failed: the next fill shows the stored subject again."""
        self.subject_edit.setModified(False)

    def _subject_done(self) -> None:
        if not self.detail or not self.subject_edit.isModified():
            return
        self.subject_edit.setModified(False)
        text = self.subject_edit.text()
        current = self.detail["subject"] if self.sent_subject is None else self.sent_subject
        if text.strip() == str(current).strip():
            return
        self.sent_subject = text
        self.sig_subject.emit(text)

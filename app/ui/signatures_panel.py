"""Error signatures of a case (from its attached logs and pasted text) and the other cases
that show the same ones, with Link and Merge buttons.

A signature expands to the lines around its first occurrence, read from the blob."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.core.changes import Changes
from app.operations import cases as case_ops
from app.operations.case_queries import load_panel, signature_context
from app.ui import theme
from app.ui.bridge import Bridge, describe
from app.ui.widgets import plain_box, plain_label, plain_tip

CONTEXT_RADIUS = 5
_LOADING = "loading"
KIND_LABELS = {"python": "Python", "java": "Java", "javascript": "JavaScript", "dotnet": ".NET",
               "exception": "Exception", "http": "HTTP", "error_code": "Error code"}


def _ask(question: str) -> bool:
    box = plain_box(QMessageBox.Icon.Question, "Merge cases", question,
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                    QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Yes


class RelatedRow(QFrame):
    """One related case: key, subject, status, product, what it shares; Link, Merge."""

    def __init__(self, case: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.case = case
        t = theme.current()
        self.setObjectName("RelatedRow")
        self.setStyleSheet(f"#RelatedRow {{ background: {t.surface}; border: 1px solid "
                           f"{t.border}; border-radius: 8px; }}")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 8, 6)
        lay.setSpacing(10)
        text = QVBoxLayout()
        text.setSpacing(1)
        top = QHBoxLayout()
        top.setSpacing(8)
        # Rich text for the link; the key is escaped (a provisional key is the device's).
        key = html.escape(str(case["key"]))
        self.key_label = QLabel(f'<a href="case:{key}" style="color:{t.accent}; '
                                f'text-decoration:none; font-weight:700">{key}</a>')
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        top.addWidget(self.key_label)
        bg, fg = theme.status_colors(str(case["status"]))
        pill = plain_label(str(case["status"]))
        pill.setObjectName("Pill")
        pill.setStyleSheet(f"background: {bg.name()}; color: {fg.name()};")
        top.addWidget(pill)
        if case.get("product"):
            product = plain_label(str(case["product"]))
            product.setObjectName("Meta")
            top.addWidget(product)
        top.addStretch(1)
        text.addLayout(top)
        self.subject = subject = plain_label()
        subject.setText(subject.fontMetrics().elidedText(str(case["subject"]),
                                                         Qt.TextElideMode.ElideRight, 420))
        subject.setToolTip(plain_tip(str(case["subject"])))
        text.addWidget(subject)
        self.shared = shared = plain_label("Shares " + ", ".join(case["shared"][:4])
                        + (f" and {len(case['shared']) - 4} more" if len(case["shared"]) > 4
                           else ""))
        shared.setObjectName("Meta")
        shared.setStyleSheet("font-size: 8pt;")
        text.addWidget(shared)
        lay.addLayout(text, 1)
        self.link_button = QPushButton("Linked" if case["linked"] else "Link")
        self.link_button.setEnabled(not case["linked"])
        self.link_button.setToolTip(plain_tip(f"Link {case['key']} to this case as related"))
        lay.addWidget(self.link_button)
        self.merge_button = QPushButton("Merge…")
        self.merge_button.setToolTip(plain_tip(f"Merge {case['key']} into this case"))
        lay.addWidget(self.merge_button)


class SignaturesPanel(QWidget):
    """Signatures summary and related cases for one case."""

    sig_open_case = Signal(str)
    """str: the key of a related case the agent clicked."""

    sig_loaded = Signal(int, int)
    """(int, int): signatures and related cases shown after a (re)load."""

    sig_context_loaded = Signal(str)
    """str: the signature key whose context lines were just filled in."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None, *,
                 confirm: Callable[[str], bool] | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.confirm = confirm or _ask
        self.case_id: str | None = None
        self.case_key: str | None = None
        self.data: dict[str, Any] = {}
        self.rows: list[RelatedRow] = []
        self._stale = False
        self.data_dir = Path(bridge.store.path).parent
        t = theme.current()
        self.setObjectName("SignaturesPanel")

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        root.addWidget(split)
        split.addWidget(self._build_signatures(t))
        split.addWidget(self._build_related(t))
        split.setSizes([330, 300])

        bridge.sig_changes_applied.connect(self._on_changes)
        self._show({"key": None, "signatures": [], "groups": [], "related": []})

    def _build_signatures(self, t: theme.Theme) -> QWidget:
        """The top half: the title, the summary and the signatures tree."""
        top = QWidget()
        tv = QVBoxLayout(top)
        tv.setContentsMargins(12, 10, 12, 6)
        tv.setSpacing(6)
        head = QHBoxLayout()
        self.title = QLabel("ERROR SIGNATURES")
        self.title.setObjectName("FieldLabel")
        head.addWidget(self.title)
        head.addStretch(1)
        self.summary = plain_label()
        self.summary.setObjectName("Meta")
        head.addWidget(self.summary)
        tv.addLayout(head)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Signature", "Count", "Lines", "File"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(False)
        self.tree.setStyleSheet(f"QTreeWidget {{ background: {t.surface}; border: 1px solid "
                                f"{t.border}; border-radius: 6px; }} QTreeWidget::item "
                                "{ padding: 3px 2px; }")
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemExpanded.connect(self._expanded)
        tv.addWidget(self.tree, 1)
        self.empty = QLabel("No error signatures yet: attach a log, a HAR file or paste log "
                            "text to find stack traces, HTTP errors and error codes.")
        self.empty.setObjectName("Meta")
        self.empty.setWordWrap(True)
        tv.addWidget(self.empty)
        return top

    def _build_related(self, t: theme.Theme) -> QWidget:
        """The bottom half: the related cases (and the load error)."""
        bottom = QWidget()
        bv = QVBoxLayout(bottom)
        bv.setContentsMargins(12, 6, 12, 10)
        bv.setSpacing(6)
        self.related_title = QLabel("RELATED CASES")
        self.related_title.setObjectName("FieldLabel")
        bv.addWidget(self.related_title)
        self.headline = plain_label()  # the shared signatures' titles, from files
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet(f"color: {t.text}; font-weight: 600;")
        bv.addWidget(self.headline)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        self.related_layout = QVBoxLayout(holder)
        self.related_layout.setContentsMargins(0, 0, 0, 0)
        self.related_layout.setSpacing(6)
        scroll.setWidget(holder)
        bv.addWidget(scroll, 1)
        self.error = plain_label()
        self.error.setObjectName("ErrorLabel")
        self.error.setWordWrap(True)
        self.error.hide()
        bv.addWidget(self.error)
        return bottom

    # --- data ---------------------------------------------------------------------------
    def set_case(self, case_id: str | None) -> None:
        self.case_id = case_id
        self.error.hide()
        if case_id is None:
            self._show({"key": None, "signatures": [], "groups": [], "related": []})
            return
        self.refresh()

    def refresh(self) -> None:
        case_id = self.case_id
        self._stale = False
        if case_id is None:
            return
        self.bridge.query(load_panel, case_id,
                          on_done=lambda d: self._show(d) if case_id == self.case_id else None,
                          on_error=self._fail)

    def _on_changes(self, changes: Changes) -> None:
        if not self.case_id or changes.made_by(self) or not self.shows_changed(changes):
            return
        # Its own case's count shows on the tab even while hidden: refresh that now.
        if changes.rebuilt or self.case_id in changes.case_ids or self.isVisible():
            self.refresh()
        else:
            self._stale = True  # another case changed: refresh when shown

    def shows_changed(self, changes: Changes) -> bool:
        """Whether ``changes`` may alter what the panel shows: signatures come from
        comments and attachments (of any case: another may now share one), related rows
        show other cases' key, subject, status and product, and link or merge state."""
        if changes.rebuilt or changes.membership or changes.comment_case_ids:
            return True
        if changes.fields & {"attachments", "links", "key"}:
            return bool(changes.case_ids)
        shown = {str(r.get("id")) for r in self.data.get("related", [])}
        return bool(changes.fields & {"subject", "status", "product"}
                    and changes.case_ids & shown)

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _show(self, data: dict[str, Any]) -> None:
        if not isValid(self):  # deleted (its case view closed) while the query ran
            return
        self.data = data
        self.case_key = data.get("key")
        sigs = data["signatures"]
        self.tree.clear()
        t = theme.current()
        bold = QFont()
        bold.setWeight(QFont.Weight.DemiBold)
        for sig in sigs:
            item = QTreeWidgetItem([sig["title"], f"{sig['count']}×",
                                    f"{sig['first_line']}–{sig['last_line']}"
                                    if sig["first_line"] != sig["last_line"]
                                    else str(sig["first_line"]), sig["attachment"]])
            item.setData(0, Qt.ItemDataRole.UserRole, sig)
            item.setToolTip(0, plain_tip(f"{KIND_LABELS.get(sig['kind'], sig['kind'])}: "
                                         f"{sig['title']}\nkey: {sig['key']}"))
            item.setFont(0, bold)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setForeground(3, QBrush(QColor(t.muted)))
            item.setForeground(2, QBrush(QColor(t.muted)))
            kind = QTreeWidgetItem([KIND_LABELS.get(sig["kind"], sig["kind"])])
            kind.setData(0, Qt.ItemDataRole.UserRole, _LOADING)
            kind.setForeground(0, QBrush(QColor(t.muted)))
            item.addChild(kind)
            self.tree.addTopLevelItem(item)
        self.tree.setVisible(bool(sigs))
        self.empty.setVisible(not sigs)
        total = sum(s["count"] for s in sigs)
        self.summary.setText(f"{len(sigs)} signature{'s' if len(sigs) != 1 else ''} · "
                             f"{total} occurrence{'s' if total != 1 else ''}" if sigs else "")
        self._show_related(data)
        self.sig_loaded.emit(len(sigs), len(data["related"]))

    def _show_related(self, data: dict[str, Any]) -> None:
        while self.related_layout.count():
            taken = self.related_layout.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.rows = []
        groups = data["groups"]
        if groups:
            lines = [g["summary"] for g in groups[:3]]
            more = len(groups) - 3
            self.headline.setText("\n".join(lines) + (f"\n… and {more} more signature"
                                                      f"{'s' if more > 1 else ''} shared"
                                                      if more > 0 else ""))
        else:
            self.headline.setText("")
        self.headline.setVisible(bool(groups))
        related = data["related"]
        self.related_title.setText(f"RELATED CASES · {len(related)}" if related
                                   else "RELATED CASES")
        if not related:
            empty = QLabel("No other case shows these signatures." if data["signatures"]
                           else "Related cases appear once this case has error signatures.")
            empty.setObjectName("Meta")
            empty.setWordWrap(True)
            self.related_layout.addWidget(empty)
        for case in related:
            row = RelatedRow(case)
            row.key_label.linkActivated.connect(
                lambda href: self.sig_open_case.emit(href.removeprefix("case:")))
            row.link_button.clicked.connect(lambda _=False, c=case: self.link(c))
            row.merge_button.clicked.connect(lambda _=False, c=case: self.merge(c))
            self.related_layout.addWidget(row)
            self.rows.append(row)
        self.related_layout.addStretch(1)

    # --- context lines ------------------------------------------------------------------
    def _expanded(self, item: QTreeWidgetItem) -> None:
        sig = item.data(0, Qt.ItemDataRole.UserRole)
        first = item.child(0) if item.childCount() == 1 else None
        if not isinstance(sig, dict) or first is None or \
                first.data(0, Qt.ItemDataRole.UserRole) != _LOADING:
            return
        first.setData(0, Qt.ItemDataRole.UserRole, "")
        if not sig.get("sha256") or not sig.get("first_line"):
            return
        self.bridge.read(signature_context, self.data_dir, sig["sha256"],
                         int(sig["first_line"]), CONTEXT_RADIUS,
                         on_done=lambda lines: self._fill(item, sig, lines),
                         on_error=self._fail)

    def _fill(self, item: QTreeWidgetItem, sig: dict[str, Any],
              lines: list[tuple[int, str]]) -> None:
        t = theme.current()
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSize(8)
        hit = QFont(mono)
        hit.setBold(True)
        if not lines:
            lines = [(0, "(the file is not on this machine)")]
        width = len(str(lines[-1][0]))
        for number, text in lines:
            child = QTreeWidgetItem([f"{number:>{width}} │ {text}" if number else text])
            item.addChild(child)
            child.setFirstColumnSpanned(True)  # only takes once the item is in the tree
            child.setToolTip(0, plain_tip(text))
            child.setFont(0, hit if number == sig["first_line"] else mono)
            if number == sig["first_line"]:
                child.setBackground(0, QBrush(QColor(t.danger_bg)))
                child.setForeground(0, QBrush(QColor(t.danger_text)))
            else:
                child.setForeground(0, QBrush(QColor(t.muted if number else t.text)))
        first = item.child(0)
        if first is not None:
            first.setFirstColumnSpanned(True)
        self.sig_context_loaded.emit(sig["key"])

    # --- actions ------------------------------------------------------------------------
    def link(self, case: dict[str, Any]) -> None:
        if not self.case_key:
            return
        self.bridge.run(case_ops.link, case=self.case_key, other=case["key"], kind="related",
                        initiator=self, on_done=lambda _c: self.refresh(), on_error=self._fail)

    def merge(self, case: dict[str, Any]) -> None:
        if not self.case_key:
            return
        if not self.confirm(f"Merge {case['key']} ({case['subject']}) into {self.case_key}? "
                            f"{case['key']} is closed and its conversation shows here."):
            return
        self.bridge.run(case_ops.merge, source=case["key"], target=self.case_key,
                        initiator=self, on_done=lambda _c: self.refresh(), on_error=self._fail)

    def _fail(self, exc: Exception | str) -> None:
        if not isValid(self):
            return
        self.error.setText(exc if isinstance(exc, str) else describe(exc))
        self.error.show()

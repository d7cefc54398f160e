"""One case: the header (key, SLA badge, "Ask the LLM…", "Macros…", subject, requester),
its fields, conflict and refused notices, the attachments bar, the conversation (quoted
history and signatures folded), the history, the error signatures and related cases, and
the composer (saved replies with ``::``).

Everything is read on the bridge's reader threads (``app.operations.case_queries``) and
written through operations on its writer thread. An edit made here updates the header from
the value set and the operation's result, then one small read (row, history, SLA when a
clock field changed); the conversation is redrawn only when its comments changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import QLabel, QPushButton, QStackedWidget, QTabWidget, QVBoxLayout, QWidget
from shiboken6 import isValid

from app.core.changes import Changes
from app.core.sla import SlaStatus
from app.operations import case_queries as cq
from app.operations import cases as ops
from app.ui.attachments_bar import AttachmentsBar
from app.ui.bridge import Bridge, describe
from app.ui.case_fields import CaseFields
from app.ui.case_header import CaseHeader
from app.ui.case_history_view import CaseHistory
from app.ui.case_notices import ConflictBanner, RefusedNotice
from app.ui.composer import Composer
from app.ui.conversation_view import Conversation
from app.ui.integration_tabs import IntegrationTabs
from app.ui.signatures_panel import SignaturesPanel

__all__ = ["COMPACT_BELOW", "TAB_CONVERSATION", "TAB_HISTORY", "TAB_SIGNATURES", "CaseDetail"]

TAB_CONVERSATION, TAB_HISTORY, TAB_SIGNATURES = 0, 1, 2
SLA_REFRESH_MS = 60_000
COMPACT_BELOW = 640  # px: narrower than this, the header buttons show their icon only


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
        self._stale = False  # changed while hidden: load when shown
        self._whole_pending = False  # a whole load is in flight (a small read may not cut in)
        self.clock: Callable[[], int] = cq.now_ms
        """The time the SLA badge is computed for (tests pin it)."""
        self.llm_dialog: Any = None
        self.macro_dialog: Any = None
        self.picker: Any = None
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
        self._build_top(lay)
        self._build_attachments(lay)
        self._build_tabs(lay)
        self.composer = Composer(bridge=self.bridge)
        self.composer.sig_send.connect(self._send)
        self.composer.editor.sig_attach_mime.connect(self.attach_mime)
        lay.addWidget(self.composer)
        self._alias_parts()

    def _build_top(self, lay: QVBoxLayout) -> None:
        """The header and fields, the conflicts banner and the refused notice."""
        top = QWidget()
        hl = QVBoxLayout(top)
        hl.setContentsMargins(16, 12, 16, 10)
        hl.setSpacing(2)
        self.header = CaseHeader()
        self.header.sig_subject.connect(lambda text: self._set_fields({"subject": text}))
        self.header.sig_link.connect(self.sig_open_case.emit)
        self.header.sig_action.connect(self._action)
        hl.addWidget(self.header)
        hl.addSpacing(8)
        self.fields = CaseFields()
        self.fields.sig_fields.connect(self._set_fields)
        self.fields.sig_tags.connect(self._tags_done)
        self.fields.sig_link.connect(self.sig_open_case.emit)
        hl.addWidget(self.fields)
        lay.addWidget(top)
        self.conflicts_box = ConflictBanner()
        self.conflicts_box.sig_restore.connect(self.restore_conflict)
        self.conflicts_box.sig_dismiss.connect(self.dismiss_conflict)
        lay.addWidget(self.conflicts_box)
        self.refused_label = RefusedNotice()
        lay.addWidget(self.refused_label)

    def _build_attachments(self, lay: QVBoxLayout) -> None:
        """The attachments bar."""
        self.attachments = AttachmentsBar(self.bridge)
        self.attachments.sig_error.connect(self.bridge.sig_message.emit)
        # The bar reloads on every change naming its case; this view tells it when its
        # attachments changed instead (a field edit leaves them alone).
        try:
            self.bridge.sig_changes_applied.disconnect(self.attachments._on_changes)
        except (AttributeError, RuntimeError, TypeError):
            pass
        holder = QWidget()
        al = QVBoxLayout(holder)
        al.setContentsMargins(16, 2, 16, 8)
        al.addWidget(self.attachments)
        lay.addWidget(holder)

    def _build_tabs(self, lay: QVBoxLayout) -> None:
        """The Conversation, History, Signatures and integration tabs."""
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.conversation = Conversation()
        self.conversation.sig_case_link.connect(self.sig_open_case.emit)
        self.conversation.sig_split.connect(self.split_comment)
        self.conversation.sig_paste.connect(self.paste)
        self.tabs.addTab(self.conversation, "Conversation")
        self.history = CaseHistory()
        self.tabs.addTab(self.history, "History")
        self.signatures = SignaturesPanel(self.bridge)
        self.signatures.setAccessibleName("Error signatures and related cases")
        self.signatures.sig_loaded.connect(self._signatures_loaded)
        self.signatures.sig_open_case.connect(self.open_case_key)
        self.tabs.addTab(self.signatures, "Signatures")
        self.integrations = IntegrationTabs(self.bridge, self.tabs)  # JIRA, Customer
        lay.addWidget(self.tabs, 1)

    def _alias_parts(self) -> None:
        """The parts' widgets under the names the window, tests and screenshots use."""
        h, f = self.header, self.fields
        self.key_label, self.sla_badge, self.merged_label = h.key_label, h.sla_badge, \
            h.merged_label
        self.meta_label, self.subject_edit, self.requester_label = h.meta_label, \
            h.subject_edit, h.requester_label
        self.llm_button, self.macro_button, self.menu_button, self.case_menu = \
            h.llm_button, h.macro_button, h.menu_button, h.case_menu
        self.status_combo, self.priority_combo, self.type_combo, self.assignee_combo = \
            f.status_combo, f.priority_combo, f.type_combo, f.assignee_combo
        self.product_edit, self.due_picker, self.tags_chips, self.links_label = \
            f.product_edit, f.due_picker, f.tags_chips, f.links_label

    @property
    def conflict_rows(self) -> list[tuple[QLabel, QPushButton, QPushButton]]:
        return self.conflicts_box.rows

    @property
    def viewer_chips(self) -> list[QLabel]:
        return self.header.viewer_chips

    @property
    def _compact(self) -> bool:
        return self.header.compact

    def _action(self, action: str) -> None:
        """A header button or menu entry (see ``case_header.ACTIONS``)."""
        run: dict[str, Callable[[], Any]] = {
            "link": lambda: self.pick_case("link"), "merge": lambda: self.pick_case("merge"),
            "llm": self.open_llm, "macros": self.open_macros, "attach": self._choose_files,
            "open_tab": lambda: self.sig_open_case.emit(self.case_id or "")}
        run[action]()

    # --- loading ------------------------------------------------------------------------
    def load(self, case_id: str | None) -> None:
        """Show ``case_id`` (None: the empty state). The query runs on a reader thread;
        the attachments bar and the signatures panel load theirs alongside."""
        self._load(case_id)
        self.attachments.set_case(case_id)
        self.signatures.set_case(case_id)
        self.integrations.set_case(case_id)

    def _load(self, case_id: str | None, *, redraw: bool = False) -> None:
        """(Re)load the case itself (header, conversation, history, SLA); the conversation
        is drawn again only when it changed (or ``redraw``)."""
        self._generation += 1
        generation = self._generation
        self._stale = False
        if case_id != self.case_id:
            self.detail = None
            self.composer.set_case(None)
            self.composer.open_draft(case_id)  # the last case's typing is saved first
        self.case_id = case_id
        if case_id is None:
            self.loading = self._whole_pending = False
            self.sla_timer.stop()
            self.stack.setCurrentIndex(0)
            return
        self.loading = self._whole_pending = True
        self.bridge.read(cq.load_case_view, self.bridge.store, case_id, self.clock(),
                         on_done=lambda d: self._loaded(generation, case_id, d, redraw),
                         on_error=lambda e: self._failed(generation, e))

    def reload(self) -> None:
        """Everything again, the conversation drawn anew (an explicit refresh)."""
        if self.case_id:
            self._load(self.case_id, redraw=True)
            self.attachments.set_case(self.case_id)
            self.signatures.set_case(self.case_id)
            self.integrations.set_case(self.case_id)

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
        self.conflicts_box.show_conflicts([])
        self.refused_label.show_refused([])
        self.tabs.setCurrentIndex(TAB_CONVERSATION)
        self.composer.editor.clear()
        self.composer.reply_button.setChecked(True)  # not set_internal: that takes focus
        self.composer.set_case(None)
        self.header.reset()
        self.fields.reset()

    def refresh_sla(self) -> None:
        """Recompute the SLA badge for the current time (a reader-thread query)."""
        case_id = self.case_id
        if not case_id or self.detail is None or not self.isVisible():
            return
        self.bridge.read(cq.current_sla, self.bridge.store, case_id, self.clock(),
                         on_done=lambda st: self._sla_done(case_id, st, None),
                         on_error=lambda e: self._sla_done(case_id, None, describe(e)))

    def _sla_done(self, case_id: str, status: SlaStatus | None, error: str | None) -> None:
        if isValid(self) and case_id == self.case_id:
            self.sla_badge.show_status(status, error)

    def _failed(self, generation: int, exc: Exception) -> None:
        if not isValid(self):  # closed (a tab) while the query ran
            return
        if generation == self._generation:
            self.loading = self._whole_pending = False
        self.bridge.sig_error.emit(describe(exc))

    def _loaded(self, generation: int, case_id: str, detail: dict[str, Any] | None,
                redraw: bool = False) -> None:
        if not isValid(self) or generation != self._generation:
            return
        self.loading = self._whole_pending = False
        if detail is None:
            self.empty.setText("This case no longer exists.")
            self.stack.setCurrentIndex(0)
            self.sig_loaded.emit(case_id)
            return
        self.detail = detail
        self._fill(detail, redraw)
        self.stack.setCurrentIndex(1)
        if not self.sla_timer.isActive():
            self.sla_timer.start()
        self.sig_title_changed.emit(f"{detail['key']}  {detail['subject']}")
        self.sig_loaded.emit(case_id)

    def _fill(self, d: dict[str, Any], redraw: bool = False) -> None:
        self.header.fill(d)
        self.fields.fill(d)
        self.composer.editor.set_agents([name for _i, name in d.get("agents", [])])
        self.composer.set_case(str(d["key"]))
        self.sla_badge.show_status(d.get("sla"), d.get("sla_error"))
        self.conflicts_box.show_conflicts(d.get("conflicts", []))
        self.refused_label.show_refused(d.get("refused", []))
        self.conversation.show_detail(d, force=redraw)
        self._fill_history(d)

    def _fill_history(self, d: dict[str, Any]) -> None:
        count = self.history.fill(d.get("history", []), dict(d.get("agents", [])))
        self.tabs.setTabText(TAB_HISTORY, f"History ({count})")

    # --- the small refresh after a field edit -------------------------------------------
    def _refresh_fields(self, *, sla: bool) -> None:
        """Read the case's row and history again (and its SLA when ``sla``), not the
        conversation, people, links or conflicts: a field edit changed none of them."""
        case_id = self.case_id
        if case_id is None:
            return
        self._generation += 1
        generation = self._generation
        self.loading = True
        store, at_ms = self.bridge.store, self.clock()
        self.bridge.read(lambda: cq.case_refresh(store, case_id, sla=sla, at_ms=at_ms),
                         on_done=lambda r: self._refreshed(generation, case_id, r),
                         on_error=lambda e: self._failed(generation, e))

    def _refreshed(self, generation: int, case_id: str, fresh: dict[str, Any] | None) -> None:
        if not isValid(self) or generation != self._generation:
            return
        self.loading = False
        d = self.detail
        if fresh is None or d is None:
            self._load(case_id)  # gone (or never shown): the whole load says so
            return
        title = (d["key"], d["subject"])
        d.update(fresh["fields"])
        d["history"] = fresh["history"]
        if "sla" in fresh or "sla_error" in fresh:
            d["sla"], d["sla_error"] = fresh.get("sla"), fresh.get("sla_error")
            self.sla_badge.show_status(d["sla"], d["sla_error"])
        self.header.fill(d)
        self.fields.fill(d)
        self._fill_history(d)
        if (d["key"], d["subject"]) != title:
            self.sig_title_changed.emit(f"{d['key']}  {d['subject']}")

    # --- edits --------------------------------------------------------------------------
    @property
    def case_ref(self) -> str:
        return str(self.detail["key"]) if self.detail else str(self.case_id)

    def _set_fields(self, changes: dict[str, Any]) -> None:
        if not self.detail:
            return
        # The widgets show what the agent set; the small read after the change (see
        # on_changes) brings the stored values, history, updated time and SLA at once.
        self.bridge.run(ops.set_fields, case=self.case_ref, changes=changes, initiator=self,
                        on_error=self._edit_failed)

    def _tags_done(self, add: list[str], remove: list[str]) -> None:
        if not self.detail:
            return
        self.bridge.run(ops.tag, case=self.case_ref, add=add, remove=remove, initiator=self,
                        on_error=self._edit_failed)

    def _edit_failed(self, exc: Exception) -> None:
        self.bridge.sig_error.emit(describe(exc))
        if self.detail:
            self.header.discard_typing()
            self.fields.discard_typing()
            self.header.fill(self.detail)  # back to the stored values: nothing half-written
            self.fields.fill(self.detail)

    def _send(self, body: str, internal: bool) -> None:
        if not self.detail:
            return
        case_id = self.case_id
        self.bridge.run(ops.comment, case=self.case_ref, body=body, internal=internal,
                        initiator=self, on_done=lambda _r: self.composer.sent(case_id),
                        on_error=lambda e: self.composer.show_error(describe(e)))

    # --- conflicts, presence, link / merge / split --------------------------------------
    def restore_conflict(self, conflict_id: str) -> None:
        self.bridge.run(ops.restore_conflict, conflict_id=conflict_id, initiator=self,
                        on_error=self._edit_failed)

    def dismiss_conflict(self, conflict_id: str) -> None:
        # The notice changes no case: load this one again when it is gone.
        self.bridge.run(ops.dismiss_conflict, conflict_id=conflict_id, initiator=self,
                        on_done=lambda _r: self._load(self.case_id),
                        on_error=self._edit_failed)

    def set_viewers(self, case_id: str, viewers: list[dict[str, Any]]) -> None:
        """"Ben is viewing" chips (from GET presence) for the case on screen."""
        if case_id == self.case_id:
            self.header.set_viewers(viewers)

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
        other_id, _other_key = picker.chosen
        if action == "link":
            self.bridge.run(ops.link, case=self.case_ref, other=other_id,
                            kind=str(picker.kind.currentData()), initiator=self,
                            on_error=self._edit_failed)
        else:
            self.bridge.run(ops.merge, source=self.case_ref, target=other_id, initiator=self,
                            on_error=self._edit_failed)

    def split_comment(self, comment_id: str) -> None:
        if not self.detail:
            return

        def done(result: tuple[str, str, Changes]) -> None:
            self.bridge.sig_message.emit(f"Split into {result[1]}")
            self.sig_split_done.emit(result[0])

        self.bridge.run(ops.split, case=self.case_ref, comment_id=comment_id, on_done=done,
                        initiator=self, on_error=self._edit_failed)

    # --- changes ------------------------------------------------------------------------
    def on_changes(self, changes: Changes) -> None:
        """Refresh the parts ``changes`` name: the small read for fields of the row, the
        whole case for comments, links, people, conflicts or a rebuild; the attachments
        bar only when attachments changed. Hidden, the view loads when shown again."""
        case_id = self.case_id
        if not case_id:
            return
        broad = changes.rebuilt or changes.directory or case_id in changes.conflict_case_ids
        if not (broad or case_id in changes.case_ids or case_id in changes.comment_case_ids):
            return
        # Hidden (a tab behind another): load when shown, unless its tab title changed.
        if not self.isVisible() and not changes.made_by(self) and \
                not changes.fields & {"subject", "key"}:
            self._stale = True
            return
        # A field with an open conflict notice may have resolved it (restore my value).
        noticed = {str(c["field"]) for c in (self.detail or {}).get("conflicts", [])}
        whole = (broad or self.detail is None or self._whole_pending or changes.membership
                 or case_id in changes.comment_case_ids or not changes.fields
                 or not changes.fields <= cq.PATCH_FIELDS or bool(changes.fields & noticed))
        if whole:
            self._load(case_id)
        else:
            self._refresh_fields(sla=bool(changes.fields & cq.SLA_FIELDS))
        if changes.rebuilt or "attachments" in changes.fields:
            self.attachments.refresh()

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale and self.case_id:
            self._load(self.case_id)
            self.attachments.refresh()

    # --- layout that follows the width -------------------------------------------------
    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.header.set_compact(self.width() < COMPACT_BELOW)

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

        def found(case_id: str | None) -> None:
            if not isValid(self):
                return
            if case_id:
                self.sig_open_case.emit(case_id)
            else:
                self.bridge.sig_error.emit(f"No case {key}")

        self.bridge.query(cq.resolve_case, key, on_done=found,
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
        from app.operations.insights import shared_model

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
            self.tabs.setCurrentIndex(TAB_CONVERSATION)
            self.composer.set_internal(internal)

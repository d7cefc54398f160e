"""Case tabs beside the "Cases" tab: opening, closing, parking old tabs, the spare view.

Memory: every live CaseDetail holds its conversation document, history and composer
(several MB each). Only the MAX_LIVE_TABS most recently used tabs stay live; older ones
become placeholders (title and draft kept) rebuilt when activated. A spare, empty view is
built in idle time so opening a tab costs the query and the fill, not the widget tree.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QTabWidget, QWidget

from app.ui.bridge import Bridge
from app.ui.case_detail import CaseDetail

SPARE_DELAY_MS = 50  # a spare tab view is built this long after an open (in idle time)
MAX_LIVE_TABS = 8  # case tabs kept as live widgets; older ones become light placeholders
Draft = tuple[str, bool]  # (composer text, internal note)


class CaseTabs(QObject):
    """The case tabs of a QTabWidget whose first tab (index 0) is the case list."""

    sig_current_changed = Signal()
    """The case shown in front changed (another tab, a tab rebuilt from its placeholder)."""

    def __init__(self, bridge: Bridge, tabs: QTabWidget, make_detail: Callable[[], CaseDetail],
                 key_of: Callable[[str], str | None] = lambda _c: None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.tabs = tabs
        self._make_detail = make_detail  # a wired CaseDetail
        self.key_of = key_of  # a case's key while it loads (from the list)
        self.tab_order: list[str] = []  # case ids of tabs, most recently used last
        self.parked: dict[str, QWidget] = {}  # case id → placeholder of a parked tab
        self.drafts: dict[str, Draft] = {}  # parked tabs' composer drafts
        self.tab_details: dict[str, CaseDetail] = {}
        self.spare_detail: CaseDetail | None = None  # a built, empty view for the next tab
        self.closed = False
        tabs.currentChanged.connect(self._tab_changed)

    def open(self, case_id: str) -> CaseDetail:
        existing = self.tab_details.get(case_id)
        if existing is not None:
            self.tabs.setCurrentWidget(existing)
            return existing
        placeholder = self.parked.get(case_id)
        if placeholder is not None:
            self.tabs.setCurrentWidget(placeholder)  # _tab_changed brings it back to life
            return self.tab_details[case_id]
        detail = self._new_detail(case_id)
        # The key from the list until the case loads: a tab parked before its case came
        # back (opened in a quick burst) keeps a name rather than "Loading…".
        index = self.tabs.addTab(detail, self.key_of(case_id) or "Loading…")
        self.tabs.setCurrentIndex(index)
        detail.load(case_id)  # once in the tab bar: a cached answer may retitle at once
        if self.spare_detail is None:
            QTimer.singleShot(SPARE_DELAY_MS, self.prepare_spare)
        return detail

    def _new_detail(self, case_id: str) -> CaseDetail:
        """A live CaseDetail for a tab (the caller puts it in the tab bar, then loads): the
        spare view when there is one, else a new one."""
        detail = self.spare_detail or self._build()
        self.spare_detail = None
        self.tab_details[case_id] = detail
        self._touch(case_id)
        draft = self.drafts.pop(case_id, None)
        if draft is not None:
            restore_draft(detail, draft)
        return detail

    def _build(self) -> CaseDetail:
        detail = self._make_detail()
        detail.sig_title_changed.connect(lambda title, d=detail: self._retitle(d, title))
        return detail

    def prepare_spare(self) -> None:
        """Build the next tab's view while the agent reads (the event loop is idle)."""
        if self.spare_detail is not None or self.closed:
            return
        detail = self._build()
        # Made a child of the tab pages already: with the app style sheet, reparenting
        # re-polishes the whole tree (about half of what building it costs).
        pages = self.tabs.findChild(QStackedWidget,
                                    options=Qt.FindChildOption.FindDirectChildrenOnly)
        if pages is not None:
            detail.setParent(pages)
            detail.hide()
        self.spare_detail = detail

    def _retitle(self, detail: CaseDetail, title: str) -> None:
        index = self.tabs.indexOf(detail)
        if index >= 0:
            short = title if len(title) <= 34 else title[:32] + "…"
            self.tabs.setTabText(index, short)
            self.tabs.setTabToolTip(index, title)

    def close(self, index: int) -> None:
        if index <= 0:
            return
        widget = self.tabs.widget(index)
        self._say_draft_kept(widget)
        self.tabs.removeTab(index)
        for case_id, detail in list(self.tab_details.items()):
            if detail is widget:
                self._retire(case_id)
        for case_id, placeholder in list(self.parked.items()):
            if placeholder is widget:
                del self.parked[case_id]
                self.drafts.pop(case_id, None)
                placeholder.deleteLater()
        self.tab_order = [c for c in self.tab_order
                          if c in self.tab_details or c in self.parked]

    def _say_draft_kept(self, widget: QWidget | None) -> None:
        """A tab closed with unsent typing: the draft is saved (now) and the agent told."""
        key = None
        if isinstance(widget, CaseDetail):
            if widget.composer.flush_draft():
                key = widget.composer.case_ref
        else:
            case_id = next((c for c, p in self.parked.items() if p is widget), None)
            if case_id and case_id in self.drafts:
                key = self.key_of(case_id) or "the case"
        if key:
            self.bridge.sig_message.emit(
                f"Draft kept for {key}: it is back when you open the case (Drafts lists it).")

    def open_case_ids(self) -> list[str]:
        """The case ids of the open tabs, in tab-bar order (parked ones included)."""
        by_widget: dict[int, str] = {id(d): c for c, d in self.tab_details.items()}
        by_widget.update({id(p): c for c, p in self.parked.items()})
        found = (by_widget.get(id(self.tabs.widget(i))) for i in range(1, self.tabs.count()))
        return [c for c in found if c]

    def flush_drafts(self) -> int:
        """Save every open tab's unsent typing now (the window closes); how many are kept."""
        return sum(d.composer.flush_draft() for d in self.tab_details.values())

    def _retire(self, case_id: str) -> None:
        """A tab's view is no longer needed: it becomes the spare (emptied) when there is
        none, else it is deleted."""
        if self.spare_detail is not None or self.closed:
            self._drop(case_id)
            return
        detail = self.tab_details.pop(case_id)
        detail.recycle()
        self.spare_detail = detail

    def _drop(self, case_id: str) -> None:
        detail = self.tab_details.pop(case_id)
        detail.composer.flush_draft()
        try:
            self.bridge.sig_changes_applied.disconnect(detail.on_changes)
        except (RuntimeError, TypeError):
            pass
        detail.deleteLater()

    def _touch(self, case_id: str) -> None:
        if case_id in self.tab_order:
            self.tab_order.remove(case_id)
        self.tab_order.append(case_id)
        live = [c for c in self.tab_order if c in self.tab_details]
        current = self.tabs.currentWidget()
        for old in live[:max(0, len(live) - MAX_LIVE_TABS)]:
            if self.tab_details[old] is not current and old != case_id:
                self._park(old)

    def _park(self, case_id: str) -> None:
        detail = self.tab_details[case_id]
        index = self.tabs.indexOf(detail)
        if index < 0:
            return
        draft = draft_of(detail)
        if draft is not None:
            self.drafts[case_id] = draft
        placeholder = QLabel("Loading…")
        placeholder.setObjectName("Meta")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setProperty("case_id", case_id)
        self._swap(index, placeholder)
        self.parked[case_id] = placeholder
        self._retire(case_id)

    def _unpark(self, case_id: str) -> None:
        placeholder = self.parked.pop(case_id)
        index = self.tabs.indexOf(placeholder)
        detail = self._new_detail(case_id)
        self._swap(index, detail, current=True)
        placeholder.deleteLater()
        detail.load(case_id)
        self.sig_current_changed.emit()

    def _swap(self, index: int, widget: QWidget, *, current: bool = False) -> None:
        """Put ``widget`` in tab ``index``'s place, keeping its title (no tab-change signal)."""
        text, tip = self.tabs.tabText(index), self.tabs.tabToolTip(index)
        self.tabs.blockSignals(True)
        self.tabs.insertTab(index, widget, text)
        self.tabs.setTabToolTip(index, tip)
        self.tabs.removeTab(index + 1)
        if current:
            self.tabs.setCurrentIndex(index)
        self.tabs.blockSignals(False)

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        for case_id, placeholder in list(self.parked.items()):
            if placeholder is widget:
                self._unpark(case_id)
                return
        for case_id, detail in self.tab_details.items():
            if detail is widget:
                self._touch(case_id)
                break
        self.sig_current_changed.emit()

    def cycle(self, step: int) -> None:
        count = self.tabs.count()
        if count:
            self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % count)

    def current(self) -> CaseDetail | None:
        """The case view of the tab in front (None: the Cases tab)."""
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, CaseDetail) else None

    def shutdown(self) -> None:
        self.closed = True
        if self.spare_detail is not None:
            self.spare_detail.deleteLater()
            self.spare_detail = None


def draft_of(detail: CaseDetail) -> Draft | None:
    """What the composer holds (None when empty)."""
    composer = getattr(detail, "composer", None)
    editor = getattr(composer, "editor", None)
    if editor is None:
        return None
    text = editor.toPlainText()
    return (text, bool(getattr(composer, "internal", False))) if text.strip() else None


def restore_draft(detail: CaseDetail, draft: Draft) -> None:
    composer = getattr(detail, "composer", None)
    editor = getattr(composer, "editor", None)
    if editor is None:
        return
    editor.setPlainText(draft[0])
    note_button = getattr(composer, "note_button", None)
    if draft[1] and note_button is not None:
        note_button.setChecked(True)

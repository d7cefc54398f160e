"""The main window's parts alone (no MainWindow), each on a real seeded store: case tabs
(parking, drafts, the spare view), the status area, the search box, the sidebar's counts,
the list header."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument

from app.core.changes import Changes
from app.operations import cases as ops
from app.operations.lists import refresh_rows

WAIT = 15_000


@pytest.fixture
def bridge(qapp: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.bridge import Bridge

    make_application()
    b = Bridge(store)
    yield b
    b.shutdown()


def case_ids(store: Any, n: int) -> list[str]:
    from app.operations.lists import fetch_rows, view_filter

    rows, _ = fetch_rows(store, view_filter("all-open", True, "", ""), "updated", True, n)
    return [r[0] for r in rows]


def test_case_tabs_park_old_tabs_and_keep_their_drafts(
        bridge: Any, store: Any, qtbot: Any) -> None:
    from PySide6.QtWidgets import QLabel, QTabWidget

    from app.ui.case_detail import CaseDetail
    from app.ui.case_tabs import MAX_LIVE_TABS, CaseTabs

    widget = QTabWidget()
    qtbot.addWidget(widget)
    widget.addTab(QLabel("the list"), "Cases")
    tabs = CaseTabs(bridge, widget, lambda: CaseDetail(bridge))
    widget.resize(1000, 700)
    widget.show()
    ids = case_ids(store, MAX_LIVE_TABS + 2)
    first = tabs.open(ids[0])
    qtbot.waitUntil(lambda: not first.loading and first.detail is not None, timeout=WAIT)
    first.composer.editor.setPlainText("Half-written reply")
    for case_id in ids[1:]:
        detail = tabs.open(case_id)
        qtbot.waitUntil(lambda d=detail: not d.loading, timeout=WAIT)
    assert len(tabs.tab_details) == MAX_LIVE_TABS
    assert set(tabs.parked) == set(ids[:2])
    assert tabs.drafts[ids[0]] == ("Half-written reply", False)
    assert widget.count() == len(ids) + 1
    with qtbot.waitSignal(tabs.sig_current_changed, timeout=WAIT):
        tabs.open(ids[0])  # a parked tab comes back to life with its draft
    back = tabs.tab_details[ids[0]]
    assert tabs.current() is back and ids[0] not in tabs.parked
    assert back.composer.editor.toPlainText() == "Half-written reply"
    tabs.close(widget.indexOf(back))
    assert ids[0] not in tabs.tab_details and widget.count() == len(ids)
    assert tabs.spare_detail is not None  # a closed tab's view is kept for the next one
    tabs.close(0)  # the list's tab never closes
    assert widget.count() == len(ids)
    tabs.shutdown()


def test_status_area_tells_what_waits_and_what_undo_does(
        bridge: Any, store: Any, qtbot: Any) -> None:
    from PySide6.QtWidgets import QMainWindow

    from app.ui.status_area import Banner, StatusArea
    from app.ui.sync_ui import SyncController

    host = QMainWindow()
    qtbot.addWidget(host)
    sync = SyncController(bridge, None, 3600, host)
    banner = Banner(host)
    status = StatusArea(bridge, sync, host.statusBar(), banner, host)
    case_id = case_ids(store, 1)[0]
    before = store.outbox_count()
    with qtbot.waitSignal(bridge.sig_changes_applied, timeout=WAIT):
        bridge.run(ops.set_fields, case=case_id, changes={"priority": "urgent"})
    status.refresh()
    qtbot.waitUntil(lambda: not status.loading, timeout=WAIT)
    assert status.outbox == before + 1
    assert "saved on this device" in status.outbox_label.text()
    assert status.undo_label and status.undo_hint.text().startswith("Ctrl+Z to undo: ")
    status.show_error("Server said <b>no</b>")
    assert banner.isVisibleTo(host) and banner.label.text() == "Server said <b>no</b>"
    assert status.message_label.text() == "Server said <b>no</b>"
    status.index_progress(10, 300)
    assert status.index_label.text() == "Indexing 10/300…"
    status.index_done()
    assert status.index_label.isHidden()
    sync.shutdown()


def test_search_box_runs_what_is_typed_and_clears_on_escape(
        bridge: Any, store: Any, data_dir: Path, qtbot: Any) -> None:
    from PySide6.QtWidgets import QWidget

    from app.ui.search_box import SearchBox
    from app.ui.search_ui import SearchController

    host = QWidget()
    qtbot.addWidget(host)
    search = SearchController(bridge, data_dir, host)
    box = SearchBox(search, host)
    typed: list[str] = []
    box.sig_text.connect(typed.append)
    subject = str(refresh_rows(store, case_ids(store, 1))[0][2])
    word = max(subject.split(), key=len)
    box.set_text(f"  {word} ")
    assert typed == [word]
    with qtbot.waitSignal(box.sig_result, timeout=60_000) as blocker:
        box.run(word)
    assert blocker.args[0].total >= 1 and box.results.model.rowCount() >= 1
    qtbot.waitUntil(box.idle, timeout=WAIT)
    qtbot.keyClick(box.edit, Qt.Key.Key_Escape)
    assert box.edit.text() == "" and typed[-1] == ""
    box.leave()
    assert box.query == ""
    search.shutdown()


def test_view_counts_are_read_again_only_when_a_count_may_move(
        bridge: Any, store: Any, qtbot: Any) -> None:
    from app.ui.case_list import CaseTableModel
    from app.ui.sidebar import Sidebar
    from app.ui.view_counts import ViewCounts

    sidebar = Sidebar(store.actor)
    qtbot.addWidget(sidebar)
    model = CaseTableModel()
    counts = ViewCounts(bridge, sidebar, model)
    counts.refresh()
    qtbot.waitUntil(lambda: not counts.loading, timeout=WAIT)
    assert sidebar.counts_loaded and counts.refreshes == 1
    assert "priority" not in counts.fields  # no built-in view filters on it
    fresh, stale = case_ids(store, 2)
    ops.set_fields(store, case=fresh, changes={"type": "question"})  # updated just now
    model.set_rows(refresh_rows(store, [fresh]))
    counts.on_changes(Changes(case_ids={fresh}, fields={"priority"}))
    assert counts.refreshes == 1  # already in "Recently updated"; no count reads priority
    counts.on_changes(Changes(case_ids={fresh}, fields={"status"}))
    assert counts.refreshes == 2
    qtbot.waitUntil(lambda: not counts.loading, timeout=WAIT)
    counts.on_changes(Changes(case_ids={stale}, fields={"priority"}))
    assert counts.refreshes == 3  # not on screen: it may have entered "Recently updated"
    qtbot.waitUntil(lambda: not counts.loading, timeout=WAIT)
    ops.save_view(store, name="Urgent ones", query="priority:urgent")
    counts.on_changes(Changes(views=True))
    qtbot.waitUntil(lambda: not counts.loading, timeout=WAIT)
    assert "priority" in counts.fields  # a saved view counts it now
    counts.on_changes(Changes(case_ids={fresh}, fields={"priority"}))
    assert counts.refreshes == 5
    qtbot.waitUntil(lambda: not counts.loading, timeout=WAIT)


def test_list_header_debounces_the_filter_and_shows_its_error_literally(
        qapp: Any, qtbot: Any, bridge: Any, data_dir: Path) -> None:
    from PySide6.QtWidgets import QWidget

    from app.ui.list_header import FILTER_DELAY_MS, FILTER_TIP, ListHeader
    from app.ui.search_box import SearchBox
    from app.ui.search_ui import SearchController

    host = QWidget()
    qtbot.addWidget(host)
    header = ListHeader("My open cases", SearchBox(SearchController(bridge, data_dir, host),
                                                   host))
    qtbot.addWidget(header)
    fired: list[float] = []
    header.sig_filter_changed.connect(lambda: fired.append(time.perf_counter()))
    qtbot.keyClicks(header.filter_edit, "tag:vip")
    typed = time.perf_counter()  # each key restarts the delay: it runs from the last one
    assert not header.idle()
    qtbot.waitUntil(lambda: bool(fired), timeout=WAIT)
    qtbot.wait(FILTER_DELAY_MS + 50)
    assert len(fired) == 1 and fired[0] - typed >= 0.9 * FILTER_DELAY_MS / 1000
    header.show_filter_error("unknown filter '<b>x</b>'")
    assert header.filter_edit.property("invalid") is True
    doc = QTextDocument()
    doc.setHtml(header.filter_edit.toolTip())  # what Qt shows for a rich-text tooltip
    assert doc.toPlainText() == "unknown filter '<b>x</b>'"
    header.show_filter_error(None)
    assert header.filter_edit.toolTip() == FILTER_TIP

"""Search, the dashboard, notifications, SLA views and sync off the writer, in the window."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from app.core.changes import Changes
from app.operations import cases as ops
from app.store import queries as q

WAIT = 20_000


def search_ready(window: Any, qtbot: Any) -> None:
    qtbot.waitUntil(lambda: window.search.ready, timeout=WAIT)


def shown(window: Any, query: str) -> bool:
    return window.search_idle() and window.search_query == query and \
        window.results.result is not None and window.results.result.query == query


def test_typing_shows_results_and_stale_queries_never_win(window: Any, qtbot: Any,
                                                          monkeypatch: Any) -> None:
    search_ready(window, qtbot)
    window.focus_search()
    qtbot.keyClicks(window.search_edit, "printer")
    qtbot.waitUntil(lambda: shown(window, "printer"), timeout=WAIT)
    assert window.list_stack.currentWidget() is window.results
    result = window.results.result
    assert result.total > 0 and window.results.model.rowCount() == len(result.hits)
    assert "found in" in window.results.summary.text()
    assert any("«" in h["snippet"] for h in result.hits)
    # The detail pane follows the highlighted hit; Enter opens it in a tab.
    first = window.results.model.case_id(0)
    qtbot.waitUntil(lambda: window.detail.case_id == first, timeout=WAIT)
    window.results.table.setFocus()
    qtbot.keyClick(window.results.table, Qt.Key.Key_Return)
    assert first in window.tab_details
    window.tabs.setCurrentIndex(0)

    # A slow query answered after a newer one was typed is dropped.
    import app.ui.search_ui as search_ui

    release = threading.Event()
    real = search_ui.run_search

    def slow(service: Any, query: str, me: str, limit: int) -> Any:
        if query == "slow":
            release.wait(10)
        return real(service, query, me, limit)

    monkeypatch.setattr(search_ui, "run_search", slow)
    emitted: list[str] = []
    window.search.sig_results.connect(lambda r: emitted.append(r.query))
    window.search_edit.setText("slow")
    qtbot.waitUntil(lambda: window.search.searching, timeout=WAIT)
    window.search_edit.setText("printer queue")
    window.search_edit.setText("dataflow")  # replaces the waiting query: never run
    release.set()
    qtbot.waitUntil(lambda: shown(window, "dataflow"), timeout=WAIT)
    assert emitted == ["dataflow"]
    # Clearing the field goes back to the view.
    window.search_edit.clear()
    assert window.list_stack.currentWidget() is window.table
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    assert window.model.rowCount() > 0


def test_an_edit_becomes_findable(window: Any, qtbot: Any) -> None:
    search_ready(window, qtbot)
    window.search_for("zebracorn")
    qtbot.waitUntil(lambda: shown(window, "zebracorn"), timeout=WAIT)
    assert window.results.result.total == 0
    case_id = window.model.case_id(0)
    window.bridge.run(ops.set_fields, case=case_id,
                      changes={"subject": "Zebracorn firmware refuses to boot"})
    # catch_up runs after the change, then the query on screen is asked again.
    qtbot.waitUntil(lambda: window.results.result.total == 1, timeout=5_000)
    assert window.results.model.case_id(0) == case_id
    assert "«Zebracorn»" in window.results.result.hits[0]["snippet"]


def test_save_search_as_view_and_select_it(window: Any, qtbot: Any, store: Any) -> None:
    search_ready(window, qtbot)
    window.search_for("printer")
    qtbot.waitUntil(lambda: shown(window, "printer"), timeout=WAIT)
    window.save_search("Printers", window.search_query)
    qtbot.waitUntil(lambda: "saved:Printers" in window.sidebar.items, timeout=WAIT)
    views = store.read(q.saved_views)
    assert [(v["name"], v["query"]) for v in views] == [("Printers", "search:printer")]
    window.search_edit.clear()
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    window.sidebar.select("saved:Printers")
    qtbot.waitUntil(lambda: shown(window, "printer"), timeout=WAIT)
    assert window.view.id == "saved:Printers" and window.view_title.text() == "Printers"
    total = window.results.result.total
    item = window.sidebar.items["saved:Printers"]
    assert item.data(Qt.ItemDataRole.UserRole + 10) == total


def test_did_you_mean_click_applies_the_suggestion(window: Any, qtbot: Any) -> None:
    search_ready(window, qtbot)
    window.search_for("printr")
    qtbot.waitUntil(lambda: shown(window, "printr"), timeout=WAIT)
    assert window.results.result.total == 0
    assert window.results.suggestion.isVisible()
    assert "printer" in window.results.suggestion.text()
    window.results.suggestion.linkActivated.emit("apply")
    assert window.search_edit.text() == "printer"
    qtbot.waitUntil(lambda: shown(window, "printer"), timeout=WAIT)
    assert window.results.result.total > 0


def test_screenshots_of_search_and_analytics(qapp: Any, data_dir: Path, tmp_path: Path) -> None:
    from app.ui.screenshot import take

    for view, name in (("search:printer status:open", "search.png"),
                       ("analytics", "analytics.png")):
        out = tmp_path / name
        take(data_dir, out, view=view, size=(1200, 800))
        image = QImage(str(out))
        assert out.stat().st_size > 10_000 and (image.width(), image.height()) == (1200, 800)


def test_dashboard_bar_click_filters_the_list(window: Any, qtbot: Any) -> None:
    with qtbot.waitSignal(window.sig_dashboard_shown, timeout=WAIT):
        window.sidebar.select("dashboard")
    dash = window.dashboard
    assert window.main_stack.currentWidget() is window.dashboard_area
    qtbot.waitUntil(lambda: dash.data is not None, timeout=WAIT)
    rows = dash.data.tables["backlog"].rows
    status_rows = [r for r in rows if r[0] == "status"]

    def click_bar() -> bool:
        # The bar's place is read again on each try: the scroll area may still be laying
        # the freshly mounted dashboard out.
        plot, point = dash.bar_scene_pos("backlog_status", 1)
        QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, point.toPoint())
        return window.view.id == "drill"

    qtbot.waitUntil(click_bar, timeout=WAIT)
    status = status_rows[1][1]
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    assert window.main_stack.currentWidget() is window.split
    assert window.model.rowCount() == status_rows[1][2]
    assert {r[3] for r in window.model.rows()} == {status}


def assign_as(store: Any, *, actor: str, case: str, agent: str) -> Changes:
    """Writer thread: an assignment made by a teammate (another actor)."""
    old = store.actor
    store.actor = actor
    try:
        return ops.assign(store, case=case, agent=agent)
    finally:
        store.actor = old


def test_assignment_to_me_notifies_and_opens_the_case(window: Any, qtbot: Any,
                                                      store: Any) -> None:
    notes = window.notifications
    # The start-up SLA check may notify about the demo's overdue cases: read them first.
    qtbot.waitUntil(lambda: notes.panel is not None and notes.sla_checks >= 1
                    and not notes.busy, timeout=WAIT)
    notes.panel.mark_all_read()
    qtbot.waitUntil(lambda: window.bell.unread == 0, timeout=WAIT)
    case_id = store.read(lambda c: c.exec_driver_sql(
        "SELECT id FROM cases WHERE assignee_id IS NOT ? LIMIT 1", (store.actor,)).scalar())
    with qtbot.waitSignal(window.notifications.sig_notified, timeout=WAIT) as blocker:
        window.bridge.run(assign_as, actor="sam.rivera@support.example", case=case_id,
                          agent=store.actor)
    fresh = blocker.args[0]
    assert [(n.kind, n.case_id) for n in fresh] == [("assigned", case_id)]
    qtbot.waitUntil(lambda: window.bell.unread == 1, timeout=WAIT)
    window.bell.click()
    panel = window.notifications.panel
    assert window.notifications.popup_visible
    qtbot.waitUntil(lambda: panel.items and panel.items[0].kind == "assigned", timeout=WAIT)
    assert "assigned to you" in panel.list.item(0).text()
    panel.list.itemClicked.emit(panel.list.item(0))
    assert case_id in window.tab_details and not window.notifications.popup_visible
    qtbot.waitUntil(lambda: window.bell.unread == 0, timeout=WAIT)
    # Do not disturb is a switch in the panel, stored in the centre.
    window.bell.click()
    window.notifications.popup.dnd.setChecked(True)
    qtbot.waitUntil(lambda: window.notifications.dnd, timeout=WAIT)


def test_sla_at_risk_view_lists_the_cases_at_risk(window: Any, qtbot: Any) -> None:
    qtbot.waitUntil(lambda: window.analytics.ready, timeout=WAIT)
    import time

    from app.analytics.reports import sla_queue

    now = int(time.time() * 1000)
    queue = window.analytics.model.read(lambda c: sla_queue(c, view="at_risk", now_ms=now))
    expected = list(dict.fromkeys(r["case_id"] for r in queue))
    assert expected  # the demo data has cases close to their deadline
    window.sidebar.select("sla:at_risk")
    qtbot.waitUntil(lambda: window.view.id == "sla:at_risk" and window.is_idle()
                    and window.model.rowCount() > 0, timeout=WAIT)
    assert [r[0] for r in window.model.rows()] == expected
    item = window.sidebar.items["sla:at_risk"]
    qtbot.waitUntil(lambda: item.data(Qt.ItemDataRole.UserRole + 10) == len(expected),
                    timeout=WAIT)
    # "Due in" is loaded for the rows on screen: amber (at risk) here, never breached.
    from app.ui.case_list import DUE_COLUMN, DUE_STATE_ROLE

    qtbot.waitUntil(lambda: expected[0] in window.model.deadlines, timeout=WAIT)
    index = window.model.index(0, DUE_COLUMN)
    assert window.model.data(index, DUE_STATE_ROLE) == "at_risk"
    assert window.model.data(index)


def test_sort_by_due_in(window: Any, qtbot: Any) -> None:
    from app.ui.case_list import DUE_COLUMN

    qtbot.waitUntil(lambda: window.analytics.ready, timeout=WAIT)
    window.sidebar.select("all-open")
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    window.table.sortByColumn(DUE_COLUMN, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: window.is_idle() and window.sort_column == DUE_COLUMN,
                    timeout=WAIT)
    deadlines = [window.model.deadlines[r[0]][0] for r in window.model.rows()]
    with_clock = [d for d in deadlines if d is not None]
    assert with_clock and with_clock == sorted(with_clock)
    assert deadlines[:len(with_clock)] == with_clock  # cases without a clock come last


class BlockedSession:
    """A sync session whose server never answers until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.threads: list[str] = []
        self.api = self

    def call(self, _fn: Any) -> Any:
        from app.sync.api import Offline

        self.threads.append(threading.current_thread().name)
        self.entered.set()
        self.release.wait(20)
        raise Offline("the fake server is down")


def test_sync_runs_off_the_writer_thread(window: Any, qtbot: Any) -> None:
    window.bridge.run(ops.create_case, subject="Outbox is not empty")  # something to push
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    session = BlockedSession()
    window.sync.session = session
    failures: list[str] = []
    window.sync.bridge.sig_error.connect(failures.append)
    window.sync._run_sync()
    assert session.entered.wait(10)  # the sync is stuck in HTTP...
    case_id = window.model.case_id(0)
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=5_000) as blocker:
        window.bridge.run(ops.set_fields, case=case_id, changes={"priority": "urgent"})
    assert case_id in blocker.args[0].case_ids  # ...and a local write went through
    session.release.set()
    qtbot.waitUntil(lambda: window.bridge.pending == 0, timeout=WAIT)
    assert session.threads and all(t.startswith("network") for t in session.threads)
    window.sync.session = None


def test_old_tabs_are_parked_and_keep_their_drafts(window: Any, qtbot: Any) -> None:
    from app.ui.case_tabs import MAX_LIVE_TABS

    ids = [window.model.case_id(i) for i in range(MAX_LIVE_TABS + 3)]
    first = window.open_case_tab(ids[0])
    qtbot.waitUntil(lambda: first.detail is not None, timeout=WAIT)
    first.composer.editor.setPlainText("half-written reply")
    for case_id in ids[1:]:
        window.open_case_tab(case_id)
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    assert len(window.tab_details) == MAX_LIVE_TABS
    assert ids[0] in window.parked and window.tabs.count() == len(ids) + 1
    again = window.open_case_tab(ids[0])
    qtbot.waitUntil(lambda: again.detail is not None, timeout=WAIT)
    assert again is window.tabs.currentWidget()
    assert again.composer.editor.toPlainText() == "half-written reply"
    assert len(window.tab_details) == MAX_LIVE_TABS
    window.close_tab(window.tabs.indexOf(window.parked[ids[1]]))
    assert ids[1] not in window.parked and window.tabs.count() == len(ids)


def test_a_parked_tabs_view_is_reused_clean_for_the_next_case(window: Any, qtbot: Any) -> None:
    # Opening a tab takes the spare view built in idle time; a parked tab's view becomes
    # the spare, emptied: nothing of the case it showed may leak into the next one.
    from app.ui.case_detail import TAB_CONVERSATION, TAB_HISTORY
    from app.ui.case_tabs import MAX_LIVE_TABS

    qtbot.waitUntil(lambda: window.spare_detail is not None, timeout=WAIT)
    ids = [window.model.case_id(i) for i in range(MAX_LIVE_TABS + 2)]
    spare = window.spare_detail
    first = window.open_case_tab(ids[0])
    assert first is spare and window.spare_detail is None
    qtbot.waitUntil(lambda: first.detail is not None, timeout=WAIT)
    first_key = first.detail["key"]
    first.composer.editor.setPlainText("note for the first case only")
    first.composer.note_button.setChecked(True)
    first.tabs.setCurrentIndex(TAB_HISTORY)
    for case_id in ids[1:]:  # back to back: no idle time, so no spare is built meanwhile
        window.open_case_tab(case_id)
    assert ids[0] in window.parked and ids[1] in window.parked
    # parked before its case came back: named by its key from the list, not "Loading…"
    assert window.tabs.tabText(window.tabs.indexOf(window.parked[ids[1]])) == \
        window.model.case_key(1)
    assert window.tab_details[ids[-1]] is first  # the first tab's view shows the last case
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    assert first.case_id == ids[-1] and first.detail is not None
    assert first.detail["key"] != first_key
    assert first_key not in first.conversation.toPlainText()
    assert first.composer.editor.toPlainText() == ""
    assert not first.composer.internal
    assert first.tabs.currentIndex() == TAB_CONVERSATION
    assert first.history.topLevelItemCount() == len(first.detail["history"])
    assert window.drafts[ids[0]] == ("note for the first case only", True)
    recycled = window.spare_detail  # the second tab's view, emptied
    assert recycled is not None and recycled.case_id is None and recycled.detail is None
    assert recycled.conversation.toPlainText() == "" and recycled.history.topLevelItemCount() == 0
    again = window.open_case_tab(ids[0])  # unparked into the spare, the draft restored
    assert again is recycled
    qtbot.waitUntil(lambda: again.detail is not None and again.case_id == ids[0], timeout=WAIT)
    assert again.composer.editor.toPlainText() == "note for the first case only"
    assert again.composer.internal

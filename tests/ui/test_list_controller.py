"""The list controller alone (no main window) on a real seeded store: an edit of a field the
view does not filter on updates its row in place (one read, no reload); a filter field, a
created case or a rebuild reloads the view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.changes import Changes
from app.operations import cases as ops
from app.operations import lists

WAIT = 10_000
PRIORITY, STATUS, UPDATED = 4, 3, 7


@pytest.fixture
def bridge(qapp: Any, store: Any) -> Iterator[Any]:
    from app.ui.bridge import Bridge

    b = Bridge(store)
    yield b
    b.shutdown()


class Counted:
    """Wraps a reader function of the controller's module, counting the calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        import app.ui.list_controller as module

        self.calls = 0
        real = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)


@pytest.fixture
def controller(bridge: Any, data_dir: Path, qtbot: Any) -> Iterator[Any]:
    from app.ui.insights import AnalyticsController
    from app.ui.list_controller import ListController

    analytics = AnalyticsController(bridge, data_dir)  # never started: no SLA clocks
    ctl = ListController(bridge, analytics)
    bridge.sig_changes_applied.connect(ctl.on_changes)
    qtbot.addWidget(ctl.table)
    ctl.table.resize(900, 600)
    ctl.table.show()
    with qtbot.waitSignal(ctl.sig_loaded, timeout=WAIT):
        ctl.reload()
    qtbot.waitUntil(lambda: ctl.is_idle() and bridge.pending == 0, timeout=WAIT)
    yield ctl
    ctl.shutdown()
    analytics.shutdown()


def show(ctl: Any, qtbot: Any, view_id: str) -> None:
    from app.operations.navigation import BUILTIN_VIEWS
    from app.ui.sidebar import View

    title, _flt, sort = BUILTIN_VIEWS[view_id]
    with qtbot.waitSignal(ctl.sig_loaded, timeout=WAIT):
        ctl.set_view(View(view_id, title, "", sort))
    qtbot.waitUntil(lambda: ctl.is_idle() and ctl.bridge.pending == 0, timeout=WAIT)


def settle(ctl: Any, qtbot: Any) -> None:
    qtbot.wait(lists_delay_ms() + 50)  # a reload would have started by now
    qtbot.waitUntil(lambda: ctl.is_idle() and ctl.bridge.pending == 0, timeout=WAIT)


def lists_delay_ms() -> int:
    from app.ui.list_controller import RELOAD_DELAY_MS

    return RELOAD_DELAY_MS


def other_priority(value: str) -> str:
    return "low" if value != "low" else "urgent"


def test_priority_edit_updates_the_row_in_place_without_a_reload(
        controller: Any, bridge: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = controller
    assert ctl.view.id == "my-open" and ctl.model.rowCount() > 3
    fetches = Counted(monkeypatch, "fetch_rows")
    reads = Counted(monkeypatch, "refreshed_list")
    case_id, old_priority = ctl.model.rows()[3][0], ctl.model.rows()[3][PRIORITY]
    new = other_priority(old_priority)
    ctl.select_case(case_id)
    count = ctl.model.rowCount()
    bridge.run(ops.set_fields, case=case_id, changes={"priority": new})
    qtbot.waitUntil(lambda: ctl.model.rows()[ctl.model.row_of(case_id)][PRIORITY] == new,
                    timeout=WAIT)
    settle(ctl, qtbot)
    assert fetches.calls == 0  # the view was not fetched again
    assert reads.calls == 1  # one read of the changed row
    assert ctl.model.rowCount() == count
    # The edit moved its updated time: under "updated, newest first" the row is on top,
    # and the selection followed it there.
    assert ctl.model.row_of(case_id) == 0
    assert ctl.current_case() == case_id
    updated = [r[UPDATED] for r in ctl.model.rows()]
    assert updated == sorted(updated, reverse=True)


def test_in_memory_order_is_the_order_a_reload_gives(
        controller: Any, bridge: Any, qtbot: Any) -> None:
    ctl = controller
    for row in (5, 9, 2):
        case_id = ctl.model.rows()[row][0]
        new = other_priority(ctl.model.rows()[row][PRIORITY])
        bridge.run(ops.set_fields, case=case_id, changes={"priority": new})
        qtbot.waitUntil(lambda c=case_id, v=new: ctl.model.rows()[ctl.model.row_of(c)]
                        [PRIORITY] == v, timeout=WAIT)
        settle(ctl, qtbot)
    in_place = list(ctl.model.rows())
    with qtbot.waitSignal(ctl.sig_loaded, timeout=WAIT):
        ctl.reload(first_page=False)
    assert ctl.model.rows() == in_place


def test_status_edit_under_a_status_filter_reloads(
        controller: Any, bridge: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = controller
    show(ctl, qtbot, "pending")
    assert ctl.model.rowCount() > 1
    fetches = Counted(monkeypatch, "fetch_rows")
    case_id = ctl.model.rows()[0][0]
    count = ctl.model.rowCount()
    bridge.run(ops.set_fields, case=case_id, changes={"status": "open"})
    qtbot.waitUntil(lambda: ctl.model.row_of(case_id) < 0, timeout=WAIT)
    settle(ctl, qtbot)
    assert fetches.calls == 1
    assert ctl.model.rowCount() == count - 1


def test_created_case_reloads_and_enters_the_view(
        controller: Any, bridge: Any, store: Any, qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = controller
    show(ctl, qtbot, "all-open")
    fetches = Counted(monkeypatch, "fetch_rows")
    reads = Counted(monkeypatch, "refreshed_list")
    created: list[str] = []
    bridge.run(ops.create_case, subject="Label printer prints blank pages",
               on_done=lambda r: created.append(r[0]))
    qtbot.waitUntil(lambda: bool(created) and ctl.model.row_of(created[0]) >= 0,
                    timeout=WAIT)
    settle(ctl, qtbot)
    assert fetches.calls == 1 and reads.calls == 0


def test_a_pulled_change_goes_the_same_way(
        controller: Any, store: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = controller
    fetches = Counted(monkeypatch, "fetch_rows")
    case_id = ctl.model.rows()[1][0]
    new = other_priority(ctl.model.rows()[1][PRIORITY])
    changes = ops.set_fields(store, case=case_id, changes={"priority": new})
    changes.remote, changes.initiator = True, None  # as a sync pull announces it
    ctl.on_changes(changes)
    qtbot.waitUntil(lambda: ctl.model.rows()[ctl.model.row_of(case_id)][PRIORITY] == new,
                    timeout=WAIT)
    settle(ctl, qtbot)
    assert fetches.calls == 0
    remote_delete = Changes(case_ids={case_id}, fields={"deleted"}, membership=True,
                            remote=True)
    ctl.on_changes(remote_delete)
    settle(ctl, qtbot)
    assert fetches.calls == 1


def test_a_change_of_cases_not_listed_reads_nothing(
        controller: Any, store: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = controller
    fetches = Counted(monkeypatch, "fetch_rows")
    reads = Counted(monkeypatch, "refreshed_list")
    ctl.on_changes(Changes(case_ids={"not-in-this-view"}, fields={"priority"}))
    settle(ctl, qtbot)
    assert fetches.calls == 0 and reads.calls == 0


def test_a_bad_filter_field_is_reported_and_loads_nothing(
        bridge: Any, data_dir: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.ui.insights import AnalyticsController
    from app.ui.list_controller import ListController

    analytics = AnalyticsController(bridge, data_dir)
    ctl = ListController(bridge, analytics, filter_text=lambda: "colour:red")
    fetches = Counted(monkeypatch, "fetch_rows")
    with qtbot.waitSignal(ctl.sig_filter_invalid, timeout=WAIT) as blocker:
        ctl.reload()
    assert "unknown filter 'colour'" in blocker.args[0]
    assert fetches.calls == 0 and ctl.model.rowCount() == 0
    analytics.shutdown()


def test_plan_update_rules() -> None:
    flt = lists.view_filter("my-open", True, "", "")
    reads = lists.filter_fields(flt)
    assert {"status", "assignee_id"} <= reads and "priority" not in reads
    edit = Changes(case_ids={"a"}, fields={"priority"})
    assert lists.plan_update(edit, reads=reads, in_list=["a"]) is lists.Update.ROWS
    assert lists.plan_update(edit, reads=reads, in_list=[]) is lists.Update.NOTHING
    status = Changes(case_ids={"a"}, fields={"status"})
    assert lists.plan_update(status, reads=reads, in_list=["a"]) is lists.Update.RELOAD
    for flagged in (Changes(created=True), Changes(membership=True), Changes(rebuilt=True)):
        assert lists.plan_update(flagged, reads=reads, in_list=[]) is lists.Update.RELOAD
    # "Recently updated" filters on the updated time, which every edit moves.
    recent = lists.filter_fields(lists.view_filter("recent", True, "", ""))
    assert lists.plan_update(edit, reads=recent, in_list=[]) is lists.Update.RELOAD
    # An SLA queue or a drill-down keeps its rows: only those rows are read again.
    assert lists.plan_update(status, reads=None, in_list=["a"]) is lists.Update.ROWS
    assert lists.moves_rows(edit, "updated") and not lists.moves_rows(edit, "subject")


def test_under_a_header_sort_an_edit_of_that_column_moves_the_row_in_memory(
        controller: Any, bridge: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtCore import Qt

    from app.ui.case_list import COLUMNS, PRIORITY_ORDER

    ctl = controller
    show(ctl, qtbot, "all-open")
    column = [c[1] for c in COLUMNS].index(PRIORITY)
    ctl.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: ctl.sort_column == column and ctl.is_idle(), timeout=WAIT)
    fetches = Counted(monkeypatch, "fetch_rows")
    low = [r[0] for r in ctl.model.rows() if r[PRIORITY] == "low"]
    assert low
    case_id = low[-1]
    ctl.select_case(case_id)
    bridge.run(ops.set_fields, case=case_id, changes={"priority": "urgent"})
    qtbot.waitUntil(lambda: ctl.model.rows()[ctl.model.row_of(case_id)][PRIORITY] == "urgent",
                    timeout=WAIT)
    settle(ctl, qtbot)
    ranks = [PRIORITY_ORDER[r[PRIORITY]] for r in ctl.model.rows()]
    assert ranks == sorted(ranks, reverse=True)  # still in the header's order
    assert ctl.current_case() == case_id  # the selection moved with the row
    assert fetches.calls == 0


def test_a_drill_down_keeps_its_rows_and_their_order(
        controller: Any, bridge: Any, store: Any, qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.ui.sidebar import View

    ctl = controller
    ids = [r[0] for r in lists.refresh_rows(store, [r[0] for r in ctl.model.rows()[:6]])]
    ids.reverse()
    with qtbot.waitSignal(ctl.sig_loaded, timeout=WAIT):
        ctl.set_view(View("drill", "From the dashboard", "", "updated", False, {"ids": ids}))
    order = [r[0] for r in ctl.model.rows()]
    fetches = Counted(monkeypatch, "fetch_rows")
    bridge.run(ops.set_fields, case=order[-1], changes={"status": "solved"})
    qtbot.waitUntil(lambda: ctl.model.rows()[-1][STATUS] == "solved", timeout=WAIT)
    settle(ctl, qtbot)
    assert [r[0] for r in ctl.model.rows()] == order and fetches.calls == 0


def test_a_header_sort_right_after_an_edit_keeps_the_edit(
        controller: Any, store: Any, qtbot: Any) -> None:
    from PySide6.QtCore import Qt

    ctl = controller
    case_id = ctl.model.rows()[2][0]
    new = other_priority(ctl.model.rows()[2][PRIORITY])
    changes = ops.set_fields(store, case=case_id, changes={"priority": new})
    ctl.on_changes(changes)  # the row's read is on its way...
    ctl.model.sort(1, Qt.SortOrder.AscendingOrder)  # ...as a sort of the older rows
    settle(ctl, qtbot)
    assert ctl.model.rows()[ctl.model.row_of(case_id)][PRIORITY] == new

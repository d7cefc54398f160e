"""In the window: an edit refreshes only what it changed. A priority edit from the case
view updates the list row without fetching the view again and leaves the sidebar's counts
alone; a status edit (a field counts and the view's filter use) reloads both."""

from __future__ import annotations

from typing import Any

import pytest

from app.operations import cases as ops

WAIT = 10_000
PRIORITY = 4


class Calls:
    """Counts calls of a function of ``app.store.queries`` (list_cases: a view fetched;
    count_views: the sidebar's counts read), whichever thread makes them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        from app.store import queries

        self.calls = 0
        real = getattr(queries, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(queries, name, wrapper)


def settle(window: Any, qtbot: Any) -> None:
    qtbot.wait(300)  # past the list's reload delay: a reload would be under way
    qtbot.waitUntil(window.is_idle, timeout=WAIT)


def test_priority_edit_updates_its_row_without_reloading_the_view(
        window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert window.view.id == "my-open" and window.model.rowCount() > 4
    case_id, old = window.model.rows()[4][0], window.model.rows()[4][PRIORITY]
    first, new = [p for p in ("low", "normal", "high", "urgent") if p != old][:2]
    # A first edit may bring the case into "Recently updated" (its count moves); the
    # second cannot.
    window.bridge.run(ops.set_fields, case=case_id, changes={"priority": first})
    qtbot.waitUntil(lambda: window.model.row_of(case_id) == 0, timeout=WAIT)
    settle(window, qtbot)
    lists = Calls(monkeypatch, "list_cases")
    counts = Calls(monkeypatch, "count_views")
    window.bridge.run(ops.set_fields, case=case_id, changes={"priority": new},
                      initiator=window.detail)
    qtbot.waitUntil(lambda: window.model.row_of(case_id) >= 0 and
                    window.model.rows()[window.model.row_of(case_id)][PRIORITY] == new,
                    timeout=WAIT)
    settle(window, qtbot)
    assert lists.calls == 0  # the row was read again, not the view
    assert counts.calls == 0  # no view counts priority: the sidebar is left alone
    assert window.model.row_of(case_id) == 0  # newest first: it stays on top


def test_status_edit_reloads_the_view_and_the_counts(
        window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lists = Calls(monkeypatch, "list_cases")
    counts = Calls(monkeypatch, "count_views")
    case_id = window.model.rows()[0][0]
    before = window.model.rowCount()
    window.bridge.run(ops.set_fields, case=case_id, changes={"status": "solved"})
    qtbot.waitUntil(lambda: window.model.row_of(case_id) < 0, timeout=WAIT)
    settle(window, qtbot)
    assert lists.calls >= 1 and counts.calls == 1
    assert window.model.rowCount() == before - 1
    from app.ui.sidebar import COUNT_ROLE

    assert window.sidebar.items["my-open"].data(COUNT_ROLE) == before - 1

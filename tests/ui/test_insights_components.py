"""The insights, navigation and bulk-edit components built alone (no main window), on a
real seeded store and the real Bridge: results and errors come back on the GUI thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

WAIT = 15_000


@pytest.fixture
def bridge(qapp: Any, store: Any) -> Iterator[Any]:
    from app.ui.bridge import Bridge

    b = Bridge(store)
    yield b
    b.shutdown()


def test_a_failing_notification_read_reaches_the_status_bar(qtbot: Any, bridge: Any,
                                                            data_dir: Path) -> None:
    # The panel dropped exceptions of its background jobs silently (no list, no message).
    from app.ui.insights import BellButton, NotificationController

    bell = BellButton()
    qtbot.addWidget(bell)
    controller = NotificationController(bridge, data_dir, bell)
    with qtbot.waitSignal(controller.sig_opened, timeout=WAIT):
        controller.start()
    qtbot.waitUntil(lambda: controller.panel is not None and controller.panel.items == []
                    and not controller.busy, timeout=WAIT)

    def broken(**_kw: Any) -> Any:
        raise RuntimeError("notifications.db is gone")

    controller.center.list = broken  # type: ignore[method-assign]
    with qtbot.waitSignal(bridge.sig_error, timeout=WAIT) as error:
        controller.panel.refresh()
    assert error.args == ["Notifications: RuntimeError: notifications.db is gone"]
    controller.shutdown()


def test_dashboard_reports_a_failed_load(qtbot: Any, bridge: Any) -> None:
    from app.ui.dashboard import Dashboard

    def no_model() -> Any:
        raise OSError("analytics.db: disk I/O error")

    dash = Dashboard(bridge, no_model)
    qtbot.addWidget(dash)
    with qtbot.waitSignal(dash.sig_error, timeout=WAIT) as error:
        dash.reload()
    assert error.args == ["OSError: analytics.db: disk I/O error"]
    assert dash.status.text() == "Could not load the figures" and dash.data is None
    dash.shutdown()


def test_sidebar_shows_the_counts_of_its_views(qtbot: Any, bridge: Any, store: Any) -> None:
    from app.operations import cases as ops
    from app.operations.navigation import BUILTIN_VIEWS, load_counts
    from app.ui.sidebar import COUNT_ROLE, Sidebar

    ops.save_view(store, name="Urgent", query="priority:urgent")
    from app.store import schema as s

    # A view an older build saved whose query no longer parses (save_view refuses it now).
    store.write(lambda c: c.execute(s.saved_views.insert(), {
        "id": "v-broken", "name": "Broken", "query": "status:", "position": 1}))
    sidebar = Sidebar(store.actor)
    qtbot.addWidget(sidebar)
    done: list[Any] = []
    bridge.query(load_counts, store.actor, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    sidebar.set_counts(done[0])
    counts = done[0]["counts"]
    assert set(BUILTIN_VIEWS) <= set(counts) and "saved:Urgent" in counts
    assert "saved:Broken" not in counts  # no count, but the view is still listed
    assert sidebar.items["all-open"].data(COUNT_ROLE) == counts["all-open"] > 0
    assert sidebar.items["saved:Urgent"].data(COUNT_ROLE) == counts["saved:Urgent"]
    assert sidebar.items["saved:Broken"].data(COUNT_ROLE) is None
    assert sidebar.counts_loaded


def test_palette_lists_the_case_and_reports_a_failed_search(qtbot: Any, bridge: Any,
                                                           monkeypatch: Any) -> None:
    from app.ui import palette as pal

    ran: list[str] = []
    dialog = pal.CommandPalette(bridge, [pal.Action("New case", "Ctrl+N",
                                                    lambda: ran.append("new"))])
    qtbot.addWidget(dialog)
    dialog.open_palette()
    qtbot.keyClicks(dialog.edit, "SUP-2")
    qtbot.waitUntil(lambda: not dialog.searching and not dialog._timer.isActive(),
                    timeout=WAIT)
    kind, _payload = dialog.list.item(0).data(Qt.ItemDataRole.UserRole)
    assert kind == "case" and dialog.list.item(0).text().startswith("SUP-2 ")

    def broken(*_a: Any, **_kw: Any) -> Any:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(pal, "search_cases", broken)
    dialog.edit.setText("new case")
    with qtbot.waitSignal(bridge.sig_error, timeout=WAIT) as error:
        pass
    assert error.args == ["Case search: RuntimeError: database is locked"]
    qtbot.waitUntil(lambda: not dialog.searching, timeout=WAIT)
    titles = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert any("New case" in t for t in titles)  # the actions still work


def test_bulk_edit_dialog_is_one_undo_step(qtbot: Any, bridge: Any, store: Any) -> None:
    from app.operations import cases as ops
    from app.store import queries as q
    from app.ui.widgets import BulkEditDialog

    keys = [f"SUP-{n}" for n in range(1, 9)]
    ids = store.read(lambda c: [q.resolve_case(c, k) for k in keys])

    def state() -> list[tuple[Any, ...]]:
        return store.read(lambda c: [(d["priority"], sorted(d["tags"])) for d in
                                     (q.case_detail(c, i) for i in ids)])

    before = state()
    dialog = BulkEditDialog(bridge, list(zip(ids, keys, strict=True)), [])
    qtbot.addWidget(dialog)
    dialog.priority.setCurrentIndex(dialog.priority.findData("urgent"))
    qtbot.keyClicks(dialog.add_tags, "bulk-one")
    qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=WAIT)
    announced: list[Any] = []
    bridge.sig_changes_applied.connect(announced.append)
    with qtbot.waitSignal(dialog.sig_applied, timeout=WAIT):
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=WAIT)
    assert all(p == "urgent" and "bulk-one" in tags for p, tags in state())
    assert len(announced) == 1 and announced[0].made_by(dialog)
    assert set(announced[0].case_ids) == set(ids)
    ops.undo(store)
    assert state() == before


def test_a_finished_job_holds_no_callback_off_the_gui_thread(qtbot: Any, bridge: Any) -> None:
    # A callback holds widgets. When the job's future (kept by its worker thread) held the
    # callback, the worker could drop the last reference to a widget: PySide then deleted
    # it again on the GUI thread after Qt had (a segfault seen in the panel and dialog tests).
    import gc
    import threading
    import weakref
    from concurrent.futures import Future, ThreadPoolExecutor

    class KeepingExecutor(ThreadPoolExecutor):
        def __init__(self) -> None:
            super().__init__(max_workers=1)
            self.kept: list[Future[Any]] = []

        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
            future = super().submit(fn, *args, **kwargs)
            self.kept.append(future)  # as a worker thread still holding its work item
            return future

    class Callback:
        def __init__(self) -> None:
            self.results: list[Any] = []

        def __call__(self, result: Any) -> None:
            self.results.append(result)

    executor = KeepingExecutor()
    on_done, on_error = Callback(), Callback()
    done_ref, error_ref = weakref.ref(on_done), weakref.ref(on_error)
    gate = threading.Event()  # the job ends after its callbacks are registered
    bridge.background(executor, lambda: 42 if gate.wait(5) else 0, on_done=on_done,
                      on_error=on_error)
    gate.set()
    results = on_done.results
    qtbot.waitUntil(lambda: results == [42], timeout=WAIT)
    del on_done, on_error
    gc.collect()
    assert executor.kept and executor.kept[0].done()
    assert done_ref() is None and error_ref() is None
    executor.shutdown()

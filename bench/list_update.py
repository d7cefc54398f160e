"""Time from an edit to the case list showing it, on the real main window (offscreen).

    python bench/list_update.py --cases 10000

An edit is an operation run through the window's Bridge (as the case view or the terminal
runs it); timed until the list row shows the new value ("to_row") and until the window is
idle again ("to_idle": every follow-up read, including a delayed list reload, done). SQL
statements (every thread) from the edit to idle are counted too. Scenarios:

- ``priority_my_open``: priority edit under "My open cases" (filter status+assignee, sort
  updated): no filter field, but the sort key (updated) moves the row.
- ``priority_all_open``: the same under "All open" (about half the cases).
- ``status_all_open``: a status edit under "All open" (a filter field: the view reloads).

The window runs on a copy of the cached seeded folder (index and read model built once), so
each run starts from the same state.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRIORITIES = ("low", "normal", "high", "urgent")


def pump_until(cond: Callable[[], bool], timeout: float = 60.0) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError
        QTimer.singleShot(1, loop.quit)
        loop.exec()


def passed(moment: float) -> bool:
    return time.perf_counter() >= moment


def counts(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": ordered[len(ordered) // 2], "max": ordered[-1], "n": len(ordered)}


def measure(window: Any, store: Any, view_id: str, field: str, n: int) -> dict[str, Any]:
    from sqlalchemy import event

    from app.operations import cases as ops
    from bench.common import summary

    window.sidebar.select(view_id)
    pump_until(lambda: window.is_idle() and window.view.id == view_id)
    statements = [0]

    def count(*_a: Any) -> None:
        statements[0] += 1

    applied = [0.0]
    window.bridge.sig_changes_applied.connect(lambda _c: applied.__setitem__(0,
                                                                         time.perf_counter()))
    to_write: list[float] = []
    applied_to_row: list[float] = []
    to_row: list[float] = []
    to_idle: list[float] = []
    sql: list[int] = []
    index = 4 if field == "priority" else 3  # the row tuple's priority / status
    event.listen(store.engine, "before_cursor_execute", count)
    try:
        for i in range(n):
            rows = window.model.rows()
            row = rows[(i * 7) % min(len(rows), 150)]
            case_id = row[0]
            if field == "priority":
                new = PRIORITIES[(PRIORITIES.index(row[index]) + 1) % len(PRIORITIES)]
            else:
                new = "pending" if row[index] != "pending" else "open"
            statements[0] = 0
            t = time.perf_counter()
            window.bridge.run(ops.set_fields, case=case_id, changes={field: new})

            def shown(c: str = case_id, v: str = new) -> bool:
                r = window.model.row_of(c)
                return r >= 0 and bool(window.model.rows()[r][index] == v)

            applied[0] = 0.0
            pump_until(shown)
            now = time.perf_counter()
            to_row.append((now - t) * 1000)
            to_write.append((applied[0] - t) * 1000)
            applied_to_row.append((now - applied[0]) * 1000)
            pump_until(window.is_idle)
            to_idle.append((time.perf_counter() - t) * 1000)
            sql.append(statements[0])
            until = time.perf_counter() + 0.15  # the agent looks; background work settles
            pump_until(partial(passed, until))
            pump_until(window.is_idle)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    return {"rows_in_view": window.model.rowCount(), "to_row": summary(to_row),
            "write": summary(to_write), "applied_to_row": summary(applied_to_row),
            "to_idle": summary(to_idle), "sql_statements": counts(sql)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.store.repo import Store
    from app.ui.app import DB_NAME, make_application
    from app.ui.main_window import MainWindow
    from bench.common import emit, seeded_dir
    from bench.ui_figures import work_copy

    seeded, _ = seeded_dir(args.cases)
    prepared, _ = work_copy(seeded)
    with tempfile.TemporaryDirectory(prefix="list-update-") as tmp:
        folder = Path(tmp) / "data"
        shutil.copytree(prepared, folder)
        make_application()
        store = Store(folder / DB_NAME)
        window = MainWindow(store)
        window.resize(1400, 900)
        window.show()
        pump_until(window.is_idle)
        for part in ("search", "analytics"):  # steady state: index and read model open
            ctl = getattr(window, part, None)
            if ctl is not None:
                pump_until(partial(getattr, ctl, "ready"))
        figures: dict[str, Any] = {"cases": args.cases}
        for name, view_id, field in (("priority_my_open", "my-open", "priority"),
                                     ("priority_all_open", "all-open", "priority"),
                                     ("status_all_open", "all-open", "status")):
            figures[name] = measure(window, store, view_id, field, args.n)
        window.close()
        store.close()
    emit(figures)


if __name__ == "__main__":
    main()

"""What one field edit from the case view costs: SQL statements (every thread, on the store's
engine), background jobs, and wall time from the edit to every visible view updated.

    python bench/edit_cost.py --cases 300 --edits 15
prints JSON with two set-ups, both offscreen on a copy of a seeded demo folder:
- ``detail``: a case view (CaseDetail) on a Bridge, alone;
- ``window``: the main window, its list beside the case view (the list row must show the
  new value too).

An edit is the agent choosing another priority in the header's combo box (its ``activated``
signal, as a click emits it). "Updated" is: the case view shows the new value and the new
history row, no job is in flight and (window) the list row shows the value. Statements are
counted from the edit until the store has been quiet for ``--settle-ms`` (so untracked
background work — indexing, analytics, notifications — is counted too); wall time stops at
"updated". To measure older code, copy this file into that checkout's bench/ and run it
there (it imports the ``app`` beside it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SMART_SUPPORT_THEME", "light")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import emit, seeded_dir  # noqa: E402

PRIORITIES = ("low", "normal", "high", "urgent")


class StatementCounter:
    """Counts the statements run on ``engine`` by any thread, by kind and by thread."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.lock = threading.Lock()
        self.kinds: Counter[str] = Counter()
        self.threads: Counter[str] = Counter()
        self.last = time.perf_counter()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self.lock:
            kind = (statement.lstrip().split(None, 1) or ["?"])[0].upper()
            self.kinds[kind] += 1
            self.threads[threading.current_thread().name.rsplit("_", 1)[0]] += 1
            self.last = time.perf_counter()

    def reset(self) -> None:
        with self.lock:
            self.kinds.clear()
            self.threads.clear()
            self.last = time.perf_counter()

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def pump(until: Callable[[], bool], timeout_s: float = 20.0) -> None:
    from PySide6.QtCore import QCoreApplication, QEventLoop

    end = time.perf_counter() + timeout_s
    while not until():
        if time.perf_counter() > end:
            raise TimeoutError("the views did not settle")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


def settle(counter: StatementCounter, quiet_ms: float) -> None:
    pump(lambda: (time.perf_counter() - counter.last) * 1000 >= quiet_ms, timeout_s=30)


def edit_priority(view: Any) -> str:
    """Choose another priority in the header, as the agent does; returns it."""
    combo = view.priority_combo
    current = combo.currentData()
    value = PRIORITIES[(PRIORITIES.index(current) + 1) % len(PRIORITIES)] \
        if current in PRIORITIES else "high"
    index = combo.findData(value)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    return value


@dataclass
class Run:
    statements: int
    kinds: dict[str, int]
    threads: dict[str, int]
    jobs: int
    wall_ms: float


class JobCounter:
    """Counts the jobs the bridge starts (each rise of its busy count)."""

    def __init__(self, pending: int) -> None:
        self.last = pending
        self.jobs = 0

    def busy(self, n: int) -> None:
        if n > self.last:
            self.jobs += 1
        self.last = n


def measure(view: Any, bridge: Any, counter: StatementCounter, edits: int, settle_ms: float,
            idle: Callable[[], bool], extra: Callable[[str, str], bool]) -> dict[str, Any]:
    jobs = JobCounter(bridge.pending)
    bridge.sig_busy.connect(jobs.busy)
    runs: list[Run] = []
    for _ in range(edits):
        settle(counter, settle_ms)
        case_id = str(view.case_id)
        rows = view.history.topLevelItemCount()
        counter.reset()
        jobs.jobs = 0
        start = time.perf_counter()
        value = edit_priority(view)

        def updated(v: str = value, r: int = rows, c: str = case_id) -> bool:
            return bool(idle() and view.detail is not None and view.detail.get("priority") == v
                        and view.history.topLevelItemCount() == r + 1 and extra(c, v))

        pump(updated)
        wall_ms = (time.perf_counter() - start) * 1000
        settle(counter, settle_ms)
        runs.append(Run(counter.total, dict(counter.kinds), dict(counter.threads), jobs.jobs,
                        wall_ms))
    bridge.sig_busy.disconnect(jobs.busy)
    return {
        "statements_median": statistics.median(r.statements for r in runs),
        "statements_max": max(r.statements for r in runs),
        "selects_median": statistics.median(r.kinds.get("SELECT", 0) for r in runs),
        "jobs_median": statistics.median(r.jobs for r in runs),
        "wall_ms_median": round(statistics.median(r.wall_ms for r in runs), 1),
        "wall_ms_max": round(max(r.wall_ms for r in runs), 1),
        "last_edit": {"kinds": runs[-1].kinds, "threads": runs[-1].threads},
        "edits": edits,
    }


def detail_setup(folder: Path, edits: int, settle_ms: float) -> dict[str, Any]:
    from app.store import queries as q
    from app.store.repo import Store
    from app.ui.bridge import Bridge
    from app.ui.case_detail import CaseDetail

    store = Store(folder / "smart-support.db")
    bridge = Bridge(store)
    view = CaseDetail(bridge)
    view.resize(1280, 900)
    view.show()
    case_id = store.read(lambda c: q.resolve_case(c, "SUP-5"))
    view.load(case_id)
    counter = StatementCounter(store.engine)

    def idle() -> bool:
        return bridge.pending == 0 and not view.loading

    pump(lambda: idle() and view.detail is not None)
    try:
        return measure(view, bridge, counter, edits, settle_ms, idle, lambda _c, _v: True)
    finally:
        view.close()
        pump(lambda: bridge.pending == 0)
        bridge.shutdown()
        model = getattr(store, "_analytics_model", None)
        if model is not None:
            model.close()
        store.close()


def window_setup(folder: Path, edits: int, settle_ms: float) -> dict[str, Any]:
    from app.store.repo import Store
    from app.ui.main_window import MainWindow

    store = Store(folder / "smart-support.db")
    win = MainWindow(store)
    win.resize(1400, 900)
    win.show()
    pump(lambda: win.is_idle() and win.detail.detail is not None, timeout_s=60)
    search = getattr(win, "search", None)
    pump(lambda: search is None or bool(getattr(search, "ready", True)), timeout_s=120)
    counter = StatementCounter(store.engine)

    def row_shows(case_id: str, value: str) -> bool:
        row = next((r for r in win.model.rows() if r[0] == case_id), None)
        return row is not None and row[4] == value

    try:
        return measure(win.detail, win.bridge, counter, edits, settle_ms, win.is_idle,
                       row_shows)
    finally:
        win.close()
        win.bridge.shutdown()
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--edits", type=int, default=15)
    ap.add_argument("--settle-ms", type=float, default=400)
    ap.add_argument("--mode", choices=("detail", "window", "both"), default="both")
    args = ap.parse_args()
    import keyring
    from keyring.backends.null import Keyring as NullKeyring

    keyring.set_keyring(NullKeyring())  # type: ignore[no-untyped-call]  # never the OS keyring
    from app.ui.app import make_application

    make_application()
    seeded, _ = seeded_dir(args.cases)
    figures: dict[str, Any] = {"cases": args.cases, "settle_ms": args.settle_ms}
    modes = ("detail", "window") if args.mode == "both" else (args.mode,)
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="edit-cost-") as tmp:
            folder = Path(tmp)
            for f in seeded.glob("smart-support.db*"):
                shutil.copy2(f, folder / f.name)
            setup = detail_setup if mode == "detail" else window_setup
            figures[mode] = setup(folder, args.edits, args.settle_ms)
    emit(figures)


if __name__ == "__main__":
    main()

"""Desktop figures on the real main window (offscreen): cold start to the first page of the
list, opening a case, sorting the list, resident memory after opening 50 cases.

    python bench/ui_figures.py --cases 100000
Targets at 100,000 cases: cold start ≤ 1.0 s, open a case ≤ 50 ms, sort ≤ 300 ms,
memory after 50 cases ≤ 300 MB. Cold start is timed from before the interpreter starts
(a child process) to the first page of rows being in the list model. Sorting is timed on
"All open" (about half the cases).

The window writes next to the database (the search index, analytics.db,
notifications.db), so the bench works on a copy of the cached seeded folder
(``<cache>/ui-work-<cases>-<seed>``), whose index and read model are built once before
timing: the figures are those of an agent's laptop in steady state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r'''
import os, sys, time, json
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from pathlib import Path
from app.ui.app import DB_NAME, make_application
from app.store.repo import Store
from app.ui.main_window import MainWindow
from PySide6.QtCore import QCoreApplication, QEventLoop

app = make_application()
store = Store(Path(sys.argv[1]) / DB_NAME)
window = MainWindow(store)
window.resize(1400, 900)
window.show()
while window.model.rowCount() == 0:
    QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
print(json.dumps({"first_page_at": time.time(), "rows": window.model.rowCount()}), flush=True)
while not window.is_idle():
    QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
search = getattr(window, "search", None)
while search is not None and not search.ready:  # the index opens (a catch-up at most)
    QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
window.close()
window.bridge.shutdown()
store.close()  # a clean shutdown, as the app does: the next start skips the full check
'''


def work_copy(folder: Path) -> tuple[Path, dict[str, float]]:
    """A copy of the seeded folder the window may write into, index and read model built."""
    work = folder.parent / folder.name.replace("demo-", "ui-work-", 1)
    target = work / "smart-support.db"
    prepared: dict[str, float] = {}
    if not target.exists() or not (work / ".prepared").exists():
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        for f in folder.glob("smart-support.db*"):
            shutil.copy2(f, work / f.name)
        from app.analytics.model import open_model
        from app.search.service import SearchService
        from app.store.repo import Store

        store = Store(target)
        t = time.perf_counter()
        service = SearchService(work, store)
        service.ensure_index()
        service.close()
        prepared["index_build_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        model = open_model(store, work)
        model.catch_up()
        model.close()
        prepared["analytics_build_s"] = round(time.perf_counter() - t, 1)
        store.close()
        (work / ".prepared").write_text(json.dumps(prepared))
    return work, prepared


# Cases are opened at a person's pace (a click, then a glance at the case) — the pause is
# idle time in which the window prepares the next tab's view. ``open_case_burst`` opens
# BURST more back to back, with no idle time at all, for comparison.
PAUSE_MS = 300
BURST = 20


def cold_start(folder: Path, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True,
                              text=True, cwd=ROOT, timeout=120,
                              env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not line:
            raise RuntimeError(proc.stderr[-2000:])
        out.append((json.loads(line[-1])["first_page_at"] - t0) * 1000)
    return out


def in_process(folder: Path, n_open: int) -> dict[str, object]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import psutil
    from PySide6.QtCore import QEventLoop, Qt

    from app.store import queries as q
    from app.store.repo import Store
    from app.ui.app import DB_NAME, make_application
    from app.ui.main_window import MainWindow
    from bench.common import summary

    def pump_until(cond, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        # A real (nested) event loop, as the app runs under exec(): processEvents() alone
        # never runs deferred deletes, so closed or parked tabs would never be freed.
        from PySide6.QtCore import QTimer

        loop = QEventLoop()
        deadline = time.perf_counter() + timeout
        while not cond():
            if time.perf_counter() > deadline:
                raise TimeoutError
            QTimer.singleShot(2, loop.quit)
            loop.exec()

    make_application()
    store = Store(folder / DB_NAME)
    window = MainWindow(store)
    window.resize(1400, 900)
    window.show()
    pump_until(window.is_idle)
    for part in ("search", "analytics"):  # steady state: index and read model open
        ctl = getattr(window, part, None)
        if ctl is not None:
            pump_until(lambda c=ctl: c.ready)
    now = int(time.time() * 1000)
    ids = store.read(lambda c: [r[0] for r in q.list_cases(c, q.CaseFilter(), me=store.actor,
                                                           now_ms=now, limit=n_open + BURST)])

    def open_all(case_ids: list[str], pause_ms: int) -> list[float]:
        times = []
        for case_id in case_ids:
            t = time.perf_counter()
            detail = window.open_case_tab(case_id)
            pump_until(lambda d=detail, c=case_id: not d.loading and d.case_id == c)
            times.append((time.perf_counter() - t) * 1000)
            if pause_ms:  # the agent reads: the event loop is idle
                until = time.perf_counter() + pause_ms / 1000
                pump_until(lambda u=until: time.perf_counter() >= u)
        return times

    pane_ms = []  # a click in the list: the detail pane beside it shows the case
    for case_id in ids[n_open:]:
        t = time.perf_counter()
        window.detail.load(case_id)
        pump_until(lambda c=case_id: not window.detail.loading and window.detail.case_id == c)
        pane_ms.append((time.perf_counter() - t) * 1000)
    open_ms = open_all(ids[:n_open], PAUSE_MS)
    rss_mb = psutil.Process().memory_info().rss / 2**20
    burst_ms = open_all(ids[n_open:], 0)
    window.tabs.setCurrentIndex(0)
    window.sidebar.select("all-open")  # a large view: about half the cases
    pump_until(lambda: window.is_idle() and window.view.id == "all-open")
    sort_ms = {}
    for column, name in ((1, "subject"), (3, "priority"), (0, "key")):
        t = time.perf_counter()
        window.model.sort(column, Qt.SortOrder.AscendingOrder)
        pump_until(window.is_idle)
        sort_ms[name] = round((time.perf_counter() - t) * 1000, 1)
    rows = window.model.rowCount()
    window.close()
    store.close()
    return {"open_case": summary(open_ms), "open_case_burst": summary(burst_ms),
            "open_case_in_pane": summary(pane_ms),
            "rss_after_opening_mb": round(rss_mb, 1),
            "cases_opened": n_open, "sort_ms": sort_ms, "rows_in_view": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--open", type=int, default=50)
    args = ap.parse_args()
    from bench.common import emit, seeded_dir, summary

    seeded, _ = seeded_dir(args.cases)
    folder, prepared = work_copy(seeded)
    cold = cold_start(folder, args.runs)
    figures: dict[str, object] = {"cases": args.cases, "cold_start_first_page": summary(cold)}
    if prepared:
        figures["prepared"] = prepared
    figures.update(in_process(folder, args.open))
    emit(figures)


if __name__ == "__main__":
    main()

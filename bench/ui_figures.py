"""Desktop figures on the real main window (offscreen): cold start to the first page of the
list, opening a case, sorting the list, resident memory after opening 50 cases.

    python bench/ui_figures.py --cases 100000
Targets at 100,000 cases: cold start ≤ 1.0 s, open a case ≤ 50 ms, sort ≤ 300 ms,
memory after 50 cases ≤ 300 MB. Cold start is timed from before the interpreter starts
(a child process) to the first page of rows being in the list model.
"""

from __future__ import annotations

import argparse
import json
import os
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
window.close()
window.bridge.shutdown()
store.close()  # a clean shutdown, as the app does: the next start skips the full check
'''


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
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt

    from app.store import queries as q
    from app.store.repo import Store
    from app.ui.app import DB_NAME, make_application
    from app.ui.main_window import MainWindow
    from bench.common import summary

    def pump_until(cond, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.perf_counter() + timeout
        while not cond():
            if time.perf_counter() > deadline:
                raise TimeoutError
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 2)

    make_application()
    store = Store(folder / DB_NAME)
    window = MainWindow(store)
    window.resize(1400, 900)
    window.show()
    pump_until(window.is_idle)
    now = int(time.time() * 1000)
    ids = store.read(lambda c: [r[0] for r in q.list_cases(c, q.CaseFilter(), me=store.actor,
                                                           now_ms=now, limit=n_open)])
    open_ms = []
    for case_id in ids:
        t = time.perf_counter()
        detail = window.open_case_tab(case_id)
        pump_until(lambda d=detail: not d.loading and d.case_id == case_id)
        open_ms.append((time.perf_counter() - t) * 1000)
    rss_mb = psutil.Process().memory_info().rss / 2**20
    sort_ms = {}
    for column, name in ((1, "subject"), (3, "priority"), (0, "key")):
        t = time.perf_counter()
        window.model.sort(column, Qt.SortOrder.AscendingOrder)
        pump_until(window.is_idle)
        sort_ms[name] = round((time.perf_counter() - t) * 1000, 1)
    rows = window.model.rowCount()
    window.close()
    store.close()
    return {"open_case": summary(open_ms), "rss_after_opening_mb": round(rss_mb, 1),
            "cases_opened": len(ids), "sort_ms": sort_ms, "rows_in_view": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--open", type=int, default=50)
    args = ap.parse_args()
    from bench.common import emit, seeded_dir, summary

    folder, _ = seeded_dir(args.cases)
    cold = cold_start(folder, args.runs)
    figures: dict[str, object] = {"cases": args.cases, "cold_start_first_page": summary(cold)}
    figures.update(in_process(folder, args.open))
    emit(figures)


if __name__ == "__main__":
    main()

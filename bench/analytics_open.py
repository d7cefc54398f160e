"""Opening the dashboard on 100,000 cases: seed, fold the read models, time the data load.

Prints JSON. ``python bench/analytics_open.py [--cases N] [--seed S] [--keep DIR]``.
The figure that matters is ``open_ms`` (median of the warm runs): the time to load every
table the dashboard shows from the analytics read model (after a ``catch_up`` that finds
nothing new), i.e. what happens off the UI thread when the dashboard opens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--keep", help="use (and keep) this data folder; reuse it if seeded")
    a = p.parse_args()
    from app.analytics.dashboard_data import load_dashboard
    from app.analytics.model import AnalyticsModel
    from app.analytics.reports import Period
    from app.paths import db_path
    from app.store.demo import seed_demo
    from app.store.repo import Store

    tmp = None
    if a.keep:
        folder = Path(a.keep)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="ssa-bench-")
        folder = Path(tmp.name)
    out: dict[str, object] = {"cases": a.cases}
    fresh = not db_path(folder).exists()
    store = Store(db_path(folder))
    t0 = time.perf_counter()
    if fresh:
        counts = seed_demo(store, cases=a.cases, seed=a.seed)
        out["events"] = counts["events"]
    out["seed_s"] = round(time.perf_counter() - t0, 1) if fresh else None
    (folder / "analytics.db").unlink(missing_ok=True)
    model = AnalyticsModel.open(store, folder)
    t0 = time.perf_counter()
    folded = model.catch_up()
    out["full_fold_s"] = round(time.perf_counter() - t0, 2)
    out["folded_cases"] = folded
    # An incremental step: 50 operations' worth of new events, then catch up.
    from app.operations import cases as ops
    from app.store import queries as q

    keys = store.read(lambda c: [r[1] for r in q.list_cases(
        c, q.CaseFilter(), me=store.actor, now_ms=0, limit=50)])
    for k in keys:
        ops.comment(store, case=k, body="bench: internal note", internal=True)
    t0 = time.perf_counter()
    refolded = model.catch_up()
    out["incremental_catch_up_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out["incremental_cases"] = refolded
    period = Period.last_days(30)
    runs = []
    first = None
    for i in range(a.runs):
        t0 = time.perf_counter()
        data = load_dashboard(model, period=period)
        ms = (time.perf_counter() - t0) * 1000
        if i == 0:
            first = ms
        runs.append(ms)
    out["open_first_ms"] = round(first or 0, 1)
    out["open_ms"] = round(statistics.median(runs), 1)
    out["open_max_ms"] = round(max(runs), 1)
    t0 = time.perf_counter()
    load_dashboard(model, period=period, team="support")
    out["open_team_filter_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    t0 = time.perf_counter()
    load_dashboard(model, period=Period.last_days(180))
    out["open_180_days_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out["budget_ms"] = 300
    out["ok"] = out["open_ms"] <= 300  # type: ignore[operator]
    out["backlog_open_cases"] = sum(r[2] for r in data.tables["backlog"].rows
                                    if r[0] == "status")
    model.close()
    store.close()
    print(json.dumps(out, indent=2))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

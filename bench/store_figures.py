"""Foundation figures on the local store: demo seeding, open a case, field edit, sorting.

    python bench/store_figures.py --cases 100000
prints JSON. Targets (100,000 cases, ~400,000 comments): demo < 60 s, open a case ≤ 50 ms,
field edit committed p95 ≤ 20 ms, sorting the list ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, seeded_dir, summary  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    from app.operations import cases as ops
    from app.paths import db_path
    from app.store import queries as q
    from app.store.repo import Store

    folder, seed_s = seeded_dir(args.cases)
    store = Store(db_path(folder))
    now = int(time.time() * 1000)
    counts = store.read(lambda c: c.exec_driver_sql(
        "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM comments), "
        "(SELECT count(*) FROM events)").first())
    rng = random.Random(3)
    keys = [f"SUP-{rng.randint(1, int(args.cases * 0.55))}" for _ in range(args.samples)]

    open_ms = []
    for key in keys:
        t = time.perf_counter()
        store.read(lambda c, k=key: q.case_detail(c, q.resolve_case(c, k)))
        open_ms.append((time.perf_counter() - t) * 1000)
    edit_ms = []
    for key in keys[:100]:
        current = store.read(lambda c, k=key: q.case_detail(c, q.resolve_case(c, k)))
        value = "high" if current["priority"] != "high" else "low"  # always a real change
        t = time.perf_counter()
        changes = ops.set_fields(store, case=key, changes={"priority": value})
        edit_ms.append((time.perf_counter() - t) * 1000)
        assert changes.event_ids, "the edit wrote nothing"
    sort_ms = {}
    flt = q.CaseFilter()
    for col in ("updated", "priority", "subject", "status"):
        t = time.perf_counter()
        rows = store.read(lambda c, col=col: q.list_cases(c, flt, me=store.actor, now_ms=now,
                                                          sort=col))
        sort_ms[col] = round((time.perf_counter() - t) * 1000, 1)
    t = time.perf_counter()
    first_page = store.read(lambda c: q.list_cases(c, q.BUILTIN_VIEWS["all-open"][1],
                                                   me=store.actor, now_ms=now, limit=200))
    first_page_ms = (time.perf_counter() - t) * 1000
    store.close()
    emit({
        "cases": counts[0], "comments": counts[1], "events": counts[2],
        "demo_seed_s": None if seed_s is None else round(seed_s, 1),
        "open_case": summary(open_ms),
        "field_edit_commit": summary(edit_ms),
        "sort_full_list_ms": sort_ms, "sorted_rows": len(rows),
        "first_page_query_ms": round(first_page_ms, 1), "first_page_rows": len(first_page),
    })


if __name__ == "__main__":
    main()

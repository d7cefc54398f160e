"""Search latency, build time and edit-to-findable delay, against SQLite FTS5; prints JSON.

    python bench/search_latency.py --cases 10000 [--data-dir DIR] [--repeat 5] [--procs 2]

Seeds demo data in a temporary directory (or reuses ``DIR/smart-support.db``), builds the Whoosh
index (timed), runs a fixed set of realistic queries, then the same queries on an FTS5
table built in a copy of the database.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.operations import cases as ops  # noqa: E402
from app.paths import db_path  # noqa: E402
from app.search.service import SearchService  # noqa: E402
from app.store.demo import seed_demo  # noqa: E402
from app.store.repo import Store  # noqa: E402

# (our query, FTS5 MATCH or None, extra SQL condition on cases c or None)
QUERIES: list[tuple[str, str | None, str | None]] = [
    ("printer ", "printer", None),
    ("printers offline ", "printers offline", None),
    ("sync fails ", "sync fails", None),
    ("invoice charged twice ", "invoice charged twice", None),
    ("password reset ", "password reset", None),
    ("export timeout ", "export timeout", None),
    ("okta ", "okta", None),
    ("refund duplicate payment ", "refund duplicate payment", None),
    ("NullPointerException ", "NullPointerException", None),
    ("gateway timeout ", "gateway timeout", None),
    ('"log file" ', '"log file"', None),
    ('"invalid credentials" ', '"invalid credentials"', None),
    ('"too many requests" ', '"too many requests"', None),
    ('"dark theme" roadmap ', '"dark theme" roadmap', None),
    ("ERR-1042 ", '"err 1042"', None),
    ("ERR-1077 ", '"err 1077"', None),
    ("HTTP 429 ", "http 429", None),
    ("ana silva ", "ana silva", None),
    ("okafor ", "okafor", None),
    ("sync status:open ", "sync", "c.status = 'open'"),
    ("printer priority:high ", "printer", "c.priority = 'high'"),
    ("refund assignee:me ", "refund", "c.assignee_id = :me"),
    ("okta is:open -tag:sso ", "okta",
     "c.status IN ('new','open','pending','on-hold') AND c.id NOT IN "
     "(SELECT case_id FROM case_tags WHERE tag = 'sso' AND present)"),
    ("export tag:vip ", "export",
     "c.id IN (SELECT case_id FROM case_tags WHERE tag = 'vip' AND present)"),
    ("login updated:<30d ", "login", "c.updated_ms >= :d30"),
    ("invoice OR refund status:pending ", "invoice OR refund", "c.status = 'pending'"),
    ("status:open assignee:me", None, "c.status = 'open' AND c.assignee_id = :me"),
    ("is:unassigned priority:urgent", None, "c.assignee_id IS NULL AND c.priority = 'urgent'"),
    ("tag:escalated", None,
     "c.id IN (SELECT case_id FROM case_tags WHERE tag = 'escalated' AND present)"),
    ("prin", "prin*", None),
    ("sync fai", "sync fai*", None),
    ("okt", "okt*", None),
    ("dataf", "dataf*", None),
    ("upgrade missing records", "upgrade missing records", None),
]


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 2)


def build_fts(db: Path) -> float:
    con = sqlite3.connect(db)
    started = time.perf_counter()
    con.executescript("""
        DROP TABLE IF EXISTS fts;
        CREATE VIRTUAL TABLE fts USING fts5(subject, body, people,
            tokenize = 'porter unicode61');
        CREATE TEMP TABLE rid AS SELECT rowid AS r, id FROM cases;
        INSERT INTO fts(rowid, subject, body, people)
        SELECT c.rowid, c.subject,
               COALESCE(c.description, '') || ' ' || COALESCE((SELECT group_concat(body, ' ')
                   FROM comments m WHERE m.case_id = c.id AND m.redacted = 0), ''),
               COALESCE(cu.name, '') || ' ' || COALESCE(cu.email, '') || ' ' ||
               COALESCE(o.name, '')
        FROM cases c LEFT JOIN customers cu ON cu.id = c.requester_id
        LEFT JOIN organizations o ON o.id = c.organization_id
        WHERE c."exists" AND NOT c.deleted;
    """)
    con.commit()
    con.close()
    return time.perf_counter() - started


def fts_query(con: sqlite3.Connection, match: str | None, where: str | None,
              params: dict[str, Any]) -> float:
    started = time.perf_counter()
    cond = f"AND {where}" if where else ""
    if match:
        rows = con.execute(
            "SELECT c.id, c.key, c.subject, c.status, snippet(fts, 1, '«', '»', '…', 20) "
            f"FROM fts JOIN cases c ON c.rowid = fts.rowid WHERE fts MATCH :m {cond} "
            "ORDER BY bm25(fts, 3.0, 1.0, 1.0) LIMIT 50", {**params, "m": match}).fetchall()
        con.execute(f"SELECT COUNT(*) FROM fts JOIN cases c ON c.rowid = fts.rowid "
                    f"WHERE fts MATCH :m {cond}", {**params, "m": match}).fetchone()
    else:
        rows = con.execute(f"SELECT c.id, c.key FROM cases c WHERE 1 {cond} "
                           "ORDER BY c.updated_ms DESC LIMIT 50", params).fetchall()
        con.execute(f"SELECT COUNT(*) FROM cases c WHERE 1 {cond}", params).fetchone()
    assert rows is not None
    return (time.perf_counter() - started) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--no-build", action="store_true", help="reuse an existing index")
    args = ap.parse_args()
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="ssa-bench-"))
    data.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"data_dir": str(data)}
    fresh = not (db_path(data)).exists()
    store = Store(db_path(data))
    out["cases"] = args.cases if fresh else store.read(  # what the folder really holds
        lambda c: c.exec_driver_sql("SELECT count(*) FROM cases").scalar())
    if fresh:
        started = time.perf_counter()
        out["seed"] = seed_demo(store, cases=args.cases, seed=7)
        out["seed_s"] = round(time.perf_counter() - started, 1)
    me = store.actor
    svc = SearchService(data, store, procs=args.procs)
    if not args.no_build:
        shutil.rmtree(data / "index", ignore_errors=True)
    started = time.perf_counter()
    cpu0 = _cpu()
    svc.ensure_index()
    out["index_build_s" if not args.no_build else "index_open_s"] = round(
        time.perf_counter() - started, 2)
    out["index_build_cpu_s"] = round(_cpu() - cpu0, 1)  # this process + its workers
    out["index_procs"] = args.procs
    out["index_mb"] = round(sum(p.stat().st_size for p in (data / "index").iterdir()) / 1e6, 1)

    for q, _, _ in QUERIES:  # warm caches once, as an open app would be
        svc.search(q, me=me)
    lat: list[float] = []
    per_query: dict[str, dict[str, Any]] = {}
    for q, _, _ in QUERIES:
        times = []
        for _ in range(args.repeat):
            result = svc.search(q, me=me)
            times.append(result.took_ms)
        lat += times
        per_query[q.strip()] = {"median_ms": round(statistics.median(times), 2),
                                "total": result.total}
    out["whoosh"] = {"queries": len(QUERIES), "runs": len(lat), "p50_ms": pct(lat, 50),
                     "p95_ms": pct(lat, 95), "max_ms": pct(lat, 100)}

    delays = []
    case_keys = [h["key"] for h in svc.search("status:open", me=me, limit=10).hits]
    for i, key in enumerate(case_keys[:5]):
        token = f"zq{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        ops.set_fields(store, case=key, changes={"subject": f"Edited {token} {i}"})
        svc.catch_up()
        found = svc.search(token, me=me).hits
        delays.append((time.perf_counter() - started) * 1000)
        assert found and found[0]["key"] == key
    after_edit = [svc.search(q, me=me).took_ms for q, _, _ in QUERIES[:10]]
    out["edit_to_findable_ms"] = {"median": round(statistics.median(delays), 1),
                                  "max": round(max(delays), 1),
                                  "first_searches_after_edit_p50_ms": pct(after_edit, 50)}

    fts_dir = Path(tempfile.mkdtemp(prefix="ssa-fts-"))
    src = sqlite3.connect(db_path(data))
    dst = sqlite3.connect(fts_dir / "copy.db")
    src.backup(dst)
    src.close()
    dst.close()
    out["fts5_build_s"] = round(build_fts(fts_dir / "copy.db"), 2)
    con = sqlite3.connect(fts_dir / "copy.db")
    params = {"me": me, "d30": int(time.time() * 1000) - 30 * 86_400_000}
    for _, m, w in QUERIES:
        fts_query(con, m, w, params)
    flat: list[float] = []
    for _, m, w in QUERIES:
        flat += [fts_query(con, m, w, params) for _ in range(args.repeat)]
    con.close()
    shutil.rmtree(fts_dir, ignore_errors=True)
    out["fts5"] = {"p50_ms": pct(flat, 50), "p95_ms": pct(flat, 95), "max_ms": pct(flat, 100)}
    out["ratio_whoosh_over_fts5"] = {
        "p50": round(out["whoosh"]["p50_ms"] / max(out["fts5"]["p50_ms"], 0.01), 2),
        "p95": round(out["whoosh"]["p95_ms"] / max(out["fts5"]["p95_ms"], 0.01), 2)}
    out["targets_100k"] = {"p95_ms": 50, "p50_ms": 15, "build_s": 60, "edit_to_findable_ms": 1000}
    out["per_query"] = per_query
    svc.close()
    store.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""Search latency, build time and edit-to-findable delay, beside SQLite FTS5; prints JSON.

    python bench/search_latency.py [--corpus demo,generated] [--sizes 10k,100k] [--million]
                                   [--data-dir DIR] [--repeat 5] [--procs 2] [--no-build]

For each corpus and size: the demo corpus (``app/store/demo.py``, ~450 characters a case) and
a generated one of another vocabulary (``bench/search_corpus.py``: log excerpts, quoted e-mail
threads, ~750 characters a case, imported through the real importer). It times the index
build, the first search after opening the index (in a fresh process), then each query's
**first run** in a warm process (index open, unrelated queries run before: what an agent
typing a new query meets) apart from its **repeats** (cache hits), and the same queries'
words on an FTS5 table built from a copy of the same database, first runs and repeats alike.
Wall-clock times around the whole call (snippets included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
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
from bench.search_corpus import SIZES, corpus_dir  # noqa: E402

Query = tuple[str, str | None, str | None]
# (our query, FTS5 MATCH or None, extra SQL condition on cases c or None)
QUERIES: list[Query] = [
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

# The generated corpus's vocabulary (bench/search_corpus.py).
GEN_QUERIES: list[Query] = [
    ("invoice export ", "invoice export", None),
    ("webhook delivery timeout ", "webhook delivery timeout", None),
    ("ECONNRESET ", "ECONNRESET", None),
    ("DeadlockDetected postgres ", "DeadlockDetected postgres", None),
    ("rounds amounts incorrectly ", "rounds amounts incorrectly", None),
    ('"stale balances" ', '"stale balances"', None),
    ('"replication lag" ', '"replication lag"', None),
    ('"feature flag" canary ', '"feature flag" canary', None),
    ("sso login certificates ", "sso login certificates", None),
    ("takahashi ", "takahashi", None),
    ("mireille lindqvist ", "mireille lindqvist", None),
    ("copperleaf ", "copperleaf", None),
    ("payout batch settlement ", "payout batch settlement", None),
    ("kafka broker ", "kafka broker", None),
    ("OutOfMemoryError pdf renderer ", "OutOfMemoryError pdf renderer", None),
    ("dunning emails ", "dunning emails", None),
    ("tax calculation upgrade ", "tax calculation upgrade", None),
    ("chargeback OR reconciliation ", "chargeback OR reconciliation", None),
    ("usage metering status:open ", "usage metering", "c.status = 'open'"),
    ("audit trail priority:urgent ", "audit trail", "c.priority = 'urgent'"),
    ("quorum tag:outage ", "quorum",
     "c.id IN (SELECT case_id FROM case_tags WHERE tag = 'outage' AND present)"),
    ("api tokens is:open -tag:security ", "api tokens",
     "c.status IN ('new','open','pending','on-hold') AND c.id NOT IN "
     "(SELECT case_id FROM case_tags WHERE tag = 'security' AND present)"),
    ("status:pending priority:high", None, "c.status = 'pending' AND c.priority = 'high'"),
    ("tag:data-loss", None,
     "c.id IN (SELECT case_id FROM case_tags WHERE tag = 'data-loss' AND present)"),
    ("webh", "webh*", None),
    ("ledger canar", "ledger canar*", None),
    ("ETIME", "ETIME*", None),
    ("backpres", "backpres*", None),
    ("postmortem root cause ", "postmortem root cause", None),
    ("failover hotfix runbook ", "failover hotfix runbook", None),
]
# Run before the measured queries, sharing none of their words: the process is warm.
WARMUP = {"demo": ["hello world ", "status:new", "zebra crossing "],
          "generated": ["printer paper ", "status:new", "zebra crossing "]}


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


CPU: list[float] = []  # this process's CPU ms of each _wall call: honest on a loaded machine


def _wall(fn: Any) -> float:
    cpu = time.process_time()
    started = time.perf_counter()
    fn()
    CPU.append((time.process_time() - cpu) * 1000)
    return (time.perf_counter() - started) * 1000


def demo_dir(cases: int, data_dir: Path | None) -> tuple[Path, dict[str, Any]]:
    """The demo corpus's data folder (seeded, timed, when it holds no database yet)."""
    from bench.search_corpus import ROOT

    data = data_dir or ROOT / f"demo-{cases}-7"
    data.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"corpus": "demo", "data_dir": str(data)}
    if not db_path(data).exists() or not (data / ".seeded").exists() and data_dir is None:
        for p in data.glob("smart-support.db*"):
            p.unlink()
        store = Store(db_path(data))
        started = time.perf_counter()
        figures["seed"] = seed_demo(store, cases=cases, seed=7)
        figures["seed_s"] = round(time.perf_counter() - started, 1)
        store.close()
        (data / ".seeded").write_text("")
    return data, figures


def probe_open(data: Path, query: str) -> None:
    """In a fresh process: open the built index, then the first search (``--probe-open``)."""
    started = time.perf_counter()
    store = Store(db_path(data))
    svc = SearchService(data, store)
    svc.ensure_index()
    opened = time.perf_counter()
    svc.search(query, me=store.actor)
    done = time.perf_counter()
    print(json.dumps({"open_ms": round((opened - started) * 1000, 1),
                      "first_search_ms": round((done - opened) * 1000, 1)}))
    svc.close()
    store.close()


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50_ms": pct(values, 50), "p95_ms": pct(values, 95), "max_ms": pct(values, 100),
            "n": len(values)}


def measure_ours(svc: SearchService, me: str, queries: list[Query], warmup: list[str],
                 repeat: int) -> dict[str, Any]:
    for q in warmup:
        svc.search(q, me=me)
    CPU.clear()
    first = {q: _wall(lambda q=q: svc.search(q, me=me)) for q, _, _ in queries}
    first_cpu = list(CPU)
    again: dict[str, list[float]] = {q: [] for q, _, _ in queries}
    for _ in range(repeat):
        for q, _, _ in queries:
            again[q].append(_wall(lambda q=q: svc.search(q, me=me)))
    again_cpu = CPU[len(first_cpu):]
    words = [q for q, m, _ in queries if m]
    return {
        "first_run": _stats(list(first.values())),
        "repeat": _stats([t for ts in again.values() for t in ts]),
        "words_first_run": _stats([first[q] for q in words]),
        "words_repeat": _stats([t for q in words for t in again[q]]),
        "cpu_first_run": _stats(first_cpu), "cpu_repeat": _stats(again_cpu),
        "per_query": {q.strip(): {"first_ms": round(first[q], 2),
                                  "repeat_median_ms": round(statistics.median(again[q]), 2),
                                  "total": svc.search(q, me=me).total}
                      for q, _, _ in queries}}


def _timed_fts(con: sqlite3.Connection, match: str, where: str | None,
               params: dict[str, Any]) -> float:
    cpu = time.process_time()
    took = fts_query(con, match, where, params)
    CPU.append((time.process_time() - cpu) * 1000)
    return took


def measure_fts(data: Path, me: str, queries: list[Query], warmup: list[str],
                repeat: int) -> dict[str, Any]:
    fts_dir = Path(tempfile.mkdtemp(prefix="ssa-fts-"))
    try:
        src = sqlite3.connect(db_path(data))
        dst = sqlite3.connect(fts_dir / "copy.db")
        src.backup(dst)
        src.close()
        dst.close()
        out: dict[str, Any] = {"build_s": round(build_fts(fts_dir / "copy.db"), 2)}
        con = sqlite3.connect(fts_dir / "copy.db")  # a fresh connection: nothing cached
        params = {"me": me, "d30": int(time.time() * 1000) - 30 * 86_400_000}
        for w in warmup:
            if ":" not in w:
                fts_query(con, w.strip(), None, params)
        words = [(m, w) for _, m, w in queries if m]
        CPU.clear()
        first = [_timed_fts(con, m, w, params) for m, w in words]
        first_cpu = list(CPU)
        again = [_timed_fts(con, m, w, params) for _ in range(repeat) for m, w in words]
        con.close()
        out.update({"words_first_run": _stats(first), "words_repeat": _stats(again),
                    "cpu_first_run": _stats(first_cpu),
                    "cpu_repeat": _stats(CPU[len(first_cpu):])})
        return out
    finally:
        shutil.rmtree(fts_dir, ignore_errors=True)


def edit_to_findable(svc: SearchService, store: Store, me: str) -> dict[str, Any]:
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
    return {"median": round(statistics.median(delays), 1), "max": round(max(delays), 1)}


def run_corpus(name: str, data: Path, figures: dict[str, Any],
               args: argparse.Namespace) -> dict[str, Any]:
    queries = QUERIES if name == "demo" else GEN_QUERIES
    out = dict(figures)
    store = Store(db_path(data))
    out["cases"] = store.read(lambda c: c.exec_driver_sql(
        'SELECT count(*) FROM cases WHERE "exists" AND NOT deleted').scalar())
    out["text_chars_per_case"] = store.read(lambda c: c.exec_driver_sql(
        "SELECT (SELECT SUM(LENGTH(subject) + LENGTH(COALESCE(description, ''))) FROM cases)"
        " + (SELECT SUM(LENGTH(body)) FROM comments)").scalar()) // max(out["cases"], 1)
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
    svc.close()
    probe = subprocess.run([sys.executable, __file__, "--probe-open", str(data),
                            queries[0][0]], capture_output=True, text=True, check=True)
    out["after_open"] = json.loads(probe.stdout)
    svc = SearchService(data, store, procs=args.procs)
    svc.ensure_index()
    out["ours"] = measure_ours(svc, me, queries, WARMUP[name], args.repeat)
    out["fts5"] = measure_fts(data, me, queries, WARMUP[name], args.repeat)
    ours, fts = out["ours"], out["fts5"]
    out["ratio_ours_over_fts5_words"] = {
        f"{run}_{p}": round(ours[f"words_{run}"][f"{p}_ms"]
                            / max(fts[f"words_{run}"][f"{p}_ms"], 0.01), 2)
        for run in ("first_run", "repeat") for p in ("p50", "p95")}
    if name == "demo":  # edits change the data: not on the cached generated corpus
        out["edit_to_findable_ms"] = edit_to_findable(svc, store, me)
    svc.close()
    store.close()
    return out


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--probe-open":
        probe_open(Path(sys.argv[2]), sys.argv[3])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="demo,generated", help="demo, generated or both")
    ap.add_argument("--sizes", default="10k", help="comma separated: 10k, 100k")
    ap.add_argument("--cases", type=int, default=None, help="one size, as a number")
    ap.add_argument("--million", action="store_true", help="also 1,000,000 cases (3 KB each)")
    ap.add_argument("--chars", type=int, default=750, help="text a generated case holds")
    ap.add_argument("--data-dir", type=Path, default=None, help="the demo corpus's folder")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--no-build", action="store_true", help="reuse an existing index")
    args = ap.parse_args()
    sizes = [args.cases] if args.cases else [SIZES[s.strip().lower()]
                                             for s in args.sizes.split(",")]
    runs: list[tuple[str, int, int]] = [(c.strip(), n, args.chars)
                                        for n in sizes for c in args.corpus.split(",")]
    if args.million:
        runs.append(("generated", SIZES["1m"], 3000))
    out: dict[str, Any] = {"targets_100k": {"first_run_p50_ms": 15, "first_run_p95_ms": 50,
                                            "repeat_p95_ms": 15, "first_search_after_open_ms":
                                            150, "build_s": 60, "within_x_of_fts5": 3},
                           "load_avg": [round(x, 2) for x in os.getloadavg()], "runs": []}
    for name, cases, chars in runs:
        if name == "demo":
            data, figures = demo_dir(cases, args.data_dir)
        elif name == "generated":
            data, figures = corpus_dir(cases, chars)
        else:
            raise SystemExit(f"unknown corpus {name!r} (demo, generated)")
        out["runs"].append(run_corpus(name, data, figures, args))
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""Time importing generated cases (JSON Lines) into a fresh store; prints JSON.

    python bench/import_speed.py --cases 100000 [--format jsonl|csv] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.store.demo import (  # noqa: E402
    CUSTOMER_FOLLOWUPS,
    FIRST,
    LAST,
    ORG_WORDS,
    PROBLEMS,
    PRODUCTS,
    REPLIES,
    TAGS,
)
from app.store.importer import import_file  # noqa: E402
from app.store.repo import Store  # noqa: E402


def generate(path: Path, cases: int, seed: int = 3, fmt: str = "jsonl") -> None:
    r = random.Random(seed)
    now = time.time()
    people = [(f"{r.choice(FIRST)} {r.choice(LAST)}", r.choice(ORG_WORDS)) for _ in range(5000)]
    rows = []
    for i in range(cases):
        name, org = r.choice(people)
        domain = org.lower().replace(" ", "")
        email = name.lower().replace(" ", ".").replace("'", "") + f"@{domain}.example"
        product = r.choice(PRODUCTS)
        subj, desc = r.choice(PROBLEMS)
        values = {"p": product, "code": r.randint(1000, 1099), "n": r.randint(2, 40),
                  "dept": "ops", "inv": f"INV-{i}", "ver": "4.2.1", "order": 100000 + i}
        created = now - 90 * 86400 + i * (80 * 86400 / cases)
        comments = []
        t = created
        for j in range(r.randint(1, 5)):
            t += r.randint(600, 86400)
            author = email if j % 2 else "sam.rivera@support.example"
            body = (r.choice(CUSTOMER_FOLLOWUPS) if j % 2 else r.choice(REPLIES)).format(
                first=name.split()[0])
            comments.append({"author": author, "body": body, "public": r.random() > 0.1,
                             "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))})
        rows.append({"subject": subj.format(**values), "description": desc.format(**values),
                     "status": r.choice(["new", "open", "pending", "solved", "closed"]),
                     "priority": r.choice(["low", "normal", "high", "urgent"]),
                     "requester": {"name": name, "email": email}, "organization": org,
                     "product": product, "tags": r.sample(TAGS, r.randint(0, 2)),
                     "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
                     "comments": comments})
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["subject", "description", "status", "priority", "requester_name",
                        "requester_email", "organization", "product", "tags", "created_at",
                        "comments"])
            for row in rows:
                w.writerow([row["subject"], row["description"], row["status"], row["priority"],
                            row["requester"]["name"], row["requester"]["email"],
                            row["organization"], row["product"], ";".join(row["tags"]),
                            row["created_at"], json.dumps(row["comments"])])
    else:
        with path.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    ap.add_argument("--keep", type=Path, default=None, help="write the store here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ssa-import-"))
    work = args.keep or tmp
    work.mkdir(parents=True, exist_ok=True)
    src = tmp / f"cases.{args.format}"
    t0 = time.perf_counter()
    generate(src, args.cases, fmt=args.format)
    gen_s = time.perf_counter() - t0
    store = Store(work / "store.db")
    ticks: list[tuple[float, int]] = []
    t1 = time.perf_counter()
    report = import_file(store, src, progress=lambda done, total: ticks.append(
        (round(time.perf_counter() - t1, 2), done)))
    took = time.perf_counter() - t1
    counts = store.read(lambda c: {
        "cases": c.exec_driver_sql("SELECT COUNT(*) FROM cases").scalar(),
        "comments": c.exec_driver_sql("SELECT COUNT(*) FROM comments").scalar(),
        "customers": c.exec_driver_sql("SELECT COUNT(*) FROM customers").scalar(),
        "organizations": c.exec_driver_sql("SELECT COUNT(*) FROM organizations").scalar(),
        "events": c.exec_driver_sql("SELECT COUNT(*) FROM events").scalar()})
    print(json.dumps({"cases": args.cases, "format": args.format,
                      "generate_s": round(gen_s, 2), "import_s": round(took, 2),
                      "cases_per_s": round(args.cases / took), "target_s": 120,
                      "imported": report.imported, "skipped": report.skipped,
                      "errors": report.errors[:5], "store": counts,
                      "progress_ticks": len(ticks), "first_tick": ticks[:1]}, indent=2))


if __name__ == "__main__":
    main()

"""A generated corpus the search was not tuned on, imported through the real importer.

    python bench/search_corpus.py --cases 100000 [--chars 750] [--seed 12]

Another vocabulary than ``app/store/demo.py``: infrastructure and billing operations, pasted
log excerpts, quoted e-mail threads. About ``--chars`` characters of text a case (subject,
description and comments together) and 2.5 comments on average. Deterministic by seed: the
same arguments give the same file byte for byte. The JSON Lines file and the data folder it
is imported into are kept under ``/tmp/s-corpus`` (``SMART_SUPPORT_CORPUS_DIR``) and reused;
prints JSON (sizes, generation and import times).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(os.environ.get("SMART_SUPPORT_CORPUS_DIR", "/tmp/s-corpus"))
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}

SERVICES = ["ledger-api", "billing-worker", "edge-proxy", "kafka-broker", "vault-agent",
            "postgres-replica", "redis-sentinel", "cron-scheduler", "s3-uploader", "auth-gateway",
            "metrics-exporter", "webhook-relay", "search-indexer", "pdf-renderer", "smtp-relay"]
PRODUCTS = ["Ledgerly", "Vaultline", "Beacon", "Quarry", "Harbor", "Tessera"]
COMPONENTS = ["invoice export", "tax calculation", "webhook delivery", "SSO login",
              "bulk upload", "audit trail", "currency conversion", "usage metering",
              "report scheduler", "API tokens", "payout batch", "dunning emails"]
SYMPTOMS = ["returns 502 intermittently", "hangs after the upgrade", "drops every third request",
            "double-posts the journal entry", "rejects valid certificates",
            "times out under load", "shows stale balances", "loses the retry header",
            "leaks file descriptors", "ignores the rate limit", "skips the last page",
            "rounds amounts incorrectly"]
ERRORS = ["ECONNRESET", "ETIMEDOUT", "SSLHandshakeException", "DeadlockDetected",
          "OutOfMemoryError", "SerializationFailure", "QuotaExceeded", "BrokenPipe",
          "InvalidSignature", "LockWaitTimeout", "SegmentationFault", "ClockSkewDetected"]
LEVELS = ["INFO", "WARN", "ERROR", "DEBUG"]
FIRST = ["Mireille", "Tobias", "Ngozi", "Haruto", "Ingrid", "Rafael", "Zainab", "Lorcan",
         "Priyanka", "Dmitri", "Oluwaseun", "Annika", "Mateus", "Svetlana", "Kwame", "Elif"]
LAST = ["Brannigan", "Oyelaran", "Takahashi", "Lindqvist", "Castellanos", "Haddad",
        "MacAulay", "Raghunathan", "Volkov", "Adebayo", "Nieminen", "Ferreira", "Kowalczyk"]
ORGS = ["Northwind Freight", "Copperleaf Bank", "Tidewater Clinics", "Ironbark Mining",
        "Bluefin Logistics", "Quillfeather Press", "Saltmarsh Energy", "Granite Peak Telecom",
        "Ambergris Retail", "Foxglove Insurance"]
OPS_WORDS = ["rollback", "failover", "canary", "hotfix", "runbook", "on-call", "pager",
             "throttling", "backpressure", "idempotency", "reconciliation", "chargeback",
             "settlement", "ledger", "quorum", "replication lag", "checksum", "cold start",
             "feature flag", "maintenance window", "postmortem", "SLA breach", "root cause"]
PHRASES = ["we noticed {w} after the {c} change", "the {c} job {s}",
           "our finance team says the {c} {s}", "since Tuesday the {c} {s}",
           "customers in EU-west report that {c} {s}", "after enabling {w} the {c} {s}",
           "can you confirm whether {w} affects {c}", "the {w} did not help with {c}"]
TAGS = ["billing", "outage", "regression", "eu-west", "us-east", "escalated", "enterprise",
        "api", "security", "data-loss", "latency", "sso"]


def _sentence(r: random.Random) -> str:
    text = r.choice(PHRASES).format(w=r.choice(OPS_WORDS), c=r.choice(COMPONENTS),
                                    s=r.choice(SYMPTOMS))
    return text[0].upper() + text[1:] + "."


def _log(r: random.Random, when: datetime, budget: int) -> str:
    lines = []
    for i in range(r.randint(2, max(2, budget // 150))):
        t = (when + timedelta(milliseconds=137 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        svc = r.choice(SERVICES)
        lvl = r.choice(LEVELS)
        err = r.choice(ERRORS)
        lines.append(f"{t}Z {lvl} [{svc}-{r.randint(1, 9)}] req={r.getrandbits(32):08x} "
                     f"{err} upstream={r.choice(SERVICES)}:{r.choice([443, 5432, 6379, 9092])} "
                     f"latency_ms={r.randint(3, 30000)}")
    return "\n".join(lines)


def _person(r: random.Random) -> tuple[str, str]:
    first, last = r.choice(FIRST), r.choice(LAST)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}{r.randint(1, 99)}@example.net"


def _text(r: random.Random, budget: int, when: datetime, quote: str | None) -> str:
    parts: list[str] = []
    size = 0
    if quote and r.random() < 0.6:  # a reply quoting the message before it
        quoted = "\n".join("> " + line for line in quote.splitlines()[:max(1, budget // 200)])
        parts.append(f"On {when:%a %d %b %Y} someone wrote:\n{quoted}")
        size += len(parts[-1])
    if r.random() < 0.35:
        parts.append(_log(r, when, budget))
        size += len(parts[-1])
    while size < budget - 40:
        parts.append(_sentence(r))
        size += len(parts[-1]) + 1
    return "\n".join(parts)


def case_record(r: random.Random, n: int, chars: int, start: datetime) -> dict[str, Any]:
    """One case line; ~``chars`` characters of text in all, 0-5 comments (2.5 on average)."""
    when = start + timedelta(minutes=7 * n + r.randint(0, 6))
    name, email = _person(r)
    comments_n = r.randint(0, 5)
    share = max(60, int((chars - 190) / (comments_n + 1.3) * 0.98))  # minus fixed parts
    subject = f"{r.choice(COMPONENTS).capitalize()} {r.choice(SYMPTOMS)} ({r.choice(SERVICES)})"
    description = _text(r, int(share * 1.3) - len(subject), when, None)
    comments = []
    previous = description
    for i in range(comments_n):
        at = when + timedelta(hours=i + 1)
        body = _text(r, int(share), at, previous)
        author = email if i % 2 else f"{r.choice(FIRST).lower()}@support.example"
        comments.append({"author": author, "created_at": at.isoformat(), "body": body,
                         "public": r.random() < 0.85})
        previous = body
    return {"external_id": f"GEN-{n}", "subject": subject, "description": description,
            "status": r.choice(["new", "open", "open", "pending", "solved", "closed"]),
            "priority": r.choice(["low", "normal", "normal", "high", "urgent"]),
            "requester": {"name": name, "email": email}, "organization": r.choice(ORGS),
            "product": r.choice(PRODUCTS), "tags": r.sample(TAGS, r.randint(0, 3)),
            "created_at": when.isoformat(), "comments": comments}


def write_corpus(path: Path, cases: int, chars: int, seed: int) -> None:
    r = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as f:
        for n in range(cases):
            f.write(json.dumps(case_record(r, n, chars, start), ensure_ascii=False) + "\n")
    tmp.replace(path)


def corpus_dir(cases: int, chars: int = 750, seed: int = 12) -> tuple[Path, dict[str, Any]]:
    """The data folder holding the imported corpus (made, timed, if missing) and figures."""
    from app.paths import db_path
    from app.store.importer import import_file
    from app.store.repo import Store

    ROOT.mkdir(parents=True, exist_ok=True)
    name = f"gen-{cases}-{chars}-{seed}"
    source, folder = ROOT / f"{name}.jsonl", ROOT / name
    marker = folder / ".imported"
    figures: dict[str, Any] = {"corpus": name, "file": str(source), "data_dir": str(folder)}
    if marker.exists():
        figures.update(json.loads(marker.read_text()))
        return folder, figures
    if not source.exists():
        started = time.perf_counter()
        write_corpus(source, cases, chars, seed)
        figures["generate_s"] = round(time.perf_counter() - started, 1)
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(db_path(folder))
    try:
        report = import_file(store, source)
    finally:
        store.close()
    figures.update({"imported": report.imported, "already": report.already,
                    "import_s": round(report.seconds, 1),
                    "file_mb": round(source.stat().st_size / 1e6, 1)})
    if report.errors:
        raise SystemExit(f"the generated corpus has bad lines: {report.errors[:3]}")
    marker.write_text(json.dumps({k: v for k, v in figures.items() if k != "data_dir"}))
    return folder, figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--chars", type=int, default=750, help="characters of text a case")
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    _, figures = corpus_dir(args.cases, args.chars, args.seed)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

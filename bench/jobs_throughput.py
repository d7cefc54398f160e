"""Job queue throughput and added delay (issue 11). Prints JSON.

A real server process (``serve``, workers in-process, SQLite, default settings: 4 concurrent
jobs, 0.5 s poll) calls a local fake remote answering every create in 50 ms.
- jobs_per_s: N requests pushed at once, drained by the one worker process
- delay_ms p50/p95: from a request stored (the job's created_ms) to its remote call
  started, with requests arriving one at a time (--rate a second) and the breaker closed;
  the target is p95 <= 1,000 ms

    .venv/bin/python bench/jobs_throughput.py [--jobs 300] [--arrivals 100] [--rate 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync_server.db import make_engine  # noqa: E402
from sync_server.ids import uuid7  # noqa: E402
from sync_server.tables import jobs  # noqa: E402
from tests.server.fake_remote import FakeRemote  # noqa: E402
from tests.server.helpers import PASSWORD, hlc  # noqa: E402
from tests.server.jobs_processes import environment, start_server, stop  # noqa: E402
from tests.server.server_process import seed  # noqa: E402

ALICE = "alice@example.com"


def _event(team: str, case_id: str, type_: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid7(), "case_id": case_id, "team_id": team, "type": type_,
            "actor": ALICE, "device_id": "dev-1", "hlc": hlc(), "payload": payload}


def _ask(team: str, case_id: str) -> tuple[str, dict[str, Any]]:
    rid = uuid7()
    return rid, _event(team, case_id, "integration.requested",
                       {"request_id": rid, "system": "jira", "action": "create", "params": {}})


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--arrivals", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="arrivals per second")
    args = parser.parse_args()
    remote = FakeRemote(delay_s=0.05)
    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as folder:
        data = Path(folder) / "data"
        team = seed(data, {"Alpha": [ALICE]})["Alpha"]
        engine = make_engine(f"sqlite:///{data / 'server.sqlite3'}", pool_size=1)

        def settled() -> int:
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(jobs).where(
                    jobs.c.state == "done")).scalar_one())

        with remote.serve() as url:
            proc, base = start_server(data, environment(url))
            try:
                http = httpx.Client(base_url=base, timeout=60)
                token = http.post("/api/v1/auth/login",
                                  json={"email": ALICE, "password": PASSWORD}).json()
                http.headers["Authorization"] = f"Bearer {token['access_token']}"
                case_id = uuid7()
                http.post("/api/v1/events/push", json={"events": [_event(
                    team, case_id, "case.created", {"fields": {"subject": "bench",
                                                               "team_id": team}})]})
                # throughput: a backlog drained by one worker process
                batch = [_ask(team, case_id)[1] for _ in range(args.jobs)]
                started = time.monotonic()
                for start in range(0, len(batch), 100):
                    http.post("/api/v1/events/push", json={"events": batch[start:start + 100]})
                while settled() < args.jobs:
                    time.sleep(0.02)
                throughput = args.jobs / (time.monotonic() - started)
                # added delay: requests arriving one at a time
                arrivals: list[str] = []
                for _ in range(args.arrivals):
                    rid, asked = _ask(team, case_id)
                    http.post("/api/v1/events/push", json={"events": [asked]})
                    arrivals.append(rid)
                    time.sleep(1 / args.rate)
                while settled() < args.jobs + args.arrivals:
                    time.sleep(0.02)
            finally:
                stop(proc)
        with engine.connect() as conn:
            created = {r.request_id: int(r.created_ms) for r in conn.execute(
                select(jobs.c.request_id, jobs.c.created_ms).where(
                    jobs.c.request_id.in_(arrivals)))}
        engine.dispose()
    missing = [rid for rid in arrivals if f"req-{rid}" not in remote.first_call_at]
    if missing:
        print(f"error: {len(missing)} requests never reached the remote", file=sys.stderr)
        return 1
    delays = [remote.first_call_at[f"req-{rid}"] * 1000 - created[rid] for rid in arrivals]
    figures = {
        "jobs": args.jobs, "jobs_per_s": round(throughput, 1), "remote_answer_ms": 50,
        "arrivals": args.arrivals, "arrival_rate_per_s": args.rate,
        "delay_ms_p50": round(statistics.median(delays)),
        "delay_ms_p95": round(_pct(delays, 0.95)), "delay_ms_max": round(max(delays)),
        "target_p95_ms": 1000,
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sync-server ingest/pull benchmark on SQLite and PostgreSQL, side by side. Prints JSON.

    python bench/server_ingest.py [--quick]

Each backend gets a fresh server process (``python -m sync_server ... serve``) on a loopback
port; PostgreSQL runs in a throwaway cluster (scripts/pg_test_cluster.sh). Measured:
- push_10k_s: one client pushing 10,000 events in batches of 1,000 (seconds)
- pull_100k_s: an empty client pulling 100,000 events from cursor 0, pages of 1,000 (seconds)
- concurrent_50_events_per_s: 50 clients pushing batches of 100 at once (events/second)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "pg_test_cluster.sh"
PASSWORD = "bench-password-123"
SECRET = "bench-secret-" + "z" * 40
USERS = [f"agent{i}@example.com" for i in range(10)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


sys.path.insert(0, str(ROOT))
from sync_server.db import make_engine, migrate  # noqa: E402
from sync_server.ids import uuid7 as _uuid7  # noqa: E402
from sync_server.services import accounts  # noqa: E402


def _setup(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    for email in USERS:
        accounts.add_user(engine, email=email, name=email.split("@")[0], role="agent",
                          password=PASSWORD)
        accounts.add_member(engine, team="Support", email=email)
    engine.dispose()


_counter = 0
_lock = threading.Lock()


def _event(actor: str, team: str) -> dict[str, Any]:
    global _counter
    with _lock:
        _counter += 1
        n = _counter
    return {"id": _uuid7(), "case_id": _uuid7(), "team_id": team, "type": "comment.added",
            "payload": {"body": "The customer reports that the export fails. " * 4,
                        "internal": False, "author_kind": "agent"},
            "actor": actor, "device_id": "bench", "hlc": f"{1732550000000 + n:013d}.000000"}


class Server:
    def __init__(self, where: list[str]) -> None:
        self.port = _free_port()
        env = {**os.environ, "SMART_SUPPORT_SERVER_SECRET": SECRET}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sync_server", *where, "serve", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/openapi.json", timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def _login(base: str, email: str) -> tuple[dict[str, str], str]:
    data = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {data['access_token']}"}, data["user"]["teams"][0]["id"]


def _push(client: httpx.Client, headers: dict[str, str], events: list[dict[str, Any]]) -> None:
    response = client.post("/api/v1/events/push", json={"events": events}, headers=headers)
    response.raise_for_status()
    assert all(r["status"] == "stored" for r in response.json()["results"])


def run_backend(where: list[str], url: str, quick: bool) -> dict[str, Any]:
    _setup(url)
    server = Server(where)
    try:
        sessions = [_login(server.base, email) for email in USERS]
        results: dict[str, Any] = {}
        total_push = 2_000 if quick else 10_000
        headers, team = sessions[0]
        batches = [[_event(USERS[0], team) for _ in range(1000)] for _ in range(total_push // 1000)]
        with httpx.Client(base_url=server.base, timeout=120) as client:
            start = time.perf_counter()
            for batch in batches:
                _push(client, headers, batch)
            results["push_10k_s"] = round(time.perf_counter() - start, 3)

        clients, per_client, batch_size = 50, (2 if quick else 10), 100
        work = [[[_event(USERS[i % len(USERS)], team) for _ in range(batch_size)]
                 for _ in range(per_client)] for i in range(clients)]
        barrier = threading.Barrier(clients + 1)

        def worker(i: int) -> None:
            h = sessions[i % len(sessions)][0]
            with httpx.Client(base_url=server.base, timeout=300) as client:
                barrier.wait()
                for batch in work[i]:
                    _push(client, h, batch)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        results["concurrent_50_events_per_s"] = round(clients * per_client * batch_size / elapsed, 1)

        target = 20_000 if quick else 100_000
        stored = total_push + clients * per_client * batch_size
        with httpx.Client(base_url=server.base, timeout=120) as client:
            while stored < target:
                n = min(1000, target - stored)
                _push(client, headers, [_event(USERS[0], team) for _ in range(n)])
                stored += n
            fresh, _ = _login(server.base, USERS[-1])
            start = time.perf_counter()
            cursor, count = 0, 0
            while True:
                page = client.get("/api/v1/events", params={"since": cursor, "limit": 1000},
                                  headers=fresh).json()
                count += len(page["events"])
                cursor = page["next_cursor"]
                if not page["has_more"]:
                    break
            results["pull_100k_s"] = round(time.perf_counter() - start, 3)
            results["pulled_events"] = count
        return results
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller volumes (smoke run)")
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                           "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as folder:
        out["sqlite"] = run_backend(["--data-dir", folder],
                                    f"sqlite:///{folder}/server.sqlite3", args.quick)
    pgdir = tempfile.mkdtemp(prefix="bench-pg-")
    try:
        url = subprocess.run([str(SCRIPT), "start", pgdir], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        out["postgresql"] = run_backend(["--db", url], url, args.quick)
    finally:
        subprocess.run([str(SCRIPT), "stop", pgdir], capture_output=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

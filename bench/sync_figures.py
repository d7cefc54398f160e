"""Sync figures through the real server on loopback, SQLite and PostgreSQL side by side.

    python bench/sync_figures.py [--first-sync-events 100000]
Targets: first sync of 100,000 events to an empty client ≤ 30 s; push of 10,000 offline
events ≤ 5 s; a change on one client visible on another (live stream → pull) p95 ≤ 1 s.
Server ingest with 50 concurrent clients is measured by bench/server_ingest.py.
PostgreSQL runs in a throwaway cluster with fsync on (PG_TEST_DURABLE=1).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "bench password 123"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres(tmp: Path) -> Iterator[str]:
    script = ROOT / "scripts" / "pg_test_cluster.sh"
    env = dict(os.environ, PG_TEST_DURABLE="1")
    tmp.chmod(0o755)  # the cluster runs as an unprivileged user that must reach its folder
    url = subprocess.run(["bash", str(script), "start", str(tmp / "pg")], check=True,
                         capture_output=True, text=True, env=env).stdout.strip().splitlines()[-1]
    try:
        yield url
    finally:
        subprocess.run(["bash", str(script), "stop", str(tmp / "pg")], capture_output=True)


@contextmanager
def server(tmp: Path, db_url: str | None) -> Iterator[str]:
    import httpx

    where = ["--db", db_url] if db_url else ["--data-dir", str(tmp / "srv")]
    env = dict(os.environ, SMART_SUPPORT_SERVER_SECRET="b" * 48)

    def admin(*args: str, stdin: str | None = None) -> None:
        subprocess.run([str(BIN / "smart-support-server"), *where, *args], input=stdin,
                       text=True, check=True, capture_output=True, env=env)

    admin("team", "add", "Support", "--prefix", "SUP")
    for who in ("ana", "ben"):
        admin("user", "add", f"{who}@example.com", "--name", who, "--password-stdin",
              stdin=PASSWORD + "\n")
        admin("team", "add-member", "Support", f"{who}@example.com")
    port = _port()
    proc = subprocess.Popen([str(BIN / "smart-support-server"), *where, "serve", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/api/v1/me", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def offline_events(store: Any, team: str, n_events: int) -> list[Any]:
    """Realistic offline work: cases with four replies each, as events not yet pushed."""
    from app.core import commands as cmd
    from app.core.fold import CaseState

    f = store.factory()
    events = []
    i = 0
    while len(events) < n_events:
        i += 1
        created = cmd.new_case(f, key=f"{store.device_code}-{i}",
                               fields={"subject": f"Offline case {i}", "team_id": team})
        state = CaseState(id=str(created[0].case_id))
        state.fields["team_id"] = team
        events += created
        for j in range(4):
            events += cmd.comment(f, state, body=f"reply {j} on case {i}", internal=j == 3)
    return events[:n_events]


def client(tmp: Path, name: str, url: str, email: str) -> tuple[Any, Any]:
    from app.store.repo import Store
    from app.sync.api import SyncApi
    from app.sync.session import SyncSession

    store = Store(tmp / name / "smart-support.db")
    session = SyncSession(store, SyncApi(url, timeout=120))
    session.login(email, PASSWORD)
    return store, session


def measure(tmp: Path, url: str, first_sync_events: int) -> dict[str, Any]:
    from app.operations import cases as ops
    from app.store import queries as q
    from app.sync.engine import sync_once
    from app.sync.live import LiveStream, session_token
    from bench.common import summary

    team = None
    a, sa = client(tmp, "a", url, "ana@example.com")
    team = a.get_meta("default_team")
    # Push of 10,000 offline events.
    a.bulk_load(offline_events(a, str(team), 10_000))
    t = time.perf_counter()
    report = sync_once(a, sa)
    push_s = time.perf_counter() - t
    assert report.pushed == 10_000, report.summary()
    # More history on the server, then the first sync of an empty client.
    extra = first_sync_events - 10_000 - 2_000  # the server adds a key event per case
    if extra > 0:
        a.bulk_load(offline_events(a, str(team), extra))
        sync_once(a, sa)
    b, sb = client(tmp, "b", url, "ben@example.com")
    t = time.perf_counter()
    first = sync_once(b, sb)
    first_s = time.perf_counter() - t
    # Edit-to-visible on another client, through the live stream and a pull.
    lock = threading.Lock()

    def on_hint(_seq: int) -> None:
        with lock:
            sync_once(b, sb)

    stream = LiveStream(url, session_token(sb), on_hint)
    stream.start()
    time.sleep(1.0)
    case_ids = a.read(lambda c: [r[0] for r in q.list_cases(
        c, q.CaseFilter(), me=a.actor, now_ms=int(time.time() * 1000), limit=20)])
    visible_ms = []
    for i, case_id in enumerate(case_ids):
        subject = f"Edited {i} at {time.time()}"
        t = time.perf_counter()
        ops.set_fields(a, case=case_id, changes={"subject": subject})
        sync_once(a, sa)
        deadline = time.perf_counter() + 10
        while b.read(lambda c, cid=case_id: q.case_detail(c, cid)["subject"]) != subject:
            if time.perf_counter() > deadline:
                raise TimeoutError("the change never arrived")
            time.sleep(0.005)
        visible_ms.append((time.perf_counter() - t) * 1000)
    stream.stop()
    a.close()
    b.close()
    return {"push_10k_offline_events_s": round(push_s, 2),
            "first_sync_events": first.pulled, "first_sync_s": round(first_s, 2),
            "change_visible_on_other_client": summary(visible_ms)}


def main() -> None:
    import keyring

    from tests.conftest import MemoryKeyring

    ap = argparse.ArgumentParser()
    ap.add_argument("--first-sync-events", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    keyring.set_keyring(MemoryKeyring())
    from bench.common import emit

    figures: dict[str, Any] = {}
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            if backend == "postgresql":
                with postgres(tmp) as db, server(tmp, db) as url:
                    figures[backend] = measure(tmp, url, args.first_sync_events)
            else:
                with server(tmp, None) as url:
                    figures[backend] = measure(tmp, url, args.first_sync_events)
    emit(figures)


if __name__ == "__main__":
    main()

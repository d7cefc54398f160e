"""Real server and worker processes for the job queue's process tests and benches: a
``serve`` or ``worker`` subprocess with the fake remote's handler, SIGKILL, and the fault run
(also run longer by bench/jobs_fault_run.py)."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from sync_server.db import make_engine
from sync_server.ids import uuid7
from sync_server.tables import jobs

from .fake_remote import TIMEOUT_ENV, URL_ENV, FakeRemote
from .helpers import PASSWORD, hlc
from .server_process import ROOT, SECRET, free_port, seed

ALICE = "alice@example.com"


def environment(remote: str, **job_env: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SMART_SUPPORT_SERVER_SECRET=SECRET,
               SMART_SUPPORT_JOB_HANDLERS="tests.server.fake_remote:register")
    env.pop("SMART_SUPPORT_SERVER_ENV", None)
    env[URL_ENV] = remote
    env.update({k if k.startswith("SMART_SUPPORT_") else f"SMART_SUPPORT_{k}": v
                for k, v in job_env.items()})
    return env


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "sync_server", *args], env=env,
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=out)


def start_server(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = spawn(["--data-dir", str(data_dir), "serve", "--port", str(port)], env,
                 data_dir / "server.log")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/api/v1/me", timeout=1)
            return proc, base
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (data_dir / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the server did not start:\n{log}") from None
            time.sleep(0.1)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            kill(proc)


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _token(base: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/auth/login",
                        json={"email": ALICE, "password": PASSWORD}, timeout=30)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def pull_all(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    since = 0
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        while True:
            page = http.get("/api/v1/events", params={"since": since, "limit": 1000}).json()
            found.extend(page["events"])
            since = page["next_cursor"]
            if not page["has_more"]:
                return found


def _reached(count: Callable[[], int], mark: int) -> bool:
    return count() >= mark


@dataclass
class FaultRun:
    requests: int
    kills: int
    seconds: float = 0.0
    done: int = 0
    failed: int = 0
    lost: list[str] = field(default_factory=list)
    failed_without_reason: list[str] = field(default_factory=list)
    remote: dict[str, Any] = field(default_factory=dict)
    adopted: int = 0
    waiting_events: int = 0

    def figures(self) -> dict[str, Any]:
        return {"requests": self.requests, "kills": self.kills,
                "seconds": round(self.seconds, 1), "done": self.done, "failed": self.failed,
                "lost": len(self.lost), "failed_without_reason": len(self.failed_without_reason),
                "adopted_after_unknown_outcome": self.adopted,
                "waiting_events": self.waiting_events, "remote": self.remote}


def fault_run(data_dir: Path, *, requests: int = 1000, kills: int = 2, seed_: int = 7,
              fail_rate: float = 0.15, timeout_rate: float = 0.10, lost_rate: float = 0.05,
              timeout_s: float = 10.0 * 60) -> FaultRun:
    """``requests`` integration requests pushed over HTTP against a fake remote failing or
    timing out ``fail_rate + timeout_rate + lost_rate`` of the time, the server SIGKILLed
    ``kills`` times part-way; waits until every job is done or failed."""
    teams = seed(data_dir, {"Alpha": [ALICE]})
    remote = FakeRemote(fail_rate=fail_rate, timeout_rate=timeout_rate, lost_rate=lost_rate,
                        hang_s=1.0, seed=seed_)
    run = FaultRun(requests=requests, kills=kills)
    engine = make_engine(f"sqlite:///{data_dir / 'server.sqlite3'}", pool_size=1)
    started = time.monotonic()

    def settled() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.state.in_(("done", "failed")))).scalar_one())

    with remote.serve() as url:
        env = environment(url, JOB_WORKERS="8", JOB_POLL_S="0.05", JOB_LEASE_S="3",
                          JOB_BACKOFF_BASE_S="0.05", JOB_BACKOFF_CAP_S="0.5",
                          BREAKER_THRESHOLD="10", BREAKER_OPEN_S="0.5",
                          **{TIMEOUT_ENV: "0.4"})
        proc, base = start_server(data_dir, env)
        try:
            headers = _token(base)
            case_id = uuid7()
            request_ids = [uuid7() for _ in range(requests)]
            batch: list[dict[str, Any]] = [{
                "id": uuid7(), "case_id": case_id, "team_id": teams["Alpha"],
                "type": "case.created", "actor": ALICE, "device_id": "dev-1", "hlc": hlc(),
                "payload": {"fields": {"subject": "printer on fire",
                                       "team_id": teams["Alpha"]}, "tags": []}}]
            batch += [{"id": uuid7(), "case_id": case_id, "team_id": teams["Alpha"],
                       "type": "integration.requested", "actor": ALICE, "device_id": "dev-1",
                       "hlc": hlc(), "payload": {"request_id": rid, "system": "jira",
                                                 "action": "create", "params": {}}}
                      for rid in request_ids]
            marks = [requests * (k + 1) // (kills + 1) for k in range(kills)]
            for start in range(0, len(batch), 100):
                answer = httpx.post(f"{base}/api/v1/events/push", headers=headers, timeout=60,
                                    json={"events": batch[start:start + 100]})
                answer.raise_for_status()
                assert {r["status"] for r in answer.json()["results"]} == {"stored"}
            for mark in marks:  # SIGKILL part-way, then start again on the same data
                wait_for(functools.partial(_reached, settled, mark), timeout_s,
                         f"{mark} settled jobs")
                kill(proc)
                proc, base = start_server(data_dir, env)
            wait_for(lambda: settled() >= requests, timeout_s, "every job to settle")
            run.seconds = time.monotonic() - started
            events = pull_all(base, _token(base))
        finally:
            stop(proc)
            engine.dispose()
        run.remote = remote.stats()
    last: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["type"] in ("integration.done", "integration.failed"):
            last[e["payload"]["request_id"]] = e
        elif e["type"] == "integration.waiting":
            run.waiting_events += 1
    for rid in request_ids:
        outcome = last.get(rid)
        if outcome is None:
            run.lost.append(rid)
        elif outcome["type"] == "integration.done":
            run.done += 1
            run.adopted += outcome["payload"]["message"].startswith("adopted")
        else:
            run.failed += 1
            if not str(outcome["payload"].get("reason", "")).strip():
                run.failed_without_reason.append(rid)
    return run

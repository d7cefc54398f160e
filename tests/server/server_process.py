"""A real server process (``python -m sync_server serve``) on a loopback port, for tests that
measure what a request costs the server (its RSS via psutil) or how it treats sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from sync_server.db import make_engine, migrate
from sync_server.services import accounts

from .helpers import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SECRET = "process-test-secret-" + "y" * 40


@dataclass
class ServerProcess:
    base: str
    port: int
    proc: subprocess.Popen[bytes]
    data_dir: Path

    @property
    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def token(self, email: str) -> str:
        response = httpx.post(f"{self.base}/api/v1/auth/login",
                              json={"email": email, "password": PASSWORD}, timeout=30)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(data_dir: Path, members: dict[str, list[str]]) -> dict[str, str]:
    """Create the SQLite database with ``{team: [emails]}``; return team ids by name."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{data_dir / 'server.sqlite3'}", pool_size=1)
    try:
        migrate(engine)
        teams: dict[str, str] = {}
        users: set[str] = set()
        for team, emails in members.items():
            teams[team] = accounts.add_team(engine, name=team)
            for email in emails:
                if email not in users:
                    accounts.add_user(engine, email=email, name=email.split("@")[0],
                                      role="agent", password=PASSWORD)
                    users.add(email)
                accounts.add_member(engine, team=team, email=email)
        return teams
    finally:
        engine.dispose()


@contextmanager
def server_process(data_dir: Path, **env: str) -> Iterator[ServerProcess]:
    """Run the server on ``data_dir`` (seeded first); ``env`` adds SMART_SUPPORT_SERVER_*
    settings, e.g. ``BODY_IDLE_TIMEOUT_S="2"``."""
    port = free_port()
    environ = dict(os.environ, PYTHONPATH=str(ROOT), SMART_SUPPORT_SERVER_SECRET=SECRET)
    environ.pop("SMART_SUPPORT_SERVER_ENV", None)
    environ.update({f"SMART_SUPPORT_SERVER_{k}": v for k, v in env.items()})
    log = data_dir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sync_server", "--data-dir",
                                 str(data_dir), "serve", "--port", str(port)], env=environ,
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/v1/me", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the server did not start:\n{err}") from None
                time.sleep(0.1)
        yield ServerProcess(base=base, port=port, proc=proc, data_dir=data_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

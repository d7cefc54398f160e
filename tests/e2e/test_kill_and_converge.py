"""End to end with real processes: the server under uvicorn and two headless clients.

The server and then a client are killed with SIGKILL in the middle of a sync; after restarts,
everything converges with nothing lost.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.store.repo import Store, dump_projections

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "end to end password"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHON_KEYRING_BACKEND="tests.support.file_keyring.FileKeyring",
               SMART_SUPPORT_TEST_KEYRING=str(tmp / "keyring.json"),
               PYTHONPATH=str(ROOT), SMART_SUPPORT_SERVER_ENV="development")
    return env


def _server(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([str(BIN / "smart-support-server"), "--data-dir", str(tmp / "srv"),
                             "serve", "--port", str(port)], env=_env(tmp),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def _admin(tmp: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run([str(BIN / "smart-support-server"), "--data-dir", str(tmp / "srv"), *args],
                   input=stdin, text=True, check=True, env=_env(tmp), capture_output=True)


def _client(tmp: Path, name: str, *args: str, stdin: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "smart-support"), "--data-dir", str(tmp / name), *args],
                          input=stdin, text=True, check=check, env=_env(tmp),
                          capture_output=True, timeout=120)


def _server_count(tmp: Path) -> int:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{tmp / 'srv' / 'server.sqlite3'}?mode=ro", uri=True,
                              timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _client_cursor(folder: Path) -> int:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{folder / 'smart-support.db'}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'pull_cursor'").fetchone()
            return int(row[0]) if row else 0
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _wait_for(condition, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def _sync_until_quiet(tmp: Path, names: list[str]) -> None:
    for _ in range(6):
        moved = 0
        for n in names:
            out = _client(tmp, n, "sync", "--json").stdout
            report = json.loads(out)
            moved += report["pushed"] + report["pulled"] + report["duplicates"]
        if moved == 0:
            return
    raise AssertionError("sync never went quiet")


def test_kill_server_and_client_mid_sync_then_converge(tmp_path: Path) -> None:
    port = _port()
    _admin(tmp_path, "team", "add", "Support", "--prefix", "SUP")
    for email in ("ana@example.com", "ben@example.com"):
        _admin(tmp_path, "user", "add", email, "--name", email[:3], "--password-stdin",
               stdin=PASSWORD + "\n")
        _admin(tmp_path, "team", "add-member", "Support", email)
    server = _server(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    try:
        for name, email in (("a", "ana@example.com"), ("b", "ben@example.com")):
            _client(tmp_path, name, "login", "--server", url, "--email", email,
                    "--password-stdin", stdin=PASSWORD + "\n")
        # Offline work on A: many cases, so a sync takes long enough to be interrupted.
        for i in range(40):
            _client(tmp_path, "a", "run", f"case new --subject 'Case {i}' --priority high")
        store = Store(tmp_path / "a" / "smart-support.db")
        from app.operations import cases as ops

        for i in range(600):
            ops.comment(store, case=f"{store.device_code}-{1 + i % 40}", body=f"reply {i}")
        store.close()
        # Kill the server in the middle of A's sync.
        slow = _env(tmp_path) | {"SMART_SUPPORT_SYNC_BATCH": "5", "SMART_SUPPORT_SYNC_PAGE": "5"}
        sync = subprocess.Popen([str(BIN / "smart-support"), "--data-dir", str(tmp_path / "a"),
                                 "sync"], env=slow, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _wait_for(lambda: _server_count(tmp_path) >= 50)
        server.send_signal(signal.SIGKILL)
        server.wait()
        assert sync.wait(timeout=60) != 0  # the interrupted sync reports a failure
        total = 40 + 40 + 600  # created, opened by the first reply, replies
        assert 50 <= _server_count(tmp_path) < total  # it really stopped half-way
        server = _server(tmp_path, port)
        # Kill client B in the middle of its first pull.
        _sync_until_quiet(tmp_path, ["a"])
        pull = subprocess.Popen([str(BIN / "smart-support"), "--data-dir", str(tmp_path / "b"),
                                 "sync"], env=slow, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _wait_for(lambda: _client_cursor(tmp_path / "b") >= 50)
        pull.send_signal(signal.SIGKILL)
        pull.wait()
        assert 50 <= _client_cursor(tmp_path / "b") < total
        _client(tmp_path, "b", "run", "case new --subject 'From B after the crash'")
        _sync_until_quiet(tmp_path, ["a", "b"])
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    a = Store(tmp_path / "a" / "smart-support.db")
    b = Store(tmp_path / "b" / "smart-support.db")
    try:
        assert a.read(dump_projections) == b.read(dump_projections)
        assert a.outbox_count() == 0 and b.outbox_count() == 0
        ids_a = a.read(lambda c: {r[0] for r in c.exec_driver_sql("SELECT id FROM events")})
        comments = a.read(lambda c: c.exec_driver_sql(
            "SELECT count(*) FROM comments WHERE body LIKE 'reply %'").scalar())
        assert comments == 600
    finally:
        a.close()
        b.close()
    import sqlite3

    con = sqlite3.connect(tmp_path / "srv" / "server.sqlite3")
    server_ids = [r[0] for r in con.execute("SELECT id FROM events")]
    seqs = sorted(r[0] for r in con.execute("SELECT server_seq FROM events"))
    con.close()
    assert len(server_ids) == len(set(server_ids))  # stored exactly once
    assert set(server_ids) == ids_a
    assert seqs == list(range(1, len(seqs) + 1))  # gap-free

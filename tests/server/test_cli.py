"""The admin command line and settings (secret handling)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from sync_server.cli import main
from sync_server.db import make_engine
from sync_server.settings import SECRET_ENV, SettingsError, load_settings
from sync_server.tables import team_members, teams, users


def _run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def test_admin_commands(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--db", db_url] if db_url.startswith("postgresql") else ["--data-dir", str(tmp_path)]
    if where[0] == "--data-dir":
        db_url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    assert _run(monkeypatch, [*where, "team", "add", "Support"]) == 0
    assert _run(monkeypatch, [*where, "team", "add", "Billing", "--prefix", "bil"]) == 0
    assert _run(monkeypatch, [*where, "user", "add", "Ann@Example.com", "--name", "Ann",
                              "--role", "lead", "--password-stdin"], "s3cret-pass\n") == 0
    assert _run(monkeypatch, [*where, "team", "add-member", "Support", "ann@example.com"]) == 0
    assert _run(monkeypatch, [*where, "team", "add-member", "Billing", "ann@example.com"]) == 0
    assert _run(monkeypatch, [*where, "team", "remove-member", "Billing", "ann@example.com"]) == 0
    # errors: duplicate, unknown, weak password
    assert _run(monkeypatch, [*where, "team", "add", "Support"]) == 1
    assert _run(monkeypatch, [*where, "team", "add-member", "Nope", "ann@example.com"]) == 1
    assert _run(monkeypatch, [*where, "user", "add", "bo@example.com", "--name", "Bo",
                              "--password-stdin"], "short\n") == 1
    assert "error:" in capsys.readouterr().err
    assert _run(monkeypatch, [*where, "user", "disable", "ann@example.com"]) == 0
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert {r.name: r.prefix for r in conn.execute(select(teams.c.name, teams.c.prefix))} == {
            "Support": "SUP", "Billing": "BIL"}
        user = conn.execute(select(users)).one()
        assert (user.email, user.role, user.disabled) == ("ann@example.com", "lead", True)
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        support = conn.execute(select(teams.c.id).where(teams.c.name == "Support")).scalar()
        assert [tuple(r) for r in conn.execute(select(team_members))] == [(support, user.id)]
    engine.dispose()


def test_usage_errors() -> None:
    with pytest.raises(SystemExit):
        main(["user", "add", "x@example.com", "--name", "X"])  # --password-stdin required
    with pytest.raises(SystemExit):
        main(["--db", "sqlite://", "--data-dir", "/tmp", "serve"])


def test_secret_handling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv("SMART_SUPPORT_SERVER_ENV", raising=False)
    first = load_settings(data_dir=tmp_path)
    assert len(first.require_secret()) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_settings(data_dir=tmp_path).secret == first.secret
    with pytest.raises(SettingsError):
        load_settings(data_dir=tmp_path, db_url="postgresql+psycopg://u@localhost/x")
    monkeypatch.setenv(SECRET_ENV, "changeme")
    with pytest.raises(SettingsError):
        load_settings(data_dir=tmp_path)
    monkeypatch.setenv("SMART_SUPPORT_SERVER_ENV", "development")
    monkeypatch.delenv(SECRET_ENV)
    dev = load_settings(data_dir=tmp_path / "dev", db_url="postgresql+psycopg://u@localhost/x")
    assert dev.require_secret()


def test_serve_subprocess(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_server", "--data-dir", str(tmp_path), "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200
        assert "/api/v1/events/push" in response.json()["paths"]
        assert (tmp_path / "secret.key").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in (SECRET_ENV, "FORWARDED_ALLOW_IPS")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_server", "--data-dir", str(tmp_path), "serve",
         "--host", "127.0.0.1", "--port", str(port), *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return proc, base
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.1)


def _failed_logins(base: str, forwarded_for: str, n: int) -> list[int]:
    codes = []
    for _ in range(n):  # one account from each address: the (account, address) pair adds up
        r = httpx.post(f"{base}/api/v1/auth/login", timeout=10,
                       json={"email": "nobody@example.com", "password": "wrong password"},
                       headers={"X-Forwarded-For": forwarded_for})
        codes.append(r.status_code)
    return codes


@pytest.mark.parametrize("trusted", [True, False])
def test_login_throttling_sees_the_client_behind_a_trusted_proxy(tmp_path: Path,
                                                                 trusted: bool) -> None:
    # The test client on 127.0.0.1 plays the proxy. Trusted: each forwarded client is
    # throttled on its own. Not trusted: the header is ignored (a client could pick any
    # address with it), so every attempt counts against 127.0.0.1.
    proc, base = _serve(tmp_path, *(["--trusted-proxy", "127.0.0.1"] if trusted
                                    else ["--trusted-proxy", "10.9.9.9"]))
    try:
        codes = _failed_logins(base, "203.0.113.7", 11)
        assert codes[:10] == [401] * 10 and codes[10] == 429
        other = _failed_logins(base, "198.51.100.4", 1)
        assert other == ([401] if trusted else [429])
    finally:
        proc.terminate()
        proc.wait(timeout=15)

"""Server-sent events over a real uvicorn server (loopback port, background thread)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine

from sync_server.db import make_engine
from sync_server.main import create_app
from sync_server.services import accounts
from sync_server.settings import Settings

from .conftest import SECRET, PgCluster, new_pg_database
from .helpers import PASSWORD, World, created, event, live_server


@contextmanager
def sse_lines(base: str, token: str) -> Iterator[queue.Queue[str | None]]:
    lines: queue.Queue[str | None] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            with httpx.stream("GET", f"{base}/api/v1/stream",
                              headers={"Authorization": f"Bearer {token}"},
                              timeout=httpx.Timeout(10, read=10)) as response:
                lines.put(f"status {response.status_code}")
                for line in response.iter_lines():
                    if stop.is_set():
                        break
                    lines.put(line)
        except httpx.HTTPError:
            pass
        lines.put(None)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert lines.get(timeout=10) == "status 200"
    try:
        yield lines
    finally:
        stop.set()


def wait_for(lines: queue.Queue[str | None], predicate: object, timeout: float = 10) -> list[str]:
    """Collect lines until one satisfies ``predicate`` (a substring); return them all."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            seen.append("<closed>")
            if predicate == "<closed>":
                return seen
            break
        seen.append(line)
        if isinstance(predicate, str) and predicate in line:
            return seen
    raise AssertionError(f"{predicate!r} not seen in {seen}")


def _login(base: str, email: str) -> str:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _push(base: str, token: str, events: list[dict[str, object]]) -> list[dict[str, object]]:
    response = httpx.post(f"{base}/api/v1/events/push", json={"events": events},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    results: list[dict[str, object]] = response.json()["results"]
    return results


def test_stream_notifies_own_team_only(settings: Settings, engine: Engine, world: World) -> None:
    app = create_app(settings, engine=engine, run_migrations=False)
    with live_server(app) as base:
        alice, carol = _login(base, "alice@example.com"), _login(base, "carol@example.com")
        assert httpx.get(f"{base}/api/v1/stream").status_code == 401
        with sse_lines(base, alice) as lines:
            wait_for(lines, ": connected")
            wait_for(lines, ": keep-alive", timeout=5)
            _push(base, carol, [event("carol@example.com", world.beta)])  # seq 1: not Alpha
            _push(base, alice, [created("alice@example.com", world.alpha)])  # seq 2, key seq 3
            seen = wait_for(lines, "data:")
            assert seen[-2:] == ["event: events", 'data: {"server_seq": 3}']
            assert not any('"server_seq": 1}' in line for line in seen)
            # a disabled user's stream ends
            accounts.disable_user(engine, "alice@example.com")
            wait_for(lines, "<closed>", timeout=5)


def test_stream_fans_out_across_server_processes(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = new_pg_database(pg_cluster)
    settings = Settings(db_url=url, data_dir=tmp_path, secret=SECRET, keepalive_seconds=5)
    engine_a, engine_b = make_engine(url), make_engine(url)
    team = accounts.add_team(engine_a, name="Alpha")
    accounts.add_user(engine_a, email="alice@example.com", name="Alice", role="agent",
                      password=PASSWORD)
    accounts.add_member(engine_a, team="Alpha", email="alice@example.com")
    app_a = create_app(settings, engine=engine_a, run_migrations=False)
    app_b = create_app(settings, engine=engine_b, run_migrations=False)
    try:
        with live_server(app_a) as base_a, live_server(app_b) as base_b:
            token = _login(base_a, "alice@example.com")
            with sse_lines(base_b, token) as lines:
                wait_for(lines, ": connected")
                _push(base_a, token, [event("alice@example.com", team)])
                assert wait_for(lines, "data:")[-1] == 'data: {"server_seq": 1}'
    finally:
        engine_a.dispose()
        engine_b.dispose()

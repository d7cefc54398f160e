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
from sync_server.notify import Notice
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


def _tokens(base: str, email: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {k: str(v) for k, v in response.json().items() if k.endswith("_token")}


def test_stream_ends_at_logout(settings: Settings, engine: Engine, world: World) -> None:
    """Within a second, with keep-alives 30 s apart (so no periodic recheck does it); the
    same user's other session keeps its stream."""
    slow = settings.model_copy(update={"keepalive_seconds": 30})
    app = create_app(slow, engine=engine, run_migrations=False)
    with live_server(app) as base:
        first, second = _tokens(base, "alice@example.com"), _tokens(base, "alice@example.com")
        with sse_lines(base, first["access_token"]) as ended, \
                sse_lines(base, second["access_token"]) as kept:
            wait_for(ended, ": connected")
            wait_for(kept, ": connected")
            out = httpx.post(f"{base}/api/v1/auth/logout",
                             json={"refresh_token": first["refresh_token"]})
            assert out.status_code == 200
            wait_for(ended, "<closed>", timeout=1.0)
            carol = _login(base, "carol@example.com")
            _push(base, carol, [event("carol@example.com", world.beta)])
            _push(base, second["access_token"], [event("alice@example.com", world.alpha)])
            assert wait_for(kept, "data:")[-1].startswith('data: {"server_seq"')


def test_stream_ends_when_its_token_family_is_revoked(settings: Settings, engine: Engine,
                                                      world: World) -> None:
    """Presenting a used refresh token again revokes the family: its stream ends at once."""
    slow = settings.model_copy(update={"keepalive_seconds": 30})
    app = create_app(slow, engine=engine, run_migrations=False)
    with live_server(app) as base:
        tokens = _tokens(base, "bob@example.com")
        with sse_lines(base, tokens["access_token"]) as lines:
            wait_for(lines, ": connected")
            rotated = httpx.post(f"{base}/api/v1/auth/refresh",
                                 json={"refresh_token": tokens["refresh_token"]})
            assert rotated.status_code == 200
            reused = httpx.post(f"{base}/api/v1/auth/refresh",
                                json={"refresh_token": tokens["refresh_token"]})
            assert reused.status_code == 401
            wait_for(lines, "<closed>", timeout=1.0)
        assert httpx.get(f"{base}/api/v1/me",
                         headers={"Authorization": f"Bearer {tokens['access_token']}"}
                         ).status_code == 401


def test_a_catch_up_notice_does_not_show_the_global_counter(settings: Settings, engine: Engine,
                                                             world: World) -> None:
    """After a LISTEN reconnect every stream is told "pull, you may have missed some": with 0,
    never the global sequence number (which counts other teams' events)."""
    app = create_app(settings.model_copy(update={"keepalive_seconds": 30}), engine=engine,
                     run_migrations=False)
    with live_server(app) as base:
        carol = _login(base, "carol@example.com")
        _push(base, carol, [event("carol@example.com", world.beta) for _ in range(7)])
        with sse_lines(base, _login(base, "alice@example.com")) as lines:
            wait_for(lines, ": connected")
            app.state.smart.broadcaster.publish(Notice(seq=0, teams=None))
            assert wait_for(lines, "data:")[-1] == 'data: {"server_seq": 0}'

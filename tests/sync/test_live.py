"""The live hint stream against the real server on loopback."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from app.operations import cases as ops
from app.sync.api import Offline
from app.sync.engine import sync_once
from app.sync.live import LiveStream, backoff_delay, session_token
from tests.sync.test_sync_client import _client, server  # noqa: F401 - fixture

WAIT = 10.0


def test_hint_arrives_after_another_client_pushes(tmp_path: Path, server) -> None:  # noqa: F811
    url, _ = server
    a, sa = _client(tmp_path, "a", url, "ana@example.com")
    b, sb = _client(tmp_path, "b", url, "ben@example.com")
    hints: list[int] = []
    got = threading.Event()
    connected = threading.Event()

    def on_hint(seq: int) -> None:
        hints.append(seq)
        got.set()

    def on_state(state: str) -> None:
        if state == "connected":
            connected.set()

    live = LiveStream(url, session_token(sb), on_hint, on_state=on_state)
    live.start()
    try:
        assert connected.wait(WAIT)
        ops.create_case(a, subject="Printer on fire")
        sync_once(a, sa)
        assert got.wait(WAIT)
        assert hints[0] >= 1
        # The hint is enough for B to pull the case.
        assert sync_once(b, sb).pulled >= 1
        started = time.monotonic()
    finally:
        live.stop()
    assert time.monotonic() - started < 2.0  # prompt, not at the next keep-alive
    assert not live.running and live.state == "stopped"
    a.close()
    b.close()


def test_other_team_gets_no_hint_and_bad_token_is_refreshed(tmp_path: Path,
                                                             server) -> None:  # noqa: F811
    url, _ = server
    a, sa = _client(tmp_path, "a", url, "ana@example.com")
    c, sc = _client(tmp_path, "c", url, "cy@example.com")
    hints: list[int] = []
    connected = threading.Event()
    calls: list[bool] = []
    real = session_token(sc)

    def token(refresh: bool) -> str:
        calls.append(refresh)
        return real(refresh) if refresh else "not-a-valid-token"

    live = LiveStream(url, token, hints.append,
                      on_state=lambda s: connected.set() if s == "connected" else None)
    live.start()
    try:
        assert connected.wait(WAIT)
        assert calls[:2] == [False, True]  # refused once, then refreshed
        ops.create_case(a, subject="Support only")
        sync_once(a, sa)
        # A second client of Ana's team would be told; Cy (Billing) is not.
        ana_hints: list[int] = []
        got = threading.Event()
        up = threading.Event()
        other = LiveStream(url, session_token(sa), lambda s: (ana_hints.append(s), got.set()),
                           on_state=lambda s: up.set() if s == "connected" else None)
        other.start()
        try:
            assert up.wait(WAIT)
            ops.create_case(a, subject="Second")
            sync_once(a, sa)
            assert got.wait(WAIT)
        finally:
            other.stop()
        assert hints == []
    finally:
        live.stop()
    a.close()
    c.close()


def test_reconnects_with_backoff_when_server_is_down(tmp_path: Path) -> None:
    states: list[str] = []
    waiting = threading.Event()

    def on_state(state: str) -> None:
        states.append(state)
        if states.count("waiting") >= 2:
            waiting.set()

    live = LiveStream("http://127.0.0.1:9", lambda _r: "t", lambda _s: None,
                      on_state=on_state, base_delay=0.01, max_delay=0.05, connect_timeout=1.0)
    live.start()
    assert waiting.wait(WAIT)
    live.stop()
    assert "connected" not in states and states[-1] == "stopped"
    # offline while refreshing the token also backs off instead of dying
    def offline(_r: bool) -> str:
        raise Offline("down")

    live = LiveStream("http://127.0.0.1:9", offline, lambda _s: None, base_delay=0.01)
    live.start()
    live.stop()
    assert not live.running


def test_backoff_delay_grows_with_jitter_and_is_capped() -> None:
    assert backoff_delay(0, base=1, cap=60, rng=lambda: 0.0) == 0.5
    assert backoff_delay(3, base=1, cap=60, rng=lambda: 1.0) == 8
    assert backoff_delay(20, base=1, cap=60, rng=lambda: 1.0) == 60
    assert 30 <= backoff_delay(20, base=1, cap=60) <= 60

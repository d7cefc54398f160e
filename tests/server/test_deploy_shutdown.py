"""SIGTERM: the server ends its event streams at once (a proxy or laptop reconnects to
another process) and exits, rather than holding them until the grace period ends."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from .server_process import seed, server_process


def test_sigterm_closes_open_streams_promptly_and_exits(tmp_path: Path) -> None:
    seed(tmp_path / "srv", {"Support": ["ana@example.com"]})
    with server_process(tmp_path / "srv") as server:
        token = server.token("ana@example.com")
        ended = threading.Event()
        opened = threading.Event()
        how: list[str] = []

        def read_stream() -> None:
            try:
                with httpx.stream("GET", f"{server.base}/api/v1/stream", timeout=30,
                                  headers={"Authorization": f"Bearer {token}"}) as response:
                    opened.set()
                    for _ in response.iter_lines():
                        pass
                how.append("closed")  # the chunked body was ended properly
            except httpx.HTTPError as exc:
                how.append(f"cut: {exc}")
            ended.set()

        reader = threading.Thread(target=read_stream, daemon=True)
        reader.start()
        assert opened.wait(10)
        time.sleep(0.3)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert ended.wait(10), "the stream was never closed"
        took = time.monotonic() - started
        assert how == ["closed"]
        # uvicorn re-raises the signal once shut down: systemd counts that as a clean stop.
        assert server.proc.wait(10) in (0, -signal.SIGTERM)
        # uvicorn's grace period is 5 s: a stream left to it would end only when cut.
        assert took < 2.5, f"the stream ended {took:.1f} s after SIGTERM"
        reader.join(5)

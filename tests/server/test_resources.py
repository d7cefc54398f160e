"""What a hostile or careless client can make the server spend, measured on a real server
process (``python -m sync_server serve`` on loopback, its RSS read with psutil).

Bounds: 40 stalled uploads (unauthenticated, or signed in and sending 4 MiB each) grow the
server by less than 100 MiB and are closed (401 at once; 408 after the idle timeout); a
pull of 75 MB of events comes in pages under the 8 MiB cap while the server grows by less
than 100 MiB. The old code buffered every body in memory (~1 GiB for the first case) and
answered the whole pull in one page.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .helpers import event
from .server_process import ServerProcess, seed, server_process

MiB = 1024 * 1024
RSS_BOUND = 100 * MiB
BLOB_LIMIT = 25 * MiB  # the default blob_max_bytes


def _put_head(port: int, sha: str, length: int, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"PUT /api/v1/blobs/{sha} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
            f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n").encode()


def _send_quietly(sock: socket.socket, size: int, chunk: int = 256 * 1024) -> int:
    """Send up to ``size`` bytes; stop when the server closes or stops reading."""
    sent = 0
    block = b"\0" * chunk
    try:
        while sent < size:
            sock.sendall(block[:min(chunk, size - sent)])
            sent += min(chunk, size - sent)
    except OSError:  # reset, broken pipe, or a full window (timeout)
        pass
    return sent


def _answer_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass  # closed with our unread body in its buffer: a reset
    return data, time.monotonic()


@contextmanager
def peak_rss(server: ServerProcess) -> Iterator[dict[str, int]]:
    """Sample the server's RSS every 20 ms; ``result["growth"]`` is peak minus start."""
    result = {"start": server.rss, "peak": server.rss}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["peak"] = max(result["peak"], server.rss)
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["growth"] = result["peak"] - result["start"]


def test_unauthenticated_uploads_are_refused_before_their_body(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv"
    seed(data_dir, {"Alpha": ["alice@example.com"]})
    with server_process(data_dir, BODY_IDLE_TIMEOUT_S="2") as server:
        # Headers alone are answered: 401 at once, before a body byte is sent.
        probe = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        probe.sendall(_put_head(server.port, "a" * 64, BLOB_LIMIT - MiB, None))
        asked = time.monotonic()
        answer, closed = _answer_until_closed(probe, timeout=5)
        probe.close()
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert closed - asked < 1.5
        # The audit's attack: 40 uploads each sending 24 of 25 MiB and then stalling.
        with peak_rss(server) as rss:
            socks = []
            for i in range(40):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=2)
                sock.sendall(_put_head(server.port, hashlib.sha256(bytes([i])).hexdigest(),
                                       BLOB_LIMIT, None))
                _send_quietly(sock, 24 * MiB)
                socks.append(sock)
            for sock in socks:
                answer, _ = _answer_until_closed(sock, timeout=5)  # raises if left open
                assert answer == b"" or answer.startswith(b"HTTP/1.1 401"), answer[:200]
                sock.close()
        assert rss["growth"] < RSS_BOUND, f"server grew by {rss['growth'] / MiB:.0f} MiB"
        assert httpx.get(f"{server.base}/api/v1/me", timeout=5).status_code == 401  # still up


def test_stalled_uploads_are_closed_by_the_idle_timeout(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv"
    seed(data_dir, {"Alpha": ["alice@example.com"]})
    with server_process(data_dir, BODY_IDLE_TIMEOUT_S="2") as server:
        token = server.token("alice@example.com")
        spool = data_dir / "blobs" / ".incoming"
        with peak_rss(server) as rss:
            socks = []
            for i in range(40):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                sock.sendall(_put_head(server.port, hashlib.sha256(bytes([i])).hexdigest(),
                                       BLOB_LIMIT - 1, token))
                assert _send_quietly(sock, 4 * MiB) == 4 * MiB  # signed in: all of it is read
                socks.append(sock)
            stalled = time.monotonic()
            assert spool.is_dir() and any(spool.iterdir())  # spooled to disk, not to memory
            for sock in socks:
                answer, closed = _answer_until_closed(sock, timeout=15)
                assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
                assert closed - stalled < 10
                sock.close()
        assert rss["growth"] < RSS_BOUND, f"server grew by {rss['growth'] / MiB:.0f} MiB"
        deadline = time.monotonic() + 5
        while any(spool.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(spool.iterdir()), "a stalled upload's temporary file was left behind"
        # A good upload still works afterwards.
        data = b"attachment bytes" * 1000
        sha = hashlib.sha256(data).hexdigest()
        put = httpx.put(f"{server.base}/api/v1/blobs/{sha}", content=data, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
        assert put.status_code == 200 and put.json()["size"] == len(data)


def test_a_body_dripping_past_the_total_timeout_is_aborted(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv"
    seed(data_dir, {"Alpha": ["alice@example.com"]})
    with server_process(data_dir, BODY_IDLE_TIMEOUT_S="2", BLOB_REQUEST_TIMEOUT_S="3") as server:
        token = server.token("alice@example.com")
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(_put_head(server.port, "b" * 64, MiB, token))
        started = time.monotonic()
        sock.settimeout(0.05)
        answer = b""
        while time.monotonic() - started < 10 and not answer:
            try:
                sock.sendall(b"x" * 100)  # never idle for 2 s, but never done either
            except OSError:
                break
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                time.sleep(0.45)
            except ConnectionResetError:
                break
        sock.close()
        elapsed = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert 2.5 < elapsed < 8


def test_a_huge_pull_comes_in_pages_under_the_byte_cap(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv"
    teams = seed(data_dir, {"Alpha": ["alice@example.com"]})
    body = "x" * 250_000
    pushed: list[str] = []
    with server_process(data_dir) as server:
        headers = {"Authorization": f"Bearer {server.token('alice@example.com')}"}
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as http:
            for _ in range(10):
                batch = [event("alice@example.com", teams["Alpha"], payload={"body": body})
                         for _ in range(30)]
                response = http.post("/api/v1/events/push", json={"events": batch})
                assert response.status_code == 200, response.text[:300]
                assert {r["status"] for r in response.json()["results"]} == {"stored"}
                pushed += [e["id"] for e in batch]
    # A fresh process, so the pushes' memory is not in the baseline.
    with server_process(data_dir) as server:
        headers = {"Authorization": f"Bearer {server.token('alice@example.com')}"}
        got: list[str] = []
        sizes: list[int] = []
        with peak_rss(server) as rss, httpx.Client(base_url=server.base, headers=headers,
                                                    timeout=60) as http:
            since = 0
            for _ in range(100):
                response = http.get("/api/v1/events", params={"since": since, "limit": 1000})
                assert response.status_code == 200
                sizes.append(len(response.content))
                page = response.json()
                got += [e["id"] for e in page["events"]]
                assert page["next_cursor"] > since
                since = page["next_cursor"]
                if not page["has_more"]:
                    break
        assert got == pushed
        assert len(sizes) >= 9 and max(sizes) <= 8 * MiB + 1024, sizes
        assert rss["growth"] < RSS_BOUND, f"server grew by {rss['growth'] / MiB:.0f} MiB"


def test_idle_keep_alive_connections_close_after_the_setting(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv"
    seed(data_dir, {"Alpha": ["alice@example.com"]})
    with server_process(data_dir, KEEP_ALIVE_TIMEOUT_S="1") as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(f"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        answered = b""
        while b"\r\n\r\n" not in answered:
            answered += sock.recv(65536)
        assert answered.startswith(b"HTTP/1.1 401")
        idle = time.monotonic()
        rest, closed = _answer_until_closed(sock, timeout=10)
        sock.close()
        assert b"HTTP/1.1" not in rest
        assert 0.5 < closed - idle < 3  # uvicorn's own default is 5 s

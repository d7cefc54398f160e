"""The live hint stream: a thread holding ``GET /api/v1/stream`` (server-sent events) open.

The server sends ``event: events`` / ``data: {"server_seq": N}`` when new events exist for
the agent's teams, and comment lines as keep-alives. The stream carries no data: each hint
(and each (re)connection, since hints may have been missed meanwhile) only tells the app
to pull. Polling by the scheduler stays the fallback.

Reconnects use exponential backoff with jitter; :meth:`LiveStream.stop` is prompt (it shuts
the socket down rather than waiting for the next keep-alive). Qt-free: callbacks run on the
stream's thread, the caller marshals them to its own thread.
"""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx

from app.sync.api import API, ApiError, Unauthorized
from app.sync.session import NotLoggedIn

TokenProvider = Callable[[bool], str]
"""``token(refresh)``: the access token; ``refresh=True`` after the server refused it."""


def session_token(session: Any) -> TokenProvider:
    """A token provider for a :class:`~app.sync.session.SyncSession`."""

    def token(refresh: bool) -> str:
        return str(session.access_token(refresh=refresh))

    return token


def backoff_delay(attempt: int, *, base: float, cap: float,
                  rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with "equal jitter": between half and all of min(cap, base·2ⁿ)."""
    full = float(min(cap, base * (2 ** max(0, attempt))))
    return full / 2 + float(rng()) * full / 2


class LiveStream:
    """Holds the SSE stream open on a daemon thread; ``on_hint(server_seq)`` per message."""

    def __init__(self, base_url: str, token: TokenProvider, on_hint: Callable[[int], None], *,
                 on_state: Callable[[str], None] | None = None, base_delay: float = 1.0,
                 max_delay: float = 60.0, connect_timeout: float = 10.0,
                 read_timeout: float = 90.0, transport: httpx.BaseTransport | None = None,
                 verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.on_hint = on_hint
        self.on_state = on_state
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = httpx.Timeout(connect_timeout, read=read_timeout)
        self.transport = transport
        self.verify = verify
        self.state = "stopped"  # connecting / connected / waiting / signed-out / stopped
        self.connections = 0  # successful connections so far (tests, diagnostics)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._client: httpx.Client | None = None
        self._thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sync-live", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the stream and wait for the thread (promptly: the socket is shut down)."""
        self._stop.set()
        with self._lock:
            sock, client = self._socket, self._client
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing from another thread is best effort
                pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._set_state("stopped")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the thread ---------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:  # noqa: BLE001 - a callback must not kill the stream
                pass

    def _run(self) -> None:
        attempt = 0
        refresh = False
        while not self._stop.is_set():
            self._set_state("connecting")
            try:
                token = self.token(refresh)
                refresh = False
                if self._listen(token):
                    attempt = 0  # it was up: start the backoff over
            except Unauthorized:
                if not refresh:
                    refresh = True  # one immediate retry with a fresh token
                    continue
                refresh = False
            except NotLoggedIn:
                self._set_state("signed-out")
                return
            except ApiError:  # Offline while refreshing, a server error...
                pass
            except (httpx.HTTPError, OSError, ValueError):
                pass
            if self._stop.is_set():
                break
            self._set_state("waiting")
            self._stop.wait(backoff_delay(attempt, base=self.base_delay, cap=self.max_delay))
            attempt += 1
        self._set_state("stopped")

    def _listen(self, token: str) -> bool:
        """One connection; returns True if it was established. Raises on failure."""
        client = httpx.Client(base_url=self.base_url, timeout=self.timeout,
                              transport=self.transport, verify=self.verify,
                              headers={"User-Agent": "smart-support", "Accept":
                                       "text/event-stream", "Cache-Control": "no-cache"})
        with self._lock:
            self._client = client
        try:
            if self._stop.is_set():
                return False
            with client.stream("GET", API + "/stream",
                               headers={"Authorization": f"Bearer {token}"}) as response:
                if response.status_code == 401:
                    raise Unauthorized("the stream refused the token", 401)
                if response.status_code >= 400:
                    raise ApiError(f"stream: {response.status_code}", response.status_code)
                stream = response.extensions.get("network_stream")
                sock = stream.get_extra_info("socket") if stream is not None else None
                with self._lock:
                    self._socket = sock if isinstance(sock, socket.socket) else None
                if self._stop.is_set():
                    return True
                self.connections += 1
                self._set_state("connected")
                self._read_events(response)
                return True
        finally:
            with self._lock:
                self._socket = None
                self._client = None
            client.close()

    def _read_events(self, response: httpx.Response) -> None:
        name, data = "message", list[str]()
        for line in response.iter_lines():
            if self._stop.is_set():
                return
            if not line:
                if data and name == "events":
                    self._dispatch("\n".join(data))
                name, data = "message", list[str]()
            elif line.startswith(":"):
                continue  # keep-alive comment
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)

    def _dispatch(self, payload: str) -> None:
        try:
            seq = int(json.loads(payload).get("server_seq", 0))
        except (ValueError, AttributeError, TypeError):
            seq = 0
        try:
            self.on_hint(seq)
        except Exception:  # noqa: BLE001 - a callback must not kill the stream
            pass

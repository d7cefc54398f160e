"""A tiny configurable remote system over HTTP on loopback, and a job handler that uses it
(the shape of JIRA's create: no idempotency key, so each object carries a label derived from
the request, and a retry whose outcome is unknown searches by label and adopts).

Failure modes, drawn per create from a seeded generator: ``fail_rate`` answers 503 without
creating, ``timeout_rate`` hangs before creating (the caller times out; nothing made),
``lost_rate`` creates and then hangs (the object exists; its answer is lost). The fake
counts objects per label, so a test can prove nothing was created twice, and calls in
flight per label, so it can prove no job ran twice at once.

The handler is registered in a server process by SMART_SUPPORT_JOB_HANDLERS=
"tests.server.fake_remote:register" with SMART_SUPPORT_FAKE_REMOTE_URL set.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from sync_server.jobs.api import (
    Done,
    Job,
    JobContext,
    Permanent,
    RateLimited,
    Transient,
    register_site,
)
from sync_server.jobs.api import register as register_handler

URL_ENV = "SMART_SUPPORT_FAKE_REMOTE_URL"
TIMEOUT_ENV = "SMART_SUPPORT_FAKE_REMOTE_TIMEOUT_S"


class FakeRemote:
    def __init__(self, *, fail_rate: float = 0.0, timeout_rate: float = 0.0,
                 lost_rate: float = 0.0, delay_s: float = 0.0, hang_s: float = 5.0,
                 seed: int = 0) -> None:
        self.fail_rate, self.timeout_rate, self.lost_rate = fail_rate, timeout_rate, lost_rate
        self.delay_s, self.hang_s = delay_s, hang_s
        self.status_override: int | None = None  # every create answers this (e.g. 400)
        self.retry_after: int | None = None  # sent with a 429 override
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.objects: list[dict[str, Any]] = []
        self.by_label: Counter[str] = Counter()
        self.calls = 0  # creates asked for
        self.searches = 0
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight = 0  # the most calls for one label at once
        self.unknown_calls = 0  # creates sent by an attempt flagged unknown_outcome
        self.call_times: list[float] = []  # time.time() of each create's arrival
        self.first_call_at: dict[str, float] = {}  # label -> time.time() of its first create
        self.base = ""

    # --- the HTTP side -------------------------------------------------------------------
    def _create(self, body: dict[str, Any], headers: Any) -> tuple[int, dict[str, Any], float]:
        label = str(body.get("label", ""))
        with self.lock:
            self.calls += 1
            self.call_times.append(time.time())
            self.first_call_at.setdefault(label, self.call_times[-1])
            if headers.get("X-Unknown-Outcome") == "1":
                self.unknown_calls += 1
            self.in_flight[label] += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight[label])
            roll = self.rng.random()
            override = self.status_override
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            if override is not None:
                extra = {"retry_after": self.retry_after} if self.retry_after else {}
                return override, {"errorMessages": [f"refused with {override}"], **extra}, 0
            if roll < self.fail_rate:
                return 503, {"errorMessages": ["service unavailable"]}, 0
            if roll < self.fail_rate + self.timeout_rate:
                return 504, {"errorMessages": ["slow"]}, self.hang_s  # nothing made
            with self.lock:
                number = len(self.objects) + 1
                made = {"id": str(10_000 + number), "key": f"ENG-{number}", "label": label,
                        "title": str(body.get("title", ""))}
                self.objects.append(made)
                self.by_label[label] += 1
            if roll < self.fail_rate + self.timeout_rate + self.lost_rate:
                return 201, made, self.hang_s  # made, but the answer comes too late
            return 201, made, 0
        finally:
            with self.lock:
                self.in_flight[label] -= 1

    def _search(self, label: str) -> dict[str, Any]:
        with self.lock:
            self.searches += 1
            return {"objects": [o for o in self.objects if o["label"] == label]}

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"created": len(self.objects), "calls": self.calls,
                    "searches": self.searches, "max_in_flight": self.max_in_flight,
                    "duplicates": sorted(k for k, n in self.by_label.items() if n > 1),
                    "unknown_calls": self.unknown_calls}

    @contextmanager
    def serve(self) -> Iterator[str]:
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, data: dict[str, Any], hang_s: float = 0) -> None:
                if hang_s:
                    time.sleep(hang_s)
                raw = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    if "retry_after" in data:
                        self.send_header("Retry-After", str(data["retry_after"]))
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the caller gave up waiting

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"errorMessages": ["not JSON"]})
                    return
                if urlparse(self.path).path == "/objects":
                    self._send(*remote._create(body, self.headers))
                else:
                    self._send(404, {"errorMessages": ["no such endpoint"]})

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/objects":
                    label = parse_qs(url.query).get("label", [""])[0]
                    self._send(200, remote._search(label))
                elif url.path == "/_stats":
                    self._send(200, remote.stats())
                else:
                    self._send(404, {"errorMessages": ["no such endpoint"]})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self.base
        finally:
            server.shutdown()
            server.server_close()


# --- the handler -------------------------------------------------------------------------
def label_of(job: Job) -> str:
    return f"req-{job.request_id}"


def make_create(base: str, timeout_s: float = 1.0):  # type: ignore[no-untyped-def]
    clients: dict[int, httpx.AsyncClient] = {}  # one per event loop (making one costs ~0.2 s)

    def client_for_loop() -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        if loop not in clients:
            clients[loop] = httpx.AsyncClient(base_url=base, timeout=timeout_s)
        return clients[loop]

    async def create(job: Job, ctx: JobContext) -> Done:
        label = label_of(job)
        client = client_for_loop()
        try:
            if job.unknown_outcome:  # an earlier attempt may have made it: adopt
                found = (await client.get("/objects", params={"label": label})).json()
                if found["objects"]:
                    return _done(base, found["objects"][0], ctx, adopted=True)
            answer = await client.post("/objects", json={
                "label": label, "title": ctx.case().subject},
                headers={"X-Unknown-Outcome": "1" if job.unknown_outcome else "0"})
        except httpx.TimeoutException:
            raise Transient("the remote did not answer in time", unknown_outcome=True) \
                from None
        except httpx.TransportError as exc:
            raise Transient(f"cannot reach the remote: {type(exc).__name__}") from None
        data = answer.json()
        message = "; ".join(data.get("errorMessages", [])) if isinstance(data, dict) else ""
        if answer.status_code == 429:
            raise RateLimited(message or "rate limited",
                              retry_after_s=float(answer.headers.get("Retry-After", "1")))
        if answer.status_code >= 500:
            raise Transient(f"{answer.status_code} {message}")
        if answer.status_code >= 400:
            raise Permanent(message or f"refused ({answer.status_code})", answer.status_code)
        return _done(base, data, ctx)

    return create


def _done(base: str, made: dict[str, Any], ctx: JobContext, *, adopted: bool = False) -> Done:
    record = {"remote_id": made["id"], "remote_key": made["key"], "kind": "issue",
              "url": f"{base}/browse/{made['key']}", "linked": True,
              "snapshot": {"summary": made.get("title", ""), "status_category": "todo"},
              "fetched_ms": ctx.now_ms}
    verb = "adopted" if adopted else "created"
    return Done(message=f"{verb} {made['key']}", record=record)


def register(_settings: object = None) -> None:
    """The registrar named by SMART_SUPPORT_JOB_HANDLERS in a server process."""
    base = os.environ[URL_ENV]
    register_handler("jira", "create", make_create(base, float(os.environ.get(TIMEOUT_ENV,
                                                                             "1.0"))))
    register_site("jira", lambda: base)

"""Request limits: how large a body each path may send and how long a request may take,
and the plain ASGI answers a guard gives when a limit is passed (see guards.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.types import Send

from sync_server.settings import Settings

API = "/api/v1"
BLOBS = f"{API}/blobs/"
PUSH = f"{API}/events/push"
STREAM = f"{API}/stream"


class BodyTooLarge(Exception):
    """The body passed its size limit (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


class BodyStalled(Exception):
    """No body byte arrived for the idle timeout, or the body took longer than allowed (408)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may do: its body size, its idle and total time, whether the token is
    checked before the body is read, and whether the body is streamed to the route."""

    max_bytes: int
    idle_s: float
    total_s: float | None  # None: no total (the live stream lasts as long as the session)
    auth_first: bool
    streamed: bool


def limits_for(settings: Settings, method: str, path: str) -> Limits:
    idle = settings.body_idle_timeout_s
    if path.startswith(BLOBS):
        upload = method == "PUT"
        return Limits(settings.blob_max_bytes, idle, settings.blob_request_timeout_s,
                      auth_first=upload, streamed=upload)
    if path == PUSH:
        return Limits(settings.push_max_bytes, idle, settings.request_timeout_s,
                      auth_first=True, streamed=False)
    total = None if path == STREAM else settings.request_timeout_s
    return Limits(settings.other_max_bytes, idle, total, auth_first=False, streamed=False)


async def send_error(send: Send, status: int, detail: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A JSON error that also closes the connection (the unread body is never read)."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *(headers or []),
    ]})
    await send({"type": "http.response.body", "body": body})

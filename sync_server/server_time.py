"""Every response says the server's time (ms since the epoch), so a client can tell a wrong
laptop clock and measure "now" against the server's clock rather than its own.

HTTP servers send a ``Date`` header too, but only to the second and only when a real HTTP
server (uvicorn, a proxy) is in front: an in-process ASGI client sees none.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.core.event_schema import SCHEMA_FINGERPRINT

HEADER = b"x-server-time-ms"
SCHEMA_HEADER = b"x-event-schema"  # the event types and version this server understands

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServerTimeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() not in (HEADER, SCHEMA_HEADER)]
                headers.append((HEADER, str(time.time_ns() // 1_000_000).encode()))
                headers.append((SCHEMA_HEADER, SCHEMA_FINGERPRINT.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, stamped)

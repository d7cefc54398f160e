"""The request guard: the ASGI middleware that keeps one request from holding the server's
memory or a connection for long.

- Push and blob uploads are authenticated before any body byte is read; a bad token is
  answered 401 at once and the connection closed.
- A body over its size limit is refused 413 (by Content-Length, or as soon as the streamed
  bytes pass it). Blob uploads are streamed to the route (which spools them to disk); other
  bodies are small and buffered, bounded, only after the token check where there is one.
- A body with no byte for ``body_idle_timeout_s``, or a request longer than its total
  (``blob_request_timeout_s`` for blobs, ``request_timeout_s`` otherwise, none for the live
  stream), is aborted (408); cancelling the route releases its buffer or temporary file.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_server.limits import BodyStalled, BodyTooLarge, Limits, limits_for, send_error
from sync_server.services.accounts import Principal
from sync_server.services.auth import authenticate
from sync_server.state import AppState

PRINCIPAL_KEY = "smart_principal"  # scope["state"] entry: who the guard authenticated
_UNAUTHORIZED = "missing, invalid or expired access token"


def bearer_token(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _Body:
    """Wraps ``receive``: counts body bytes against the limit and times out a stalled body.
    Once the body is complete, ``receive`` passes through untimed (routes use it to notice
    a disconnect)."""

    def __init__(self, receive: Receive, limits: Limits) -> None:
        self._receive, self._limits = receive, limits
        self.size = 0
        self.done = False

    async def receive(self) -> Message:
        if self.done:
            return await self._receive()
        try:
            async with asyncio.timeout(self._limits.idle_s):
                message = await self._receive()
        except TimeoutError:
            raise BodyStalled(f"no request body for {self._limits.idle_s:g} s") from None
        if message["type"] != "http.request":
            self.done = True
            return message
        self.size += len(message.get("body", b""))
        if self.size > self._limits.max_bytes:
            raise BodyTooLarge(self._limits.max_bytes)
        self.done = not message.get("more_body", False)
        return message

    async def read_all(self) -> bytes | None:
        """The whole (bounded) body, or None if the client went away."""
        chunks: list[bytes] = []
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            if self.done:
                return b"".join(chunks)


class RequestGuard:
    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    def _authenticate(self, token: str) -> Principal | None:
        return authenticate(self.state.engine, self.state.secret, token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = limits_for(self.state.settings, scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limits.max_bytes:
            await send_error(send, 413, str(BodyTooLarge(limits.max_bytes)))
            return
        if limits.auth_first:
            token = bearer_token(scope)
            principal = await run_in_threadpool(self._authenticate, token) if token else None
            if principal is None:
                await send_error(send, 401, _UNAUTHORIZED, [(b"www-authenticate", b"Bearer")])
                return
            scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        body = _Body(receive, limits)
        deadline = asyncio.timeout(limits.total_s)
        try:
            async with deadline:
                await self._run(scope, body, tracked_send, limits)
        except BodyTooLarge as exc:
            if not started:
                await send_error(send, 413, str(exc))
        except BodyStalled as exc:
            if not started:
                await send_error(send, 408, str(exc))
        except TimeoutError:
            if not deadline.expired():
                raise
            if not started:
                await send_error(send, 408, f"request took longer than {limits.total_s:g} s")

    async def _run(self, scope: Scope, body: _Body, send: Send, limits: Limits) -> None:
        if limits.streamed:
            await self.app(scope, body.receive, send)
            return
        data = await body.read_all()
        if data is None:
            return  # the client disconnected mid-body: nobody to answer
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await body.receive()

        await self.app(scope, replay, send)


def guarded_principal(state: dict[str, Any]) -> Principal | None:
    """The principal the guard already authenticated for this request, if any."""
    value = state.get(PRINCIPAL_KEY)
    return value if isinstance(value, Principal) else None

"""Strict JSON for request bodies, checked before FastAPI validates them (HTTP 400).

Python's ``json`` accepts NaN/Infinity, turns ``1e999999`` into ``inf``, decodes a ``\\ud800``
escape to a lone surrogate and nests as deep as the C stack allows; none of that can be stored
or echoed back as JSON, so it used to end in a 500. A body is refused here when it is not UTF-8,
nests deeper than a limit (found by a linear scan before parsing), has a non-finite number or an
integer of thousands of digits, or a string that is too long or holds a lone surrogate.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message as MimeMessage
from typing import Any

import anyio.to_thread
from fastapi.encoders import jsonable_encoder
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Brackets become +1/-1 as signed bytes; all but quotes and brackets is deleted first.
_DEPTH_TABLE = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_SIGNIFICANT = bytes(b for b in range(256) if b not in b'"[]{}')
_CHUNK = 64 * 1024
_INLINE_BYTES = 64 * 1024  # larger bodies are checked on a worker thread
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_INT_DIGITS = 4300


class StrictJsonError(ValueError):
    """The body is not JSON this server accepts; the message says why."""


@dataclass(frozen=True, slots=True)
class JsonLimits:
    max_depth: int = 64
    max_string_chars: int = 1024 * 1024


def nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text, outside strings, without recursion.

    All C-speed passes over bounded chunks: escaped backslashes go, then escaped quotes (so
    none can end a string); only quotes and brackets are kept; splitting on quotes leaves the
    text outside strings in every other part.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    reduced = unescaped.translate(None, _NOT_SIGNIFICANT)
    depth = deepest = 0
    in_string = False
    for start in range(0, len(reduced), _CHUNK):
        parts = reduced[start:start + _CHUNK].split(b'"')
        outside = b"".join(parts[1::2] if in_string else parts[::2])
        in_string ^= len(parts) % 2 == 0
        steps = memoryview(outside.translate(_DEPTH_TABLE)).cast("b")
        deepest = max(deepest, max(itertools.accumulate(steps, initial=depth)))
        depth += sum(steps)
    return deepest


def _refuse_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not a number this server accepts")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError(f"the number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    # Python refuses int() of more digits than this anyway, with a less helpful error.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise StrictJsonError(f"an integer has more than {_MAX_INT_DIGITS} digits")
    return int(text)


def _check_string(text: str, limits: JsonLimits) -> None:
    if len(text) > limits.max_string_chars:
        raise StrictJsonError(f"a string is longer than {limits.max_string_chars} characters")
    if _SURROGATE.search(text):
        raise StrictJsonError("a string holds a lone UTF-16 surrogate (e.g. \\ud800), "
                              "which is not a character")


def loads(body: bytes, limits: JsonLimits = JsonLimits()) -> Any:
    """Parse ``body`` strictly; raise StrictJsonError with a reason if it is refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJsonError(f"the body is not UTF-8 (byte {exc.start})") from None
    if nesting_depth(body) > limits.max_depth:
        raise StrictJsonError(f"the body nests deeper than {limits.max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                           parse_int=_bounded_int)
    except StrictJsonError:
        raise
    except json.JSONDecodeError as exc:
        raise StrictJsonError(f"invalid JSON: {exc.msg} at position {exc.pos}") from None
    except (ValueError, RecursionError) as exc:
        raise StrictJsonError(f"invalid JSON: {exc.__class__.__name__}") from None
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_string(item, limits)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_string(key, limits)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return value


def is_json_content(content_type: str | None) -> bool:
    """The media types FastAPI parses as JSON: application/json and application/*+json."""
    if not content_type:
        return False
    message = MimeMessage()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


class StrictJsonMiddleware:
    """Check every JSON body of a route that takes one (``applies(method, path)``) with loads()."""

    def __init__(self, app: ASGIApp, *, applies: Callable[[str, str], bool],
                 limits: JsonLimits) -> None:
        self.app = app
        self.applies = applies
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._wants(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: there is no one to answer
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:
                if len(body) > _INLINE_BYTES:  # megabytes take a while: keep the loop free
                    await anyio.to_thread.run_sync(loads, body, self.limits)
                else:
                    loads(body, self.limits)
            except StrictJsonError as exc:
                await _refuse(send, str(exc))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _wants(self, scope: Scope) -> bool:
        content_type = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
        return is_json_content(content_type) and self.applies(scope["method"], scope["path"])


async def _refuse(send: Send, reason: str) -> None:
    body = json.dumps({"detail": f"the body is not acceptable JSON: {reason}"}).encode()
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})


def json_routes(openapi: Callable[[], dict[str, Any]]) -> Callable[[str, str], bool]:
    """``applies(method, path)``: does the API schema give this operation a JSON body?

    Read from the schema on first use, so every route with a JSON body is covered as soon as it
    exists, and bodies of other media types (blob uploads) are left alone.
    """
    compiled: list[tuple[re.Pattern[str], set[str]]] = []
    ready = False

    def applies(method: str, path: str) -> bool:
        nonlocal ready
        if not ready:
            ready = True
            for template, item in openapi().get("paths", {}).items():
                methods = {name.upper() for name, operation in item.items()
                           if isinstance(operation, dict) and any(
                               is_json_content(media) for media in
                               operation.get("requestBody", {}).get("content", {}))}
                if methods:
                    regex, _, _ = compile_path(template)
                    compiled.append((regex, methods))
        return any(method in methods and regex.match(path) for regex, methods in compiled)

    return applies


def safe_for_json(value: Any, *, limit: int = 2000) -> Any:
    """``value`` as JSON-ready data if it can be written as strict JSON in ``limit`` characters,
    else a short note: error answers must never fail on the input they describe."""
    try:
        encoded = jsonable_encoder(value)
        text = json.dumps(encoded, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (ValueError, TypeError, RecursionError, UnicodeError):
        return f"<{type(value).__name__} not shown: it cannot be written as JSON>"
    if len(text) > limit:
        return f"<{type(value).__name__} not shown: {len(text)} characters>"
    return encoded


def safe_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors with every field made safe to serialise (see safe_for_json)."""
    result: list[dict[str, Any]] = []
    for error in errors:
        if not isinstance(error, dict):
            result.append({"msg": safe_for_json(error)})
            continue
        result.append({str(key): safe_for_json(item) for key, item in error.items()})
    return result

"""HTTP client for the sync server's REST API (httpx). No state beyond the connection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

API = "/api/v1"


class ApiError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(ApiError):
    """The token was refused (expired, revoked, user disabled): log in again."""


class Offline(ApiError):
    """The server could not be reached; local work goes on and sync retries later."""


class RateLimited(ApiError):
    """429: the server asks us to wait ``retry_after`` seconds (its Retry-After) first."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


MAX_RETRY_AFTER_S = 3600.0  # a server (or proxy) asking for longer is not believed


def retry_after_s(value: str | None, now: float | None = None) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110);
    missing or unreadable means one minute; never negative, never above an hour."""
    if not value:
        return 60.0
    text = value.strip()
    try:
        seconds = float(int(text))
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return 60.0
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


@dataclass(slots=True)
class PulledPage:
    """A pull page with each event's JSON text exactly as the server sent it (kept verbatim
    for any event the client quarantines)."""

    events: list[tuple[str, Any]]  # (raw text, parsed value): a value may be any JSON
    next_cursor: int
    has_more: bool


class SyncApi:
    # The server's clock as last seen in a response's Date header (ms since the epoch), with
    # the local wall clock at that moment: the sync report compares the two.
    server_date_ms: int | None = None
    # The event schema the server last said it understands (X-Event-Schema), if it said.
    server_schema: str | None = None

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 15.0, verify: bool | str = True,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        # ``client`` lets tests drive the real server in-process (FastAPI's TestClient).
        self._http = client or httpx.Client(base_url=self.base_url, transport=transport,
                                            timeout=timeout, verify=verify,
                                            headers={"User-Agent": "smart-support"})

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, *, token: str | None = None,
              headers_extra: dict[str, str] | None = None, raw: bool = False,
              **kwargs: Any) -> Any:
        """One request; the parsed JSON answer (``raw``: its text), or ApiError."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(headers_extra or {})
        try:
            response = self._http.request(method, API + path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise Offline(f"cannot reach {self.base_url}: {exc.__class__.__name__}") from exc
        self._note_date(response)
        if response.status_code == 401:
            raise Unauthorized(_detail(response), 401)
        if response.status_code == 429:
            wait = retry_after_s(response.headers.get("Retry-After"))
            raise RateLimited(f"429: {_detail(response)} (retrying in {wait:.0f} s)", wait)
        if response.status_code >= 400:
            raise ApiError(f"{response.status_code}: {_detail(response)}", response.status_code)
        if raw:
            return response.text
        return response.json() if response.content else None

    def _note_date(self, response: httpx.Response) -> None:
        self.server_date_ms = server_time_ms(response.headers)
        schema = response.headers.get("x-event-schema", "")
        if schema and len(schema) <= 64 and schema.isascii() and schema.isprintable():
            self.server_schema = schema

    def login(self, email: str, password: str,
              device_token: str | None = None) -> dict[str, Any]:
        body = {"email": email, "password": password}
        if device_token:  # this device's proof of an earlier sign-in (throttled apart)
            body["device_token"] = device_token
        return dict(self._call("POST", "/auth/login", json=body))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return dict(self._call("POST", "/auth/refresh", json={"refresh_token": refresh_token}))

    def logout(self, refresh_token: str) -> None:
        self._call("POST", "/auth/logout", json={"refresh_token": refresh_token})

    def me(self, token: str) -> dict[str, Any]:
        return dict(self._call("GET", "/me", token=token))

    def push(self, token: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(self._call("POST", "/events/push", token=token,
                               json={"events": events})["results"])

    def pull(self, token: str, since: int, limit: int = 500) -> dict[str, Any]:
        return dict(self._call("GET", "/events", token=token,
                               params={"since": since, "limit": limit}))

    def pull_raw(self, token: str, since: int, limit: int = 500) -> PulledPage:
        """Like ``pull``, keeping each event's text as sent (see ``split_page``)."""
        text = self._call("GET", "/events", token=token, raw=True,
                          params={"since": since, "limit": limit})
        try:
            return split_page(str(text))
        except ValueError as exc:
            raise ApiError(f"the server sent an unreadable page of events: {exc}") from exc

    def mail_status(self, token: str) -> dict[str, Any]:
        """The team mailboxes of my teams (GET /mail/status): last poll, last error,
        queued and failed replies."""
        return dict(self._call("GET", "/mail/status", token=token))

    def agents(self, token: str) -> list[dict[str, Any]]:
        return list(self._call("GET", "/directory/agents", token=token))

    def has_blob(self, token: str, sha256: str) -> bool:
        try:
            response = self._http.head(f"{API}/blobs/{sha256}",
                                       headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError as exc:
            raise Offline(f"cannot reach {self.base_url}: {exc.__class__.__name__}") from exc
        if response.status_code == 401:
            raise Unauthorized("token refused", 401)
        return response.status_code == 200

    def put_blob(self, token: str, sha256: str, path: Path) -> None:
        # Streamed from the file in chunks (an attachment may be tens of MB): never read whole.
        size = path.stat().st_size
        with path.open("rb") as fh:
            self._call("PUT", f"/blobs/{sha256}", token=token, content=_chunks(fh),
                       headers_extra={"Content-Type": "application/octet-stream",
                                      "Content-Length": str(size)})

    def get_blob(self, token: str, sha256: str, dest: Path) -> None:
        """Stream the blob into ``dest`` (the caller verifies the hash)."""
        try:
            with self._http.stream("GET", f"{API}/blobs/{sha256}",
                                   headers={"Authorization": f"Bearer {token}"}) as response:
                if response.status_code == 401:
                    raise Unauthorized("token refused", 401)
                if response.status_code >= 400:
                    raise ApiError(f"{response.status_code}: the server has no such "
                                   "attachment", response.status_code)
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes(1024 * 1024):
                        out.write(chunk)
        except httpx.TransportError as exc:
            raise Offline(f"cannot reach {self.base_url}: {exc.__class__.__name__}") from exc

    def presence(self, token: str, case_id: str, state: str = "viewing") -> None:
        self._call("POST", "/presence", token=token, json={"case_id": case_id, "state": state})

    def who_is_viewing(self, token: str, case_id: str) -> list[dict[str, Any]]:
        data = self._call("GET", "/presence", token=token, params={"case_id": case_id})
        return list(data.get("viewers", []) if isinstance(data, dict) else data)


def server_time_ms(headers: httpx.Headers) -> int | None:
    """The server's clock from a response: its X-Server-Time-Ms (to the ms, sent by the
    app itself), else the HTTP Date header (to the second); None if neither is readable."""
    exact = headers.get("x-server-time-ms", "")
    if exact.isascii() and exact.isdigit() and len(exact) <= 16:
        return int(exact)
    for value in headers.get_list("date"):  # a proxy may have added a second one
        found = server_date_ms(value)
        if found is not None:
            return found
    return None


def server_date_ms(value: str | None) -> int | None:
    """An HTTP Date header as ms since the epoch; None if absent or unreadable."""
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i


def split_page(text: str) -> PulledPage:
    """Parse a pull page, keeping the text of each item of ``events`` verbatim.

    Raises ValueError when the page itself (not one of its events) is not readable.
    """
    events: list[tuple[str, Any]] = []
    top: dict[str, Any] = {}
    i = _skip(text, 0)
    if text[i:i + 1] != "{":
        raise ValueError("not a JSON object")
    i = _skip(text, i + 1)
    while text[i:i + 1] != "}":
        key, i = _DECODER.raw_decode(text, i)
        i = _skip(text, i)
        if text[i:i + 1] != ":" or not isinstance(key, str):
            raise ValueError(f"malformed object at {i}")
        i = _skip(text, i + 1)
        if key == "events" and text[i:i + 1] == "[":
            i = _skip(text, i + 1)
            while text[i:i + 1] != "]":
                value, end = _DECODER.raw_decode(text, i)
                events.append((text[i:end], value))
                i = _skip(text, end)
                if text[i:i + 1] == ",":
                    i = _skip(text, i + 1)
                elif text[i:i + 1] != "]":
                    raise ValueError(f"malformed events array at {i}")
            i += 1
            top[key] = None
        else:
            top[key], i = _DECODER.raw_decode(text, i)
        i = _skip(text, i)
        if text[i:i + 1] == ",":
            i = _skip(text, i + 1)
        elif text[i:i + 1] != "}":
            raise ValueError(f"malformed object at {i}")
    if top.get("events") is not None:
        raise ValueError("events is not a list")
    cursor = top.get("next_cursor")
    if isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0:
        raise ValueError(f"next_cursor is not a sequence number: {cursor!r}")
    return PulledPage(events, cursor, bool(top.get("has_more")))


def _chunks(fh: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    detail = data.get("detail") if isinstance(data, dict) else data
    return str(detail)[:300]

"""The HTTP side of JIRA: Cloud REST v3 (basic auth, e-mail + API token) and Data Center v2
(a personal access token as a bearer token when no user is configured), with JIRA's answers
turned into the job queue's outcomes (sync_server/jobs/api.py):

- 400/403/404 and other refusals: :class:`Permanent` with JIRA's own message;
- 401: asked once more, then :class:`Permanent`;
- 429: :class:`RateLimited` honouring ``Retry-After`` and ``X-RateLimit-Reset``;
- 5xx, timeouts, dropped connections: :class:`Transient`; ``unknown_outcome`` when a write
  may have been applied (its answer was lost after it was sent).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import httpx

from sync_server.integrations.jira_format import reason_from, retry_after_s
from sync_server.jobs.api import Permanent, RateLimited, Transient
from sync_server.settings import JiraSettings

_API_CACHE: dict[str, int] = {}  # site URL -> REST API version, as serverInfo said
_NOT_APPLIED = (503,)  # 5xx answers that say the request was not taken (others may have been)
MAX_ANSWER_BYTES = 8 * 1024 * 1024


def _auth_headers(config: JiraSettings) -> dict[str, str]:
    if config.user:
        pair = f"{config.user}:{config.token.get_secret_value()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {"Authorization": f"Bearer {config.token.get_secret_value()}"}


class JiraClient:
    """One session with one JIRA site: ``async with JiraClient(config) as jira: ...``."""

    def __init__(self, config: JiraSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> JiraClient:
        self._http = httpx.AsyncClient(
            base_url=self.base, timeout=self.config.timeout_s, transport=self._transport,
            follow_redirects=False, headers={
                "Accept": "application/json", "User-Agent": "smart-support-server",
                **_auth_headers(self.config)})
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def api(self) -> int:
        """3 (Cloud) or 2 (Data Center): as configured, else as serverInfo says (cached)."""
        if self.config.api is not None:
            return self.config.api
        known = _API_CACHE.get(self.base)
        if known is None:
            info = await self._call("GET", "/rest/api/2/serverInfo", write=False)
            cloud = isinstance(info, dict) and str(info.get("deploymentType", "")).lower() == "cloud"
            known = _API_CACHE[self.base] = 3 if cloud else 2
        return known

    async def call(self, method: str, tail: str, *, json_body: Any = None,
                   params: Mapping[str, str] | None = None) -> Any:
        """``method`` on /rest/api/<version>/<tail>; JIRA's JSON answer."""
        version = await self.api()
        return await self._call(method, f"/rest/api/{version}/{tail.lstrip('/')}",
                                json_body=json_body, params=params, write=method != "GET")

    async def _call(self, method: str, path: str, *, json_body: Any = None,
                    params: Mapping[str, str] | None = None, write: bool) -> Any:
        assert self._http is not None, "use JiraClient as an async context manager"
        for attempt in (1, 2):
            response = await self._send(method, path, json_body, params, write)
            if response.status_code != 401 or attempt == 2:
                break  # a 401 is asked once more: a token just rotated, a node's hiccup
        return self._outcome(response, write)

    async def _send(self, method: str, path: str, json_body: Any,
                    params: Mapping[str, str] | None, write: bool) -> httpx.Response:
        assert self._http is not None
        try:
            return await self._http.request(method, path, json=json_body, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Transient(f"JIRA could not be reached: {type(exc).__name__}") from None
        except httpx.TimeoutException as exc:
            raise Transient(f"JIRA did not answer in {self.config.timeout_s:g} s "
                            f"({type(exc).__name__})", unknown_outcome=write) from None
        except httpx.TransportError as exc:  # reset or closed after the request was sent
            raise Transient(f"the connection to JIRA broke: {type(exc).__name__}",
                            unknown_outcome=write) from None

    def _outcome(self, response: httpx.Response, write: bool) -> Any:
        status = response.status_code
        body = response.content[:MAX_ANSWER_BYTES]
        if status == 429:
            raise RateLimited(reason_from(status, body),
                              retry_after_s=retry_after_s(response.headers))
        if status >= 500:
            raise Transient(reason_from(status, body), retry_after_s=retry_after_s(
                response.headers), unknown_outcome=write and status not in _NOT_APPLIED)
        if 300 <= status < 400:
            raise Permanent(f"JIRA answered {status} (a redirect to "
                            f"{response.headers.get('location', '?')[:200]}): check "
                            "SMART_SUPPORT_JIRA_URL", status)
        if status >= 400:
            raise Permanent(reason_from(status, body), status)
        if status == 204 or not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise Transient(f"JIRA answered {status} with something that is not JSON",
                            unknown_outcome=write) from None

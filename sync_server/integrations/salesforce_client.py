"""The HTTP side of Salesforce: the OAuth 2.0 client credentials flow (a token per process,
fetched again once on 401 ``INVALID_SESSION_ID``; nothing of it leaves the server), the REST
API under ``/services/data/<version>/``, and Salesforce's answers turned into the job
queue's outcomes (sync_server/jobs/api.py):

- 400/403/404 and other refusals: :class:`Refused` (a Permanent) with Salesforce's
  ``[{message, errorCode, fields}]``;
- 403 ``REQUEST_LIMIT_EXCEEDED``: :class:`LimitExceeded` (RateLimited; the adapter opens the
  breaker); ``Sforce-Limit-Info`` past the threshold holds new calls back (RateLimited);
- 429: RateLimited honouring ``Retry-After``; 5xx, timeouts, dropped connections: Transient,
  ``unknown_outcome`` when a write may have been applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from sync_server.integrations.jira_format import retry_after_s
from sync_server.integrations.salesforce_mapping import (
    backoff_s,
    errors_of,
    parse_limit_info,
    reason_from,
)
from sync_server.jobs.api import Permanent, RateLimited, Transient
from sync_server.settings import SalesforceSettings

MAX_ANSWER_BYTES = 8 * 1024 * 1024
_NOT_APPLIED = (503,)  # 5xx answers that say the request was not taken


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str


_TOKENS: dict[tuple[str, str], Token] = {}  # (site, client id) -> the process's token
_HOLDS: dict[str, int] = {}  # site -> no new call before this time (ms): the API allocation


def site_of(config: SalesforceSettings) -> str:
    return config.url.rstrip("/")


def hold_until_ms(site: str) -> int:
    return _HOLDS.get(site, 0)


def forget_tokens() -> None:
    """Forget every cached token and allocation hold (tests, a changed secret)."""
    _TOKENS.clear()
    _HOLDS.clear()


class Refused(Permanent):
    """Salesforce refused the request as asked; ``errors`` is its error list."""

    def __init__(self, reason: str, remote_status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(reason, remote_status)
        self.errors = errors

    @property
    def fields(self) -> set[str]:
        return {f for error in self.errors for f in error["fields"]}


class LimitExceeded(RateLimited):
    """The org's API allocation is used up (403 REQUEST_LIMIT_EXCEEDED)."""


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any  # the JSON answer (None for 204)


class SalesforceClient:
    """One session: ``async with SalesforceClient(config, now_ms) as sf: ...``. ``now_ms``
    is the job's clock (the allocation hold is kept in it)."""

    def __init__(self, config: SalesforceSettings, now_ms: int,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.site = site_of(config)
        self.now_ms = now_ms
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self.usage: tuple[int, int] | None = None  # the last Sforce-Limit-Info seen
        self._calls = 0

    async def __aenter__(self) -> SalesforceClient:
        self._http = httpx.AsyncClient(
            timeout=self.config.timeout_s, transport=self._transport, follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "smart-support-server"})
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    @property
    def instance_url(self) -> str:
        token = _TOKENS.get((self.site, self.config.client_id))
        return token.instance_url if token else self.site

    # --- the token -------------------------------------------------------------------------
    async def _token(self, *, fresh: bool = False) -> Token:
        key = (self.site, self.config.client_id)
        if not fresh and key in _TOKENS:
            return _TOKENS[key]
        response = await self._send("POST", f"{self.site}/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": self.config.client_id,
            "client_secret": self.config.client_secret.get_secret_value()}, write=False)
        body = response.content[:MAX_ANSWER_BYTES]
        if response.status_code >= 500 or response.status_code == 429:
            self._outcome(response, write=False)
        if response.status_code != 200:
            said = reason_from(response.status_code, body).removeprefix("Salesforce answered ")
            raise Refused(f"Salesforce refused the server's credentials ({said}): check "
                          "SMART_SUPPORT_SALESFORCE_CLIENT_ID, SMART_SUPPORT_SALESFORCE_CLIENT_"
                          "SECRET and the connected app's client credentials (run-as) user",
                          response.status_code, errors_of(body))
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise Transient("Salesforce's token endpoint answered without an access token")
        instance = data.get("instance_url")
        token = Token(data["access_token"],
                      instance.rstrip("/") if isinstance(instance, str) and
                      instance.startswith(("https://", "http://")) else self.site)
        _TOKENS[key] = token
        return token

    # --- calls -----------------------------------------------------------------------------
    def _check_hold(self) -> None:
        # Only before a job's first call: a job once begun ends (a sync is not left half
        # done); the next ones wait.
        until = _HOLDS.get(self.site, 0)
        if self._calls == 0 and until > self.now_ms:
            used = f" ({self.usage[0]:,} of {self.usage[1]:,} API calls used)" if self.usage \
                else ""
            raise RateLimited(f"Salesforce's daily API allocation is nearly used up{used}: "
                              "holding off", retry_after_s=(until - self.now_ms) / 1000)

    async def call(self, method: str, tail: str, *, json_body: Any = None,
                   params: Mapping[str, str] | None = None,
                   accept: tuple[int, ...] = ()) -> Answer:
        """``method`` on /services/data/<version>/<tail>; statuses in ``accept`` (e.g. 300,
        404) are answered rather than raised."""
        self._check_hold()
        self._calls += 1
        write = method != "GET"
        for attempt in (1, 2):
            token = await self._token(fresh=attempt == 2)
            url = f"{token.instance_url}/services/data/{self.config.api_version}/" \
                  f"{tail.lstrip('/')}"
            response = await self._send(method, url, json_body=json_body, params=params,
                                        write=write,
                                        headers={"Authorization": f"Bearer {token.access_token}"})
            self._watch_limits(response)
            if response.status_code != 401 or attempt == 2:
                break  # a 401 is an expired or revoked session: one new token, once
        if response.status_code in accept:
            return Answer(response.status_code, self._json(response, write))
        return Answer(response.status_code, self._outcome(response, write))

    async def query(self, soql: str, max_records: int = 10_000) -> list[dict[str, Any]]:
        """The records a SOQL query finds, following ``nextRecordsUrl`` (at most
        ``max_records``)."""
        data = (await self.call("GET", "query", params={"q": soql})).data
        records: list[dict[str, Any]] = []
        prefix = f"/services/data/{self.config.api_version}/"
        while isinstance(data, dict):
            found = data.get("records")
            if isinstance(found, list):
                records.extend(r for r in found if isinstance(r, dict))
            following = data.get("nextRecordsUrl")
            if (data.get("done", True) or not isinstance(following, str)
                    or not following.startswith(prefix) or len(records) >= max_records):
                break
            data = (await self.call("GET", following[len(prefix):])).data
        if data is not None and not isinstance(data, dict):
            raise Transient("Salesforce answered a query with something that is not a result")
        return records[:max_records]

    async def _send(self, method: str, url: str, *, write: bool, json_body: Any = None,
                    params: Mapping[str, str] | None = None, data: Any = None,
                    headers: Mapping[str, str] | None = None) -> httpx.Response:
        assert self._http is not None, "use SalesforceClient as an async context manager"
        try:
            return await self._http.request(method, url, json=json_body, params=params,
                                            data=data, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Transient(f"Salesforce could not be reached: {type(exc).__name__}") from None
        except httpx.TimeoutException as exc:
            raise Transient(f"Salesforce did not answer in {self.config.timeout_s:g} s "
                            f"({type(exc).__name__})", unknown_outcome=write) from None
        except httpx.TransportError as exc:  # reset or closed after the request was sent
            raise Transient(f"the connection to Salesforce broke: {type(exc).__name__}",
                            unknown_outcome=write) from None

    def _watch_limits(self, response: httpx.Response) -> None:
        """Hold new calls back as the org's API allocation nears its end."""
        usage = parse_limit_info(response.headers.get("sforce-limit-info"))
        if usage is None:
            return
        self.usage = (usage.used, usage.limit)
        wait = backoff_s(usage, self.config.limit_pct, self.config.limit_backoff_s)
        if wait is not None:
            _HOLDS[self.site] = max(_HOLDS.get(self.site, 0), self.now_ms + int(wait * 1000))

    def _json(self, response: httpx.Response, write: bool) -> Any:
        body = response.content[:MAX_ANSWER_BYTES]
        if response.status_code == 204 or not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise Transient(f"Salesforce answered {response.status_code} with something that "
                            "is not JSON", unknown_outcome=write) from None

    def _outcome(self, response: httpx.Response, write: bool) -> Any:
        status = response.status_code
        body = response.content[:MAX_ANSWER_BYTES]
        errors = errors_of(body)
        if any(e["errorCode"] == "REQUEST_LIMIT_EXCEEDED" for e in errors):
            wait = self.config.limit_backoff_s
            _HOLDS[self.site] = max(_HOLDS.get(self.site, 0), self.now_ms + int(wait * 1000))
            raise LimitExceeded(reason_from(status, body), retry_after_s=wait)
        if status == 429:
            raise RateLimited(reason_from(status, body),
                              retry_after_s=retry_after_s(response.headers))
        if status >= 500:
            raise Transient(reason_from(status, body), retry_after_s=retry_after_s(
                response.headers), unknown_outcome=write and status not in _NOT_APPLIED)
        if 300 <= status < 400:
            raise Refused(f"Salesforce answered {status} (a redirect to "
                          f"{response.headers.get('location', '?')[:200]}): check "
                          "SMART_SUPPORT_SALESFORCE_URL", status, errors)
        if status >= 400:
            raise Refused(reason_from(status, body), status, errors)
        return self._json(response, write)

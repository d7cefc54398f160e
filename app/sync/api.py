"""HTTP client for the sync server's REST API (httpx). No state beyond the connection."""

from __future__ import annotations

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


class SyncApi:
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
              headers_extra: dict[str, str] | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(headers_extra or {})
        try:
            response = self._http.request(method, API + path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise Offline(f"cannot reach {self.base_url}: {exc.__class__.__name__}") from exc
        if response.status_code == 401:
            raise Unauthorized(_detail(response), 401)
        if response.status_code >= 400:
            raise ApiError(f"{response.status_code}: {_detail(response)}", response.status_code)
        return response.json() if response.content else None

    def login(self, email: str, password: str) -> dict[str, Any]:
        return dict(self._call("POST", "/auth/login", json={"email": email,
                                                            "password": password}))

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
        with path.open("rb") as fh:
            self._call("PUT", f"/blobs/{sha256}", token=token, content=fh.read(),
                       headers_extra={"Content-Type": "application/octet-stream"})

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


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    detail = data.get("detail") if isinstance(data, dict) else data
    return str(detail)[:300]

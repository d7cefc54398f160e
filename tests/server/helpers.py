"""Helpers shared by the server tests."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync_server.ids import uuid7

PASSWORD = "correct horse battery"
_hlc = itertools.count(1)


@dataclass
class World:
    alpha: str
    beta: str
    user_ids: dict[str, str]


def hlc(ms: int = 1732550000000) -> str:
    return f"{ms:013d}.{next(_hlc) % 1_000_000:06d}"


def event(actor: str, team: str, *, type_: str = "comment.added", case_id: str | None = None,
          payload: dict[str, Any] | None = None, event_id: str | None = None) -> dict[str, Any]:
    return {"id": event_id or uuid7(), "case_id": case_id, "team_id": team, "type": type_,
            "payload": payload if payload is not None else {"body": "hello"},
            "actor": actor, "device_id": "dev-1", "hlc": hlc()}


def created(actor: str, team: str, case_id: str | None = None) -> dict[str, Any]:
    return event(actor, team, type_="case.created", case_id=case_id or uuid7(),
                 payload={"fields": {"title": "printer on fire", "team_id": team}, "tags": []})


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def push(client: TestClient, headers: dict[str, str], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = client.post("/api/v1/events/push", json={"events": events}, headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def pull_all(client: Any, headers: dict[str, str], since: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        response = client.get("/api/v1/events", params={"since": since, "limit": limit}, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["events"])
        since = page["next_cursor"]
        if not page["has_more"]:
            return found


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on a loopback port in a thread; yields the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            timeout_graceful_shutdown=1, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

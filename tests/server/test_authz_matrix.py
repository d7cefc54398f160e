"""Every endpoint x {own team, other team, no token, expired, revoked, disabled user}."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from sync_server.main import create_app
from sync_server.security import AccessClaims, sign_access_token
from sync_server.services import accounts
from sync_server.settings import Settings

from .conftest import SECRET
from .helpers import PASSWORD, World, created, event, live_server

BLOB = b"a secret attachment of team Alpha"
SHA = hashlib.sha256(BLOB).hexdigest()
SCENARIOS = ["own", "other", "none", "expired", "revoked", "disabled"]


@dataclass
class Ctx:
    base: str
    world: World
    case_id: str
    alpha_event_id: str


Call = Callable[[httpx.Client, Ctx, dict[str, str], str], httpx.Response]


def _stream(c: httpx.Client, ctx: Ctx, h: dict[str, str], actor: str) -> httpx.Response:
    with c.stream("GET", "/api/v1/stream", headers=h) as response:
        response.close()
        return response


ENDPOINTS: dict[str, Call] = {
    "me": lambda c, ctx, h, a: c.get("/api/v1/me", headers=h),
    "directory": lambda c, ctx, h, a: c.get("/api/v1/directory/agents", headers=h),
    "push": lambda c, ctx, h, a: c.post("/api/v1/events/push", headers=h, json={
        "events": [event(a, ctx.world.alpha, case_id=ctx.case_id)]}),
    "pull": lambda c, ctx, h, a: c.get("/api/v1/events", headers=h),
    "stream": _stream,
    "presence_post": lambda c, ctx, h, a: c.post("/api/v1/presence", headers=h, json={
        "case_id": ctx.case_id, "state": "viewing"}),
    "presence_get": lambda c, ctx, h, a: c.get("/api/v1/presence", headers=h,
                                               params={"case_id": ctx.case_id}),
    "blob_put": lambda c, ctx, h, a: c.put(f"/api/v1/blobs/{SHA}", headers=h, content=BLOB),
    "blob_get": lambda c, ctx, h, a: c.get(f"/api/v1/blobs/{SHA}", headers=h),
    "blob_head": lambda c, ctx, h, a: c.head(f"/api/v1/blobs/{SHA}", headers=h),
}

# expected status for the two valid identities; every other scenario must be 401
EXPECTED = {
    "own": {name: 200 for name in ENDPOINTS},
    # any team member may upload; only teams whose events reference a blob may read it, and
    # to others it does not exist (404, as a missing blob)
    "other": {**{name: 200 for name in ENDPOINTS}, "presence_post": 404, "presence_get": 404,
              "blob_get": 404, "blob_head": 404},
}


def _token(base: str, email: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def ctx(settings: Settings, engine: Engine, world: World) -> Any:
    app = create_app(settings, engine=engine, run_migrations=False)
    with live_server(app) as base:
        alice = _token(base, "alice@example.com")
        headers = {"Authorization": f"Bearer {alice['access_token']}"}
        case = created("alice@example.com", world.alpha)
        attached = event("alice@example.com", world.alpha, type_="attachment.added",
                         case_id=case["case_id"], payload={
                             "sha256": SHA, "name": "a.txt", "size": len(BLOB), "mime": "text/plain"})
        httpx.post(f"{base}/api/v1/events/push", json={"events": [case, attached]}, headers=headers)
        httpx.put(f"{base}/api/v1/blobs/{SHA}", content=BLOB, headers=headers)
        yield Ctx(base=base, world=world, case_id=case["case_id"], alpha_event_id=case["id"])


def _identity(scenario: str, ctx: Ctx, engine: Engine) -> tuple[dict[str, str], str]:
    if scenario == "none":
        return {}, "alice@example.com"
    if scenario == "expired":
        user_id = ctx.world.user_ids["alice@example.com"]
        token = sign_access_token(SECRET, AccessClaims(user_id, "x", int(time.time()) - 5))
        return {"Authorization": f"Bearer {token}"}, "alice@example.com"
    email = "carol@example.com" if scenario == "other" else "alice@example.com"
    tokens = _token(ctx.base, email)
    if scenario == "revoked":
        httpx.post(f"{ctx.base}/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    if scenario == "disabled":
        accounts.disable_user(engine, email)
    return {"Authorization": f"Bearer {tokens['access_token']}"}, email


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_authorization_matrix(scenario: str, ctx: Ctx, engine: Engine) -> None:
    headers, actor = _identity(scenario, ctx, engine)
    with httpx.Client(base_url=ctx.base, timeout=10) as client:
        for name, call in ENDPOINTS.items():
            response = call(client, ctx, headers, actor)
            expected = EXPECTED.get(scenario, {}).get(name, 401)
            assert response.status_code == expected, (scenario, name, response.text)
            body = b"" if name == "stream" else response.content
            if expected == 401:
                assert response.headers.get("www-authenticate") == "Bearer"
                assert BLOB not in body and ctx.case_id.encode() not in body
            if scenario == "other":
                assert ctx.alpha_event_id.encode() not in body, name
                assert BLOB not in body, name
                assert b"alice@example.com" not in body, name
                if name == "push":
                    assert response.json()["results"][0]["status"] == "rejected"
            if scenario == "own" and name == "pull":
                assert ctx.alpha_event_id in {e["id"] for e in response.json()["events"]}

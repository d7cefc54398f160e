"""/auth/login, /auth/refresh, /auth/logout and /me."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sync_server.deps import ClientAddress, CurrentUser, StateDep
from sync_server.notify import Revoked
from sync_server.schemas.auth import (
    LoginCreate,
    LoginPublic,
    RefreshCreate,
    TokenPublic,
    UserPublic,
)
from sync_server.schemas.common import ErrorPublic, StatusPublic
from sync_server.services import auth
from sync_server.state import AppState

router = APIRouter(tags=["auth"])
_401: dict[int | str, dict[str, Any]] = {401: {"model": ErrorPublic}}


_429: dict[int | str, dict[str, Any]] = {429: {
    "model": ErrorPublic, "description": "Too many failed logins (docs/login-throttling.md)",
    "headers": {"Retry-After": {"description": "seconds until the next attempt is allowed",
                                "schema": {"type": "integer"}}}}}


def login_clock() -> float:
    """The wall clock logins are throttled by (a dependency, so tests can move it)."""
    return time.time()


@router.post("/auth/login", response_model=LoginPublic, responses={**_401, **_429})
def login(body: LoginCreate, state: StateDep, client: ClientAddress,
          now: Annotated[float, Depends(login_clock)]) -> LoginPublic:
    return auth.login(state.engine, state.settings, email=body.email, password=body.password,
                      client=client, device_token=body.device_token, now=now)


@router.post("/auth/refresh", response_model=TokenPublic, responses=_401)
def refresh(body: RefreshCreate, state: StateDep) -> TokenPublic:
    return auth.refresh(state.engine, state.settings, body.refresh_token,
                        on_revoke=lambda family: _revoked(state, family))


@router.post("/auth/logout", response_model=StatusPublic)
def logout(body: RefreshCreate, state: StateDep) -> StatusPublic:
    family = auth.logout(state.engine, body.refresh_token)
    if family is not None:
        _revoked(state, family)
    return StatusPublic(status="ok")


def _revoked(state: AppState, family_id: str) -> None:
    """End the family's live streams (PostgreSQL: the NOTIFY sent at commit does it)."""
    if not state.settings.is_postgres:
        state.broadcaster.publish(Revoked(family_id=family_id))


@router.get("/me", response_model=UserPublic, responses=_401)
def me(user: CurrentUser) -> UserPublic:
    return user.public()

"""FastAPI dependencies, all in one place, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync_server.guards import guarded_principal
from sync_server.services.accounts import Principal
from sync_server.services.auth import authenticate
from sync_server.services.quota import PushQuota
from sync_server.state import AppState

_bearer = HTTPBearer(auto_error=False, description="access token from /api/v1/auth/login")

UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="missing, invalid or expired access token",
    headers={"WWW-Authenticate": "Bearer"},
)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.smart
    return state


StateDep = Annotated[AppState, Depends(get_state)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_user(request: Request, state: StateDep, credentials: Credentials) -> Principal:
    """The signed-in user, re-checked against the database on every request (by the request
    guard, before the body was read, on push and upload; here otherwise)."""
    if credentials is None:
        raise UNAUTHORIZED
    principal = guarded_principal(request.scope.get("state", {}))
    if principal is None:
        principal = authenticate(state.engine, state.secret, credentials.credentials)
    if principal is None:
        raise UNAUTHORIZED
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def team_member(user: CurrentUser) -> Principal:
    """A signed-in user who belongs to at least one team (needed for attachments)."""
    if not user.team_ids:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN,
                            detail="you are not a member of any team")
    return user


TeamMember = Annotated[Principal, Depends(team_member)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


def _push_quota(request: Request) -> PushQuota:
    app_state = request.app.state
    quota: PushQuota | None = getattr(app_state, "push_quota", None)
    if quota is None:  # one per app (per process), made on the first push
        settings = get_state(request).settings
        quota = PushQuota(settings.push_bytes_per_minute, settings.push_events_per_minute)
        app_state.push_quota = quota
    return quota


async def within_push_quota(request: Request, user: CurrentUser) -> None:
    """Charge a push to the user's per-minute quotas, or refuse it (429, Retry-After).

    The body is already read and parsed (and cached on the request) when this runs."""
    body = await request.body()
    try:
        data = await request.json()
        count = len(data["events"]) if isinstance(data, dict) and isinstance(
            data.get("events"), list) else 0
    except ValueError:
        count = 0  # not JSON: validation refuses it; its bytes still count
    _push_quota(request).charge(user.id, len(body), count)


WithinPushQuota = Annotated[None, Depends(within_push_quota)]

"""FastAPI dependencies, all in one place, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync_server.services.accounts import Principal
from sync_server.services.auth import authenticate
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


def current_user(state: StateDep, credentials: Credentials) -> Principal:
    """The signed-in user, re-checked against the database on every request."""
    if credentials is None:
        raise UNAUTHORIZED
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

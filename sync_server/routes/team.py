"""/directory/agents and /presence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sync_server.deps import CurrentUser, StateDep
from sync_server.schemas.common import UUID_PATTERN, ErrorPublic, StatusPublic
from sync_server.schemas.misc import AgentPublic, PresenceCreate, PresencePublic
from sync_server.services import directory, presence

router = APIRouter(tags=["team"])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}}


@router.get("/directory/agents", response_model=list[AgentPublic], responses=_ERRORS)
def agents(user: CurrentUser, state: StateDep) -> list[AgentPublic]:
    return directory.agents(state.engine, user)


@router.post("/presence", response_model=StatusPublic, responses=_ERRORS)
def report_presence(body: PresenceCreate, user: CurrentUser, state: StateDep) -> StatusPublic:
    presence.report(state.engine, user, body.case_id, body.state)
    return StatusPublic(status="ok")


@router.get("/presence", response_model=PresencePublic, responses=_ERRORS)
def get_presence(
    case_id: Annotated[str, Query(pattern=UUID_PATTERN)], user: CurrentUser, state: StateDep
) -> PresencePublic:
    return presence.viewers(state.engine, user, case_id, state.settings.presence_window_seconds)

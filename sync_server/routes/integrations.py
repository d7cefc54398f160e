"""/integrations/status: the job queue and its breakers, for admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from sync_server.deps import CurrentUser, StateDep
from sync_server.jobs.status import status as queue_status
from sync_server.schemas.common import ErrorPublic

router = APIRouter(tags=["integrations"])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorPublic},
                                            403: {"model": ErrorPublic}}


@router.get("/integrations/status", responses=_ERRORS)
def integrations_status(user: CurrentUser, state: StateDep) -> dict[str, Any]:
    if user.role != "admin":
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN,
                            detail="only admins may see the integration queue")
    return queue_status(state.engine)

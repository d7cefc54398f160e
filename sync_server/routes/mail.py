"""/mail/status: the team mailboxes of the caller's teams (sync_server/mail/status.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sync_server.deps import CurrentUser, StateDep
from sync_server.mail.status import status as mail_status
from sync_server.schemas.common import ErrorPublic

router = APIRouter(tags=["mail"])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorPublic}}


@router.get("/mail/status", responses=_ERRORS)
def status(user: CurrentUser, state: StateDep) -> dict[str, Any]:
    return mail_status(state.engine, user.team_ids)

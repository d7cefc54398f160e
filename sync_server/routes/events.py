"""/events/push and /events (pull)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from sync_server.deps import CurrentUser, StateDep, WithinPushQuota
from sync_server.schemas.common import ErrorPublic
from sync_server.schemas.events import PullPublic, PushCreate, PushPublic
from sync_server.services import events

router = APIRouter(tags=["events"])
_401: dict[int | str, dict[str, Any]] = {401: {"model": ErrorPublic}}


@router.post("/events/push", response_model=PushPublic,
             responses={**_401, 413: {"model": ErrorPublic}, 429: {"model": ErrorPublic}})
def push(body: PushCreate, user: CurrentUser, state: StateDep,
         _quota: WithinPushQuota) -> PushPublic:
    # Each item is judged on its own (see services/events.py): a bad one never costs the batch.
    outcome = events.push(state.engine, state.clock, user, body.events,
                          max_clock_ahead_ms=state.settings.max_clock_ahead_s * 1000,
                          job_give_up_ms=int(state.settings.job_give_up_h * 3_600_000))
    state.announce(outcome)
    return PushPublic(results=outcome.results)


@router.get("/events", response_model=PullPublic, responses=_401)
def pull(
    user: CurrentUser,
    state: StateDep,
    since: Annotated[int, Query(ge=0, description="the last server_seq the client has")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    items, next_cursor, has_more = events.pull(state.engine, user, since, limit,
                                               state.settings.pull_max_bytes)
    # Payloads are stored as JSON text: splice them in rather than parse and re-serialize.
    body = b'{"events":[' + items + (
        f'],"next_cursor":{next_cursor},"has_more":{"true" if has_more else "false"}}}'
    ).encode()
    return Response(content=body, media_type="application/json")

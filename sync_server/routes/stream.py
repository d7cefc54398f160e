"""/stream: server-sent events telling a client that new events exist for its teams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from sync_server.deps import CurrentUser, StateDep
from sync_server.notify import Message, Notice, Revoked
from sync_server.schemas.common import ErrorPublic
from sync_server.services.accounts import Principal, load_principal
from sync_server.state import AppState
from sync_server.tables import token_families

router = APIRouter(tags=["events"])


def _recheck(state: AppState, user: Principal) -> Principal | None:
    """The user as now (None: disabled, or this session's token family revoked)."""
    with state.engine.connect() as conn:
        revoked = conn.execute(select(token_families.c.revoked)
                               .where(token_families.c.id == user.family_id)).scalar()
        if revoked is None or revoked:
            return None
        return load_principal(conn, user.id, user.family_id)


def _ends(message: Message, user: Principal) -> bool:
    return isinstance(message, Revoked) and message.family_id == user.family_id


async def _events(state: AppState, user: Principal) -> AsyncIterator[str]:
    sub = state.broadcaster.subscribe()
    try:
        yield "retry: 5000\n: connected\n\n"
        while True:
            try:
                notice = await asyncio.wait_for(sub.queue.get(), state.settings.keepalive_seconds)
            except TimeoutError:
                current = await run_in_threadpool(_recheck, state, user)
                if current is None:
                    return
                yield ": keep-alive\n\n"
                continue
            notices: list[Message] = [notice]
            while not sub.queue.empty():
                notices.append(sub.queue.get_nowait())
            if any(n is None or _ends(n, user) for n in notices):
                return  # shutdown, or this session was logged out or revoked
            current = await run_in_threadpool(_recheck, state, user)
            if current is None:  # disabled meanwhile
                return
            mine = current.team_ids
            relevant = [n for n in notices
                        if isinstance(n, Notice) and (n.teams is None or n.teams & mine)]
            if relevant:
                # A "may have missed some" notice (seq 0, after a LISTEN reconnect) says 0,
                # not the global counter: that would show how much other teams write.
                seq = max(n.seq for n in relevant)
                yield f"event: events\ndata: {json.dumps({'server_seq': seq})}\n\n"
    finally:
        state.broadcaster.unsubscribe(sub)


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
          "description": 'lines `event: events` / `data: {"server_seq": N}`, comments as keep-alive'},
    401: {"model": ErrorPublic},
}


@router.get("/stream", response_class=StreamingResponse, responses=_STREAM_DOC)
async def stream(user: CurrentUser, state: StateDep) -> StreamingResponse:
    return StreamingResponse(
        _events(state, user), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

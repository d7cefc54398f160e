"""POST /hooks/jira: JIRA's webhook. The body is signed (``X-Hub-Signature: sha256=<hex>``,
an HMAC of the raw body with the configured secret); each delivery is taken once (by
``X-Atlassian-Webhook-Identifier``); each case linked to the issue gets an
``integration.record`` event when the issue's snapshot changed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import delete, insert, select

from sync_server.db import write_tx
from sync_server.deps import StateDep
from sync_server.integrations import links as links_db
from sync_server.integrations.jira_format import comment_of, record_of
from sync_server.schemas.common import ErrorPublic
from sync_server.services.events import PushOutcome
from sync_server.state import AppState
from sync_server.tables import jira_webhooks

router = APIRouter(tags=["integrations"])
MAX_HOOK_BYTES = 512 * 1024  # one issue with its changelog; JIRA's own are far smaller
KEEP_IDENTIFIERS_MS = 7 * 24 * 3600 * 1000  # JIRA retries a delivery for a few hours at most
_DELETED = ("jira:issue_deleted",)
_COMMENTED = ("comment_created", "comment_updated")


class HookPublic(BaseModel):
    status: str  # "recorded", "unchanged", "duplicate", "ignored"
    recorded: int = 0


def _verified(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


@router.post("/hooks/jira", response_model=HookPublic,
             responses={400: {"model": ErrorPublic}, 401: {"model": ErrorPublic},
                        413: {"model": ErrorPublic}})
async def jira_hook(request: Request, state: StateDep) -> HookPublic:
    config = state.settings.jira
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_HOOK_BYTES:
            raise HTTPException(413, f"webhook body larger than {MAX_HOOK_BYTES} bytes")
    secret = config.webhook_secret.get_secret_value() if config and config.webhook_secret else ""
    if not secret or not _verified(secret, bytes(body), request.headers.get("x-hub-signature")):
        raise HTTPException(401, "missing or wrong X-Hub-Signature (or no webhook secret is "
                                 "configured: SMART_SUPPORT_JIRA_WEBHOOK_SECRET)")
    assert config is not None
    try:
        data = json.loads(body)
    except ValueError:
        raise HTTPException(400, "the webhook body is not JSON") from None
    issue = data.get("issue") if isinstance(data, dict) else None
    if not isinstance(issue, dict) or not isinstance(issue.get("id"), str | int):
        return HookPublic(status="ignored")  # not an issue event (a project, a sprint)
    remote_id = str(issue["id"])[:200]
    identifier = (request.headers.get("x-atlassian-webhook-identifier") or "").strip()[:200]
    now_ms = int(time.time() * 1000)
    record = record_of(issue, config.url, now_ms,
                       linked=data.get("webhookEvent") not in _DELETED)
    if not record["remote_key"]:
        return HookPublic(status="ignored")
    comment = comment_of(data.get("comment")) if data.get("webhookEvent") in _COMMENTED else None
    outcome = await _take(state, identifier, remote_id, record, comment, now_ms)
    if outcome.last_seq is not None:
        state.announce(PushOutcome(results=[], last_seq=outcome.last_seq,
                                   teams=set(outcome.teams)))
    if outcome.count < 0:
        return HookPublic(status="duplicate")
    return HookPublic(status="recorded" if outcome.count else "unchanged", recorded=outcome.count)


async def _take(state: AppState, identifier: str, remote_id: str, record: dict[str, Any],
                comment: dict[str, Any] | None, now_ms: int) -> links_db.Recorded:
    return await asyncio.to_thread(_take_sync, state, identifier, remote_id, record, comment,
                                   now_ms)


def _record_for(link: links_db.Link, record: dict[str, Any],
                comment: dict[str, Any] | None) -> dict[str, Any]:
    """The record as this case should have it: a webhook's issue holds no comments, so the
    newest comment is the delivered one, or the one the case had."""
    snapshot = dict(record["snapshot"])
    if comment is not None:
        snapshot["last_comment"] = comment
    elif "last_comment" not in snapshot and "last_comment" in link.snapshot:
        snapshot["last_comment"] = link.snapshot["last_comment"]
    return {**record, "snapshot": snapshot}


def _take_sync(state: AppState, identifier: str, remote_id: str, record: dict[str, Any],
               comment: dict[str, Any] | None, now_ms: int) -> links_db.Recorded:
    """Mark the delivery taken and record its changes in one transaction (count -1: a
    repeat)."""
    items: list[tuple[links_db.Link, dict[str, Any]]] = []
    for link in links_db.links_of(state.engine, "jira", remote_id):
        mine = _record_for(link, record, comment)
        if link.linked and (link.snapshot != mine["snapshot"] or not mine["linked"]):
            items.append((link, {"system": "jira", "record": mine}))
    with write_tx(state.engine) as conn:
        if identifier:
            seen = conn.execute(select(jira_webhooks.c.identifier)
                                .where(jira_webhooks.c.identifier == identifier)).first()
            if seen is not None:
                return links_db.Recorded(None, frozenset(), -1)
            conn.execute(delete(jira_webhooks).where(
                jira_webhooks.c.received_ms < now_ms - KEEP_IDENTIFIERS_MS))
            conn.execute(insert(jira_webhooks).values(identifier=identifier, received_ms=now_ms))
        return links_db.record_events(conn, state.clock, items)

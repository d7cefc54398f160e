"""Mail out on the laptop (issue 17): each public reply's delivery as the server reported it
(mail.delivery events, folded by their clock), and undo send (a mail.withdraw the server
takes only while the reply is still queued)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from app.core import event_schema as es
from app.core import events as ev
from app.core.changes import Changes
from app.core.commands import EventFactory
from app.operations.errors import OperationError
from app.operations.integrations import _case
from app.store import schema as s
from app.store.db import StoreError
from app.store.repo import Store
from app.sync.api import ApiError
from app.sync.session import SyncSession


def deliveries_of(conn: Connection, case_id: str) -> dict[str, dict[str, Any]]:
    """comment id -> {state, at_ms, message_id, reason}: the latest server report of each."""
    t = s.events
    best: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in conn.execute(select(t.c.id, t.c.hlc, t.c.payload, t.c.actor, t.c.device_id)
                            .where(t.c.case_id == case_id, t.c.type == ev.MAIL_DELIVERY)):
        if (row.actor, row.device_id) != (es.SERVER_ACTOR, es.SERVER_DEVICE):
            continue  # only the server says how a mail went
        try:
            p = json.loads(row.payload)
        except ValueError:
            continue
        comment_id = str(p.get("comment_id") or "")
        clock = f"{row.hlc}|{row.id}"
        if comment_id and (comment_id not in best or clock > best[comment_id][0]):
            best[comment_id] = (clock, {"state": p.get("state"), "at_ms": p.get("at_ms"),
                                        "message_id": p.get("message_id"),
                                        "reason": p.get("reason")})
    return {k: v for k, (_, v) in best.items()}


def withdraw_reply(store: Store, *, case: str, comment_id: str) -> Changes:
    """Record undo send for a public reply: the server withdraws it if still queued."""
    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _case(conn, case)
        shown = deliveries_of(conn, state.id).get(comment_id)
        if shown is None:
            raise OperationError("this reply is not being sent by e-mail")
        if shown["state"] != "queued":
            raise OperationError(f"too late to undo: the reply is {shown['state']}")
        return [f.make(ev.MAIL_WITHDRAW, {"comment_id": comment_id}, case_id=state.id,
                       team_id=state.fields.get("team_id"))]

    try:
        return store.record(build, label="undo send", undoable=False)
    except StoreError as exc:
        raise OperationError(str(exc)) from exc


def mail_status(session: SyncSession) -> dict[str, Any]:
    """The server's word on my teams' mailboxes (GET /api/v1/mail/status)."""
    try:
        answer = session.call(session.api.mail_status)
    except ApiError as exc:
        raise OperationError(f"cannot ask the server for the mailbox status: {exc}") from exc
    boxes = answer.get("mailboxes")
    if not isinstance(boxes, list) or not all(isinstance(b, dict) for b in boxes):
        raise OperationError("the server's mailbox status is not a list of mailboxes")
    return {"mailboxes": boxes}

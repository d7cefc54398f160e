"""Mail out, the push side (issue 17): inside the push transaction, a public reply by an
agent on a case of a team with a mailbox gets its mail_out row, its "mail"/"send" job (due
after the team's undo window) and a server-authored ``mail.delivery`` "queued" event; a
``mail.withdraw`` is taken only while its reply is still queued.

The reply's Message-ID is made here, once: every retry sends the same one, and mail in
(intake.thread_case) finds the customer's answer by it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from app.core import events as ev
from sync_server.ids import uuid7
from sync_server.jobs.queue import DEFAULT_GIVE_UP_MS, new_job
from sync_server.tables import jobs, mail_out, mailboxes

SYSTEM, ACTION = "mail", "send"
DEFAULT_UNDO_S = 10
MAX_UNDO_S = 3600
# (case_id, team_id, type, payload): appends one server-authored event to the push batch
AppendServer = Callable[[str, str, str, dict[str, Any]], None]


def request_id(comment_id: str) -> str:
    """The job's idempotency key: one send job per comment, however often it is pushed
    (the comment's event id: a UUID, as request_id's column holds)."""
    return comment_id


@dataclass(frozen=True)
class _Box:
    id: str
    address: str
    undo_s: int
    site: str


def undo_seconds(settings_json: str | None) -> int:
    """The team's undo window (mailbox setting undo_s), bounded; 10 s when unset or bad."""
    try:
        value = json.loads(settings_json or "{}").get("undo_s", DEFAULT_UNDO_S)
    except (ValueError, AttributeError):
        return DEFAULT_UNDO_S
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DEFAULT_UNDO_S
    return int(min(max(value, 0), MAX_UNDO_S))


def is_public_reply(payload: dict[str, Any]) -> bool:
    return (not payload.get("internal", False)
            and payload.get("author_kind", "agent") == "agent")


def _site(smtp_url: str) -> str:
    from sync_server.mail.config import MailConfigError, parse_url

    try:
        return parse_url(smtp_url, kind="smtp").site
    except MailConfigError:
        return "unknown"


class MailHook:
    """What one push transaction does for mail out (sync_server/services/events.py)."""

    def __init__(self, conn: Connection, now_ms: int, give_up_ms: int = DEFAULT_GIVE_UP_MS
                 ) -> None:
        self.conn, self.now_ms, self.give_up_ms = conn, now_ms, give_up_ms
        self._boxes: dict[str, _Box | None] = {}
        self.rows: list[dict[str, Any]] = []  # new mail_out rows
        self.jobs: list[dict[str, Any]] = []

    def _box(self, team_id: str) -> _Box | None:
        if team_id not in self._boxes:
            row = self.conn.execute(select(mailboxes).where(mailboxes.c.team_id == team_id)
                                    .order_by(mailboxes.c.created_ms)).first()
            self._boxes[team_id] = None if row is None else _Box(
                id=row.id, address=row.address, undo_s=undo_seconds(row.settings),
                site=_site(row.smtp_url))
        return self._boxes[team_id]

    def check(self, event_type: str, case_id: str | None, payload: dict[str, Any]
              ) -> str | None:
        """The reason a ``mail.withdraw`` is refused (None: taken, its reply withdrawn).
        Runs in the push transaction: the conditional update is the arbiter against a
        worker starting the send at the same moment."""
        if event_type != ev.MAIL_WITHDRAW:
            return None
        comment_id = str(payload.get("comment_id"))
        pending = next((r for r in self.rows if r["comment_id"] == comment_id), None)
        if pending is not None and pending["case_id"] == case_id:
            pending["state"] = "withdrawn"
            for job in self.jobs:
                if job["request_id"] == request_id(comment_id):
                    job["not_before_ms"] = self.now_ms
            return None
        row = self.conn.execute(select(mail_out.c.state, mail_out.c.case_id, mail_out.c.sent_ms)
                                .where(mail_out.c.comment_id == comment_id)).first()
        if row is None or row.case_id != case_id:
            return "this reply is not being sent by e-mail (no mailbox, or an internal note)"
        taken = self.conn.execute(update(mail_out).where(
            mail_out.c.comment_id == comment_id, mail_out.c.state == "queued",
        ).values(state="withdrawn", reason="withdrawn by the agent (undo send)")).rowcount
        if taken != 1:
            return {"sending": "too late to undo: the reply is being sent",
                    "sent": "too late to undo: the reply was sent",
                    "withdrawn": "the reply was withdrawn already"}.get(
                str(row.state), f"too late to undo: the reply is {row.state}")
        # The worker records "withdrawn" (one path for delivery events): due now.
        self.conn.execute(update(jobs).where(
            jobs.c.request_id == request_id(comment_id), jobs.c.state.in_(("queued", "waiting")),
        ).values(not_before_ms=self.now_ms))
        return None

    def stored(self, event_id: str, event_type: str, case_id: str | None, team_id: str,
               payload: dict[str, Any], author: str, append: AppendServer) -> None:
        """After an event is stored: queue the e-mail of a public reply."""
        if event_type != ev.COMMENT_ADDED or case_id is None or not is_public_reply(payload):
            return
        box = self._box(team_id)
        if box is None:
            return
        domain = box.address.rpartition("@")[2] or "localhost"
        message_id = f"<{uuid7()}.reply@{domain}>"
        due = self.now_ms + box.undo_s * 1000
        self.rows.append({
            "comment_id": event_id, "case_id": case_id, "team_id": team_id,
            "mailbox_id": box.id, "message_id": message_id, "state": "queued",
            "author": author[:320], "recipients": "{}", "not_before_ms": due, "sent_ms": None,
            "reason": None, "created_ms": self.now_ms})
        job = new_job(request_id=request_id(event_id), team_id=team_id, case_id=case_id,
                      payload={"system": SYSTEM, "action": ACTION,
                               "params": {"comment_id": event_id}},
                      now_ms=self.now_ms, give_up_ms=self.give_up_ms)
        job.update(site=box.site[:255], not_before_ms=due)
        self.jobs.append(job)
        append(case_id, team_id, ev.MAIL_DELIVERY, {
            "comment_id": event_id, "state": "queued", "at_ms": self.now_ms,
            "message_id": message_id, "reason": None, "recipients": [],
            "author": author[:320] or None})

    def flush(self) -> list[dict[str, Any]]:
        """Insert the new mail_out rows (a comment already queued is left alone); the
        send jobs for the batch's job queue."""
        if self.rows:
            known = set(self.conn.execute(select(mail_out.c.comment_id).where(
                mail_out.c.comment_id.in_([r["comment_id"] for r in self.rows]))).scalars())
            fresh = [r for r in self.rows if r["comment_id"] not in known]
            if fresh:
                self.conn.execute(insert(mail_out), fresh)
        return self.jobs

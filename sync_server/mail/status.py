"""``GET /api/v1/mail/status``: the mailboxes of the caller's teams (last poll, last error,
what mail in counted) and their replies queued and failed. Never a password, nor the URLs'
user names: a team member needs to know the mailbox fails, not how it logs in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, func, select

from sync_server.mail import store
from sync_server.tables import cases, mail_out

MAX_FAILED = 50  # the latest failed (or bounced) replies listed per mailbox


def status(engine: Engine, team_ids: Iterable[str]) -> dict[str, Any]:
    mine = set(team_ids)
    boxes = [b for b in store.list_all(engine) if b.team_id in mine]
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for box in boxes:
            counts = {str(r.state): int(r.n) for r in conn.execute(
                select(mail_out.c.state, func.count().label("n"))
                .where(mail_out.c.mailbox_id == box.id).group_by(mail_out.c.state))}
            failed = [{"comment_id": r.comment_id, "case_id": r.case_id, "case_key": r.key,
                       "state": r.state, "reason": r.reason, "author": r.author,
                       "at_ms": r.created_ms} for r in conn.execute(
                select(mail_out.c.comment_id, mail_out.c.case_id, mail_out.c.state,
                       mail_out.c.reason, mail_out.c.author, mail_out.c.created_ms, cases.c.key)
                .join(cases, cases.c.case_id == mail_out.c.case_id, isouter=True)
                .where(mail_out.c.mailbox_id == box.id,
                       mail_out.c.state.in_(("failed", "bounced")))
                .order_by(mail_out.c.created_ms.desc()).limit(MAX_FAILED))]
            out.append({
                "team": box.team_name, "team_id": box.team_id, "address": box.address,
                "state": box.state, "failing": box.state not in ("new", "ok"),
                "last_poll_ms": box.last_poll_ms, "last_error": box.last_error,
                "received": dict(box.counts),
                "queued": counts.get("queued", 0) + counts.get("sending", 0),
                "sent": counts.get("sent", 0), "failed": counts.get("failed", 0),
                "bounced": counts.get("bounced", 0), "withdrawn": counts.get("withdrawn", 0),
                "failed_replies": failed})
    return {"mailboxes": out}

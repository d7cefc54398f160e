"""No mail loops (issue 17): an auto-reply, mail from one of our own addresses, or more than
``burst_per_hour`` mails an hour from one sender creates no case and gets no reply; each is
recorded in mail_messages with its disposition, so it is counted and visible."""

from __future__ import annotations

from email.message import Message

from sqlalchemy import Connection, func, select

from sync_server.tables import mail_messages

_BULK = frozenset({"bulk", "junk", "list"})
HOUR_MS = 3_600_000


def auto_reply_reason(headers: Message) -> str | None:
    """Why these headers mark an automatic message (RFC 3834 and the common vendor ones)."""
    submitted = str(headers.get("auto-submitted") or "").strip().lower()
    if submitted and submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {submitted[:60]}"
    precedence = str(headers.get("precedence") or "").strip().lower()
    if precedence in _BULK:
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        value = headers.get(name)
        if value is not None and (name != "x-auto-response-suppress" or
                                  "all" in str(value).lower() or "oof" in str(value).lower()):
            return f"{name}: {str(value)[:60]}"
    return None


def burst_reason(conn: Connection, mailbox_id: str, sender: str, limit: int,
                 now_ms: int) -> str | None:
    """More than ``limit`` mails from ``sender`` in the last hour (this one included)?"""
    if limit <= 0 or not sender:
        return None
    seen = conn.execute(select(func.count()).select_from(mail_messages).where(
        mail_messages.c.mailbox_id == mailbox_id, mail_messages.c.sender == sender,
        mail_messages.c.processed_ms > now_ms - HOUR_MS)).scalar_one()
    if int(seen) >= limit:
        return f"more than {limit} mails in an hour from {sender}"
    return None

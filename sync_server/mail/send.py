"""Mail out, the worker side (issue 17): the "mail"/"send" job of one public reply.

smtplib in a thread (asyncio.to_thread), not aiosmtplib: the stdlib client is what
``mailbox test`` (smtp_check.py) already uses, it needs no new dependency, and one reply is
one short blocking conversation; the job queue gives the concurrency.

Replies: 4xx -> Transient (retried with the queue's backoff, counts against the breaker of
the SMTP host), 5xx -> Permanent (failed with the server's reply text), a refused login ->
Transient (a fixed password sends the queue), the connection lost after the message data ->
unknown outcome: the retry sends again with the same Message-ID (docs/mailbox.md).
mail_out.state is the arbiter with undo send: queued -> sending (here, before the call) ->
sent (right after the server's 250, before the job's own outcome is written, so a process
killed in between does not send twice).
"""

from __future__ import annotations

import asyncio
import email.policy
import json
import smtplib
import ssl
import time
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from app.core import events as ev
from sync_server.db import write_tx
from sync_server.jobs import api
from sync_server.jobs.api import CaseView, Done, Job, JobContext, Permanent, Transient
from sync_server.mail import compose
from sync_server.mail import store as mailbox_store
from sync_server.mail.config import Endpoint
from sync_server.mail.outbox import ACTION, SYSTEM
from sync_server.services.blobs import BlobStore
from sync_server.tables import events, mail_messages, mail_out

TIMEOUT_S = 30.0
MAX_REASON = 4_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class _LostAfterData(Exception):
    """The connection ended after the message data went out: it may have been delivered."""


def _secure(smtp: smtplib.SMTP, endpoint: Endpoint, context: ssl.SSLContext) -> None:
    smtp.ehlo()
    if endpoint.tls == "implicit":
        return
    if smtp.has_extn("starttls"):
        smtp.starttls(context=context)
        smtp.ehlo()
    elif endpoint.tls == "starttls":
        raise Transient(f"{endpoint.site} does not offer STARTTLS (required; ?tls=none only "
                        "for a local test server)")


def _envelope(smtp: smtplib.SMTP, sender: str, recipients: list[str]
              ) -> dict[str, tuple[int, bytes]]:
    """MAIL FROM and RCPT TO; the refused recipients (raises when all are refused)."""
    code, reply = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for rcpt in recipients:
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, reply)
    if len(refused) == len(recipients):
        smtp.rset()
        code, reply = min(refused.values())  # a 4xx among them: worth another try
        raise smtplib.SMTPResponseException(code, reply)
    return refused


def deliver(endpoint: Endpoint, password: str, sender: str, recipients: list[str],
            message: bytes, *, timeout_s: float = TIMEOUT_S) -> str:
    """One SMTP conversation; the reply's refused recipients ("" when all took it).
    Raises Transient/Permanent as the module says."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP | None = None
    in_data = False
    try:
        smtp = (smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=timeout_s,
                                 context=context) if endpoint.tls == "implicit"
                else smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout_s))
        _secure(smtp, endpoint, context)
        if endpoint.user:
            try:
                smtp.login(endpoint.user, password)
            except smtplib.SMTPAuthenticationError as exc:
                raise Transient(f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}"
                                ) from None
        refused = _envelope(smtp, sender, recipients)
        in_data = True
        code, reply = smtp.data(message)
        in_data = False
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
        return "; ".join(f"{r} refused: {c} {_text(t)}" for r, (c, t) in refused.items())
    except smtplib.SMTPResponseException as exc:
        text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:
            raise Transient(f"the SMTP server said {text}") from None
        raise Permanent(f"the SMTP server refused the reply: {text}", exc.smtp_code) from None
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        if in_data:
            raise _LostAfterData(str(exc) or type(exc).__name__) from None
        raise Transient(f"cannot reach {endpoint.site}: {exc or type(exc).__name__}") from None
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:MAX_REASON]


def thread_ids(conn: Connection, case_id: str, comment_id: str) -> list[str]:
    """Every Message-ID the case received or sent before this reply, oldest first."""
    got = [(int(r.processed_ms), str(r.message_id)) for r in conn.execute(
        select(mail_messages.c.message_id, mail_messages.c.processed_ms).where(
            mail_messages.c.case_id == case_id, mail_messages.c.message_id.is_not(None)))]
    sent = [(int(r.created_ms), str(r.message_id)) for r in conn.execute(
        select(mail_out.c.message_id, mail_out.c.created_ms).where(
            mail_out.c.case_id == case_id, mail_out.c.comment_id != comment_id,
            mail_out.c.state.in_(("sending", "sent", "bounced"))))]
    return [mid for _, mid in sorted(got + sent)]


def _attachments(conn: Connection, blobs: BlobStore, case_id: str,
                 comment_id: str) -> tuple[compose.Attachment, ...]:
    found: list[compose.Attachment] = []
    for row in conn.execute(select(events.c.payload).where(
            events.c.case_id == case_id, events.c.type == ev.ATTACHMENT_ADDED)
            .order_by(events.c.server_seq)):
        p = json.loads(row.payload)
        if p.get("comment_id") != comment_id:
            continue
        data = blobs.get(str(p.get("sha256")))
        if data is None:
            raise Transient(f"the attachment {str(p.get('name'))[:80]} has not reached the "
                            "server yet")
        found.append(compose.Attachment(str(p.get("name") or "attachment"),
                                        str(p.get("mime") or "application/octet-stream"), data))
    return tuple(found)


def _cc(case: CaseView) -> tuple[str, ...]:
    value = case.fields.get("cc")
    items = value if isinstance(value, list) else str(value or "").replace(";", ",").split(",")
    return tuple(dict.fromkeys(s.strip() for s in items if isinstance(s, str) and "@" in s))


class Sender:
    def __init__(self, engine: Engine, secret: str, blobs: BlobStore) -> None:
        self.engine, self.secret, self.blobs = engine, secret, blobs

    async def handle(self, job: Job, ctx: JobContext) -> Done:
        case = ctx.case()
        return await asyncio.to_thread(self.send, job, case)

    def _take(self, comment_id: str) -> Any:
        """The mail_out row, now 'sending' (None: withdrawn or sent, nothing to do)."""
        with write_tx(self.engine) as conn:
            row = conn.execute(select(mail_out).where(mail_out.c.comment_id == comment_id)
                               ).first()
            if row is None:
                raise Permanent("no e-mail was queued for this reply")
            if row.state not in ("queued", "sending"):
                return None
            conn.execute(update(mail_out).where(mail_out.c.comment_id == comment_id,
                                                mail_out.c.state.in_(("queued", "sending")))
                         .values(state="sending"))
            return row

    def _set(self, comment_id: str, **values: Any) -> None:
        with write_tx(self.engine) as conn:
            conn.execute(update(mail_out).where(mail_out.c.comment_id == comment_id)
                         .values(**values))

    def send(self, job: Job, case: CaseView) -> Done:
        comment_id = str(job.params.get("comment_id") or "")
        row = self._take(comment_id)
        if row is None:
            return Done("nothing to send")
        comment = next((c for c in case.comments if c.id == comment_id), None)
        if comment is None or comment.internal:  # redacted before it went out
            self._set(comment_id, state="withdrawn", reason="the reply was withdrawn")
            return Done("withdrawn")
        if not case.requester_email:
            raise Permanent("the case has no requester e-mail address to send the reply to")
        with self.engine.connect() as conn:
            box = mailbox_store.by_id(conn, row.mailbox_id)
            if box is None:
                raise Permanent("the team's mailbox was removed")
            ids = thread_ids(conn, case.id, comment_id)
            files = _attachments(conn, self.blobs, case.id, comment_id)
        to, cc = (case.requester_email,), tuple(c for c in _cc(case)
                                                if c != case.requester_email)
        self._set(comment_id, recipients=json.dumps({"to": list(to), "cc": list(cc)}))
        message = compose.build(compose.Reply(
            from_address=box.address, from_name=box.team_name, to=to, cc=cc, key=case.key,
            subject=case.subject, body=comment.body, message_id=row.message_id,
            thread_ids=tuple(ids), attachments=files))
        password = box.login_password(self.secret) if box.smtp.user else ""
        try:
            # CRLF line ends: smtplib sends bytes as they are, and SMTP wants CRLF (a strict
            # server reads a bare-LF message as one over-long line and refuses it)
            refused = deliver(box.smtp, password, box.address, [*to, *cc],
                              message.as_bytes(policy=email.policy.SMTP))
        except _LostAfterData as exc:
            raise Transient(f"the connection to {box.smtp.site} ended after the message was "
                            f"sent ({exc}): sending again with the same Message-ID",
                            unknown_outcome=True) from None
        except Transient:
            self._set(comment_id, state="queued")  # not sent: undo is possible again
            raise
        self._set(comment_id, state="sent", sent_ms=now_ms(), reason=refused or None)
        return Done(f"sent to {', '.join((*to, *cc))}")


def delivery_event(conn: Connection, job: Job, state: str, type_: str,
                   payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The mail.delivery event of a send job's outcome (the queue's shaper for "mail")."""
    comment_id = str(job.params.get("comment_id") or "")
    row = conn.execute(select(mail_out).where(mail_out.c.comment_id == comment_id)).first()
    reason = payload.get("reason")
    if row is None:
        mail_state, at = "failed", now_ms()
    elif state == "done":
        mail_state = "sent" if row.state == "sent" else "withdrawn"
        at, reason = int(row.sent_ms or now_ms()), row.reason
    elif state == "failed":
        mail_state, at = "failed", now_ms()
        conn.execute(update(mail_out).where(mail_out.c.comment_id == comment_id)
                     .values(state="failed", reason=str(reason or "")[:MAX_REASON]))
    else:  # waiting: still queued, saying why and when it is tried again
        mail_state, at = "queued", now_ms()
    recipients: list[str] = []
    if row is not None:
        try:
            parsed = json.loads(row.recipients or "{}")
            recipients = [*parsed.get("to", []), *parsed.get("cc", [])]
        except (ValueError, AttributeError, TypeError):
            recipients = []
    return ev.MAIL_DELIVERY, {
        "comment_id": comment_id, "state": mail_state, "at_ms": at,
        "message_id": row.message_id if row is not None else None,
        "reason": str(reason)[:MAX_REASON] if reason else None,
        "recipients": [str(r)[:320] for r in recipients][:100],
        "author": row.author if row is not None else None}


def install(engine: Engine, secret: str, blobs: BlobStore) -> Sender:
    sender = Sender(engine, secret, blobs)
    api.register(SYSTEM, ACTION, sender.handle)
    api.register_events(SYSTEM, delivery_event)
    return sender

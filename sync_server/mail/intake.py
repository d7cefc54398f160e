"""One fetched message → server-authored events (issue 17, mail in).

The message is parsed with the client's own parser (app/content/email_intake.py). Its
mail_messages row, its events, the case row and key, the blob refs and the mailbox's
``last_uid`` are written in one transaction, so a crash before the commit leaves nothing and
after it the UID is known: each message once. Threading: In-Reply-To / References against
every Message-ID the team's cases sent (mail_out) or received, then
the case key in the subject. Blobs are stored first (content-addressed: a retry rewrites the
same bytes)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Any

from sqlalchemy import Connection, Engine, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.content.email_intake import ParsedEmail, parse_eml
from app.content.errors import IntakeError
from app.content.mail_limits import MailLimits
from app.core import events as ev
from app.core.event_schema import SERVER_ACTOR, SERVER_DEVICE, validate_payload
from sync_server.db import write_tx
from sync_server.ids import ServerClock, uuid7
from sync_server.jobs.context import fold_case
from sync_server.jobs.queue import lock_counter
from sync_server.mail import bounces, loops
from sync_server.mail.store import Mailbox, own_addresses
from sync_server.services.blobs import BlobStore, record_blob_refs
from sync_server.tables import (
    EVENT_SEQ,
    cases,
    counters,
    events,
    mail_messages,
    mail_out,
    mailboxes,
    teams,
)

MAX_SUBJECT = 250
MAX_TEXT = 100_000
MAX_BODY = 256 * 1024
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|rv)\s*(\[\d+\])?\s*:\s*)+", re.I)
_THREAD_IDS = 50  # References entries looked at (the newest)
_TAKEN = ("case", "comment")
REOPEN_ON_REPLY = ("pending", "solved")  # a customer's answer opens the case again


@dataclass(slots=True)
class Outcome:
    disposition: str  # case|comment|auto_reply|own|burst|bounce|malformed|too_big|duplicate|failed
    case_id: str | None = None
    reason: str | None = None
    seq: int | None = None
    teams: set[str] = field(default_factory=set)
    already: bool = False  # another process took this UID first


@dataclass(slots=True)
class _Write:
    """The rows of one message's transaction."""

    conn: Connection
    clock: ServerClock
    seq: int
    now_ms: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    case_teams: dict[str, str] = field(default_factory=dict)

    def add(self, type_: str, payload: dict[str, Any], *, case_id: str | None,
            team_id: str, after: str = "") -> str:
        validate_payload(type_, 1, payload)  # mail is hostile input: never store a bad event
        self.seq += 1
        event_id = uuid7()
        last = self.rows[-1]["hlc"] if self.rows else after
        hlc = self.clock.after(last or f"{self.now_ms:013d}.000000")
        self.rows.append({
            "server_seq": self.seq, "id": event_id, "case_id": case_id, "team_id": team_id,
            "type": type_, "payload": json.dumps(payload, ensure_ascii=False,
                                                 separators=(",", ":")),
            "actor": SERVER_ACTOR, "device_id": SERVER_DEVICE, "hlc": hlc,
            "received_at": self.now_ms / 1000, "user_id": None, "v": 1})
        return event_id

    def flush(self) -> None:
        if not self.rows:
            return
        self.conn.execute(insert(events), self.rows)
        self.conn.execute(update(counters).where(counters.c.name == EVENT_SEQ)
                          .values(value=self.seq))
        record_blob_refs(self.conn, self.rows, self.case_teams)


def _limits(max_bytes: int) -> MailLimits:
    return MailLimits(max_bytes=max_bytes)


def _headers(raw: bytes) -> Message:
    return BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:1024 * 1024])


def _details(summary: str, text: str) -> str:
    # The same collapsed sections as a hand import (app/operations/intake.py compose_body).
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())
    return f"<details>\n<summary>{summary}</summary>\n\n{quoted}\n\n</details>"


def compose_body(mail: ParsedEmail | None, notes: Iterable[str]) -> str:
    parts = [(mail.text_body.strip() if mail else "") or "(no text)"]
    if mail is not None and mail.signature.strip():
        parts.append(_details("Signature", mail.signature.strip()))
    if mail is not None and mail.quoted_history.strip():
        lines = len(mail.quoted_history.strip().splitlines())
        parts.append(_details(f"Quoted history ({lines} lines)", mail.quoted_history.strip()))
    notes = [*notes, *(mail.notes if mail else [])]
    if notes:
        parts.append("Note from the mailbox: " + "; ".join(notes))
    body = "\n\n".join(parts)
    if len(body) > MAX_TEXT:
        cut = f"\n\n[… {len(body) - MAX_TEXT + 200} characters cut on intake …]"
        body = body[: MAX_TEXT - len(cut) - 200] + cut
    return body


def _subject(text: str) -> str:
    subject = " ".join(_REPLY_PREFIX.sub("", text or "").split()) or "(no subject)"
    return subject[:MAX_SUBJECT]


def _clean(text: str, limit: int) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def _mail_object(mail: ParsedEmail | None, headers: Message, raw_sha: str) -> dict[str, Any]:
    def header(name: str) -> str:
        return _clean(" ".join(str(headers.get(name) or "").split()), 998)

    if mail is None:
        return {"message_id": header("message-id"), "in_reply_to": header("in-reply-to"),
                "from": _clean(header("from"), 320), "to": [], "cc": [], "raw_sha256": raw_sha}
    return {"message_id": _clean(mail.message_id, 998),
            "in_reply_to": _clean(mail.in_reply_to, 998),
            "from": _clean(mail.from_email, 320),
            "to": [_clean(m.email, 320) for m in mail.to if m.email][:100],
            "cc": [_clean(m.email, 320) for m in mail.cc if m.email][:100],
            "raw_sha256": raw_sha}


def _thread_ids(mail: ParsedEmail | None, headers: Message) -> list[str]:
    if mail is not None:
        ids = [mail.in_reply_to.strip(), *reversed(mail.references[-_THREAD_IDS:])]
    else:
        ids = [str(headers.get("in-reply-to") or "").strip(),
               *reversed(str(headers.get("references") or "").split()[-_THREAD_IDS:])]
    return [i[:998] for i in ids if i]


def _live_case(conn: Connection, case_id: str | None, team_id: str) -> str | None:
    if not case_id:
        return None
    row = conn.execute(select(cases.c.case_id).where(cases.c.case_id == case_id,
                                                     cases.c.team_id == team_id)).first()
    return str(row.case_id) if row else None


def thread_case(conn: Connection, team_id: str, ids: list[str], key_hint: str | None) -> str | None:
    """The case this mail answers: a Message-ID the case sent or received, then the key."""
    if ids:
        found = conn.execute(select(mail_messages.c.message_id, mail_messages.c.case_id).where(
            mail_messages.c.message_id.in_(ids), mail_messages.c.case_id.is_not(None))).all()
        by_id = {str(r.message_id): str(r.case_id) for r in found}
        for r in conn.execute(select(mail_out.c.message_id, mail_out.c.case_id).where(
                mail_out.c.message_id.in_(ids))):
            by_id.setdefault(str(r.message_id), str(r.case_id))
        for message_id in ids:
            case_id = _live_case(conn, by_id.get(message_id), team_id)
            if case_id:
                return case_id
    if key_hint:
        row = conn.execute(select(cases.c.case_id).where(
            func.upper(cases.c.key) == key_hint.upper(), cases.c.team_id == team_id)).first()
        if row is not None:
            return str(row.case_id)
    return None


def _customer_id(conn: Connection, team_id: str, email: str) -> str | None:
    needle = json.dumps(email, ensure_ascii=False)
    rows = conn.execute(select(events.c.payload).where(
        events.c.case_id.is_(None), events.c.type == ev.CUSTOMER_UPSERTED,
        events.c.team_id == team_id, events.c.payload.contains(needle, autoescape=True)))
    for (payload,) in rows:
        data = json.loads(payload)
        if isinstance(data, dict) and str(data.get("email", "")).lower() == email:
            return str(data["id"])
    return None


def _store_blob(blobs: BlobStore, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    if blobs.size(sha) is None:
        blobs.put(sha, data)
    return sha


@dataclass(slots=True)
class _Files:
    """Attachments stored as blobs (name, mime, sha, size) and what was dropped."""

    stored: list[tuple[str, str, str, int]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _attachments(blobs: BlobStore, mail: ParsedEmail | None, raw: bytes, max_blob: int,
                 uid: int) -> _Files:
    files = _Files()
    for item in (mail.attachments if mail else []):
        if item.nbytes > max_blob:
            files.dropped.append(f"{item.filename} ({item.nbytes:,} bytes: over the "
                                 f"attachment limit of {max_blob:,})")
            continue
        data = item.data
        files.stored.append((item.filename[:255], (item.mime or "application/octet-stream")[:127],
                             _store_blob(blobs, data), len(data)))
    if len(raw) <= max_blob:
        files.stored.append(("original.eml", "message/rfc822", _store_blob(blobs, raw),
                             len(raw)))
    else:
        files.dropped.append(f"the original message ({len(raw):,} bytes) is over the "
                             f"attachment limit; it stays in the mailbox")
    return files


@dataclass(slots=True)
class Fetched:
    """What intake knows of one message before its transaction."""

    uidvalidity: int
    uid: int
    raw: bytes
    size: int
    truncated: bool = False  # only its headers were fetched (too big)


def _classify(conn: Connection, box: Mailbox, headers: Message, sender: str,
              now_ms: int) -> tuple[str, str] | None:
    if sender and sender in own_addresses(conn):
        return "own", f"from our own address {sender}"
    reason = loops.auto_reply_reason(headers)
    if reason:
        return "auto_reply", reason
    burst = loops.burst_reason(conn, box.id, sender, int(box.settings.get("burst_per_hour")
                                                         or 0), now_ms)
    if burst:
        return "burst", burst
    return None


def _record(w: _Write, box: Mailbox, msg: Fetched, message_id: str, sender: str,
            outcome: Outcome) -> None:
    w.conn.execute(insert(mail_messages).values(
        mailbox_id=box.id, uidvalidity=msg.uidvalidity, uid=msg.uid,
        message_id=message_id or None, sender=sender[:320] or None, case_id=outcome.case_id,
        disposition=outcome.disposition, reason=(outcome.reason or "")[:500] or None,
        processed_ms=w.now_ms))
    larger = (func.max if w.conn.dialect.name == "sqlite" else func.greatest)(
        func.coalesce(mailboxes.c.last_uid, 0), msg.uid)
    # Under a new UIDVALIDITY the old last UID means nothing: this UID starts the count.
    w.conn.execute(update(mailboxes).where(mailboxes.c.id == box.id).values(
        uidvalidity=msg.uidvalidity,
        last_uid=case((mailboxes.c.uidvalidity == msg.uidvalidity, larger), else_=msg.uid)))


def _bounce(w: _Write, box: Mailbox, bounce: bounces.Bounce) -> str | None:
    """Mark the reply sent under this Message-ID (mail_out) bounced, with the reason, and
    tell every laptop (mail.delivery); the case, if the reply is known."""
    if not bounce.message_id:
        return None
    row = w.conn.execute(select(mail_out).where(mail_out.c.message_id == bounce.message_id,
                                                mail_out.c.team_id == box.team_id)).first()
    if row is None:
        return None
    case_id = _live_case(w.conn, str(row.case_id), box.team_id)
    if case_id is None:
        return None
    try:
        recipients = json.loads(row.recipients)
        names = [*recipients.get("to", []), *recipients.get("cc", [])][:100]
    except (ValueError, AttributeError):
        names = []
    w.conn.execute(update(mail_out).where(mail_out.c.comment_id == row.comment_id).values(
        state="bounced", reason=bounce.reason))
    w.case_teams[case_id] = box.team_id
    w.add(ev.MAIL_DELIVERY, {"comment_id": row.comment_id, "state": "bounced",
                             "at_ms": w.now_ms, "message_id": bounce.message_id,
                             "reason": bounce.reason,
                             "recipients": [str(n) for n in names if n],
                             "author": row.author},  # told of the bounce (M2)
          case_id=case_id, team_id=box.team_id, after=_case_hlc(w.conn, case_id))
    return case_id


def _new_case(w: _Write, box: Mailbox, mail: ParsedEmail | None, headers: Message,
              sender: str, body: str, mail_obj: dict[str, Any]) -> str:
    conn = w.conn
    requester: str | None = None
    if sender:
        requester = _customer_id(conn, box.team_id, sender)
        if requester is None:
            requester = uuid7()
            name = _clean(mail.from_name if mail else "", 255) or sender.partition("@")[0]
            w.add(ev.CUSTOMER_UPSERTED, {"id": requester, "name": name, "email": sender},
                  case_id=None, team_id=box.team_id)
    subject = _subject(mail.subject if mail else str(headers.get("subject") or ""))
    case_id = uuid7()
    fields: dict[str, Any] = {"subject": _clean(subject, MAX_SUBJECT) or "(no subject)",
                              "description": body, "status": "new", "team_id": box.team_id,
                              "requester_id": requester}
    payload: dict[str, Any] = {"fields": fields, "tags": ["email"], "created_ms": w.now_ms,
                               "mail": mail_obj}
    if sender:
        payload["author"] = sender
    team = conn.execute(select(teams.c.prefix, teams.c.next_case_number)
                        .where(teams.c.id == box.team_id)).one()
    key = f"{team.prefix}-{team.next_case_number}"
    conn.execute(update(teams).where(teams.c.id == box.team_id)
                 .values(next_case_number=team.next_case_number + 1))
    conn.execute(insert(cases).values(case_id=case_id, team_id=box.team_id, key=key))
    w.case_teams[case_id] = box.team_id
    w.add(ev.CASE_CREATED, payload, case_id=case_id, team_id=box.team_id)
    w.add(ev.CASE_KEY_ASSIGNED, {"key": key}, case_id=case_id, team_id=box.team_id)
    return case_id


def _case_hlc(conn: Connection, case_id: str) -> str:
    last = conn.execute(select(func.max(events.c.hlc)).where(events.c.case_id == case_id)).scalar()
    return str(last or "")


@dataclass(slots=True)
class _Read:
    """What parsing told of one message, before any database work."""

    headers: Message
    mail: ParsedEmail | None = None
    notes: list[str] = field(default_factory=list)
    problem: tuple[str, str] | None = None  # (malformed|too_big, reason)
    sender: str = ""
    message_id: str = ""
    bounce: bounces.Bounce | None = None


def _read(msg: Fetched, max_mail_bytes: int) -> _Read:
    read = _Read(_headers(msg.raw))
    if msg.truncated:
        read.problem = ("too_big", f"{msg.size:,} bytes: over the limit of {max_mail_bytes:,}")
        read.notes.append(f"the message is {msg.size:,} bytes, over the mailbox limit of "
                          f"{max_mail_bytes:,}: only its headers were read; it stays in the "
                          "mailbox")
    else:
        try:
            read.mail = parse_eml(msg.raw, f"message-{msg.uid}.eml",
                                  limits=_limits(max_mail_bytes))
        except IntakeError as exc:
            read.problem = ("malformed", str(exc)[:500])
            read.notes.append(f"the message could not be read as an e-mail ({exc}); the "
                              "original is attached")
    mail, headers = read.mail, read.headers
    sender = mail.from_email if mail else parseaddr(str(headers.get("from") or ""))[1]
    sender = sender.strip().lower()
    if "@" not in sender or len(sender) > 320:
        read.problem = read.problem or ("malformed", "no sender address (From)")
        read.notes.append("the message has no sender address (From): nobody will be answered")
        sender = ""
    read.sender = sender
    read.message_id = (mail.message_id if mail else str(headers.get("message-id") or "")
                       ).strip()[:998]
    if mail is not None:
        read.bounce = bounces.parse_bounce(message_from_bytes(msg.raw, policy=policy.compat32))
    return read


def _judge(conn: Connection, box: Mailbox, read: _Read, now_ms: int) -> Outcome:
    """Bounce, repeat, loop, or a message for a case."""
    if read.bounce is not None:
        return Outcome("bounce", reason=read.bounce.reason)
    if read.message_id and conn.execute(select(mail_messages.c.uid).where(
            mail_messages.c.message_id == read.message_id,
            mail_messages.c.disposition.in_(_TAKEN)).limit(1)).first():
        return Outcome("duplicate", reason=f"Message-ID {read.message_id[:200]} was taken before")
    loop = _classify(conn, box, read.headers, read.sender, now_ms)
    if loop is not None:
        return Outcome(loop[0], reason=loop[1])
    return Outcome("case")


def take(engine: Engine, clock: ServerClock, blobs: BlobStore, box: Mailbox, msg: Fetched, *,
         now_ms: int, max_blob_bytes: int, max_mail_bytes: int,
         on_event: Callable[[int, frozenset[str]], None] | None = None) -> Outcome:
    """Turn one message into events (or a counted drop); the mail_messages row says which."""
    read = _read(msg, max_mail_bytes)
    with engine.connect() as conn:  # reads only: the writes come in one transaction below
        outcome = _judge(conn, box, read, now_ms)
    files = _Files()
    if outcome.disposition == "case":
        # Blobs before the transaction that names them (content-addressed: idempotent).
        files = _attachments(blobs, read.mail, msg.raw, max_blob_bytes, msg.uid)
        read.notes += [f"dropped {d}" for d in files.dropped]
        if read.problem is not None:
            outcome.disposition, outcome.reason = read.problem
    try:
        with write_tx(engine) as conn:
            w = _Write(conn, clock, lock_counter(conn), now_ms)
            if outcome.disposition == "bounce" and read.bounce is not None:
                outcome.case_id = _bounce(w, box, read.bounce)
            elif outcome.case_id is None and outcome.disposition in ("case", "malformed",
                                                                     "too_big"):
                _to_case(w, box, read, files, outcome)
            _record(w, box, msg, read.message_id, read.sender, outcome)
            w.flush()
            outcome.seq = w.seq if w.rows else None
            outcome.teams = {box.team_id} if w.rows else set()
    except IntegrityError:
        return Outcome("duplicate", already=True, reason="taken by another process")
    if outcome.seq is not None and on_event is not None:
        on_event(outcome.seq, frozenset(outcome.teams))
    return outcome


def _to_case(w: _Write, box: Mailbox, read: _Read, files: _Files, outcome: Outcome) -> None:
    mail, headers, sender = read.mail, read.headers, read.sender
    body = compose_body(mail, read.notes)
    mail_obj = _mail_object(mail, headers, next(
        (sha for _n, mime, sha, _s in files.stored if mime == "message/rfc822"), ""))
    if not mail_obj["raw_sha256"]:
        del mail_obj["raw_sha256"]
    key_hint = mail.case_key_hint if mail else None
    case_id = thread_case(w.conn, box.team_id, _thread_ids(mail, headers), key_hint)
    comment_id: str | None = None
    if case_id is not None:
        w.case_teams[case_id] = box.team_id
        payload: dict[str, Any] = {"body": body[:MAX_BODY], "internal": False,
                                   "author_kind": "customer", "created_ms": w.now_ms,
                                   "mail": mail_obj}
        if sender:
            payload["author"] = sender
        comment_id = w.add(ev.COMMENT_ADDED, payload, case_id=case_id, team_id=box.team_id,
                           after=_case_hlc(w.conn, case_id))
        status = fold_case(w.conn, case_id).status
        if status in REOPEN_ON_REPLY:  # as a hand import does (app/operations/intake.py)
            w.add(ev.CASE_UPDATED, {"field": "status", "value": "open", "prev": status},
                  case_id=case_id, team_id=box.team_id)
        if outcome.disposition == "case":
            outcome.disposition = "comment"
    else:
        case_id = _new_case(w, box, mail, headers, sender, body, mail_obj)
    outcome.case_id = case_id
    for name, mime, sha, size in files.stored:
        attachment: dict[str, Any] = {"sha256": sha, "name": name or "attachment.bin",
                                      "size": size, "mime": mime}
        if comment_id:
            attachment["comment_id"] = comment_id
        w.add(ev.ATTACHMENT_ADDED, attachment, case_id=case_id, team_id=box.team_id)


def record_failure(engine: Engine, box: Mailbox, msg: Fetched, reason: str, *,
                   now_ms: int) -> None:
    """A message intake could not take (a bug, a value no rule foresaw): counted as
    ``failed`` with the reason, so it is visible and not retried every poll; it stays in
    the mailbox for a person to read."""
    with write_tx(engine) as conn:
        w = _Write(conn, ServerClock(), 0, now_ms)
        try:
            _record(w, box, msg, "", "", Outcome("failed", reason=reason[:500]))
        except IntegrityError:
            pass  # taken meanwhile after all


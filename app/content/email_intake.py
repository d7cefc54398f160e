"""Parse ``.eml`` (stdlib ``email``) and Outlook ``.msg`` (extract-msg) into plain data.

The data (``ParsedEmail`` and its parts) lives in ``app.content.email_model``; it is
re-exported here for the callers that import it from this module."""

import io
import mimetypes
from dataclasses import dataclass
from email import errors as email_errors
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import BinaryIO

from app.content.case_keys import find_case_key
from app.content.charsets import decode_bytes, fix_surrogates
from app.content.email_model import EmailAttachment, Mailbox, ParsedEmail, parse_date
from app.content.errors import IntakeError
from app.content.filenames import safe_filename
from app.content.html_text import html_to_text, sanitize_html
from app.content.mail_limits import Deadline, MailLimits, check_size
from app.content.mime_stream import MailFeeder, Spooled
from app.content.quoting import split_body
from app.content.sniff import looks_like_email

__all__ = ["EmailAttachment", "Mailbox", "ParsedEmail", "parse_email_file", "parse_eml"]

_FATAL_DEFECTS = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.MultipartInvariantViolationDefect,
)
_KNOWN_HEADERS = ("from", "to", "subject", "date", "message-id", "received", "mime-version")


def parse_email_file(path: Path, *, limits: MailLimits | None = None,
                     spool_dir: Path | None = None) -> ParsedEmail:
    """A ``.eml`` or ``.msg`` file, told apart by its first bytes. A file over
    ``limits.max_bytes`` is refused before it is read; given ``spool_dir``, base64
    attachments of an ``.eml`` are decoded into files there instead of memory."""
    path = Path(path)
    limits = limits or MailLimits()
    try:
        check_size(path.stat().st_size, limits, path.name)
        with path.open("rb") as stream:
            head = stream.read(8)
            stream.seek(0)
            if head.startswith(b"\xd0\xcf\x11\xe0"):
                from app.content.msg_intake import parse_msg

                return parse_msg(stream.read(), name=path.name, limits=limits)
            return _parse_stream(stream, path.name, limits, spool_dir)
    except OSError as exc:
        raise IntakeError(f"cannot read {path.name}: {exc.strerror or exc}") from exc


def parse_eml(data: bytes, name: str = "message.eml", *, limits: MailLimits | None = None,
              spool_dir: Path | None = None) -> ParsedEmail:
    """Parse RFC 5322 bytes; malformed or truncated input raises ``IntakeError``."""
    limits = limits or MailLimits()
    check_size(len(data), limits, name)
    return _parse_stream(io.BytesIO(data), name, limits, spool_dir)


def _parse_stream(stream: BinaryIO, name: str, limits: MailLimits,
                  spool_dir: Path | None) -> ParsedEmail:
    head = stream.read(4096)
    if not head.strip() and not stream.read(1 << 16).strip():
        raise IntakeError(f"{name} is empty")
    if not looks_like_email(head):
        raise IntakeError(f"{name} is not an e-mail: it does not start with mail headers")
    stream.seek(0)
    deadline = Deadline(limits.max_seconds, name)
    feeder = MailFeeder(limits, deadline, spool_dir)
    try:
        feeder.feed_stream(stream)
        msg, notes, spooled = feeder.close()
        deadline.check()
        return _from_message(msg, name, _Context(limits, deadline, feeder.marker, spooled,
                                                 notes))
    except IntakeError:
        raise
    except OSError as exc:
        raise IntakeError(f"cannot read {name}: {exc.strerror or exc}") from exc
    except MemoryError as exc:
        raise IntakeError(f"{name} is too large to read in this much memory") from exc
    except Exception as exc:  # the stdlib parser has many failure modes on bad input
        raise IntakeError(f"{name} could not be parsed as an e-mail ({exc.__class__.__name__}: {exc})") from exc
    finally:
        feeder.abort()


@dataclass(slots=True)
class _Context:
    limits: MailLimits
    deadline: Deadline
    marker: str
    spooled: dict[str, Spooled]
    notes: list[str]


def _raw_header(msg: Message, key: str) -> str | None:
    raw_items = msg.raw_items() if isinstance(msg, EmailMessage) else msg.items()
    for k, v in raw_items:
        if k.lower() == key.lower():
            return str(v)
    return None


def _no_nul(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


def _header(msg: Message, key: str) -> str:
    return _no_nul(_header_text(msg, key))


def _header_text(msg: Message, key: str) -> str:
    raw = _raw_header(msg, key)
    if raw is None:
        return ""
    if any("\udc80" <= ch <= "\udcff" for ch in raw):
        # raw 8-bit bytes in a header: decode them ourselves (declared charset unknown)
        return " ".join(fix_surrogates(raw).split())
    try:
        value = msg.get(key)
    except Exception:  # a header policy.default cannot parse: use the raw value
        value = raw
    return " ".join(str(value if value is not None else raw).split())


def _addresses(msg: Message, key: str) -> list[Mailbox]:
    values = [_no_nul(fix_surrogates(str(v))) for v in _all_headers(msg, key)]
    return [Mailbox(n, a) for n, a in getaddresses(values) if a]


def _all_headers(msg: Message, key: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(key, [])]
    except Exception:
        return [str(v) for k, v in msg.raw_items() if k.lower() == key.lower()] if isinstance(msg, EmailMessage) else []


def _check_structure(msg: Message, name: str) -> None:
    present = {k.lower() for k in msg.keys()}
    if not present.intersection(_KNOWN_HEADERS):
        raise IntakeError(f"{name} has no From, To, Subject or Date header: not an e-mail")
    for part in msg.walk():
        for defect in part.defects:
            if isinstance(defect, _FATAL_DEFECTS):
                raise IntakeError(
                    f"{name} is truncated or malformed: {defect.__class__.__name__.removesuffix('Defect')} "
                    f"in a {part.get_content_type()} part"
                )


def _from_message(msg: Message, name: str, ctx: _Context) -> ParsedEmail:
    _check_structure(msg, name)
    state = _Bodies()
    _collect(msg, state, ctx, top=True)
    ctx.deadline.check()
    html_sanitized = sanitize_html(state.html) if state.html else ""
    ctx.deadline.check()
    html_text = html_to_text(html_sanitized) if state.html else ""
    ctx.deadline.check()
    split = split_body(state.text if state.text.strip() else html_text)
    ctx.deadline.check()
    from_name, from_email = parseaddr(_header(msg, "from"))
    subject = _header(msg, "subject")
    in_reply_to = _header(msg, "in-reply-to")
    references = _header(msg, "references").split()
    return ParsedEmail(
        subject=subject,
        from_name=from_name,
        from_email=from_email,
        to=_addresses(msg, "to"),
        cc=_addresses(msg, "cc"),
        date=parse_date(_header(msg, "date")),
        message_id=_header(msg, "message-id"),
        in_reply_to=in_reply_to,
        references=references,
        text_body=split.main,
        html_body_sanitized=html_sanitized,
        quoted_history=split.quoted_history,
        signature=split.signature,
        attachments=state.attachments,
        case_key_hint=find_case_key(subject, in_reply_to, " ".join(references)),
        html_text=html_text,
        inline_images=state.inline,
        notes=[*ctx.notes, *state.notes],
    )


class _Bodies:
    def __init__(self) -> None:
        self.text = ""
        self.html = ""
        self.attachments: list[EmailAttachment] = []
        self.inline: dict[str, str] = {}
        self.notes: list[str] = []


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _body_text(part: Message, spooled: Spooled | None, ctx: _Context, state: _Bodies) -> str:
    """A text or HTML body, its first ``max_body_bytes`` only, without NUL bytes."""
    limit = ctx.limits.max_body_bytes
    if spooled is not None:
        with spooled.path.open("rb") as stream:
            data = stream.read(limit + 1)
    else:
        data = _payload(part)
    if len(data) > limit:
        data = data[:limit]
        state.notes.append(f"only the first {limit // (1024 * 1024)} MB of the "
                           f"{part.get_content_type()} body were read")
    return _no_nul(decode_bytes(data, part.get_content_charset()))


def _collect(part: Message, state: _Bodies, ctx: _Context, top: bool = False) -> None:
    ctype = part.get_content_type()
    if ctype == "message/rfc822" and not top:
        inner = part.get_payload()
        inner_msg = inner[0] if isinstance(inner, list) and inner else None
        data = inner_msg.as_bytes() if isinstance(inner_msg, Message) else _payload(part)
        fname = safe_filename(fix_surrogates(part.get_filename() or ""),
                              f"attached-{len(state.attachments) + 1}.eml")
        state.attachments.append(EmailAttachment(fname, "message/rfc822", data))
        return
    if part.is_multipart():
        children = part.get_payload()
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Message):
                    _collect(child, state, ctx)
        return
    ctx.deadline.check()
    key = part.get(ctx.marker)
    spooled = ctx.spooled.get(str(key).strip()) if key is not None else None
    disposition = part.get_content_disposition()
    filename = part.get_filename()
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        if ctype == "text/plain" and not state.text:
            state.text = _body_text(part, spooled, ctx, state)
            return
        if ctype == "text/html" and not state.html:
            state.html = _body_text(part, spooled, ctx, state)
            return
    content_id = _no_nul(str(part.get("content-id") or "")).strip().strip("<>")
    if not filename:
        ext = mimetypes.guess_extension(ctype) or ".bin"
        stem = "inline" if content_id else "attachment"
        filename = f"{stem}-{len(state.attachments) + 1}{ext}"
    filename = safe_filename(fix_surrogates(str(filename)),
                             f"attachment-{len(state.attachments) + 1}.bin")
    if spooled is not None:
        # the decoded bytes are on disk already: give the file its (safe) name
        target = spooled.path.with_name(filename)
        spooled.path.rename(target)
        state.attachments.append(EmailAttachment(filename, ctype, path=target,
                                                 size=spooled.size))
    else:
        state.attachments.append(EmailAttachment(filename, ctype, _payload(part)))
    if content_id:
        state.inline[content_id] = filename

"""Parse ``.eml`` (stdlib ``email``) and Outlook ``.msg`` (extract-msg) into plain data."""

import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from email import errors as email_errors
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import NamedTuple

from app.content.case_keys import find_case_key
from app.content.charsets import decode_bytes, fix_surrogates
from app.content.errors import IntakeError
from app.content.html_text import html_to_text, sanitize_html
from app.content.quoting import split_body
from app.content.sniff import looks_like_email


class Mailbox(NamedTuple):
    name: str
    email: str


class EmailAttachment(NamedTuple):
    filename: str
    mime: str
    data: bytes


@dataclass(slots=True)
class ParsedEmail:
    subject: str
    from_name: str
    from_email: str
    to: list[Mailbox]
    cc: list[Mailbox]
    date: datetime | None
    message_id: str
    in_reply_to: str
    references: list[str]
    text_body: str
    """The new text of this mail: quoted history and signature folded out."""
    html_body_sanitized: str
    quoted_history: str
    signature: str
    attachments: list[EmailAttachment]
    case_key_hint: str | None
    html_text: str = ""
    """Plain text of the HTML body, for indexing."""
    inline_images: dict[str, str] = field(default_factory=dict)
    """Content-ID (without <>) of each inline image -> its attachment file name."""


_FATAL_DEFECTS = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.MultipartInvariantViolationDefect,
)
_KNOWN_HEADERS = ("from", "to", "subject", "date", "message-id", "received", "mime-version")


def parse_email_file(path: Path) -> ParsedEmail:
    """A ``.eml`` or ``.msg`` file, told apart by its first bytes."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntakeError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        from app.content.msg_intake import parse_msg

        return parse_msg(data, name=path.name)
    return parse_eml(data, name=path.name)


def parse_eml(data: bytes, name: str = "message.eml") -> ParsedEmail:
    """Parse RFC 5322 bytes; malformed or truncated input raises ``IntakeError``."""
    if not data.strip():
        raise IntakeError(f"{name} is empty")
    if not looks_like_email(data[:4096]):
        raise IntakeError(f"{name} is not an e-mail: it does not start with mail headers")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(data)
        return _from_message(msg, name)
    except IntakeError:
        raise
    except Exception as exc:  # the stdlib parser has many failure modes on bad input
        raise IntakeError(f"{name} could not be parsed as an e-mail ({exc.__class__.__name__}: {exc})") from exc


def _raw_header(msg: Message, key: str) -> str | None:
    raw_items = msg.raw_items() if isinstance(msg, EmailMessage) else msg.items()
    for k, v in raw_items:
        if k.lower() == key.lower():
            return str(v)
    return None


def _header(msg: Message, key: str) -> str:
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
    values = [fix_surrogates(str(v)) for v in _all_headers(msg, key)]
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


def _from_message(msg: Message, name: str) -> ParsedEmail:
    _check_structure(msg, name)
    state = _Bodies()
    _collect(msg, state, top=True)
    html_sanitized = sanitize_html(state.html) if state.html else ""
    html_text = html_to_text(html_sanitized) if state.html else ""
    split = split_body(state.text if state.text.strip() else html_text)
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
        date=_parse_date(_header(msg, "date")),
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
    )


def _parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


class _Bodies:
    def __init__(self) -> None:
        self.text = ""
        self.html = ""
        self.attachments: list[EmailAttachment] = []
        self.inline: dict[str, str] = {}


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _collect(part: Message, state: _Bodies, top: bool = False) -> None:
    ctype = part.get_content_type()
    if ctype == "message/rfc822" and not top:
        inner = part.get_payload()
        inner_msg = inner[0] if isinstance(inner, list) and inner else None
        data = inner_msg.as_bytes() if isinstance(inner_msg, Message) else _payload(part)
        fname = part.get_filename() or f"attached-{len(state.attachments) + 1}.eml"
        state.attachments.append(EmailAttachment(fix_surrogates(fname), "message/rfc822", data))
        return
    if part.is_multipart():
        children = part.get_payload()
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Message):
                    _collect(child, state)
        return
    disposition = part.get_content_disposition()
    filename = part.get_filename()
    charset = part.get_content_charset()
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text = decode_bytes(_payload(part), charset)
        if ctype == "text/plain" and not state.text:
            state.text = text
            return
        if ctype == "text/html" and not state.html:
            state.html = text
            return
    data = _payload(part)
    content_id = (part.get("content-id") or "").strip().strip("<>")
    if not filename:
        ext = mimetypes.guess_extension(ctype) or ".bin"
        stem = "inline" if content_id else "attachment"
        filename = f"{stem}-{len(state.attachments) + 1}{ext}"
    filename = fix_surrogates(str(filename))
    state.attachments.append(EmailAttachment(filename, ctype, data))
    if content_id:
        state.inline[content_id] = filename

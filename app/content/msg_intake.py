"""Outlook ``.msg`` files through extract-msg, into the same ``ParsedEmail`` as ``.eml``."""

import logging
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Any

import extract_msg

from app.content.case_keys import find_case_key
from app.content.charsets import decode_bytes
from app.content.email_model import EmailAttachment, Mailbox, ParsedEmail, parse_date
from app.content.errors import IntakeError
from app.content.filenames import safe_filename
from app.content.html_text import html_to_text, sanitize_html
from app.content.mail_limits import Deadline, MailLimits, check_size
from app.content.mime_stream import split_addresses
from app.content.quoting import split_body

# extract-msg logs every missing optional stream at INFO/WARNING: not the agent's concern
logging.getLogger("extract_msg").setLevel(logging.ERROR)


def parse_msg(data: bytes, name: str = "message.msg", *,
              limits: MailLimits | None = None) -> ParsedEmail:
    """Parse an Outlook message; anything extract-msg cannot read raises ``IntakeError``."""
    limits = limits or MailLimits()
    check_size(len(data), limits, name)
    if not data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise IntakeError(f"{name} is not an Outlook .msg file (no OLE signature)")
    try:
        msg = extract_msg.openMsg(data, strict=False, delayAttachments=False)
    except Exception as exc:  # extract-msg raises many kinds on bad input
        raise IntakeError(f"{name} could not be opened as an Outlook message ({exc.__class__.__name__}: {exc})") from exc
    try:
        return _convert(msg, name, Deadline(limits.max_seconds, name))
    except IntakeError:
        raise
    except Exception as exc:
        raise IntakeError(f"{name} is a damaged Outlook message ({exc.__class__.__name__}: {exc})") from exc
    finally:
        msg.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = decode_bytes(value) if isinstance(value, bytes) else str(value)
    return text.replace("\x00", "")


def _mailboxes(value: str) -> list[Mailbox]:
    # the same bound as for .eml: the stdlib's address parser is quadratic
    parts = split_addresses(value.replace(";", ",").encode("utf-8", "surrogateescape"))
    kept = [p.decode("utf-8", "surrogateescape") for p in parts[:MailLimits().max_addresses]]
    return [Mailbox(n, a) for n, a in getaddresses([",".join(kept)]) if a]


def _convert(msg: Any, name: str, deadline: Deadline) -> ParsedEmail:
    header: Message | None = getattr(msg, "header", None)

    def head(key: str) -> str:
        value = header.get(key) if header is not None else None
        return " ".join(str(value).replace("\x00", "").split()) if value else ""

    subject = _text(getattr(msg, "subject", None)) or head("subject")
    from_name, from_email = parseaddr(_text(getattr(msg, "sender", None)) or head("from"))
    to = _mailboxes(head("to") or _text(getattr(msg, "to", None)))
    cc = _mailboxes(head("cc") or _text(getattr(msg, "cc", None)))
    in_reply_to = _text(getattr(msg, "inReplyTo", None)) or head("in-reply-to")
    references = head("references").split()
    html_raw = getattr(msg, "htmlBody", None)
    html = _text(html_raw)
    deadline.check()
    html_sanitized = sanitize_html(html) if html else ""
    deadline.check()
    html_text = html_to_text(html_sanitized) if html else ""
    deadline.check()
    body = _text(getattr(msg, "body", None))
    split = split_body(body if body.strip() else html_text)
    date = getattr(msg, "date", None)
    attachments, inline = _attachments(msg)
    return ParsedEmail(
        subject=subject,
        from_name=from_name,
        from_email=from_email,
        to=to,
        cc=cc,
        date=date if isinstance(date, datetime) else parse_date(head("date")),
        message_id=_text(getattr(msg, "messageId", None)) or head("message-id"),
        in_reply_to=in_reply_to,
        references=references,
        text_body=split.main,
        html_body_sanitized=html_sanitized,
        quoted_history=split.quoted_history,
        signature=split.signature,
        attachments=attachments,
        case_key_hint=find_case_key(subject, in_reply_to, " ".join(references)),
        html_text=html_text,
        inline_images=inline,
    )


def _attachments(msg: Any) -> tuple[list[EmailAttachment], dict[str, str]]:
    out: list[EmailAttachment] = []
    inline: dict[str, str] = {}
    for i, att in enumerate(getattr(msg, "attachments", []) or [], start=1):
        data = getattr(att, "data", None)
        if not isinstance(data, bytes):
            continue  # embedded messages, web links, unsupported kinds
        fname = safe_filename(_text(getattr(att, "longFilename", None)
                                    or getattr(att, "shortFilename", None)),
                              f"attachment-{i}.bin")
        mime = _text(getattr(att, "mimetype", None)) or "application/octet-stream"
        out.append(EmailAttachment(fname, mime, data))
        if cid := _text(getattr(att, "contentId", None)).strip("<>"):
            inline[cid] = fname
    return out, inline

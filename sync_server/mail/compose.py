"""Mail out: the message of one public reply (issue 17). From the team's address, To the
requester, Cc the case's CCs when it has them, subject ``[KEY] Re: <subject>``, the
Message-ID made when the reply was queued, In-Reply-To/References from every Message-ID the
case received or sent, a text part and an HTML part (the text, escaped: no markup of the
agent's reaches the customer unescaped), and the reply's attachments."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

MAX_REFERENCES = 20  # RFC 5322 lets References grow; a long thread keeps the first and last
_RE_PREFIX = re.compile(r"^\s*(\[[^\]]{1,64}\]\s*)?((re|aw|sv|fwd?)\s*:\s*)*", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    name: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class Reply:
    from_address: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    key: str | None
    subject: str
    body: str
    message_id: str
    thread_ids: tuple[str, ...] = ()  # oldest first: the case's received and sent mails
    attachments: tuple[Attachment, ...] = ()


def reply_subject(key: str | None, subject: str) -> str:
    """``[SUP-1042] Re: <subject>`` with the old key and Re:s taken off (no Re: Re: [..])."""
    bare = _RE_PREFIX.sub("", " ".join(subject.split()))[:900] or "(no subject)"
    return f"[{key}] Re: {bare}" if key else f"Re: {bare}"


def _html(text: str) -> str:
    paragraphs = [html.escape(p).replace("\n", "<br>\n") for p in text.split("\n\n")]
    return ("<!DOCTYPE html><html><body>"
            + "".join(f"<p>{p}</p>\n" for p in paragraphs) + "</body></html>\n")


def _references(ids: Sequence[str]) -> list[str]:
    clean = [i.strip() for i in ids if i and i.strip().startswith("<") and "\n" not in i]
    unique = list(dict.fromkeys(clean))
    if len(unique) > MAX_REFERENCES:
        unique = unique[:1] + unique[-(MAX_REFERENCES - 1):]
    return unique


def build(reply: Reply, *, now_s: float | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((reply.from_name, reply.from_address))
    msg["To"] = ", ".join(reply.to)
    if reply.cc:
        msg["Cc"] = ", ".join(reply.cc)
    msg["Subject"] = reply_subject(reply.key, reply.subject)
    msg["Date"] = formatdate(now_s, localtime=False, usegmt=True)
    msg["Message-ID"] = reply.message_id
    refs = _references(reply.thread_ids)
    if refs:
        msg["In-Reply-To"] = refs[-1]
        msg["References"] = " ".join(refs)
    msg["Auto-Submitted"] = "no"  # a person wrote it (loops.py treats auto-replies apart)
    msg.set_content(reply.body or "")
    msg.add_alternative(_html(reply.body or ""), subtype="html")
    for item in reply.attachments:
        maintype, _, subtype = (item.mime or "application/octet-stream").partition("/")
        if not subtype or "\n" in item.mime:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype,
                           filename=item.name or "attachment")
    return msg

"""Delivery status notifications (RFC 3464, ``multipart/report; report-type=delivery-status``):
which of our messages bounced, and why."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Bounce:
    message_id: str  # the Message-ID of the mail that bounced ("" when the report omits it)
    reason: str


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    inner = part.get_payload()
    if isinstance(inner, list):  # message/delivery-status parsed into header blocks
        return "\n".join(str(block) for block in inner if isinstance(block, Message))
    return str(inner or "")


def _original_id(part: Message) -> str:
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return str(inner[0].get("message-id") or "").strip()
    if ctype == "text/rfc822-headers":
        headers = message_from_bytes(_text(part).encode("utf-8", "replace"),
                                     policy=policy.compat32)
        return str(headers.get("message-id") or "").strip()
    return ""


def _reason(status_text: str) -> str:
    fields: dict[str, str] = {}
    for line in status_text.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in ("action", "status", "diagnostic-code"):
            fields.setdefault(name.strip().lower(), " ".join(value.split()))
    parts = [fields[k] for k in ("status", "diagnostic-code") if k in fields]
    return ("; ".join(parts) or "the receiving server reported a failed delivery")[:MAX_REASON]


def parse_bounce(msg: Message) -> Bounce | None:
    """The bounce this message reports, or None when it is no failure DSN."""
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type") or "").lower() != "delivery-status":
        return None
    status, original = "", ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status" and not status:
            status = _text(part)
        elif ctype in ("message/rfc822", "text/rfc822-headers") and not original:
            original = _original_id(part)
    actions = [line.partition(":")[2].strip().lower() for line in status.splitlines()
               if line.lower().startswith("action:")]
    if actions and "failed" not in actions:
        return None  # delayed / delivered / relayed: not a bounce
    return Bounce(message_id=original, reason=_reason(status))

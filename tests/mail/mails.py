"""Test messages as bytes (built with the stdlib, like a customer's mail client would)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def mail(*, sender: str = "Carla Customer <carla@customer.test>",
         to: str = "support@example.test", subject: str = "Printer on fire",
         body: str = "It smokes when printing duplex.\n\n-- \nCarla\nACME",
         message_id: str | None = None, in_reply_to: str | None = None,
         headers: dict[str, str] | None = None,
         attachments: tuple[tuple[str, str, bytes], ...] | list[tuple[str, str, bytes]] = ()) -> bytes:
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="customer.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, mime, data in attachments:
        main, _, sub = mime.partition("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=filename)
    return bytes(msg)


def dsn(original_id: str, *, reason: str = "550 5.1.1 <carla@customer.test>: no such user"
        ) -> bytes:
    """A delivery status notification (RFC 3464) for our message ``original_id``."""
    boundary = "dsn-boundary-1"
    return (
        "From: MAILER-DAEMON@mx.customer.test\r\n"
        "To: support@example.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        f"Message-ID: <dsn-{abs(hash(original_id))}@mx.customer.test>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.test\r\n\r\n"
        "Final-Recipient: rfc822; carla@customer.test\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; {reason}\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@example.test\r\nTo: carla@customer.test\r\nMessage-ID: {original_id}\r\n"
        "Subject: [SUP-1] Re: Printer on fire\r\n"
        f"--{boundary}--\r\n").encode()

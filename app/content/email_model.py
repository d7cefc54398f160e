"""The e-mail as plain data: what ``.eml`` and ``.msg`` intake produce and the mailbox
reads. Standard library only (no app.store, no parser), so any reader can import it."""

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, NamedTuple


class Mailbox(NamedTuple):
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class EmailAttachment:
    """One attachment: its bytes in memory, or (a mail parsed with a spool folder) in
    the file ``path``. Unpacks as ``(filename, mime, data)``."""

    filename: str
    mime: str
    content: bytes = b""
    path: Path | None = None
    size: int = -1

    @property
    def data(self) -> bytes:
        return self.path.read_bytes() if self.path is not None else self.content

    @property
    def nbytes(self) -> int:
        return self.size if self.size >= 0 else len(self.content)

    def open(self) -> BinaryIO:
        return self.path.open("rb") if self.path is not None else io.BytesIO(self.content)

    def __iter__(self) -> Iterator[object]:
        return iter((self.filename, self.mime, self.data))


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
    notes: list[str] = field(default_factory=list)
    """What intake cut or dropped to keep within its bounds (for the agent)."""


def parse_date(value: str) -> datetime | None:
    """A ``Date:`` header as a datetime; None when it is missing or unreadable."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None

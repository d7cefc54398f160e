"""One entry point for any dropped or attached file: ``intake_file(path)``."""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from app.content.email_intake import EmailAttachment, ParsedEmail, parse_email_file
from app.content.entities import Entities, extract_entities
from app.content.errors import IntakeError
from app.content.log_intake import Signature, scan_file, scan_text
from app.content.log_lines import CancelCallback, ProgressCallback
from app.content.mail_limits import limits_from_env
from app.content.pdf_intake import extract_pdf_text
from app.content.sniff import OLE_MAGIC, looks_like_email

IntakeKind = Literal["email", "pdf", "log", "har"]
TEXT_PREVIEW_CHARS = 256 * 1024
"""A log's ``text`` is its beginning only: logs can be gigabytes."""
_EMAIL_EXT = {".eml", ".msg"}
_LOG_EXT = {".log", ".txt", ".json", ".jsonl", ".out", ".err", ".csv", ".xml", ".trace", ".stacktrace"}


@dataclass(slots=True)
class IntakeResult:
    kind: IntakeKind
    text: str
    signatures: list[Signature]
    entities: Entities
    email: ParsedEmail | None = None
    """For an e-mail: its attachments carry name, type and size only (not their bytes)."""
    notes: list[str] = field(default_factory=list)


def _kind(path: Path, head: bytes) -> IntakeKind:
    ext = path.suffix.lower()
    if ext in _EMAIL_EXT:
        return "email"
    if ext == ".pdf":
        return "pdf"
    if ext == ".har":
        return "har"
    if ext in _LOG_EXT:
        return "log"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(OLE_MAGIC) or looks_like_email(head):
        return "email"
    if b"\x00" in head[:4096] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IntakeError(f"{path.name}: this kind of file is not supported (binary content)")
    return "log"


def _pages_as_bytes(path: Path,
                    on_progress: ProgressCallback | None) -> Callable[[int, int], None] | None:
    """A PDF's pages read, told to ``on_progress`` as the same share of its bytes."""
    if on_progress is None:
        return None
    size = path.stat().st_size
    return lambda done, total: on_progress(size * done // max(total, 1))


def intake_file(
    path: Path,
    *,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCallback | None = None,
) -> IntakeResult:
    """Parse an e-mail (.eml/.msg), a PDF, a HAR or a log/text file by extension, falling
    back to the first bytes. Raises ``IntakeError`` (or ``IntakeCancelled``).
    ``on_progress`` gets the bytes read (for a PDF: the share of its bytes its pages read
    are); ``should_cancel`` is asked per MiB of a log and per page of a PDF."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(8192)
    except OSError as exc:
        raise IntakeError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    kind = _kind(path, head)
    if kind == "email":
        with tempfile.TemporaryDirectory(prefix="intake-mail-") as spool:
            email = parse_email_file(path, limits=limits_from_env(), spool_dir=Path(spool))
            # the spooled bytes go with the folder: keep each attachment's name, type, size
            email.attachments = [EmailAttachment(a.filename, a.mime, size=a.nbytes)
                                 for a in email.attachments]
        parts = [email.subject, email.text_body, email.quoted_history]
        text = "\n\n".join(p for p in parts if p)
        notes = [f"{len(email.attachments)} attachment(s) not read: take them in one by one"] if email.attachments else []
        notes += email.notes
        return IntakeResult(kind, text, scan_text(text), extract_entities(text), email, notes)
    if kind == "pdf":
        pdf = extract_pdf_text(path, on_page=_pages_as_bytes(path, on_progress),
                               should_cancel=should_cancel)
        notes = [f"only the first {len(pdf.pages)} of {pdf.page_count} pages were read"] if pdf.truncated else []
        return IntakeResult(kind, pdf.text, scan_text(pdf.text), extract_entities(pdf.text), None, notes)
    signatures = scan_file(path, on_progress=on_progress, should_cancel=should_cancel)
    with path.open("rb") as stream:
        text = stream.read(TEXT_PREVIEW_CHARS).decode("utf-8", errors="replace")
    notes = []
    if path.stat().st_size > TEXT_PREVIEW_CHARS:
        notes.append(f"text holds the first {TEXT_PREVIEW_CHARS} bytes only")
    titles = "\n".join(s.title for s in signatures)
    entities = extract_entities(text).merge(extract_entities(titles))
    return IntakeResult(kind, text, signatures, entities, None, notes)

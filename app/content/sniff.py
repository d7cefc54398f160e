"""Guess a file's type from its first bytes (magic numbers) and its name."""

import mimetypes
import re

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EML_HEADER = re.compile(
    rb"^(?:Return-Path|Received|From|To|Subject|Date|Message-ID|MIME-Version|"
    rb"Delivered-To|X-[\w-]+|Reply-To|Content-Type|DKIM-Signature|ARC-[\w-]+|"
    rb"Authentication-Results|Thread-Topic|Thread-Index|In-Reply-To|References)"
    rb"[ \t]*:",
    re.IGNORECASE,
)


def sniff_mime(head: bytes) -> str | None:
    """The MIME type told by the magic bytes of ``head``, or None if unknown."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.lstrip()[:5] == b"%PDF-" or b"%PDF-" in head[:1024]:
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "application/zip"
    if head.startswith(OLE_MAGIC):
        return "application/vnd.ms-outlook"
    if looks_like_email(head):
        return "message/rfc822"
    return None


def looks_like_email(head: bytes) -> bool:
    """True when the first lines look like RFC 5322 headers."""
    lines = head.lstrip(b"\r\n").splitlines()[:5]
    if not lines:
        return False
    if lines[0].startswith(b"From ") and len(lines) > 1:  # mbox separator
        lines = lines[1:]
    return bool(_EML_HEADER.match(lines[0]))


_CONTAINERS = frozenset({"message/rfc822", "application/zip", "application/vnd.ms-outlook"})


def guess_mime(name: str, head: bytes) -> str:
    """Magic bytes first, then the file name, then a generic type."""
    sniffed = sniff_mime(head)
    by_name, _ = mimetypes.guess_type(name, strict=False)
    if sniffed in _CONTAINERS and by_name:
        # header-like text in a .txt, a .docx (zip) or a .doc (OLE) keeps its name's type
        if sniffed != "message/rfc822" or not by_name.startswith("message/"):
            return by_name
    if sniffed:
        return sniffed
    if by_name:
        return by_name
    return "application/octet-stream"

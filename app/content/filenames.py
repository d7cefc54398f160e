"""File names that come from outside (mail attachments, pastes) made safe to show and to
create on any filesystem."""

import re
import unicodedata

MAX_NAME_BYTES = 200
_UNSAFE = re.compile(r"[\\/:*?\"<>|]")


def safe_filename(name: str, default: str = "attachment", max_bytes: int = MAX_NAME_BYTES) -> str:
    """``name`` without path separators, control characters or reserved punctuation, at
    most ``max_bytes`` of UTF-8, its extension kept (filesystems refuse 256 bytes)."""
    name = "".join(ch for ch in str(name)
                   if not unicodedata.category(ch).startswith("C") or ch == " ")
    name = name.replace("\ufffd", "")
    # only the last path component: 'C:\\x\\..\\evil.exe' -> 'evil.exe'
    name = re.split(r"[\\/]", name)[-1]
    name = _UNSAFE.sub("_", " ".join(name.split())).strip(". ")
    if not name:
        return default
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8")) > 16 or not ext.isalnum():
        stem, ext = name, ""
    suffix = f"…{'.' + ext if ext else ''}"
    budget = max_bytes - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(". ")
    return (cut + suffix) if cut else default

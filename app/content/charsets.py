"""Decode bytes of unknown or mis-declared charset without raising."""

import codecs

_FALLBACKS = ("utf-8", "cp1252", "latin-1")


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Declared charset if it is known and fits, then utf-8, cp1252, latin-1 (never fails)."""
    candidates: list[str] = []
    if declared:
        try:
            candidates.append(codecs.lookup(declared.strip().strip('"')).name)
        except LookupError:
            pass
    candidates += [c for c in _FALLBACKS if c not in candidates]
    for charset in candidates:
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # pragma: no cover - latin-1 decodes any byte


def fix_surrogates(value: str, declared: str | None = None) -> str:
    """Header text with raw 8-bit bytes (kept as surrogate escapes) decoded properly."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", errors="surrogateescape")
    return decode_bytes(raw, declared)

"""Read a log as numbered lines with bounded memory, progress and cancellation."""

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from app.content.errors import IntakeCancelled

CHUNK_BYTES = 1024 * 1024
MAX_LINE_CHARS = 8192
ProgressCallback = Callable[[int], None]
CancelCallback = Callable[[], bool]


def _encoding_for(head: bytes) -> tuple[str, int]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 0
    return "utf-8", 0


def iter_lines(
    stream: BinaryIO,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCallback | None = None,
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` from 1; bad bytes become U+FFFD; a line longer than
    ``MAX_LINE_CHARS`` is cut. ``should_cancel`` is asked once per chunk (1 MiB) and a
    true answer raises ``IntakeCancelled``; ``on_progress`` gets the bytes read so far."""
    first = stream.read(CHUNK_BYTES)
    encoding, skip = _encoding_for(first)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    read = len(first)
    raw: bytes | None = first[skip:]
    lineno = 0
    pending: list[str] = []
    pending_len = 0
    while raw is not None:
        if should_cancel is not None and should_cancel():
            raise IntakeCancelled(f"cancelled after {read} bytes")
        final = not raw
        chunk = decoder.decode(raw, final=final)
        start = 0
        while True:
            nl = chunk.find("\n", start)
            if nl == -1:
                if pending_len < MAX_LINE_CHARS and start < len(chunk):
                    piece = chunk[start : start + MAX_LINE_CHARS - pending_len]
                    pending.append(piece)
                    pending_len += len(piece)
                break
            piece = chunk[start:nl]
            if pending:
                piece = ("".join(pending) + piece)[:MAX_LINE_CHARS]
                pending = []
                pending_len = 0
            elif len(piece) > MAX_LINE_CHARS:
                piece = piece[:MAX_LINE_CHARS]
            lineno += 1
            yield lineno, piece.rstrip("\r")
            start = nl + 1
        if on_progress is not None:
            on_progress(read)
        if final:
            break
        raw = stream.read(CHUNK_BYTES)
        read += len(raw)
    if pending:
        yield lineno + 1, "".join(pending).rstrip("\r")


def context_lines(path: Path, line_number: int, before: int = 5, after: int = 5) -> list[tuple[int, str]]:
    """The lines around ``line_number`` (1-based) of a file, read as a stream."""
    first, last = max(1, line_number - before), line_number + after
    out: list[tuple[int, str]] = []
    with Path(path).open("rb") as stream:
        for n, line in iter_lines(stream):
            if n > last:
                break
            if n >= first:
                out.append((n, line))
    return out


def context_lines_text(text: str, line_number: int, before: int = 5, after: int = 5) -> list[tuple[int, str]]:
    """The lines around ``line_number`` (1-based) of pasted text."""
    lines = text.splitlines()
    first, last = max(1, line_number - before), min(len(lines), line_number + after)
    return [(n, lines[n - 1]) for n in range(first, last + 1)]

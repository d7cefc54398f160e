"""Feed a mail to the stdlib parser line by line, with bounds, lifting base64 bodies out.

The stdlib parser holds a whole mail as text, several times over, and its address parser
is quadratic in the number of addresses. So the raw lines pass through here first:

- every header (in every part) is cut at ``max_header_bytes``, a header block at
  ``max_block_bytes``, an address header at ``max_addresses`` addresses; NUL bytes go;
- a base64 leaf body is decoded as it streams past into a spool file, one at a time; the
  parser sees the part with an empty body and a marker header naming the spool file.

The structure is tracked the way the stdlib's feedparser tracks it (the same boundary
rule, the same end-of-headers rule), so the parser sees the mail it would have seen.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.feedparser import BytesFeedParser
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

from app.content.errors import IntakeError, human_bytes
from app.content.mail_limits import Deadline, MailLimits

_HEADER_LINE = re.compile(rb"^(From |[\041-\071\073-\176]*:|[\t ])")
_ADDRESS_HEADERS = frozenset({
    b"from", b"to", b"cc", b"bcc", b"reply-to", b"sender", b"resent-from", b"resent-to",
    b"resent-cc", b"resent-bcc", b"resent-sender", b"disposition-notification-to",
})
_STRUCTURE_HEADERS = frozenset({b"content-type", b"content-transfer-encoding"})
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)
_FEED_CHUNK = 256 * 1024
_DECODE_CHUNK = 1024 * 1024
_CHECK_EVERY = 4096  # lines between deadline checks


@dataclass(slots=True)
class Spooled:
    path: Path
    size: int


@dataclass(slots=True)
class _Level:
    """An open multipart: its separator line, and whether it sits inside an attached
    message (whose parts are not spooled: the attached mail is kept whole)."""

    separator: bytes
    in_message: bool
    digest: bool
    pattern: re.Pattern[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.pattern = re.compile(re.escape(self.separator) + rb"(--)?[ \t]*(\r\n|\r|\n)?$")


class _Base64Spool:
    """Decodes base64 lines into a file as they arrive (memory: one chunk)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file: BinaryIO = path.open("wb")
        self.buf = bytearray()
        self.size = 0

    def add(self, line: bytes) -> None:
        self.buf += line.translate(None, _NOT_B64)
        if len(self.buf) >= _DECODE_CHUNK:
            self._drain(final=False)

    def _drain(self, final: bool) -> None:
        n = len(self.buf) if final else len(self.buf) - len(self.buf) % 4
        chunk = bytes(self.buf[:n])
        del self.buf[:n]
        if final and len(chunk) % 4:
            chunk += b"=" * (4 - len(chunk) % 4)
        try:
            data = binascii.a2b_base64(chunk)
        except binascii.Error:  # damaged tail: keep what decoded before it
            data = b""
        self.file.write(data)
        self.size += len(data)

    def close(self) -> Spooled:
        try:
            self._drain(final=True)
        finally:
            self.file.close()
        return Spooled(self.path, self.size)


class MailFeeder:
    """Push raw lines with ``feed_stream``; ``close`` returns the parsed message, the notes
    on what was cut and the spooled bodies by marker value; ``abort`` in a ``finally``."""

    def __init__(self, limits: MailLimits, deadline: Deadline, spool_dir: Path | None) -> None:
        self.limits = limits
        self.deadline = deadline
        self.spool_dir = spool_dir
        self.marker = f"X-Intake-Spool-{secrets.token_hex(6)}"
        self.notes: list[str] = []
        self.spooled: dict[str, Spooled] = {}
        self._parser = BytesFeedParser(policy=policy.default)
        self._out: list[bytes] = []
        self._out_size = 0
        self._stack: list[_Level] = []
        self._in_headers = True
        self._in_message = False
        self._default_ctype = b"text/plain"
        self._block: list[bytes] = []  # Content-Type / -Transfer-Encoding lines of the block
        self._block_size = 0
        self._block_cut = False
        self._current: list[bytes] = []  # the logical header being read
        self._current_size = 0
        self._current_cut = False
        self._spool: _Base64Spool | None = None
        self._lines = 0

    # --- input ----------------------------------------------------------------------
    def feed_stream(self, stream: Iterable[bytes]) -> None:
        for raw in stream:
            if b"\r" in raw[:-2]:  # old Mac line ends: split as the stdlib would
                for line in raw.splitlines(keepends=True):
                    self._line(line)
            else:
                self._line(raw)

    def close(self) -> tuple[Message, list[str], dict[str, Spooled]]:
        if self._in_headers:
            self._flush_header()
            self._end_headers(blank=False)
        self._end_spool()
        self._flush_out()
        msg = self._parser.close()
        return msg, self.notes, self.spooled

    def abort(self) -> None:
        """Close a spool file left open by an error (the caller removes the folder)."""
        if self._spool is not None:
            self._spool.file.close()
            self._spool = None

    # --- lines ----------------------------------------------------------------------
    def _line(self, line: bytes) -> None:
        self._lines += 1
        if self._lines % _CHECK_EVERY == 0:
            self.deadline.check()
        if self._stack and line.startswith(b"--"):
            for depth in range(len(self._stack) - 1, -1, -1):
                level = self._stack[depth]
                m = level.pattern.match(line)
                if m:
                    self._boundary(depth, closing=bool(m.group(1)))
                    self._emit(line)
                    return
        if self._in_headers:
            self._header_line(line)
        elif self._spool is not None:
            self._spool.add(line)
        else:
            self._emit(line)

    def _boundary(self, depth: int, closing: bool) -> None:
        if self._in_headers:
            self._flush_header()
            self._end_headers(blank=False)
        self._end_spool()
        level = self._stack[depth]
        del self._stack[depth + 1:]
        self._in_message = level.in_message
        if closing:
            self._stack.pop()
            self._in_headers = False  # the epilogue: passed through
        else:
            self._start_block(b"message/rfc822" if level.digest else b"text/plain")

    def _start_block(self, default_ctype: bytes) -> None:
        self._in_headers = True
        self._default_ctype = default_ctype
        self._block = []
        self._block_size = 0
        self._block_cut = False

    # --- headers --------------------------------------------------------------------
    def _header_line(self, line: bytes) -> None:
        if b"\x00" in line:
            line = line.replace(b"\x00", b"")
        if not line.rstrip(b"\r\n"):
            self._flush_header()
            self._end_headers(blank=True)
            self._emit(line)
            return
        if line[:1] in (b" ", b"\t") and self._current:
            if self._current_size + len(line) > self.limits.max_header_bytes:
                self._current_cut = True
            else:
                self._current.append(line)
                self._current_size += len(line)
            return
        if not _HEADER_LINE.match(line):
            # the stdlib ends the headers at a line that is no header: so do we
            self._flush_header()
            self._end_headers(blank=False)
            self._line_after_headers(line)
            return
        self._flush_header()
        if len(line) > self.limits.max_header_bytes:
            line = line[: self.limits.max_header_bytes] + b"\r\n"
            self._current_cut = True
        self._current = [line]
        self._current_size = len(line)

    def _line_after_headers(self, line: bytes) -> None:
        if self._spool is not None:
            self._spool.add(line)
        else:
            self._emit(line)

    def _flush_header(self) -> None:
        if not self._current:
            return
        lines, size = self._current, self._current_size
        shown = lines[0].split(b":", 1)[0].strip()
        name = shown.lower()
        if self._current_cut:
            self._note(f"the {shown.decode('ascii', 'replace')[:60]} header was cut at "
                       f"{human_bytes(self.limits.max_header_bytes)}")
        self._current, self._current_size, self._current_cut = [], 0, False
        if self._block_size + size > self.limits.max_block_bytes:
            if not self._block_cut:
                self._note(f"headers beyond {human_bytes(self.limits.max_block_bytes)} "
                           "were dropped")
            self._block_cut = True
            return
        if name in _ADDRESS_HEADERS and size > 512:
            lines = self._cap_addresses(name, lines)
        self._block_size += size
        if name in _STRUCTURE_HEADERS:
            self._block.extend(lines)
        for line in lines:
            self._emit(line)

    def _cap_addresses(self, name: bytes, lines: list[bytes]) -> list[bytes]:
        head, _, first = lines[0].partition(b":")
        value = b"".join([first, *lines[1:]])
        addresses = split_addresses(value)
        if len(addresses) <= self.limits.max_addresses:
            return lines
        kept = addresses[: self.limits.max_addresses]
        self._note(f"{head.strip().decode('ascii', 'replace')[:60]}: only the first "
                   f"{self.limits.max_addresses:,} of {len(addresses):,} addresses were kept")
        folded = b",\r\n ".join(a.strip() for a in kept)
        return [head + b": " + folded + b"\r\n"]

    def _end_headers(self, blank: bool) -> None:
        """The block's headers are all in: decide how its body is read."""
        self._in_headers = False
        ctype, cte, boundary = self._structure()
        maintype, _, subtype = ctype.partition(b"/")
        if maintype == b"multipart":
            if boundary:
                self._stack.append(_Level(b"--" + boundary, self._in_message,
                                          subtype == b"digest"))
            return
        if maintype == b"message" and subtype != b"delivery-status" \
                and cte not in (b"base64", b"quoted-printable"):
            self._in_message = True  # an attached mail: its own headers come next
            self._start_block(b"text/plain")
            return
        if cte == b"base64" and not self._in_message and self.spool_dir is not None:
            key = str(len(self.spooled) + 1)
            try:
                self._spool = _Base64Spool(self.spool_dir / key / "data")
            except OSError as exc:
                raise IntakeError(f"cannot write a temporary file: {exc.strerror or exc}") from exc
            self.spooled[key] = Spooled(self._spool.path, 0)
            self._emit(f"{self.marker}: {key}\r\n".encode("ascii"))

    def _structure(self) -> tuple[bytes, bytes, bytes]:
        if not self._block:
            return self._default_ctype, b"", b""
        hdr = BytesHeaderParser(policy=policy.default).parsebytes(b"".join(self._block) + b"\r\n")
        if hdr.get("content-type") is None:
            ctype = self._default_ctype
        else:
            ctype = hdr.get_content_type().encode("ascii", "replace")
        cte = str(hdr.get("content-transfer-encoding", "")).strip().lower().encode("ascii", "replace")
        boundary = hdr.get_boundary()
        return ctype, cte, (boundary.encode("ascii", "surrogateescape") if boundary else b"")

    # --- output ---------------------------------------------------------------------
    def _end_spool(self) -> None:
        if self._spool is None:
            return
        spool, self._spool = self._spool, None
        try:
            done = spool.close()
        except OSError as exc:
            raise IntakeError(f"cannot write a temporary file: {exc.strerror or exc}") from exc
        for key, item in self.spooled.items():
            if item.path == done.path:
                self.spooled[key] = done

    def _emit(self, line: bytes) -> None:
        self._out.append(line)
        self._out_size += len(line)
        if self._out_size >= _FEED_CHUNK:
            self._flush_out()

    def _flush_out(self) -> None:
        if self._out:
            self._parser.feed(b"".join(self._out))
            self._out, self._out_size = [], 0

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def split_addresses(value: bytes) -> list[bytes]:
    """An address header's value split at its top-level commas, in one linear pass
    (commas inside quotes, comments and angle brackets do not split)."""
    out: list[bytes] = []
    start = 0
    quoted = escaped = False
    paren = angle = 0
    for i, byte in enumerate(value):
        if escaped:
            escaped = False
        elif byte == 0x5C:  # backslash
            escaped = quoted or paren > 0
        elif quoted:
            quoted = byte != 0x22
        elif byte == 0x22:
            quoted = True
        elif byte == 0x28:
            paren += 1
        elif byte == 0x29 and paren:
            paren -= 1
        elif paren:
            continue
        elif byte == 0x3C:
            angle += 1
        elif byte == 0x3E and angle:
            angle -= 1
        elif byte == 0x2C and not angle:
            _add_piece(out, value[start:i])
            start = i + 1
    _add_piece(out, value[start:])
    return out


def _add_piece(out: list[bytes], piece: bytes) -> None:
    if piece.strip():  # an empty piece between two commas is no address
        out.append(piece)

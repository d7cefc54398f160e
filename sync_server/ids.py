"""Server-made identifiers (UUIDv7) and the server's hybrid logical clock."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

# Exactly the client's format (app/core/hlc.py): a wider clock sorts wrongly as a string and
# makes every client's pull raise.
HLC_PATTERN = r"^[0-9]{13}\.[0-9]{6}$"
_HLC_RE = re.compile(r"[0-9]{13}\.[0-9]{6}")
_MAX_COUNTER = 999_999


def uuid7() -> str:
    """A RFC 9562 UUIDv7 string (48-bit ms timestamp, random tail)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 64) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def parse_hlc(text: str) -> tuple[int, int]:
    """``(ms, counter)`` of an encoded clock."""
    if not _HLC_RE.fullmatch(text):
        raise ValueError(f"not a hybrid logical clock value: {text!r}")
    ms_text, _, counter_text = text.partition(".")
    return int(ms_text), int(counter_text)


class ServerClock:
    """The server's HLC, used for server-authored events; never behind what it observed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._counter = 0

    def after(self, observed: str) -> str:
        """A clock value strictly greater than ``observed`` and the last one handed out."""
        o_ms, o_counter = parse_hlc(observed)
        with self._lock:
            wall = time.time_ns() // 1_000_000
            candidates = [(wall, 0), (o_ms, o_counter + 1), (self._ms, self._counter + 1)]
            ms, counter = max(candidates)
            if counter > _MAX_COUNTER:
                ms, counter = ms + 1, 0
            self._ms, self._counter = ms, counter
        return f"{ms:013d}.{counter:06d}"

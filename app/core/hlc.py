"""Hybrid logical clock: wall-clock milliseconds plus a counter, encoded as a sortable string.

Two events compare by ``(hlc, id)``; the string form sorts lexicographically in time order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_MS_DIGITS = 13
_COUNTER_DIGITS = 6
MAX_COUNTER = 10**_COUNTER_DIGITS - 1
# How far ahead of the local wall clock a remote clock may be and still move ours. The same
# bound as event_schema.MAX_CLOCK_AHEAD_MS (kept here so this module imports nothing).
MAX_AHEAD_MS = 24 * 3600 * 1000


@dataclass(frozen=True, order=True, slots=True)
class Timestamp:
    ms: int
    counter: int = 0

    def encode(self) -> str:
        return f"{self.ms:0{_MS_DIGITS}d}.{self.counter:0{_COUNTER_DIGITS}d}"

    @staticmethod
    def decode(text: str) -> Timestamp:
        ms_text, _, counter_text = str(text).partition(".")
        if (len(ms_text) != _MS_DIGITS or len(counter_text) != _COUNTER_DIGITS
                or not (ms_text + counter_text).isascii()
                or not (ms_text + counter_text).isdigit()):
            raise ValueError(f"not a hybrid logical clock value: {text!r}")
        return Timestamp(int(ms_text), int(counter_text))


def hlc_ms(text: str) -> int:
    """The wall-clock part of an encoded clock, in milliseconds since the epoch."""
    return int(text[:_MS_DIGITS])


class HybridClock:
    """Thread-safe HLC. ``now()`` for local events, ``observe()`` for remote ones."""

    def __init__(self, last: str | None = None, wall: Callable[[], int] | None = None) -> None:
        self._wall = wall or (lambda: time.time_ns() // 1_000_000)
        self._last = Timestamp.decode(last) if last else Timestamp(0, 0)
        self._lock = threading.Lock()

    @property
    def last(self) -> str:
        return self._last.encode()

    def now(self) -> str:
        with self._lock:
            wall = self._wall()
            if wall > self._last.ms:
                self._last = Timestamp(wall, 0)
            else:
                self._bump(self._last.ms)
            return self._last.encode()

    def wall_ms(self) -> int:
        """This device's wall clock, in ms since the epoch (the clock's own source)."""
        return self._wall()

    def observe(self, remote: str) -> bool:
        """Move past a remote clock; returns False (and stays put) for one that is not a
        clock or is more than MAX_AHEAD_MS ahead of our wall clock: a teammate's broken
        clock must not date every later edit of ours in the future."""
        try:
            other = Timestamp.decode(remote)
        except ValueError:
            return False
        with self._lock:
            if other.ms > self._wall() + MAX_AHEAD_MS:
                return False
            if other > self._last:
                self._last = other
            return True

    def _bump(self, ms: int) -> None:
        counter = self._last.counter + 1
        if counter > MAX_COUNTER:
            self._last = Timestamp(ms + 1, 0)
        else:
            self._last = Timestamp(ms, counter)

"""Per-user push quotas: bytes and events per sliding minute (HTTP 429 with Retry-After).

Counted in the memory of each server process: behind a load balancer with N API processes
a user may reach N times the figure (documented in docs/server-limits.md). A push larger
than a whole minute's quota on its own is let through when the user's minute is empty, so
a low setting slows a client down but never blocks one batch forever.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from sync_server.services.auth import Throttled

WINDOW_S = 60.0


def clock() -> float:
    """The quotas' clock (module level, so a test can move it)."""
    return time.monotonic()


class QuotaExceeded(Throttled):
    """A user pushed more than the per-minute quota allows (HTTP 429, Retry-After)."""

    def __init__(self, retry_after: int, what: str) -> None:
        Exception.__init__(self, f"push quota of {what} per minute used up; "
                                 f"retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(slots=True)
class _Charge:
    at: float
    size: int
    events: int


@dataclass
class PushQuota:
    bytes_per_minute: int
    events_per_minute: int
    window_s: float = WINDOW_S
    _log: dict[str, deque[_Charge]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, user_id: str, size: int, events: int, now: float | None = None) -> None:
        """Count a push against the user's minute, or raise QuotaExceeded (nothing counted)."""
        now = clock() if now is None else now
        with self._lock:
            log = self._log.setdefault(user_id, deque())
            while log and log[0].at <= now - self.window_s:
                log.popleft()
            used_size = sum(c.size for c in log)
            used_events = sum(c.events for c in log)
            over = self._over(used_size + size, used_events + events)
            if over is not None and log:
                raise QuotaExceeded(self._retry_after(log, size, events, now), over)
            log.append(_Charge(now, size, events))
            self._forget_idle(now)

    def _over(self, size: int, events: int) -> str | None:
        if size > self.bytes_per_minute:
            return f"{self.bytes_per_minute} bytes"
        if events > self.events_per_minute:
            return f"{self.events_per_minute} events"
        return None

    def _retry_after(self, log: deque[_Charge], size: int, events: int, now: float) -> int:
        """Seconds until enough of the minute has expired for this push to fit."""
        used_size = sum(c.size for c in log)
        used_events = sum(c.events for c in log)
        for i, charge in enumerate(log):
            used_size -= charge.size
            used_events -= charge.events
            fits = self._over(used_size + size, used_events + events) is None
            if fits or i == len(log) - 1:  # an empty minute always takes one push
                return max(1, math.ceil(charge.at + self.window_s - now))
        return max(1, math.ceil(self.window_s))

    def _forget_idle(self, now: float) -> None:
        if len(self._log) > 1024:  # keep the table to active users
            for user in [u for u, log in self._log.items()
                         if not log or log[-1].at <= now - self.window_s]:
                del self._log[user]

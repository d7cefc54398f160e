"""When a job that failed for a passing reason is tried again.

Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and
Jitter"): the n-th retry waits a uniform random time in [0, min(cap, base * 2**n)], never
less than what the remote system asked for (Retry-After). A small function of the attempt
number rather than tenacity's wait objects: our retries are rows in the database taken up by
any worker process, not a loop around one call, and tenacity's waits want a RetryCallState.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

Uniform = Callable[[float, float], float]


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 2.0
    cap_s: float = 600.0
    give_up_s: float = 24 * 3600.0

    def delay_s(self, attempts: int, retry_after_s: float | None = None, *,
                uniform: Uniform = random.uniform) -> float:
        """The wait before the next try after ``attempts`` tries (1 = the first failed)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(max(attempts - 1, 0), 60))
        wait = uniform(0.0, ceiling)
        if retry_after_s is not None and retry_after_s > 0:
            wait = max(wait, retry_after_s)
        return wait

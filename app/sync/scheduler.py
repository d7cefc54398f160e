"""When to sync: a debounced "sync now", a timer fallback, and backoff while offline.

A thin wrapper over APScheduler 3's ``AsyncIOScheduler`` (under qasync in the app, a plain
asyncio loop in tests). Jobs only *start* a sync through ``run_sync``; the sync itself runs
wherever the caller puts it (the app: the database worker, through the Qt bridge).

``run_sync()`` either returns an awaitable whose result is the outcome, or ``None`` and the
caller reports the outcome later with :meth:`SyncScheduler.finished`. An outcome is one of
``"ok"``, ``"offline"``, ``"error"``, ``"signed-out"`` (an exception counts as ``"error"``).
Qt-free.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

ONLINE, OFFLINE, SYNCING, ERROR, SIGNED_OUT = "online", "offline", "syncing", "error", "signed-out"
OUTCOMES = {"ok": ONLINE, "offline": OFFLINE, "error": ERROR, "signed-out": SIGNED_OUT}

RunSync = Callable[[], Awaitable[Any] | None]


class SyncScheduler:
    def __init__(self, run_sync: RunSync, interval: float = 30.0, *, debounce: float = 0.3,
                 backoff_base: float = 2.0, backoff_cap: float = 300.0,
                 loop: asyncio.AbstractEventLoop | None = None,
                 rng: Callable[[], float] = random.random,
                 on_state: Callable[[str], None] | None = None) -> None:
        self.run_sync = run_sync
        self.interval = interval
        self.debounce = debounce
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.rng = rng
        self.on_state = on_state
        self.state = SIGNED_OUT
        self.last_sync_ms: int | None = None
        self.last_error: str | None = None
        self.failures = 0  # consecutive offline/error outcomes (the backoff exponent)
        self.runs = 0  # syncs started (tests, diagnostics)
        self.next_retry: float | None = None  # seconds of the pending backoff, if any
        self._running = False
        self._again = False  # a poke arrived while a sync was running
        self._signed_in = False
        kwargs: dict[str, Any] = {"job_defaults": {"coalesce": True, "max_instances": 1,
                                                   "misfire_grace_time": None}}
        if loop is not None:
            kwargs["event_loop"] = loop
        self._scheduler = AsyncIOScheduler(**kwargs)

    # --- control ------------------------------------------------------------------------
    def start(self, signed_in: bool = True) -> None:
        self._scheduler.start()
        self.set_signed_in(signed_in)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def set_signed_in(self, signed_in: bool) -> None:
        """Signed out: no timer, no syncs; signed in: sync now, then every ``interval``."""
        self._signed_in = signed_in
        if not signed_in:
            for job_id in ("timer", "poke", "retry"):
                self._remove(job_id)
            self.failures = 0
            self.next_retry = None
            self._set_state(SIGNED_OUT)
            return
        if self.state == SIGNED_OUT:
            self._set_state(ONLINE)
        self._start_timer()
        self.poke(0.0)

    def poke(self, delay: float | None = None) -> None:
        """Sync soon (after a local write or a server hint); pokes within ``debounce`` merge."""
        if not self._signed_in:
            return
        if self._running:
            self._again = True
            return
        when = self.debounce if delay is None else delay
        job = self._scheduler.get_job("poke")
        if job is not None and delay is None:
            return  # already due within the debounce window: keep that one
        self._add_date("poke", when)

    def finished(self, outcome: str, error: str | None = None, *,
                 retry_after: float | None = None) -> None:
        """Report the outcome of a sync started by a ``run_sync`` that returned None.

        ``retry_after``: the server asked us to wait that long (429 Retry-After); the next
        try is no sooner, whatever the backoff says."""
        self._running = False
        if outcome == "ok":
            self.failures = 0
            self.next_retry = None
            self.last_error = None
            self.last_sync_ms = int(time.time() * 1000)
            self._remove("retry")
            self._start_timer()
        elif outcome == "signed-out":
            self.last_error = error
            self.set_signed_in(False)
            return
        else:
            self.last_error = error
            self._back_off(retry_after)
        self._set_state(OUTCOMES.get(outcome, ERROR))
        if self._again and outcome == "ok":
            self._again = False
            self.poke()
        self._again = False

    # --- jobs ---------------------------------------------------------------------------
    async def _fire(self) -> None:
        if not self._signed_in:
            return
        if self._running:
            self._again = True
            return
        self._running = True
        self.runs += 1
        self._set_state(SYNCING)
        try:
            result = self.run_sync()
        except Exception as exc:  # noqa: BLE001
            self.finished("error", str(exc), retry_after=getattr(exc, "retry_after", None))
            return
        if result is None:
            return  # the caller reports through finished()
        try:
            outcome = await result if inspect.isawaitable(result) else result
        except Exception as exc:  # noqa: BLE001
            self.finished("error", str(exc), retry_after=getattr(exc, "retry_after", None))
            return
        self.finished(str(outcome or "ok"))

    def _back_off(self, at_least: float | None = None) -> None:
        from app.sync.live import backoff_delay  # imports httpx: only once a sync failed

        delay = backoff_delay(self.failures, base=self.backoff_base, cap=self.backoff_cap,
                              rng=self.rng)
        if at_least is not None:
            delay = max(delay, at_least)
        self.failures += 1
        self.next_retry = delay
        self._remove("timer")  # the retry replaces the timer until a sync works again
        self._remove("poke")
        self._add_date("retry", delay)

    def every(self, job_id: str, seconds: float, fn: Callable[[], Any]) -> None:
        """Another periodic job on this scheduler (e.g. the minute's SLA check). Like the
        sync jobs it must only *enqueue* work; it runs whether signed in or not, on the
        event loop's thread (a plain function is wrapped in a coroutine: APScheduler would
        otherwise run it on a pool thread)."""
        job: Callable[[], Any] = fn
        if not inspect.iscoroutinefunction(fn):
            async def job() -> None:
                fn()

        self._scheduler.add_job(job, "interval", seconds=seconds, id=job_id,
                                replace_existing=True)

    def _start_timer(self) -> None:
        if self._scheduler.get_job("timer") is None:
            self._scheduler.add_job(self._fire, "interval", seconds=self.interval, id="timer",
                                    replace_existing=True)

    def _add_date(self, job_id: str, delay: float) -> None:
        self._scheduler.add_job(self._fire, "date", id=job_id, replace_existing=True,
                                run_date=datetime.now().astimezone() + timedelta(seconds=delay))

    def _remove(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def job_ids(self) -> set[str]:
        return {job.id for job in self._scheduler.get_jobs()}

"""The workers: asyncio tasks that claim jobs, ask the breaker, call the handler and record
the outcome. Database work runs in threads (the engine is synchronous), so in-process
workers never block the HTTP server's event loop.

One attempt:
1. claim (lease); 2. one transaction: give up if past the job's time, else ask the breaker
   and, when a call may be made, mark the call started (kill-safety: if this process dies
   from here on, the next attempt runs with ``unknown_outcome``); 3. the handler, bounded by
   the lease; 4. one transaction: the job row, the breaker and the outcome event.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy import Engine

from sync_server.db import write_tx
from sync_server.ids import ServerClock, uuid7
from sync_server.jobs import breaker, queue
from sync_server.jobs.api import Done, Failed, Job, Permanent, RateLimited, Transient, handler_for
from sync_server.jobs.breaker import BreakerPolicy
from sync_server.jobs.context import DbJobContext
from sync_server.jobs.retry import RetryPolicy, Uniform
from sync_server.private import sqlite_file
from sync_server.settings import Settings

log = logging.getLogger(__name__)
Clock = Callable[[], int]
OnEvent = Callable[[int, frozenset[str]], None]
T = TypeVar("T")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 4
    lease_ms: int = 120_000
    poll_s: float = 0.5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        lease_ms = int(settings.job_lease_s * 1000)
        return cls(
            concurrency=settings.job_workers, lease_ms=lease_ms, poll_s=settings.job_poll_s,
            retry=RetryPolicy(base_s=settings.job_backoff_base_s,
                              cap_s=settings.job_backoff_cap_s,
                              give_up_s=settings.job_give_up_h * 3600),
            breaker=BreakerPolicy(threshold=settings.breaker_threshold,
                                  open_ms=int(settings.breaker_open_s * 1000),
                                  probes=settings.breaker_half_open_probes,
                                  probe_lease_ms=lease_ms))

    @property
    def handler_timeout_s(self) -> float:
        """A call may take most of the lease: past it another worker may take the job."""
        return self.lease_ms / 1000 * 0.8


def _reason(system: str, text: str) -> str:
    return f"{system}: {text}" if not text.lower().startswith(system.lower()) else text


class Worker:
    """Runs jobs; ``clock`` and ``uniform`` are injectable (tests run without sleeping)."""

    def __init__(self, engine: Engine, config: WorkerConfig | None = None, *,
                 clock: Clock = wall_ms, owner: str | None = None,
                 server_clock: ServerClock | None = None, on_event: OnEvent | None = None,
                 uniform: Uniform = random.uniform, case_url: str | None = None) -> None:
        self.engine = engine
        self.config = config or WorkerConfig()
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid7()[-8:]}"
        self.server_clock = server_clock or ServerClock()
        self.on_event = on_event
        self.uniform = uniform
        self.case_url = case_url
        self.calls = 0  # handler calls made (figures, tests)
        # SQLite has one writer: this worker's transactions run one at a time on one thread
        # (contending threads would wait in SQLite's busy handler, which sleeps up to 100 ms).
        self._executor = (ThreadPoolExecutor(1, thread_name_prefix="jobs-db")
                          if engine.dialect.name == "sqlite" else None)

    async def _db(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking database work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(function, *args))

    # --- one pass --------------------------------------------------------------------------
    async def run_once(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` (default: concurrency) due jobs and run them to the end of
        this attempt, concurrently. Returns how many were claimed."""
        now = self.clock()
        claimed = await self._db(queue.claim, self.engine, self.owner, now,
                                          self.config.lease_ms, limit or self.config.concurrency)
        if claimed:
            await asyncio.gather(*(self._attempt(c) for c in claimed))
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set: ``concurrency`` loops each taking one job at a time."""
        async def loop() -> None:
            while not stop.is_set():
                try:
                    found = await self.run_once(limit=1)
                except Exception:  # a database hiccup must not end the worker
                    log.exception("job worker pass failed")
                    found = 0
                if not found:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.config.poll_s)

        await asyncio.gather(*(loop() for _ in range(self.config.concurrency)))

    # --- one attempt -----------------------------------------------------------------------
    def _admit(self, claimed: queue.Claimed, now: int) -> tuple[str, Any]:
        job = claimed.job
        if now >= claimed.give_up_at_ms:
            last = claimed.last_error or "no answer"
            return "give_up", f"gave up after {job.attempts} attempts: {last}"
        with write_tx(self.engine) as conn:
            admission = breaker.admit(conn, job.system, job.site, self.config.breaker, now)
            if not admission.call:
                if admission.state == "half_open":  # probes are out: look again soon
                    queue.release_unstarted(conn, job, self.owner, now, admission.wait_until_ms)
                    return "released", None
                return "open", admission.wait_until_ms
            if not queue.mark_started(conn, job, self.owner, now):
                if admission.probe:
                    breaker.release_probe(conn, job.system, job.site, now)
                return "lost", None
        return "call", admission.probe

    async def _attempt(self, claimed: queue.Claimed) -> None:
        job = claimed.job
        now = self.clock()
        verdict, detail = await self._db(self._admit, claimed, now)
        if verdict in ("released", "lost"):
            return
        if verdict == "give_up":
            await self._finish(job, queue.failed_outcome(job, str(detail), None))
            return
        if verdict == "open":
            until = min(int(detail), claimed.give_up_at_ms)
            await self._finish(job, queue.waiting_outcome(
                job, f"{job.system} is not answering (circuit breaker open); next try "
                     f"after it reopens", until))
            return
        probe = bool(detail)
        outcome, remote = await self._call(job, claimed)
        await self._finish(job, outcome, remote=remote, probe=probe)

    async def _call(self, job: Job, claimed: queue.Claimed) -> tuple[queue.Outcome, str]:
        """The handler's outcome and what it says of the remote: ok | failed | unknown."""
        handler = handler_for(job.system, job.action)
        if handler is None:
            return queue.failed_outcome(job, f"{job.system} {job.action} is not configured on "
                                             "this server", None), "unknown"
        attempt = replace(job, attempts=job.attempts + 1)
        ctx = DbJobContext(self.engine, attempt, self.clock(), self.case_url)
        try:
            await self._db(ctx.load)
            self.calls += 1
            result = await asyncio.wait_for(handler(attempt, ctx),
                                            self.config.handler_timeout_s)
        except Permanent as exc:
            return queue.failed_outcome(job, _reason(job.system, exc.reason),
                                        exc.remote_status), "ok"
        except Transient as exc:
            return self._retry(job, claimed, exc.reason, exc.retry_after_s,
                               exc.unknown_outcome, rate_limited=isinstance(exc, RateLimited))
        except TimeoutError:
            return self._retry(job, claimed, f"no answer within "
                               f"{self.config.handler_timeout_s:g} s", None, True)
        except Exception as exc:  # a bug in a handler: retried, never the remote's fault
            log.exception("handler %s/%s raised", job.system, job.action)
            outcome, _ = self._retry(job, claimed, f"internal error: {type(exc).__name__}",
                                     None, True)
            return outcome, "unknown"
        if isinstance(result, Done):
            return queue.done_outcome(job, result.message, result.record,
                                      result.case_updates), "ok"
        if isinstance(result, Failed):
            return queue.failed_outcome(job, _reason(job.system, result.reason),
                                        result.remote_status), "ok"
        return queue.failed_outcome(job, "the handler returned no outcome", None), "unknown"

    def _retry(self, job: Job, claimed: queue.Claimed, reason: str,
               retry_after_s: float | None, unknown: bool, *,
               rate_limited: bool = False) -> tuple[queue.Outcome, str]:
        now = self.clock()
        delay = self.config.retry.delay_s(job.attempts + 1, retry_after_s, uniform=self.uniform)
        next_try = now + max(1, int(delay * 1000))
        text = _reason(job.system, reason)
        if next_try >= claimed.give_up_at_ms:
            return replace(queue.failed_outcome(
                job, f"gave up after {job.attempts + 1} attempts: {text}", None),
                unknown_outcome=unknown), "failed"
        said = f"{text} (rate limited)" if rate_limited and "rate" not in text.lower() else text
        asked = int(retry_after_s * 1000) if retry_after_s and retry_after_s > 0 else None
        return queue.waiting_outcome(job, said, next_try, unknown_outcome=unknown,
                                     retry_after_ms=asked), "failed"

    async def _finish(self, job: Job, outcome: queue.Outcome, *, remote: str = "",
                      probe: bool = False) -> None:
        await self._db(self._write, job, outcome, remote, probe)

    def _write(self, job: Job, outcome: queue.Outcome, remote: str, probe: bool) -> None:
        now = self.clock()
        # The breaker first, then the sequence lock (in finish): every transaction that
        # takes both takes them in this order, so they cannot deadlock.
        with write_tx(self.engine) as conn:
            if remote == "ok":
                breaker.succeeded(conn, job.system, job.site, now)
            elif remote == "failed":
                state, reopen = breaker.failed(conn, job.system, job.site, self.config.breaker,
                                               now, outcome.retry_after_ms)
                if (state == "open" and outcome.state == "waiting" and reopen is not None
                        and outcome.not_before_ms is not None and reopen > outcome.not_before_ms):
                    # the later of the reopen time and the remote's Retry-After
                    outcome = replace(outcome, not_before_ms=reopen,
                                      payload={**outcome.payload, "next_try_ms": reopen})
            elif probe:
                breaker.release_probe(conn, job.system, job.site, now)
            seq = queue.finish(conn, self.server_clock, job, self.owner, outcome, now)
        if seq is not None and self.on_event is not None:
            self.on_event(seq, frozenset({job.team_id}))


# --- SQLite: one worker process per database file --------------------------------------
def sqlite_worker_lock(db_url: str) -> IO[str] | None:
    """An exclusive lock file beside a SQLite database, held while this process runs
    workers, or None if another process holds it (SQLite has no SKIP LOCKED: one worker
    process per file). Always granted for PostgreSQL (the returned handle is a dummy)."""
    path = sqlite_file(db_url) if db_url.startswith("sqlite") else None
    if path is None:
        return open(os.devnull)  # noqa: SIM115 - held for the process's life
    lock_path = Path(str(path) + ".worker-lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle

"""The sync scheduler headless, on a plain asyncio loop: debounce, timer, backoff, states."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.sync.scheduler import SyncScheduler


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), timeout)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_pokes_are_debounced_into_one_sync() -> None:
    async def main() -> None:
        calls: list[int] = []

        async def sync() -> str:
            calls.append(1)
            return "ok"

        s = SyncScheduler(sync, interval=3600, debounce=0.05)
        s.start(signed_in=False)
        assert s.state == "signed-out"
        s.poke()
        await asyncio.sleep(0.1)
        assert calls == []  # signed out: nothing runs
        s.set_signed_in(True)  # syncs at once
        await until(lambda: len(calls) == 1 and s.state == "online")
        assert s.last_sync_ms is not None
        for _ in range(10):
            s.poke()
        await until(lambda: len(calls) == 2)
        await asyncio.sleep(0.15)
        assert len(calls) == 2
        assert "timer" in s.job_ids()
        s.shutdown()

    run(main())


def test_offline_backs_off_exponentially_then_recovers() -> None:
    async def main() -> None:
        outcomes = ["offline", "offline", "offline", "ok"]
        states: list[str] = []
        delays: list[float] = []

        async def sync() -> str:
            return outcomes.pop(0)

        s = SyncScheduler(sync, interval=3600, debounce=0.01, backoff_base=0.02,
                          backoff_cap=0.05, rng=lambda: 1.0, on_state=states.append)

        def record(state: str) -> None:
            states.append(state)
            if state == "offline":
                delays.append(s.next_retry or 0)

        s.on_state = record
        s.start()
        await until(lambda: not outcomes and s.state == "online")
        assert delays == [0.02, 0.04, 0.05]  # doubling, capped
        assert "offline" in states and states[-1] == "online"
        assert s.failures == 0 and s.next_retry is None
        assert "timer" in s.job_ids() and "retry" not in s.job_ids()
        s.shutdown()

    run(main())


def test_timer_fallback_and_errors_and_sign_out() -> None:
    async def main() -> None:
        calls: list[int] = []
        results: list[Any] = ["ok"]

        async def sync() -> str:
            calls.append(1)
            r = results.pop(0) if results else "ok"
            if isinstance(r, Exception):
                raise r
            return str(r)

        s = SyncScheduler(sync, interval=0.05, debounce=0.01, backoff_base=0.02)
        s.start()
        await until(lambda: len(calls) >= 3)  # the timer keeps syncing with no pokes
        results.append(RuntimeError("boom"))
        await until(lambda: s.state == "error")
        assert s.last_error == "boom" and "retry" in s.job_ids()
        await until(lambda: s.state == "online")
        results.append("signed-out")
        await until(lambda: s.state == "signed-out")
        assert s.job_ids() == set()
        s.shutdown()

    run(main())


def test_run_sync_may_enqueue_and_report_later() -> None:
    async def main() -> None:
        started: list[int] = []

        def enqueue() -> None:
            started.append(1)  # e.g. a job for the database worker

        s = SyncScheduler(enqueue, interval=3600, debounce=0.01)
        s.start()
        await until(lambda: s.state == "syncing")
        s.poke()  # while running: remembered, not started twice
        await asyncio.sleep(0.05)
        assert started == [1]
        s.finished("ok")
        await until(lambda: len(started) == 2)  # the remembered poke
        s.finished("offline", "no route")
        assert s.state == "offline" and s.last_error == "no route"
        s.shutdown()

    run(main())


def test_a_rate_limited_sync_waits_at_least_the_servers_retry_after() -> None:
    """A 429's Retry-After is honoured: the backoff alone would retry after 0.02 s."""
    from app.sync.api import RateLimited

    async def main() -> None:
        calls: list[float] = []

        async def sync() -> str:
            calls.append(asyncio.get_running_loop().time())
            if len(calls) == 1:
                raise RateLimited("429: too many events", 0.3)
            return "ok"

        s = SyncScheduler(sync, interval=3600, debounce=0.01, backoff_base=0.02,
                          backoff_cap=0.05, rng=lambda: 1.0)
        s.start()
        await until(lambda: len(calls) == 1)
        await until(lambda: s.next_retry is not None)
        assert s.next_retry == 0.3
        await until(lambda: len(calls) == 2 and s.state == "online")
        assert calls[1] - calls[0] >= 0.29
        s.shutdown()

    run(main())

"""The circuit breaker, on a fake clock and without sleeps (SQLite and PostgreSQL): opens at
exactly the threshold, makes no call while open, half-opens after exactly the open time,
lets only the configured probes through (also with two workers), closes on success."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.core import events as ev
from sync_server.jobs import breaker
from sync_server.jobs.api import Done, Job, JobContext, Permanent, RateLimited, Transient
from sync_server.jobs.breaker import BreakerPolicy
from sync_server.jobs.retry import RetryPolicy
from sync_server.jobs.worker import Worker, WorkerConfig
from sync_server.tables import breakers, jobs

from .helpers import World, bearer, login, pull_all, push
from .jobs_support import T0, FakeClock, handlers, new_case, request

ALICE = "alice@example.com"


@pytest.fixture
def alice(client: TestClient) -> dict[str, str]:
    return bearer(login(client, ALICE))


def _requests(client: TestClient, headers: dict[str, str], world: World, n: int) -> list[str]:
    case_id = new_case(client, headers, ALICE, world.alpha)
    asks = [request(ALICE, world.alpha, case_id) for _ in range(n)]
    assert {r["status"] for r in push(client, headers, asks)} == {"stored"}
    return [a["payload"]["request_id"] for a in asks]


def _worker(engine: Engine, clock: FakeClock, *, threshold: int = 3, probes: int = 1,
            open_ms: int = 60_000) -> Worker:
    return Worker(engine, WorkerConfig(
        concurrency=8, lease_ms=600_000, retry=RetryPolicy(base_s=1.0, cap_s=10.0),
        breaker=BreakerPolicy(threshold=threshold, open_ms=open_ms, probes=probes)),
        clock=clock, uniform=lambda low, high: high)


def _breaker(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(breakers)).mappings().one())


def _waiting(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return [e for e in pull_all(client, headers) if e["type"] == ev.INTEGRATION_WAITING]


def _states(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        found: dict[str, int] = {}
        for state in conn.execute(select(jobs.c.state)).scalars():
            found[state] = found.get(state, 0) + 1
        return found


def test_opens_at_exactly_the_threshold_and_makes_no_call_while_open(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    _requests(client, alice, world, 5)
    calls: list[str] = []

    async def create(job: Job, ctx: JobContext) -> Done:
        calls.append(job.request_id)
        raise Transient("503 Service Unavailable")

    clock = FakeClock()
    worker = _worker(engine, clock, threshold=3)
    with handlers(create=create):
        for expected in ("closed", "closed", "open"):
            assert asyncio.run(worker.run_once(limit=1)) == 1
            assert _breaker(engine)["state"] == expected
        assert _breaker(engine)["reopen_ms"] == T0 + 60_000
        assert asyncio.run(worker.run_once()) == 2  # the other two: claimed, not called
        assert len(calls) == 3
        waiting = _waiting(client, alice)
        # two retry after their backoff (1 s); the one that opened it, and the two never
        # called, at the reopen time
        assert [w["payload"]["next_try_ms"] for w in waiting] == [
            T0 + 1_000, T0 + 1_000, T0 + 60_000, T0 + 60_000, T0 + 60_000]
        assert waiting[3]["payload"]["reason"].startswith("jira is not answering")
        clock.advance(1_000)  # still open: the two are rescheduled without a call
        assert asyncio.run(worker.run_once()) == 2
        assert len(calls) == 3
        events = _waiting(client, alice)
        assert [w["payload"]["next_try_ms"] for w in events[5:]] == [T0 + 60_000] * 2
        # polling on changes nothing and records nothing: no event storm
        for step in (1, 1_001, 10_000, 59_999):
            clock.now = T0 + step
            assert asyncio.run(worker.run_once()) == 0
        assert len(_waiting(client, alice)) == 7 and len(calls) == 3
        with engine.begin() as conn:  # a millisecond before the open time: still open
            assert not breaker.admit(conn, "jira", "default", worker.config.breaker,
                                     T0 + 59_999).call


def test_half_open_after_exactly_the_open_time_closes_on_success(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    _requests(client, alice, world, 4)
    answers = itertools.chain([Transient("timeout"), Transient("timeout")],
                              itertools.repeat(None))
    calls: list[int] = []

    async def create(job: Job, ctx: JobContext) -> Done:
        calls.append(ctx.now_ms)
        answer = next(answers)
        if answer is not None:
            raise answer
        return Done("created")

    clock = FakeClock()
    worker = _worker(engine, clock, threshold=2, open_ms=30_000)
    with handlers(create=create):
        asyncio.run(worker.run_once(limit=2))
        assert _breaker(engine)["state"] == "open"
        asyncio.run(worker.run_once())  # the other two wait for the reopen time
        clock.now = T0 + 1_000  # so does the first failure, due again after its backoff
        assert asyncio.run(worker.run_once()) == 1
        clock.now = T0 + 29_999
        assert asyncio.run(worker.run_once()) == 0
        clock.now = T0 + 30_000
        assert asyncio.run(worker.run_once(limit=1)) == 1  # the one probe
        assert calls[-1] == T0 + 30_000
        row = _breaker(engine)
        assert (row["state"], row["failures"], row["probes_in_flight"]) == ("closed", 0, 0)
        asyncio.run(worker.run_once())  # closed: the other three are called at once
    assert calls == [T0, T0] + [T0 + 30_000] * 4
    assert _states(engine) == {"done": 4}


def test_a_failed_probe_opens_it_again_for_the_open_time(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    _requests(client, alice, world, 2)

    async def create(job: Job, ctx: JobContext) -> Done:
        raise Transient("connection refused")

    clock = FakeClock()
    worker = _worker(engine, clock, threshold=1, open_ms=10_000)
    with handlers(create=create):
        asyncio.run(worker.run_once(limit=1))
        clock.now = T0 + 10_000
        asyncio.run(worker.run_once(limit=1))  # the probe fails
    row = _breaker(engine)
    assert (row["state"], row["reopen_ms"], row["probes_in_flight"]) == (
        "open", T0 + 20_000, 0)


@pytest.mark.parametrize("probes", [1, 2])
def test_only_the_configured_probes_run_in_half_open_also_with_two_workers(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str],
        probes: int) -> None:
    _requests(client, alice, world, 6)
    clock = FakeClock()
    in_flight = 0
    most = 0
    calls = 0

    async def create(job: Job, ctx: JobContext) -> Done:
        nonlocal in_flight, most, calls
        calls += 1
        in_flight += 1
        most = max(most, in_flight)
        try:
            if calls == 1:
                raise Transient("down")  # opens the breaker (threshold 1)
            await release.wait()
            return Done("created")
        finally:
            in_flight -= 1

    async def scenario() -> None:
        first, second = (_worker(engine, clock, threshold=1, probes=probes) for _ in range(2))
        await first.run_once(limit=1)
        clock.now = T0 + 60_000  # half-open from now on

        async def let_go() -> None:
            # every job is either probing (running) or handed back (waiting) before release
            while True:
                states = await asyncio.to_thread(_states, engine)
                if states.get("running", 0) == probes and states.get("queued", 0) == 0 \
                        and in_flight == probes:
                    break
                await asyncio.sleep(0.01)
            release.set()

        await asyncio.gather(first.run_once(limit=6), second.run_once(limit=6), let_go())

    release = asyncio.Event()
    with handlers(create=create):
        asyncio.run(scenario())
    assert most == probes
    assert calls == 1 + probes
    assert _breaker(engine)["state"] == "closed"
    assert _states(engine) == {"done": probes, "waiting": 6 - probes}
    # the ones handed back during half-open got no waiting event of their own
    assert len(_waiting(client, alice)) == 1


def test_retry_after_longer_than_the_open_time_decides_the_next_try(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    _requests(client, alice, world, 2)

    async def create(job: Job, ctx: JobContext) -> Done:
        raise RateLimited("Rate limit exceeded", retry_after_s=300)

    clock = FakeClock()
    worker = _worker(engine, clock, threshold=1, open_ms=60_000)
    with handlers(create=create):
        asyncio.run(worker.run_once())
    assert _breaker(engine)["reopen_ms"] == T0 + 300_000
    assert [w["payload"]["next_try_ms"] for w in _waiting(client, alice)] == [T0 + 300_000] * 2


def test_a_permanent_refusal_is_no_breaker_failure(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    _requests(client, alice, world, 3)

    async def create(job: Job, ctx: JobContext) -> Done:
        raise Permanent("Field 'project' is required", 400)

    worker = _worker(engine, FakeClock(), threshold=2)
    with handlers(create=create):
        asyncio.run(worker.run_once())
    row = _breaker(engine)
    assert (row["state"], row["failures"]) == ("closed", 0)
    assert _states(engine) == {"failed": 3}

"""The job queue: enqueued in the push transaction, claimed with a lease, outcomes written
as server-authored events with the job row (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from app.core import events as ev
from app.core.event_schema import check_pulled, validate_wire
from sync_server.jobs import queue
from sync_server.jobs.api import Done, Failed, Job, JobContext, Permanent, Transient
from sync_server.jobs.retry import RetryPolicy
from sync_server.jobs.worker import Worker, WorkerConfig
from sync_server.tables import jobs

from .helpers import World, bearer, event, login, pull_all, push
from .jobs_support import T0, FakeClock, handlers, job_rows, new_case, request

ALICE = "alice@example.com"


@pytest.fixture
def alice(client: TestClient) -> dict[str, str]:
    return bearer(login(client, ALICE))


def _outcomes(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return [e for e in pull_all(client, headers) if e["type"] in (
        ev.INTEGRATION_DONE, ev.INTEGRATION_FAILED, ev.INTEGRATION_WAITING)]


def _worker(engine: Engine, clock: FakeClock, **config: Any) -> Worker:
    return Worker(engine, WorkerConfig(concurrency=4, lease_ms=60_000, **config), clock=clock,
                  uniform=lambda low, high: high)  # jitter pinned to its ceiling


def test_a_stored_request_enqueues_one_job_in_its_cases_team(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    case_id = new_case(client, alice, ALICE, world.alpha)
    asked = request(ALICE, world.alpha, case_id, params={"project": "ENG"})
    assert push(client, alice, [asked])[0]["status"] == "stored"
    rows = job_rows(engine)
    assert len(rows) == 1
    job = rows[0]
    assert (job["request_id"], job["case_id"], job["team_id"], job["system"], job["action"],
            job["state"], job["attempts"]) == (
        asked["payload"]["request_id"], case_id, world.alpha, "jira", "create", "queued", 0)
    assert job["give_up_at_ms"] - job["created_ms"] == 24 * 3600 * 1000
    # a re-send is a duplicate; another event with the same request_id enqueues nothing
    assert push(client, alice, [asked])[0]["status"] == "duplicate"
    again = request(ALICE, world.alpha, case_id, request_id=asked["payload"]["request_id"])
    twice = request(ALICE, world.alpha, case_id)
    twice["payload"]["request_id"] = asked["payload"]["request_id"]
    assert [r["status"] for r in push(client, alice, [again, twice])] == ["stored", "stored"]
    assert len(job_rows(engine)) == 1


def test_a_refused_request_enqueues_nothing(client: TestClient, engine: Engine, world: World,
                                            alice: dict[str, str]) -> None:
    case_id = new_case(client, alice, ALICE, world.alpha)
    carol = bearer(login(client, "carol@example.com"))  # Beta only
    foreign = request("carol@example.com", world.beta, case_id)
    bad = request(ALICE, world.alpha, case_id, action="delete")
    no_case = request(ALICE, world.alpha, case_id)
    no_case["case_id"] = None
    assert push(client, carol, [foreign])[0]["status"] == "rejected"
    results = push(client, alice, [bad, no_case])
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert "action" in results[0]["reason"] and "case_id" in results[1]["reason"]
    assert job_rows(engine) == []


def test_a_laptop_cannot_push_an_outcome(client: TestClient, world: World,
                                         alice: dict[str, str]) -> None:
    case_id = new_case(client, alice, ALICE, world.alpha)
    forged = event(ALICE, world.alpha, type_=ev.INTEGRATION_DONE, case_id=case_id, payload={
        "request_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "system": "jira",
        "action": "create", "message": "made up", "record": None})
    result = push(client, alice, [forged])[0]
    assert result["status"] == "rejected" and "server only" in result["reason"]


def test_done_failed_and_waiting_flow_back_as_server_events(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    case_id = new_case(client, alice, ALICE, world.alpha)
    seen: list[Job] = []

    async def create(job: Job, ctx: JobContext) -> Done:
        seen.append(job)
        assert ctx.case().subject == "printer on fire"
        return Done("created ENG-1", {"remote_id": "10001", "remote_key": "ENG-1",
                                      "kind": "issue", "url": "https://j/ENG-1", "linked": True,
                                      "snapshot": {"status_category": "todo"},
                                      "fetched_ms": ctx.now_ms})

    async def link(job: Job, ctx: JobContext) -> Failed:
        raise Permanent("Issue does not exist or you do not have permission to see it.", 404)

    async def comment(job: Job, ctx: JobContext) -> Failed:
        raise Transient("502 Bad Gateway")

    clock = FakeClock()
    asks = [request(ALICE, world.alpha, case_id, action=a, params=p) for a, p in [
        ("create", {}), ("link", {"issue_key": "ENG-404"}),
        ("comment", {"issue": "ENG-1", "body": "hi"})]]
    push(client, alice, asks)
    with handlers(create=create, link=link, comment=comment):
        worker = _worker(engine, clock, retry=RetryPolicy(base_s=2.0))
        assert asyncio.run(worker.run_once()) == 3
    assert seen[0].attempts == 1 and not seen[0].unknown_outcome
    outcomes = {e["payload"]["action"]: e for e in _outcomes(client, alice)}
    for wire in outcomes.values():
        check_pulled(validate_wire(wire, now_ms=T0))  # what a laptop accepts
        assert (wire["actor"], wire["device_id"], wire["case_id"]) == ("system", "server",
                                                                       case_id)
    assert outcomes["create"]["type"] == ev.INTEGRATION_DONE
    assert outcomes["create"]["payload"]["record"]["remote_key"] == "ENG-1"
    assert outcomes["link"]["type"] == ev.INTEGRATION_FAILED
    assert outcomes["link"]["payload"]["reason"] == (
        "jira: Issue does not exist or you do not have permission to see it.")
    assert outcomes["link"]["payload"]["remote_status"] == 404
    assert outcomes["comment"]["type"] == ev.INTEGRATION_WAITING
    assert outcomes["comment"]["payload"]["next_try_ms"] == T0 + 2_000  # base * 2**0
    states = {r["action"]: r["state"] for r in job_rows(engine)}
    assert states == {"create": "done", "link": "failed", "comment": "waiting"}
    # the outcome's clock follows the request's: every laptop folds it after the request
    hlcs = {e["id"]: e["hlc"] for e in pull_all(client, alice)}
    assert all(outcomes[a]["hlc"] > hlcs[k["id"]] for a, k in zip(
        ("create", "link", "comment"), asks, strict=True))


def test_a_retry_waits_with_backoff_and_gives_up_after_its_time(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    case_id = new_case(client, alice, ALICE, world.alpha)
    calls: list[int] = []

    async def create(job: Job, ctx: JobContext) -> Done:
        calls.append(ctx.now_ms)
        raise Transient("connection reset")

    push(client, alice, [request(ALICE, world.alpha, case_id)])
    with engine.begin() as conn:  # as if enqueued at T0 with a 10 s give-up time
        conn.execute(update(jobs).values(not_before_ms=T0, created_ms=T0,
                                         give_up_at_ms=T0 + 10_000))
    clock = FakeClock()
    with handlers(create=create):
        worker = _worker(engine, clock, retry=RetryPolicy(base_s=1.0, cap_s=100.0))
        asyncio.run(worker.run_once())  # waits 1 s
        clock.advance(999)
        assert asyncio.run(worker.run_once()) == 0  # not due yet
        clock.advance(1)
        asyncio.run(worker.run_once())  # waits 2 s
        clock.advance(2_000)
        asyncio.run(worker.run_once())  # waits 4 s
        clock.advance(4_000)
        asyncio.run(worker.run_once())  # 8 s would pass the give-up time: fails now
    assert calls == [T0, T0 + 1_000, T0 + 3_000, T0 + 7_000]
    outcomes = _outcomes(client, alice)
    assert [e["type"] for e in outcomes] == [ev.INTEGRATION_WAITING] * 3 + [ev.INTEGRATION_FAILED]
    assert [e["payload"].get("next_try_ms") for e in outcomes[:3]] == [
        T0 + 1_000, T0 + 3_000, T0 + 7_000]
    assert outcomes[-1]["payload"]["reason"] == "gave up after 4 attempts: jira: connection reset"
    job = job_rows(engine)[0]
    assert (job["state"], job["attempts"]) == ("failed", 4)
    # integrations retry: a new attempt, the same request_id
    assert queue.retry(engine, job["id"], clock.now)
    assert not queue.retry(engine, job["id"], clock.now)  # it is queued, not failed
    assert queue.retry(engine, "no-such-job", clock.now) is False
    assert job_rows(engine)[0]["state"] == "queued"


def test_a_job_past_its_lease_runs_again_flagged_unknown_and_the_old_owner_loses_it(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    case_id = new_case(client, alice, ALICE, world.alpha)
    push(client, alice, [request(ALICE, world.alpha, case_id)])
    clock = FakeClock(T0)
    first = queue.claim(engine, "dead-worker", clock.now, 60_000)[0]
    with engine.begin() as conn:  # it started the remote call, then its process died
        assert queue.mark_started(conn, first.job, "dead-worker", clock.now)
    assert queue.claim(engine, "other", clock.now + 59_999, 60_000) == []  # still leased
    clock.advance(60_001)
    seen: list[Job] = []

    async def create(job: Job, ctx: JobContext) -> Done:
        seen.append(job)
        return Done("adopted ENG-9")

    with handlers(create=create):
        asyncio.run(_worker(engine, clock).run_once())
    assert len(seen) == 1 and seen[0].unknown_outcome and seen[0].attempts == 2
    # the dead worker's late outcome changes nothing
    with engine.begin() as conn:
        late = queue.finish(conn, Worker(engine).server_clock, first.job, "dead-worker",
                            queue.failed_outcome(first.job, "late", None), clock.now)
    assert late is None
    assert [e["type"] for e in _outcomes(client, alice)] == [ev.INTEGRATION_DONE]
    with engine.connect() as conn:
        assert conn.execute(select(jobs.c.state)).scalar() == "done"


def test_a_job_claimed_but_not_started_is_not_flagged_unknown(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    case_id = new_case(client, alice, ALICE, world.alpha)
    push(client, alice, [request(ALICE, world.alpha, case_id)])
    now = T0
    queue.claim(engine, "dead-worker", now, 1_000)  # died before starting the call
    again = queue.claim(engine, "other", now + 1_001, 1_000)
    assert len(again) == 1 and not again[0].job.unknown_outcome


def test_an_unregistered_action_fails_with_a_reason(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str]) -> None:
    case_id = new_case(client, alice, ALICE, world.alpha)
    push(client, alice, [request(ALICE, world.alpha, case_id, system="salesforce",
                                 action="sync")])
    with handlers():
        asyncio.run(_worker(engine, FakeClock(T0)).run_once())
    [failed] = _outcomes(client, alice)
    assert failed["payload"]["reason"] == "salesforce sync is not configured on this server"

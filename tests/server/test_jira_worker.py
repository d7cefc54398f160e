"""JIRA through the whole server: a laptop pushes integration.requested, the job queue's
worker runs the JIRA handler against the fake JIRA over loopback, and the outcome comes
back as a server-authored event (done with the Record, waiting, failed with JIRA's words)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sync_server.ids import uuid7
from sync_server.jobs.worker import Worker, WorkerConfig
from sync_server.main import create_app
from sync_server.settings import JiraSettings, Settings
from tests.fakes.fake_jira import FakeJira, sign

from .helpers import World, bearer, created, event, login, pull_all, push

SECRET = "hook-secret-" + "q" * 30


@contextmanager
def running(settings: Settings, engine: Engine, fake: FakeJira,
            **jira: Any) -> Iterator[TestClient]:
    config = JiraSettings.model_validate({
        "url": fake.url, "user": fake.user if fake.deployment == "cloud" else "",
        "token": fake.token, "project": "ENG", "webhook_secret": SECRET, **jira})
    app = create_app(settings.model_copy(update={"jira": config}), engine=engine,
                     run_migrations=False)
    with TestClient(app) as client:
        yield client


class Clock:
    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.ms


def request(client: TestClient, headers: dict[str, str], case_id: str, team: str,
            action: str, params: dict[str, Any]) -> str:
    request_id = uuid7()
    item = event("alice@example.com", team, type_="integration.requested", case_id=case_id,
                 payload={"request_id": request_id, "system": "jira", "action": action,
                          "params": params})
    assert push(client, headers, [item])[0]["status"] == "stored"
    return request_id


def outcomes(client: TestClient, headers: dict[str, str], request_id: str) -> list[dict[str, Any]]:
    return [e for e in pull_all(client, headers)
            if e["type"].startswith("integration.") and e["type"] != "integration.requested"
            and e["payload"].get("request_id") == request_id]


def test_create_through_the_queue_adopts_the_issue_whose_answer_was_lost(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeJira(search_lag_s=0.4) as fake, running(settings, engine, fake,
                                                     search_settle_s=30) as client:
        alice = bearer(login(client, "alice@example.com"))
        case = created("alice@example.com", world.alpha)
        comment = event("alice@example.com", world.alpha, case_id=case["case_id"],
                        payload={"body": "Customer: it smokes", "internal": False,
                                 "author_kind": "customer"})
        push(client, alice, [case, comment])
        request_id = request(client, alice, case["case_id"], world.alpha, "create",
                             {"comment_ids": [comment["id"]]})
        clock = Clock()
        worker = Worker(engine, WorkerConfig(concurrency=1), clock=clock,
                        uniform=lambda low, high: high)
        fake.inject("POST", r"/issue$", lose_response=True)
        assert asyncio.run(worker.run_once()) == 1
        [waiting] = outcomes(client, alice, request_id)
        assert waiting["type"] == "integration.waiting"
        assert len(fake.issues) == 1  # it was created; the answer was lost
        clock.ms = waiting["payload"]["next_try_ms"]
        assert asyncio.run(worker.run_once()) == 1  # the search does not show it yet: wait
        second = outcomes(client, alice, request_id)[-1]
        assert second["type"] == "integration.waiting"
        assert "search" in second["payload"]["reason"]
        assert len(fake.issues) == 1
        time.sleep(0.45)
        clock.ms = second["payload"]["next_try_ms"]
        assert asyncio.run(worker.run_once()) == 1
        done = outcomes(client, alice, request_id)[-1]
        assert done["type"] == "integration.done", done
        assert (done["actor"], done["device_id"]) == ("system", "server")
        record = done["payload"]["record"]
        issue = fake.by_key("ENG-1")
        assert record["remote_id"] == issue.id and record["remote_key"] == "ENG-1"
        assert len(fake.issues) == 1 and len(fake.requests("POST", r"/issue$")) == 1
        assert "Customer: it smokes" in json.dumps(issue.description)


def test_a_bad_project_is_a_failed_event_naming_jiras_message(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeJira() as fake, running(settings, engine, fake) as client:
        alice = bearer(login(client, "alice@example.com"))
        case = created("alice@example.com", world.alpha)
        push(client, alice, [case])
        request_id = request(client, alice, case["case_id"], world.alpha, "create",
                             {"project": "NOPE"})
        worker = Worker(engine, WorkerConfig(concurrency=1))
        assert asyncio.run(worker.run_once()) == 1
        [failed] = outcomes(client, alice, request_id)
        assert failed["type"] == "integration.failed"
        assert "Specify a valid project ID or key" in failed["payload"]["reason"]
        assert failed["payload"]["remote_status"] == 400
        assert not fake.issues


def test_a_linked_issue_flows_back_by_webhook(settings: Settings, engine: Engine,
                                              world: World) -> None:
    """Link by key through the queue (the done event carries the immutable id), then
    JIRA's webhook after the issue moved project and was resolved."""
    with FakeJira(deployment="datacenter") as fake, running(settings, engine, fake) as client:
        alice = bearer(login(client, "alice@example.com"))
        case = created("alice@example.com", world.alpha)
        push(client, alice, [case])
        issue = fake.add_issue(summary="Billing export truncated")
        request_id = request(client, alice, case["case_id"], world.alpha, "link",
                             {"issue_key": "ENG-1"})
        assert asyncio.run(Worker(engine, WorkerConfig(concurrency=1)).run_once()) == 1
        [done] = outcomes(client, alice, request_id)
        assert done["type"] == "integration.done"
        assert done["payload"]["record"]["remote_id"] == issue.id
        fake.move("ENG-1", "OPS")
        fake.transition("OPS-1", "Closed", "done")
        body = json.dumps(fake.webhook(issue)).encode()
        answer = client.post("/api/v1/hooks/jira", content=body, headers={
            "X-Hub-Signature": sign(body, SECRET), "X-Atlassian-Webhook-Identifier": "w-1"})
        assert answer.json() == {"status": "recorded", "recorded": 1}
        record = [e for e in pull_all(client, alice) if e["type"] == "integration.record"][-1]
        assert record["case_id"] == case["case_id"]
        assert record["payload"]["record"]["remote_key"] == "OPS-1"
        assert record["payload"]["record"]["snapshot"]["status_category"] == "done"


@pytest.fixture(autouse=True)
def _no_stale_handlers() -> Iterator[None]:
    from sync_server.integrations import forget_all
    from sync_server.jobs.api import unregister_all

    yield
    unregister_all()
    forget_all()

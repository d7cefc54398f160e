"""JIRA flowing back to the cases: the signed webhook (POST /api/v1/hooks/jira) and the
periodic refresh record integration.record events on every case linked to the issue, only
when its snapshot changed; repeats are dropped; a laptop never receives the credentials."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, update

from app.operations import cases as ops
from app.operations import integrations as integration_ops
from app.store.repo import Store
from app.sync.api import SyncApi
from app.sync.engine import sync_once
from app.sync.session import SyncSession
from sync_server.db import write_tx
from sync_server.ids import ServerClock, uuid7
from sync_server.integrations import periodic_tasks
from sync_server.integrations.jira_format import record_of
from sync_server.integrations.links import Link, links_of, record_events
from sync_server.main import create_app
from sync_server.settings import JiraSettings, Settings
from sync_server.tables import breakers, counters
from tests.fakes.fake_jira import FakeJira, Issue, sign

from .helpers import World, bearer, created, login, pull_all, push

HOOK = "/api/v1/hooks/jira"
WEBHOOK_SECRET = "hook-secret-" + "w" * 30


def jira_settings(fake: FakeJira, **extra: Any) -> JiraSettings:
    return JiraSettings.model_validate({
        "url": fake.url, "user": fake.user, "token": fake.token, "api": 3, "project": "ENG",
        "webhook_secret": WEBHOOK_SECRET, "refresh_s": 42, **extra})


@contextmanager
def server(settings: Settings, engine: Engine, fake: FakeJira,
           **extra: Any) -> Iterator[tuple[TestClient, Settings]]:
    configured = settings.model_copy(update={"jira": jira_settings(fake, **extra)})
    app = create_app(configured, engine=engine, run_migrations=False)
    with TestClient(app) as client:
        yield client, configured


def link_case(engine: Engine, fake: FakeJira, issue: Issue, case_id: str, team: str) -> None:
    """Link the issue on the case as a done create or link would (a recorded Record)."""
    record = record_of(fake.rendered(issue), fake.url, int(time.time() * 1000))
    link = Link(case_id=case_id, team_id=team, remote_id=issue.id, remote_key=issue.key,
                linked=True, snapshot={})
    with write_tx(engine) as conn:
        record_events(conn, ServerClock(), [(link, {"system": "jira", "record": record})])


def new_case(client: TestClient, headers: dict[str, str], email: str, team: str) -> str:
    case = created(email, team)
    assert push(client, headers, [case])[0]["status"] == "stored"
    return str(case["case_id"])


def records(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return [e for e in pull_all(client, headers) if e["type"] == "integration.record"]


def deliver(client: TestClient, body: bytes, *, identifier: str | None = None,
            secret: str = WEBHOOK_SECRET, signature: str | None = None) -> Any:
    headers = {"Content-Type": "application/json",
               "X-Hub-Signature": signature if signature is not None else sign(body, secret)}
    if identifier:
        headers["X-Atlassian-Webhook-Identifier"] = identifier
    return client.post(HOOK, content=body, headers=headers)


def test_webhook_checks_the_signature_drops_repeats_and_records_changes(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeJira() as fake, server(settings, engine, fake) as (client, _):
        alice = bearer(login(client, "alice@example.com"))
        carol = bearer(login(client, "carol@example.com"))
        first = new_case(client, alice, "alice@example.com", world.alpha)
        second = new_case(client, alice, "alice@example.com", world.alpha)
        issue = fake.add_issue(summary="Printer driver crash")
        link_case(engine, fake, issue, first, world.alpha)
        link_case(engine, fake, issue, second, world.alpha)
        before = len(records(client, alice))
        fake.transition(issue.key, "Resolved", "done", assignee="Erin")
        body = json.dumps(fake.webhook(issue)).encode()

        assert deliver(client, body, signature="").status_code == 401
        assert deliver(client, body, signature="sha256=" + "0" * 64).status_code == 401
        assert deliver(client, body, secret="not-the-secret").status_code == 401
        assert deliver(client, body + b" ", signature=sign(body, WEBHOOK_SECRET)).status_code == 401
        assert len(records(client, alice)) == before  # nothing recorded by a refused one

        answer = deliver(client, body, identifier="delivery-1")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": "recorded", "recorded": 2}
        repeat = deliver(client, body, identifier="delivery-1")
        assert repeat.json()["status"] == "duplicate"
        same = deliver(client, body, identifier="delivery-2")  # a new delivery, no change
        assert same.json() == {"status": "unchanged", "recorded": 0}

        found = records(client, alice)[before:]
        assert sorted(e["case_id"] for e in found) == sorted([first, second])
        for event in found:
            assert (event["actor"], event["device_id"]) == ("system", "server")
            snapshot = event["payload"]["record"]["snapshot"]
            assert snapshot["status_category"] == "done" and snapshot["assignee"] == "Erin"
            assert event["payload"]["record"]["remote_id"] == issue.id
        assert records(client, carol) == []  # another team's cases


def test_webhook_refuses_bad_bodies_and_ignores_what_is_not_an_issue(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeJira() as fake, server(settings, engine, fake) as (client, _):
        assert deliver(client, b"{not json").status_code == 400
        big = json.dumps({"issue": {"id": "1"}, "pad": "x" * 600_000}).encode()
        assert deliver(client, big).status_code == 413
        sprint = json.dumps({"webhookEvent": "sprint_started", "sprint": {"id": 3}}).encode()
        assert deliver(client, sprint).json()["status"] == "ignored"
        odd = json.dumps({"issue": {"id": ["x"]}}).encode()
        assert deliver(client, odd).json()["status"] == "ignored"
        unknown = fake.add_issue()  # linked to no case
        body = json.dumps(fake.webhook(unknown)).encode()
        assert deliver(client, body, identifier="d-9").json() == {"status": "unchanged",
                                                                  "recorded": 0}


def test_webhook_text_is_bounded_and_checked_before_it_is_stored(
        settings: Settings, engine: Engine, world: World) -> None:
    """A key longer than a Record allows is cut to fit; text no client could store (a lone
    surrogate) is not recorded at all; either way the delivery is answered."""
    with FakeJira() as fake, server(settings, engine, fake) as (client, _):
        alice = bearer(login(client, "alice@example.com"))
        case_id = new_case(client, alice, "alice@example.com", world.alpha)
        issue = fake.add_issue()
        link_case(engine, fake, issue, case_id, world.alpha)
        before = len(records(client, alice))
        hook = fake.webhook(issue)
        hook["issue"]["key"] = "ENG-" + "9" * 400
        hook["issue"]["fields"]["summary"] = "s" * 10_000
        body = json.dumps(hook).encode()
        assert deliver(client, body, identifier="long").json()["recorded"] == 1
        record = records(client, alice)[-1]["payload"]["record"]
        assert len(record["remote_key"]) == 200 and len(record["snapshot"]["summary"]) == 255
        hook["issue"]["fields"]["summary"] = "bad \ud800 text"
        body = json.dumps(hook).encode()  # ASCII JSON holding the escape
        answer = deliver(client, body, identifier="surrogate")
        assert answer.status_code == 200 and answer.json()["recorded"] == 0
        assert len(records(client, alice)) == before + 1


def test_webhook_without_a_configured_secret_refuses_everything(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeJira() as fake, server(settings, engine, fake, webhook_secret=None) as (client, _):
        body = json.dumps(fake.webhook(fake.add_issue())).encode()
        assert deliver(client, body).status_code == 401


def test_a_deleted_issue_is_recorded_as_unlinked(settings: Settings, engine: Engine,
                                                 world: World) -> None:
    with FakeJira() as fake, server(settings, engine, fake) as (client, _):
        alice = bearer(login(client, "alice@example.com"))
        case_id = new_case(client, alice, "alice@example.com", world.alpha)
        issue = fake.add_issue()
        link_case(engine, fake, issue, case_id, world.alpha)
        body = json.dumps(fake.webhook(issue, event="jira:issue_deleted")).encode()
        assert deliver(client, body, identifier="gone").json()["recorded"] == 1
        assert records(client, alice)[-1]["payload"]["record"]["linked"] is False
        assert [link.linked for link in links_of(engine, "jira", issue.id)] == [False]


def test_the_periodic_refresh_records_a_status_change_once(settings: Settings, engine: Engine,
                                                           world: World) -> None:
    with FakeJira() as fake, server(settings, engine, fake,
                                                 refresh_s=0.001) as (client, configured):
        alice = bearer(login(client, "alice@example.com"))
        case_id = new_case(client, alice, "alice@example.com", world.alpha)
        issue = fake.add_issue(summary="Sync stalls")
        link_case(engine, fake, issue, case_id, world.alpha)
        [(interval, task)] = periodic_tasks(configured)
        assert interval == 0.001
        before = len(records(client, alice))
        assert asyncio.run(task()) == 0  # nothing changed since it was linked
        fake.transition(issue.key, "In Review", "indeterminate", assignee="Ivo")
        assert asyncio.run(task()) == 1
        assert asyncio.run(task()) == 0  # recorded once
        found = records(client, alice)[before:]
        assert len(found) == 1
        snapshot = found[0]["payload"]["record"]["snapshot"]
        assert (snapshot["status"], snapshot["status_category"], snapshot["assignee"]) == (
            "In Review", "in_progress", "Ivo")
        fake.hidden.add(issue.id)  # a refresh that cannot see the issue changes nothing
        assert asyncio.run(task()) == 0


def test_one_refresh_round_per_interval_and_none_while_the_breaker_is_open(
        settings: Settings, engine: Engine, world: World) -> None:
    """Every worker process runs the periodic task: only one of them calls JIRA per
    interval, and none while JIRA's breaker is open."""
    with FakeJira() as fake, server(settings, engine, fake) as (client, configured):
        alice = bearer(login(client, "alice@example.com"))
        case_id = new_case(client, alice, "alice@example.com", world.alpha)
        issue = fake.add_issue()
        link_case(engine, fake, issue, case_id, world.alpha)
        [(interval, task)] = periodic_tasks(configured)
        assert interval == 42
        fake.transition(issue.key, "Done", "done")
        assert asyncio.run(task()) == 1
        fake.transition(issue.key, "Reopened", "new")
        calls = len(fake.requests("GET", "/issue/"))
        assert asyncio.run(task()) == 0  # another process's round, 21 s not yet passed
        assert len(fake.requests("GET", "/issue/")) == calls
        with write_tx(engine) as conn:
            conn.execute(update(counters).where(counters.c.name == "jira_refresh_ms")
                         .values(value=0))  # the interval passed
            conn.execute(insert(breakers).values(
                system="jira", site=fake.url, state="open", failures=5, opened_ms=0,
                reopen_ms=int(time.time() * 1000) + 60_000, probes_in_flight=0, updated_ms=0))
        assert asyncio.run(task()) == 0
        assert len(fake.requests("GET", "/issue/")) == calls
        with write_tx(engine) as conn:
            conn.execute(update(breakers).values(state="closed", reopen_ms=None))
        assert asyncio.run(task()) == 1


def test_comments_flow_back_by_refresh_and_webhook_without_ping_pong(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeJira() as fake, server(settings, engine, fake,
                                                 refresh_s=0.001) as (client, configured):
        alice = bearer(login(client, "alice@example.com"))
        case_id = new_case(client, alice, "alice@example.com", world.alpha)
        issue = fake.add_issue()
        link_case(engine, fake, issue, case_id, world.alpha)
        [(_, task)] = periodic_tasks(configured)
        assert asyncio.run(task()) == 0
        fake.comment_as(issue.key, {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Fixed in"},
                                              {"type": "hardBreak"},
                                              {"type": "text", "text": "build 42"}]}]},
            author="Erin Engineer")
        assert asyncio.run(task()) == 1
        last = records(client, alice)[-1]["payload"]["record"]["snapshot"]["last_comment"]
        assert (last["author"], last["text"]) == ("Erin Engineer", "Fixed in\nbuild 42")
        # An issue webhook holds no comments: the case keeps its newest one, nothing recorded.
        body = json.dumps(fake.webhook(issue)).encode()
        assert deliver(client, body, identifier="u-1").json()["recorded"] == 0
        fake.comment_as(issue.key, {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Shipped"}]}]},
            author="Ivo")
        body = json.dumps(fake.webhook(issue, event="comment_created")).encode()
        assert deliver(client, body, identifier="c-1").json()["recorded"] == 1
        last = records(client, alice)[-1]["payload"]["record"]["snapshot"]["last_comment"]
        assert (last["author"], last["text"]) == ("Ivo", "Shipped")
        assert asyncio.run(task()) == 0  # the refresh agrees with the webhook


def test_an_offline_request_reaches_jira_and_no_credential_reaches_the_laptop(
        tmp_path: Path) -> None:
    """A laptop asks for an issue offline, syncs; the server's worker creates it; the result,
    a refresh and a webhook come back. Neither the JIRA token nor the webhook secret is
    anywhere in the laptop's data folder."""
    from sync_server.jobs.worker import Worker, WorkerConfig
    from sync_server.services import accounts

    with FakeJira() as fake:
        base = Settings(db_url=f"sqlite:///{tmp_path / 'server.sqlite3'}",
                        data_dir=tmp_path / "srv", secret="s" * 48)
        configured = base.model_copy(update={"jira": jira_settings(fake, refresh_s=0.001)})
        app = create_app(configured)
        engine = app.state.smart.engine
        accounts.add_user(engine, email="ana@example.com", name="Ana", role="agent",
                          password="a long password 1")
        accounts.add_team(engine, name="Support", prefix="SUP")
        accounts.add_member(engine, team="Support", email="ana@example.com")
        laptop = tmp_path / "laptop"
        laptop.mkdir()
        store = Store(laptop / "ana.db")
        try:
            with TestClient(app, base_url="http://server") as http:
                session = SyncSession(store, SyncApi("http://server", client=http))
                session.login("ana@example.com", "a long password 1")
                case_id, _key, _changes = ops.create_case(store, subject="Printer on fire")
                request_id, _ = integration_ops.request_jira_create(store, case=case_id)
                assert store.outbox_count() >= 2  # recorded offline, not yet sent
                sync_once(store, session)
                assert asyncio.run(Worker(engine, WorkerConfig(concurrency=1)).run_once()) == 1
                [issue] = fake.issues.values()
                fake.transition(issue.key, "Done", "done")
                [(_, task)] = periodic_tasks(configured)
                assert asyncio.run(task()) == 1
                body = json.dumps(fake.webhook(issue)).encode()
                assert deliver(http, body, identifier=uuid7()).status_code == 200
                sync_once(store, session)
            shown = store.read(lambda c: integration_ops.integrations_of(c, case_id))
        finally:
            store.close()
        [link] = shown["links"]
        assert (link["remote_id"], link["remote_key"], link["status_category"]) == (
            issue.id, issue.key, "done")  # created, then refreshed
        assert [(r["request_id"], r["state"]) for r in shown["requests"]] == [(request_id, "done")]
        for secret in (fake.token, WEBHOOK_SECRET):
            for path in laptop.rglob("*"):
                if path.is_file():
                    assert secret.encode() not in path.read_bytes(), path


@pytest.fixture(autouse=True)
def _no_stale_handlers() -> Iterator[None]:
    from sync_server.integrations import forget_all
    from sync_server.jobs.api import unregister_all

    yield
    unregister_all()
    forget_all()

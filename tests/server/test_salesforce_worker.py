"""Salesforce through the whole server: a laptop pushes integration.requested, the job
queue's worker runs the Salesforce handler against the fake org over loopback, and the
outcome comes back as a server-authored event (done with the Record, waiting, failed with
Salesforce's words)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.core.events import CASE_EVENT_TYPES, Event
from app.core.fold import CaseState, apply_case_event
from sync_server.ids import uuid7
from sync_server.integrations.salesforce_client import forget_tokens
from sync_server.jobs.worker import Worker, WorkerConfig
from sync_server.main import create_app
from sync_server.settings import SalesforceSettings, Settings
from sync_server.tables import breakers
from tests.fakes.fake_salesforce import FakeSalesforce

from .helpers import World, bearer, event, hlc, login, pull_all, push

ALICE = "alice@example.com"


@contextmanager
def running(settings: Settings, engine: Engine, fake: FakeSalesforce,
            **salesforce: Any) -> Iterator[TestClient]:
    config = SalesforceSettings.model_validate({
        "url": fake.url, "client_id": fake.client_id, "client_secret": fake.client_secret,
        **salesforce})
    app = create_app(settings.model_copy(update={"salesforce": config}), engine=engine,
                     run_migrations=False)
    with TestClient(app) as client:
        yield client


class Clock:
    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.ms


def new_case(client: TestClient, headers: dict[str, str], team: str,
             **fields: Any) -> str:
    case = event(ALICE, team, type_="case.created", case_id=uuid7(), payload={"fields": {
        "subject": "Printer on fire", "description": "It smokes.", "status": "open",
        "priority": "high", "team_id": team, **fields}, "tags": []})
    assert push(client, headers, [case])[0]["status"] == "stored"
    return str(case["case_id"])


def comment(client: TestClient, headers: dict[str, str], team: str, case_id: str, body: str,
            *, internal: bool = False) -> str:
    item = event(ALICE, team, case_id=case_id, payload={
        "body": body, "internal": internal, "author_kind": "agent"})
    assert push(client, headers, [item])[0]["status"] == "stored"
    return str(item["id"])


def update(client: TestClient, headers: dict[str, str], team: str, case_id: str,
           field: str, value: str) -> None:
    item = event(ALICE, team, type_="case.updated", case_id=case_id,
                 payload={"field": field, "value": value, "prev": None})
    assert push(client, headers, [item])[0]["status"] == "stored"


def ask(client: TestClient, headers: dict[str, str], team: str, case_id: str, action: str,
        params: dict[str, Any] | None = None) -> str:
    request_id = uuid7()
    item = event(ALICE, team, type_="integration.requested", case_id=case_id, payload={
        "request_id": request_id, "system": "salesforce", "action": action,
        "params": params or {}})
    assert push(client, headers, [item])[0]["status"] == "stored"
    return request_id


def outcomes(client: TestClient, headers: dict[str, str], request_id: str) -> list[dict[str, Any]]:
    return [e for e in pull_all(client, headers)
            if e["type"].startswith("integration.") and e["type"] != "integration.requested"
            and e["payload"].get("request_id") == request_id]


def run(worker: Worker) -> None:
    assert asyncio.run(worker.run_once()) == 1


def test_sync_twice_is_one_case_with_each_public_reply_once(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeSalesforce() as fake, running(settings, engine, fake) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        comment(client, alice, world.alpha, case_id, "We are on it.")
        comment(client, alice, world.alpha, case_id, "internal: customer is grumpy",
                internal=True)
        worker = Worker(engine, WorkerConfig(concurrency=1))
        first = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        [done] = outcomes(client, alice, first)
        assert done["type"] == "integration.done", done
        assert (done["actor"], done["device_id"]) == ("system", "server")
        assert "created" in done["payload"]["message"]
        [sf_case] = fake.cases()
        assert (sf_case["Support_Case_Id__c"], sf_case["Subject"], sf_case["Status"],
                sf_case["Priority"]) == (case_id, "Printer on fire", "Working", "High")
        record = done["payload"]["record"]
        assert (record["kind"], record["remote_id"], record["remote_key"]) == (
            "case", sf_case["Id"], sf_case["CaseNumber"])
        assert [c["CommentBody"] for c in fake.comments(sf_case["Id"])] == [
            f"{ALICE}:\nWe are on it."]  # the internal note never leaves
        comment(client, alice, world.alpha, case_id, "Fixed: new toner.")
        update(client, alice, world.alpha, case_id, "status", "solved")
        second = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        [again] = outcomes(client, alice, second)
        assert again["type"] == "integration.done"
        assert "updated" in again["payload"]["message"]
        assert "1 reply pushed" in again["payload"]["message"]
        [sf_case] = fake.cases()
        assert sf_case["Status"] == "Closed"
        assert [c["CommentBody"].split("\n", 1)[1] for c in fake.comments(sf_case["Id"])] == [
            "We are on it.", "Fixed: new toner."]
        assert again["payload"]["record"]["snapshot"]["status_category"] == "done"


def test_a_lost_upsert_answer_and_a_lost_comment_answer_still_make_one_of_each(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeSalesforce() as fake, running(settings, engine, fake) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        comment(client, alice, world.alpha, case_id, "First reply")
        comment(client, alice, world.alpha, case_id, "Second reply")
        fake.inject("PATCH", r"/sobjects/Case/Support_Case_Id__c/", lose_response=True)
        request_id = ask(client, alice, world.alpha, case_id, "sync")
        clock = Clock()
        worker = Worker(engine, WorkerConfig(concurrency=1), clock=clock,
                        uniform=lambda low, high: high)
        run(worker)
        [waiting] = outcomes(client, alice, request_id)
        assert waiting["type"] == "integration.waiting", waiting
        assert len(fake.cases()) == 1  # applied; its answer was lost
        fake.inject("POST", r"/sobjects/CaseComment$", lose_response=True)
        clock.ms = waiting["payload"]["next_try_ms"]
        run(worker)
        second = outcomes(client, alice, request_id)[-1]
        assert second["type"] == "integration.waiting", second
        [sf_case] = fake.cases()
        assert len(fake.comments(sf_case["Id"])) == 1  # the first comment went, unanswered
        clock.ms = second["payload"]["next_try_ms"]
        run(worker)
        done = outcomes(client, alice, request_id)[-1]
        assert done["type"] == "integration.done", done
        assert len(fake.cases()) == 1
        assert [c["CommentBody"] for c in fake.comments(sf_case["Id"])] == [
            f"{ALICE}:\nFirst reply", f"{ALICE}:\nSecond reply"]
        assert len(done["payload"]["record"]["snapshot"]["pushed_comments"]) == 2


def test_a_field_the_org_refuses_fails_alone_and_is_said(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeSalesforce() as fake, running(settings, engine, fake) as client:
        fake.rules["Priority"] = lambda values: (
            "Priority High needs a manager's approval" if values.get("Priority") == "High"
            else None)
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        request_id = ask(client, alice, world.alpha, case_id, "sync")
        run(Worker(engine, WorkerConfig(concurrency=1)))
        [done] = outcomes(client, alice, request_id)
        assert done["type"] == "integration.done", done
        message = done["payload"]["message"]
        assert "Priority High needs a manager's approval" in message
        assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in message and "Priority" in message
        [sf_case] = fake.cases()
        assert (sf_case["Subject"], sf_case["Status"], sf_case["Priority"]) == (
            "Printer on fire", "Working", "Medium")  # the rest synced; Priority untouched
        snapshot = done["payload"]["record"]["snapshot"]
        assert snapshot["rejected_fields"] == ["Priority"]
        assert "Priority" not in snapshot["pushed"]


def test_several_cases_with_the_external_id_change_nothing(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeSalesforce() as fake, running(settings, engine, fake) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        comment(client, alice, world.alpha, case_id, "a reply")
        for subject in ("copy one", "copy two"):
            fake.add("Case", Subject=subject, Support_Case_Id__c=case_id)
        request_id = ask(client, alice, world.alpha, case_id, "sync")
        run(Worker(engine, WorkerConfig(concurrency=1)))
        [failed] = outcomes(client, alice, request_id)
        assert failed["type"] == "integration.failed", failed
        assert failed["payload"]["remote_status"] == 300
        assert "2 Salesforce Cases" in failed["payload"]["reason"]
        assert "nothing was changed" in failed["payload"]["reason"]
        assert sorted(c["Subject"] for c in fake.cases()) == ["copy one", "copy two"]
        assert not fake.records["CaseComment"] and not fake.requests("PATCH", ".")


def test_an_expired_token_is_fetched_again_once(settings: Settings, engine: Engine,
                                                world: World) -> None:
    with FakeSalesforce() as fake, running(settings, engine, fake) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        worker = Worker(engine, WorkerConfig(concurrency=1))
        first = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        assert outcomes(client, alice, first)[-1]["type"] == "integration.done"
        assert fake.tokens_issued == 1  # cached across the calls of one job
        fake.expire_tokens()
        second = ask(client, alice, world.alpha, case_id, "refresh")
        run(worker)
        [done] = outcomes(client, alice, second)
        assert done["type"] == "integration.done", done
        assert fake.tokens_issued == 2
        fake.client_secret = "rotated-" + "z" * 30  # ours is now wrong: fails, says why
        fake.expire_tokens()
        third = ask(client, alice, world.alpha, case_id, "refresh")
        run(worker)
        [failed] = outcomes(client, alice, third)
        assert failed["type"] == "integration.failed"
        assert "invalid client credentials" in failed["payload"]["reason"]
        assert "SMART_SUPPORT_SALESFORCE_CLIENT_SECRET" in failed["payload"]["reason"]


def test_lookup_finds_the_contact_and_account_of_a_hostile_email_exactly(
        settings: Settings, engine: Engine, world: World) -> None:
    hostile = "o'brien\\%_x@example.com"
    with FakeSalesforce() as fake, running(settings, engine, fake,
                                           tier_field="Tier__c") as client:
        fake.schema["Account"].add("Tier__c")
        account = fake.add("Account", Name="Acme Ltd", Type="Customer", Tier__c="Gold",
                           Owner={"Name": "Sam Seller"})
        fake.add("Opportunity", Name="Renewal 2027", StageName="Negotiation", Amount=12000,
                 AccountId=account["Id"], IsClosed=False)
        fake.add("Opportunity", Name="Won last year", StageName="Closed Won", Amount=9000,
                 AccountId=account["Id"], IsClosed=True)
        fake.add("Contact", Name="Pat O'Brien", Email=hostile, AccountId=account["Id"],
                 Owner={"Name": "Sam Seller"})
        fake.add("Contact", Name="Someone Else", Email="obrienx@example.com")
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        request_id = ask(client, alice, world.alpha, case_id, "lookup", {"email": hostile})
        run(Worker(engine, WorkerConfig(concurrency=1)))
        [done] = outcomes(client, alice, request_id)
        assert done["type"] == "integration.done", done
        contact = done["payload"]["record"]
        assert (contact["kind"], contact["remote_key"]) == ("contact", "Pat O'Brien")
        assert contact["snapshot"]["account"] == "Acme Ltd"
        [beside] = [e for e in pull_all(client, alice) if e["type"] == "integration.record"]
        assert beside["case_id"] == case_id
        snapshot = beside["payload"]["record"]["snapshot"]
        assert beside["payload"]["record"]["kind"] == "account"
        assert (snapshot["name"], snapshot["tier"], snapshot["owner"],
                snapshot["open_opportunities"]) == ("Acme Ltd", "Gold", "Sam Seller", 1)
        injection = ask(client, alice, world.alpha, case_id, "lookup",
                        {"email": "x'OR'Email'!='obrienx@example.com"})
        run(Worker(engine, WorkerConfig(concurrency=1)))
        [none] = outcomes(client, alice, injection)
        assert none["type"] == "integration.done" and none["payload"].get("record") is None
        assert "no Salesforce contact" in none["payload"]["message"]
        spaced = ask(client, alice, world.alpha, case_id, "lookup",
                     {"email": "x' OR Email != 'y"})
        run(Worker(engine, WorkerConfig(concurrency=1)))
        [refused] = outcomes(client, alice, spaced)
        assert refused["type"] == "integration.failed"
        assert "is not an e-mail address" in refused["payload"]["reason"]


def test_limits_hold_calls_back_and_request_limit_exceeded_opens_the_breaker(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeSalesforce(api_limit=100) as fake, running(settings, engine, fake,
                                                        limit_backoff_s=600) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        fake.api_used = 94  # the next answers say 95/100 and on: past the 90 % threshold
        first = ask(client, alice, world.alpha, case_id, "sync")
        clock = Clock()
        worker = Worker(engine, WorkerConfig(concurrency=1), clock=clock,
                        uniform=lambda low, high: low)
        run(worker)
        assert outcomes(client, alice, first)[-1]["type"] == "integration.done"
        calls = len(fake.seen)
        second = ask(client, alice, world.alpha, case_id, "refresh")
        clock.ms = int(time.time() * 1000)
        run(worker)
        [waiting] = outcomes(client, alice, second)
        assert waiting["type"] == "integration.waiting", waiting
        assert "allocation" in waiting["payload"]["reason"]
        # 98 % of the way from 90 % to 100 %: most of the 600 s, and no call was made
        assert waiting["payload"]["next_try_ms"] - clock.ms >= 400_000
        assert len(fake.seen) == calls
        forget_tokens()  # a new process: it knows nothing of the hold
        fake.api_used = 100
        clock.ms = waiting["payload"]["next_try_ms"]
        run(worker)
        limited = outcomes(client, alice, second)[-1]
        assert limited["type"] == "integration.waiting", limited
        assert "REQUEST_LIMIT_EXCEEDED" in limited["payload"]["reason"]
        assert limited["payload"]["next_try_ms"] >= clock.ms + 600_000
        with engine.connect() as conn:
            row = conn.execute(select(breakers).where(breakers.c.system == "salesforce")).one()
        assert row.state == "open" and row.reopen_ms >= clock.ms + 600_000
        forget_tokens()
        third = ask(client, alice, world.alpha, case_id, "lookup",
                    {"email": "pat@example.com"})
        calls = len(fake.seen)
        run(worker)
        [held] = outcomes(client, alice, third)
        assert held["type"] == "integration.waiting"
        assert "circuit breaker open" in held["payload"]["reason"]
        assert len(fake.seen) == calls  # no HTTP request at all while open


def test_salesforce_owned_priority_and_a_status_changed_in_salesforce_are_conflicts(
        settings: Settings, engine: Engine, world: World) -> None:
    mapping = {"priority": {"owner": "salesforce", "values": {
        "low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}}}
    with FakeSalesforce() as fake, running(settings, engine, fake, mapping=mapping) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        worker = Worker(engine, WorkerConfig(concurrency=1))
        first = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        assert outcomes(client, alice, first)[-1]["type"] == "integration.done"
        [sf_case] = fake.cases()
        assert sf_case["Priority"] == "High"  # seeded on create
        sf_case_row = fake.records["Case"][sf_case["Id"]]
        sf_case_row["Status"] = "Escalated"  # changed in Salesforce: the case owns status
        sf_case_row["Priority"] = "Low"  # Salesforce owns priority
        update(client, alice, world.alpha, case_id, "priority", "urgent")
        second = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        [done] = outcomes(client, alice, second)
        message = done["payload"]["message"]
        assert "Status was changed in Salesforce to 'Escalated'" in message
        assert "Salesforce owns priority and says 'Low'" in message
        [sf_case] = fake.cases()
        assert (sf_case["Status"], sf_case["Priority"]) == ("Working", "Low")
        snapshot = done["payload"]["record"]["snapshot"]
        assert {c["field"] for c in snapshot["conflicts"]} == {"status", "priority"}
        assert snapshot["case_side"]["priority"] == "low"  # for the case to take


def laptop_case(client: TestClient, headers: dict[str, str], case_id: str) -> CaseState:
    """The case as a laptop folds what it pulls."""
    state = CaseState(id=case_id)
    for e in pull_all(client, headers):
        if e["case_id"] == case_id and e["type"] in CASE_EVENT_TYPES:
            apply_case_event(state, Event.from_wire(e))
    return state


def case_updates(client: TestClient, headers: dict[str, str],
                 case_id: str) -> list[dict[str, Any]]:
    return [e for e in pull_all(client, headers)
            if e["case_id"] == case_id and e["type"] == "case.updated"
            and (e["actor"], e["device_id"]) == ("system", "server")]


def test_a_salesforce_owned_priority_changed_in_salesforce_reaches_the_case(
        settings: Settings, engine: Engine, world: World) -> None:
    mapping = {"priority": {"owner": "salesforce", "values": {
        "low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}}}
    with FakeSalesforce() as fake, running(settings, engine, fake, mapping=mapping) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)  # open, high
        worker = Worker(engine, WorkerConfig(concurrency=1))
        first = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        assert outcomes(client, alice, first)[-1]["type"] == "integration.done"
        assert case_updates(client, alice, case_id) == []  # Salesforce says what the case says
        [sf_case] = fake.cases()
        row = fake.records["Case"][sf_case["Id"]]
        row["Priority"] = "Low"  # Salesforce owns priority
        row["Status"] = "Escalated"  # the case owns status: it must not change
        refresh = ask(client, alice, world.alpha, case_id, "refresh")
        run(worker)
        [done] = outcomes(client, alice, refresh)
        assert done["type"] == "integration.done"
        assert "the case's priority 'high' is set to 'low'" in done["payload"]["message"]
        [taken] = case_updates(client, alice, case_id)
        assert taken["payload"] == {"field": "priority", "value": "low", "prev": "high"}
        assert taken["server_seq"] > done["server_seq"]  # after the outcome
        state = laptop_case(client, alice, case_id)
        assert (state.fields["priority"], state.fields["status"]) == ("low", "open")
        # A sync then sets Salesforce's status back and changes nothing more on the case.
        again = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        assert outcomes(client, alice, again)[-1]["type"] == "integration.done"
        assert len(case_updates(client, alice, case_id)) == 1
        [sf_case] = fake.cases()
        assert (sf_case["Status"], sf_case["Priority"]) == ("Working", "Low")
        # A case value that already maps to Salesforce's is kept (urgent and high: High).
        row["Priority"] = "High"
        urgent = event(ALICE, world.alpha, type_="case.updated", case_id=case_id,
                       payload={"field": "priority", "value": "urgent", "prev": "low"})
        urgent["hlc"] = hlc(int(time.time() * 1000) + 1000)  # after the server's change
        assert push(client, alice, [urgent])[0]["status"] == "stored"
        run_refresh = ask(client, alice, world.alpha, case_id, "refresh")
        run(worker)
        assert outcomes(client, alice, run_refresh)[-1]["type"] == "integration.done"
        assert len(case_updates(client, alice, case_id)) == 1
        assert laptop_case(client, alice, case_id).fields["priority"] == "urgent"
        # Changed in Salesforce again, the sync gives the case Salesforce's value too.
        row["Priority"] = "Medium"
        last = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        assert outcomes(client, alice, last)[-1]["type"] == "integration.done"
        assert case_updates(client, alice, case_id)[-1]["payload"] == {
            "field": "priority", "value": "normal", "prev": "urgent"}
        state = laptop_case(client, alice, case_id)
        assert (state.fields["priority"], state.fields["status"]) == ("normal", "open")


def test_a_case_deleted_in_salesforce_is_made_again_and_the_old_one_unlinked(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeSalesforce() as fake, running(settings, engine, fake) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        comment(client, alice, world.alpha, case_id, "the only reply")
        worker = Worker(engine, WorkerConfig(concurrency=1))
        first = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        old_id = outcomes(client, alice, first)[-1]["payload"]["record"]["remote_id"]
        del fake.records["Case"][old_id]
        fake.records["CaseComment"].clear()
        second = ask(client, alice, world.alpha, case_id, "sync")
        run(worker)
        [done] = outcomes(client, alice, second)
        [sf_case] = fake.cases()
        assert done["payload"]["record"]["remote_id"] == sf_case["Id"] != old_id
        assert "created" in done["payload"]["message"]
        assert [c["CommentBody"] for c in fake.comments(sf_case["Id"])] == [
            f"{ALICE}:\nthe only reply"]
        [unlinked] = [e["payload"]["record"] for e in pull_all(client, alice)
                      if e["type"] == "integration.record"]
        assert (unlinked["remote_id"], unlinked["linked"]) == (old_id, False)


def test_503_429_and_a_slow_answer_wait_and_still_make_one_case(
        settings: Settings, engine: Engine, world: World) -> None:
    with FakeSalesforce() as fake, running(settings, engine, fake, timeout_s=0.5) as client:
        alice = bearer(login(client, ALICE))
        case_id = new_case(client, alice, world.alpha)
        fake.inject("GET", r"/sobjects/Case/Support_Case_Id__c/", status=503, body=[{
            "message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}])
        request_id = ask(client, alice, world.alpha, case_id, "sync")
        clock = Clock()
        worker = Worker(engine, WorkerConfig(concurrency=1), clock=clock,
                        uniform=lambda low, high: low)
        run(worker)
        [unavailable] = outcomes(client, alice, request_id)
        assert unavailable["type"] == "integration.waiting"
        assert "SERVER_UNAVAILABLE: Server unavailable" in unavailable["payload"]["reason"]
        fake.inject("GET", r"/sobjects/Case/Support_Case_Id__c/", status=429,
                    headers={"Retry-After": "120"}, body=[])
        clock.ms = unavailable["payload"]["next_try_ms"]
        run(worker)
        limited = outcomes(client, alice, request_id)[-1]
        assert limited["type"] == "integration.waiting"
        assert limited["payload"]["next_try_ms"] >= clock.ms + 120_000
        fake.inject("PATCH", r"/sobjects/Case/Support_Case_Id__c/", delay_s=1.0)
        clock.ms = limited["payload"]["next_try_ms"]
        run(worker)
        slow = outcomes(client, alice, request_id)[-1]
        assert slow["type"] == "integration.waiting"
        assert "did not answer in 0.5 s" in slow["payload"]["reason"]
        time.sleep(0.7)  # the slow PATCH lands after all
        clock.ms = slow["payload"]["next_try_ms"]
        run(worker)
        assert outcomes(client, alice, request_id)[-1]["type"] == "integration.done"
        assert len(fake.cases()) == 1


@pytest.fixture(autouse=True)
def _no_stale_handlers() -> Iterator[None]:
    from sync_server.integrations import forget_all
    from sync_server.jobs.api import unregister_all

    forget_tokens()
    yield
    unregister_all()
    forget_all()
    forget_tokens()

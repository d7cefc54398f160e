"""The JIRA handlers against the fake JIRA over loopback (Cloud v3 and Data Center v2), with
a real migrated server database: what is sent, how JIRA's answers become outcomes, and that a
create whose answer was lost is found again rather than made twice."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sync_server.db import make_engine, migrate
from sync_server.ids import uuid7
from sync_server.integrations.jira import Jira
from sync_server.integrations.jira_format import label_for
from sync_server.jobs.api import (
    CaseView,
    CommentView,
    Done,
    Failed,
    Job,
    Permanent,
    RateLimited,
    Transient,
)
from sync_server.settings import JiraSettings
from tests.fakes.fake_jira import NOT_FOUND, FakeJira

CASE = CaseView(
    id="0190c0de-0000-7000-8000-000000000001", key="SUP-12", subject="Printer\non fire",
    description="The *printer* in room [4] {burns}.", requester_email="max@example.com",
    requester_name="Max", status="open", priority="high", url="https://support.example.com/c/SUP-12",
    comments=(CommentView("c1", "first reply", False, "ana@example.com", 1732550000000),
              CommentView("c2", "secret internal note", True, "bob@example.com", 1732550100000)))


@dataclass
class Ctx:
    view: CaseView = CASE
    linked: list[dict[str, Any]] = field(default_factory=list)
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def case(self) -> CaseView:
        return self.view

    def links(self, system: str) -> list[dict[str, Any]]:
        return [r for r in self.linked if r["linked"]] if system == "jira" else []


def job(action: str, params: dict[str, Any] | None = None, *, request_id: str | None = None,
        unknown: bool = False, attempts: int = 0) -> Job:
    return Job(id=uuid7(), request_id=request_id or uuid7(), team_id="t1", case_id=CASE.id,
               system="jira", site="x", action=action, params=params or {}, attempts=attempts,
               created_ms=int(time.time() * 1000), unknown_outcome=unknown)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'server.sqlite3'}")
    migrate(eng)
    yield eng
    eng.dispose()


def settings_for(fake: FakeJira, **extra: Any) -> JiraSettings:
    user = fake.user if fake.deployment == "cloud" else ""
    values: dict[str, Any] = {"url": fake.url, "user": user, "token": fake.token,
                              "project": "ENG", "timeout_s": 2.0, **extra}
    return JiraSettings.model_validate(values)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_create_on_cloud_sends_adf_with_the_case_link_and_the_chosen_comments(
        engine: Engine) -> None:
    with FakeJira(deployment="cloud") as fake:
        jira = Jira(settings_for(fake), engine)
        request = job("create", {"comment_ids": ["c1"]})
        outcome = run(jira.create(request, Ctx()))
        assert isinstance(outcome, Done)
        record = outcome.record
        assert record is not None and record["remote_key"] == "ENG-1"
        issue = fake.by_key("ENG-1")
        assert record["remote_id"] == issue.id and record["linked"] is True
        assert record["url"] == f"{fake.url}/browse/ENG-1"
        assert record["snapshot"]["status_category"] == "todo"
        assert record["snapshot"]["status"] == "To Do"
        assert issue.summary == "[SUP-12] Printer on fire"  # one line
        assert label_for(request.request_id) in issue.labels
        doc = issue.description
        assert doc["type"] == "doc" and doc["version"] == 1
        text = repr(doc)
        assert str(CASE.url) in text and "first reply" in text
        assert "secret internal note" not in text  # not chosen
        posted = fake.requests("POST", r"/rest/api/3/issue$")
        expected = base64.b64encode(f"{fake.user}:{fake.token}".encode()).decode()
        assert posted[0].headers["Authorization"] == f"Basic {expected}"
        # The API version came from serverInfo, asked once.
        assert len(fake.requests("GET", "serverInfo")) == 1


def test_create_on_data_center_sends_escaped_wiki_text_with_a_bearer_token(
        engine: Engine) -> None:
    with FakeJira(deployment="datacenter") as fake:
        jira = Jira(settings_for(fake), engine)
        outcome = run(jira.create(job("create", {"project": "OPS", "comment_ids": ["c2"]}), Ctx()))
        assert isinstance(outcome, Done) and outcome.record is not None
        assert outcome.record["remote_key"] == "OPS-1"
        issue = fake.by_key("OPS-1")
        assert isinstance(issue.description, str)
        assert "[Open the case|https://support.example.com/c/SUP-12]" in issue.description
        assert r"The \*printer\* in room \[4\] \{burns\}." in issue.description
        assert "secret internal note" in issue.description  # chosen this time
        posted = fake.requests("POST", r"/rest/api/2/issue$")
        assert posted[0].headers["Authorization"] == f"Bearer {fake.token}"
        assert not fake.requests("POST", "/rest/api/3/")


def test_a_create_whose_answer_was_lost_is_adopted_not_made_twice(engine: Engine) -> None:
    """The create reaches JIRA but its answer is lost; JIRA's search lags behind the write.
    The retry waits for the search rather than create again, then adopts the issue."""
    with FakeJira(search_lag_s=1.0) as fake:
        jira = Jira(settings_for(fake, search_settle_s=30), engine)
        fake.inject("POST", r"/issue$", lose_response=True)
        request_id = uuid7()
        with pytest.raises(Transient) as first:
            run(jira.create(job("create", request_id=request_id), Ctx()))
        assert first.value.unknown_outcome
        assert len(fake.issues) == 1
        # Retried at once: the search does not show the issue yet, so nothing is created.
        with pytest.raises(Transient) as second:
            run(jira.create(job("create", request_id=request_id, unknown=True), Ctx()))
        assert second.value.retry_after_s is not None and 0 < second.value.retry_after_s <= 30
        assert len(fake.issues) == 1
        time.sleep(1.1)
        outcome = run(jira.create(job("create", request_id=request_id, unknown=True,
                                      attempts=2), Ctx()))
        assert isinstance(outcome, Done) and outcome.record is not None
        assert outcome.record["remote_key"] == "ENG-1"
        assert len(fake.issues) == 1
        assert len(fake.requests("POST", r"/issue$")) == 1


def test_a_lost_answer_is_adopted_even_when_the_job_does_not_know_it_was_sent(
        engine: Engine) -> None:
    """A process killed mid-call may not have marked the outcome unknown: the send journal
    still makes the next attempt search first."""
    with FakeJira() as fake:
        jira = Jira(settings_for(fake, search_settle_s=0), engine)
        fake.inject("POST", r"/issue$", lose_response=True)
        request_id = uuid7()
        with pytest.raises(Transient):
            run(jira.create(job("create", request_id=request_id), Ctx()))
        outcome = run(jira.create(job("create", request_id=request_id, unknown=False), Ctx()))
        assert isinstance(outcome, Done) and len(fake.issues) == 1


def test_a_search_answer_that_is_no_search_result_never_leads_to_a_second_create(
        engine: Engine) -> None:
    with FakeJira() as fake:
        jira = Jira(settings_for(fake, search_settle_s=0), engine)
        fake.inject("POST", r"/issue$", lose_response=True)
        request_id = uuid7()
        with pytest.raises(Transient):
            run(jira.create(job("create", request_id=request_id), Ctx()))
        fake.inject("POST", "/search", status=200, body=b"<html>maintenance</html>")
        with pytest.raises(Transient) as caught:
            run(jira.create(job("create", request_id=request_id, unknown=True), Ctx()))
        assert "not JSON" in caught.value.reason
        fake.inject("POST", "/search", status=200, body={"warningMessages": ["busy"]})
        with pytest.raises(Transient) as caught:
            run(jira.create(job("create", request_id=request_id, unknown=True), Ctx()))
        assert "not a search result" in caught.value.reason
        assert len(fake.issues) == 1 and len(fake.requests("POST", r"/issue$")) == 1


def test_a_create_surely_not_applied_is_retried_without_waiting_for_the_search(
        engine: Engine) -> None:
    """A 503 or a refused connection says the create was not taken: the next attempt
    creates at once instead of waiting out JIRA's search lag."""
    with FakeJira() as fake:
        jira = Jira(settings_for(fake, search_settle_s=30), engine)
        request_id = uuid7()
        fake.inject("POST", r"/issue$", status=503, body={"errorMessages": ["maintenance"]})
        with pytest.raises(Transient) as caught:
            run(jira.create(job("create", request_id=request_id), Ctx()))
        assert not caught.value.unknown_outcome
        outcome = run(jira.create(job("create", request_id=request_id, attempts=1), Ctx()))
        assert isinstance(outcome, Done) and len(fake.issues) == 1


def test_an_unknown_project_or_issue_type_fails_with_jiras_message(engine: Engine) -> None:
    with FakeJira() as fake:
        jira = Jira(settings_for(fake), engine)
        with pytest.raises(Permanent) as caught:
            run(jira.create(job("create", {"project": "NOPE"}), Ctx()))
        assert caught.value.remote_status == 400
        assert "Specify a valid project ID or key" in caught.value.reason
        with pytest.raises(Permanent) as caught:
            run(jira.create(job("create", {"issue_type": "Epicness"}), Ctx()))
        assert "issuetype: Specify a valid issue type" in caught.value.reason
        assert not fake.issues


def test_create_without_a_project_or_with_foreign_comments_fails_before_any_call(
        engine: Engine) -> None:
    with FakeJira() as fake:
        jira = Jira(settings_for(fake, project=""), engine)
        outcome = run(jira.create(job("create"), Ctx()))
        assert isinstance(outcome, Failed) and "SMART_SUPPORT_JIRA_PROJECT" in outcome.reason
        outcome = run(jira.create(job("create", {"project": "ENG", "comment_ids": ["zz"]}), Ctx()))
        assert isinstance(outcome, Failed) and "zz" in outcome.reason
        assert not fake.seen


def test_401_is_asked_once_more_then_fails(engine: Engine) -> None:
    with FakeJira() as fake:
        fake.add_issue()
        jira = Jira(settings_for(fake, api=3), engine)
        fake.inject("GET", r"/issue/", status=401, body={"errorMessages": ["token expired"]})
        outcome = run(jira.link(job("link", {"issue_key": "ENG-1"}), Ctx()))
        assert isinstance(outcome, Done)  # the second ask succeeded
        bad = Jira(settings_for(fake, api=3, token="wrong"), engine)
        with pytest.raises(Permanent) as caught:
            run(bad.link(job("link", {"issue_key": "ENG-1"}), Ctx()))
        assert caught.value.remote_status == 401
        assert "You are not authenticated" in caught.value.reason
        assert len(fake.requests("GET", r"/issue/ENG-1")) == 4  # 1 + 1 retry, then 2


def test_rate_limits_and_server_errors_are_transient(engine: Engine) -> None:
    with FakeJira() as fake:
        fake.add_issue()
        jira = Jira(settings_for(fake, api=3), engine)
        link = job("link", {"issue_key": "ENG-1"})
        fake.inject("GET", "/issue/", status=429, headers={"Retry-After": "7"},
                    body={"errorMessages": ["Rate limit exceeded."]})
        with pytest.raises(RateLimited) as limited:
            run(jira.link(link, Ctx()))
        assert limited.value.retry_after_s == 7.0 and "Rate limit exceeded" in limited.value.reason
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
        fake.inject("GET", "/issue/", status=429, headers={"X-RateLimit-Reset": reset})
        with pytest.raises(RateLimited) as limited:
            run(jira.link(link, Ctx()))
        assert limited.value.retry_after_s is not None and 100 < limited.value.retry_after_s <= 120
        fake.inject("POST", r"/issue$", status=503, body=b"<html>down</html>")
        with pytest.raises(Transient) as unavailable:
            run(jira.create(job("create"), Ctx()))
        assert not unavailable.value.unknown_outcome and not isinstance(
            unavailable.value, RateLimited)
        fake.inject("POST", r"/issue$", status=500, body={"errorMessages": ["NPE"]})
        with pytest.raises(Transient) as failed:
            run(jira.create(job("create"), Ctx()))
        assert failed.value.unknown_outcome and "NPE" in failed.value.reason


def test_a_slow_answer_times_out_and_a_write_may_have_happened(engine: Engine) -> None:
    with FakeJira() as fake:
        jira = Jira(settings_for(fake, api=3, timeout_s=0.3), engine)
        fake.inject("POST", r"/issue$", delay_s=1.0)
        with pytest.raises(Transient) as caught:
            run(jira.create(job("create"), Ctx()))
        assert caught.value.unknown_outcome and "did not answer" in caught.value.reason


def test_link_keeps_the_immutable_id_and_a_bad_key_names_jiras_message(engine: Engine) -> None:
    with FakeJira() as fake:
        existing = fake.add_issue(summary="Engine stalls")
        jira = Jira(settings_for(fake), engine)
        outcome = run(jira.link(job("link", {"issue_key": "ENG-1"}), Ctx()))
        assert isinstance(outcome, Done) and outcome.record is not None
        assert outcome.record["remote_id"] == existing.id
        assert outcome.record["snapshot"]["summary"] == "Engine stalls"
        with pytest.raises(Permanent) as caught:
            run(jira.link(job("link", {"issue_key": "ENG-99"}), Ctx()))
        assert caught.value.remote_status == 404 and NOT_FOUND in caught.value.reason
        fake.hidden.add(existing.id)  # the integration user may no longer see it
        with pytest.raises(Permanent):
            run(jira.link(job("link", {"issue_key": "ENG-1"}), Ctx()))
        with pytest.raises(Permanent):  # a key cannot leave its path segment
            run(jira.link(job("link", {"issue_key": "../serverInfo"}), Ctx()))


def test_comment_goes_to_a_linked_issue_once_and_refresh_follows_a_move(engine: Engine) -> None:
    with FakeJira() as fake:
        existing = fake.add_issue()
        jira = Jira(settings_for(fake), engine)
        linked = run(jira.link(job("link", {"issue_key": "ENG-1"}), Ctx())).record
        ctx = Ctx(linked=[linked])
        outcome = run(jira.comment(job("comment", {"issue": "ENG-9", "body": "hi"}), ctx))
        assert isinstance(outcome, Failed) and "not linked" in outcome.reason
        request_id = uuid7()
        fake.inject("POST", r"/comment$", lose_response=True)
        with pytest.raises(Transient) as lost:
            run(jira.comment(job("comment", {"issue": "ENG-1", "body": "customer says hi"},
                                 request_id=request_id), ctx))
        assert lost.value.unknown_outcome
        again = run(jira.comment(job("comment", {"issue": "ENG-1", "body": "customer says hi"},
                                     request_id=request_id, unknown=True), ctx))
        assert isinstance(again, Done)
        assert len(existing.comments) == 1
        assert existing.comments[0]["body"]["type"] == "doc"
        fake.move("ENG-1", "OPS")
        fake.transition("OPS-1", "Fixed", "done", assignee="Erin Engineer")
        refreshed = run(jira.refresh(job("refresh"), ctx))
        assert isinstance(refreshed, Done) and refreshed.record is not None
        assert refreshed.record["remote_id"] == existing.id
        assert refreshed.record["remote_key"] == "OPS-1"
        assert refreshed.record["snapshot"]["status_category"] == "done"
        assert refreshed.record["snapshot"]["assignee"] == "Erin Engineer"
        unlinked = run(jira.unlink(job("unlink", {"remote_id": existing.id}), ctx))
        assert isinstance(unlinked, Done) and unlinked.record is not None
        assert unlinked.record["linked"] is False and unlinked.record["remote_id"] == existing.id

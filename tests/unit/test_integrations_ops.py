"""Integration requests from a case (app/operations/integrations.py) on a real SQLite store:
recorded offline as pending, checked before anything is recorded, their state as the server
answers; notifications of outcomes and of a linked issue that became resolved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import event_schema as es
from app.core import events as ev
from app.core.ids import uuid7
from app.operations import cases as ops
from app.operations import integrations as iops
from app.operations.errors import OperationError
from app.operations.notifications import Me, NotificationCenter
from app.store import schema as s
from app.store.rebuild import rebuild_projections
from app.store.repo import Store, dump_projections

ME = "ana@example.com"
T = 1_796_000_000_000


@pytest.fixture
def store(store: Store) -> Store:
    store.set_actor(ME)
    return store


@pytest.fixture
def case(store: Store) -> tuple[str, str]:
    case_id, key, _ = ops.create_case(store, subject="Printer on fire",
                                      requester_email="pat@customer.example")
    return case_id, key


_seq = iter(range(1000, 10**6))


def from_server(store: Store, case_id: str, type_: str, payload: dict[str, Any],
                ms: int = T) -> ev.Event:
    """A server-authored event as a pull brings it (validated as a laptop would)."""
    es.validate_payload(type_, 1, payload)
    event = ev.Event(id=uuid7(), type=type_, payload=payload, actor=es.SERVER_ACTOR,
                     device_id=es.SERVER_DEVICE, hlc=f"{ms:013d}.000000", case_id=case_id,
                     team_id=None, server_seq=next(_seq))
    es.check_pulled(event)
    store.ingest([event])
    return event


def issue(remote_id: str = "10001", key: str = "ENG-12", category: str = "todo",
          fetched_ms: int = T, linked: bool = True) -> dict[str, Any]:
    return {"remote_id": remote_id, "remote_key": key, "kind": "issue",
            "url": f"https://jira.example/browse/{key}", "linked": linked,
            "snapshot": {"summary": "Printer on fire", "status": category,
                         "status_category": category, "assignee": "Dana"},
            "fetched_ms": fetched_ms}


def link_issue(store: Store, case_id: str, **kw: Any) -> None:
    from_server(store, case_id, ev.INTEGRATION_RECORD, {"system": "jira", "record": issue(**kw)},
                ms=kw.get("fetched_ms", T))


def requests(store: Store, key: str) -> list[dict[str, Any]]:
    return list(iops.case_integrations(store, case=key)["requests"])


def count_events(store: Store) -> int:
    return int(store.read(lambda c: c.execute(select(func.count()).select_from(s.events))
                          .scalar()) or 0)


def test_a_request_made_offline_is_pending_then_queued_then_done(
        store: Store, case: tuple[str, str]) -> None:
    case_id, key = case
    request_id, changes = iops.request_jira_create(store, case=key, project="eng",
                                                   issue_type="Bug")
    assert "integrations" in changes.fields and changes.case_ids == {case_id}
    assert store.outbox_count() == 3  # case, requester and request: offline, none has left
    (req,) = requests(store, key)
    assert (req["request_id"], req["state"], req["params"]) == (
        request_id, "pending", {"project": "ENG", "issue_type": "Bug"})
    assert req["requested_by"] == ME
    event_id = store.read(lambda c: c.execute(select(s.events.c.id).where(
        s.events.c.type == ev.INTEGRATION_REQUESTED)).scalar())
    store.mark_pushed([(str(event_id), 7, None)])  # the server has it
    assert requests(store, key)[0]["state"] == "queued"
    from_server(store, case_id, ev.INTEGRATION_WAITING, {
        "request_id": request_id, "system": "jira", "action": "create",
        "reason": "JIRA answered 503: try later", "next_try_ms": T + 60_000})
    req = requests(store, key)[0]
    assert (req["state"], req["reason"], req["next_try_ms"]) == (
        "waiting", "JIRA answered 503: try later", T + 60_000)
    from_server(store, case_id, ev.INTEGRATION_DONE, {
        "request_id": request_id, "system": "jira", "action": "create",
        "message": "JIRA issue ENG-12 created", "record": issue()}, ms=T + 1)
    shown = iops.case_integrations(store, case=key, now_ms=T + 3_600_000)
    (req,) = shown["requests"]
    assert (req["state"], req["message"], req["remote_key"]) == (
        "done", "JIRA issue ENG-12 created", "ENG-12")
    (link,) = shown["links"]
    assert (link["remote_key"], link["status_category"], link["age"]) == ("ENG-12", "todo", "1h")
    assert link["snapshot"]["assignee"] == "Dana"
    incremental = store.read(dump_projections)
    store.write(lambda c: rebuild_projections(c))
    assert store.read(dump_projections) == incremental


def test_a_request_the_server_refused_says_why(store: Store, case: tuple[str, str]) -> None:
    _, key = case
    iops.request_salesforce_sync(store, case=key)
    event_id = store.read(lambda c: c.execute(select(s.events.c.id).where(
        s.events.c.type == ev.INTEGRATION_REQUESTED)).scalar())
    store.mark_pushed([(str(event_id), None, "you are not a member of this team")])
    (req,) = requests(store, key)
    assert (req["state"], req["reason"]) == ("refused", "you are not a member of this team")


@pytest.mark.parametrize("bad", ["ENG", "eng 12", "ENG-0", "ENG-012", "1ENG-2", "E-2",
                                 "ENG-12; DROP", "-12", "ENG--1", "Ä-1"])
def test_a_bad_issue_key_is_refused_before_anything_is_recorded(
        store: Store, case: tuple[str, str], bad: str) -> None:
    case_id, key = case
    link_issue(store, case_id)
    before = count_events(store)
    for call in (lambda: iops.request_jira_link(store, case=key, issue_key=bad),
                 lambda: iops.request_jira_unlink(store, case=key, issue_key=bad),
                 lambda: iops.request_jira_comment(store, case=key, text="hi", issue=bad)):
        with pytest.raises(OperationError, match="is not a JIRA issue key"):
            call()
    assert count_events(store) == before
    assert requests(store, key) == []


def test_checks_against_the_case(store: Store, case: tuple[str, str]) -> None:
    case_id, key = case
    before = count_events(store)
    with pytest.raises(OperationError, match="no case 'NOPE-1'"):
        iops.request_jira_create(store, case="NOPE-1")
    with pytest.raises(OperationError, match="has no comment 'c-1'"):
        iops.request_jira_create(store, case=key, comment_ids=["c-1"])
    with pytest.raises(OperationError, match="not a JIRA project key"):
        iops.request_jira_create(store, case=key, project="my project")
    with pytest.raises(OperationError, match="no JIRA issue is linked"):
        iops.request_jira_comment(store, case=key, text="please look")
    with pytest.raises(OperationError, match="nothing to refresh"):
        iops.request_jira_refresh(store, case=key)
    with pytest.raises(OperationError, match="ENG-12 is not linked"):
        iops.request_jira_unlink(store, case=key, issue_key="ENG-12")
    with pytest.raises(OperationError, match="comment is empty"):
        iops.request_jira_comment(store, case=key, text="  ")
    with pytest.raises(OperationError, match="JIRA takes at most 32,767"):
        iops.request_jira_comment(store, case=key, text="x" * 40_000)
    assert count_events(store) == before

    ops.comment(store, case=key, body="the logs", internal=True)
    comment_id = store.read(lambda c: c.execute(select(s.comments.c.id)).scalar())
    iops.request_jira_create(store, case=key, comment_ids=[str(comment_id), str(comment_id)])
    assert requests(store, key)[0]["params"] == {"comment_ids": [comment_id]}

    iops.request_jira_link(store, case=key, issue_key="ops-7")
    with pytest.raises(OperationError, match="link of OPS-7 .* is already requested"):
        iops.request_jira_link(store, case=key, issue_key="OPS-7")
    link_issue(store, case_id)
    with pytest.raises(OperationError, match="ENG-12 is already linked"):
        iops.request_jira_link(store, case=key, issue_key="eng-12")
    assert case_id


def test_comment_and_unlink_name_the_issue_by_its_immutable_id(
        store: Store, case: tuple[str, str]) -> None:
    case_id, key = case
    link_issue(store, case_id)
    iops.request_jira_comment(store, case=key, text="  customer confirms  ")
    assert requests(store, key)[-1]["params"] == {"issue": "10001", "body": "customer confirms"}
    link_issue(store, case_id, remote_id="10002", key="OPS-3")
    with pytest.raises(OperationError, match=r"several JIRA issues \(ENG-12, OPS-3\)"):
        iops.request_jira_comment(store, case=key, text="which one?")
    iops.request_jira_comment(store, case=key, text="this one", issue="ops-3")
    assert requests(store, key)[-1]["params"] == {"issue": "10002", "body": "this one"}
    iops.request_jira_unlink(store, case=key, issue_key="OPS-3")
    assert requests(store, key)[-1]["params"] == {"remote_id": "10002"}
    iops.request_jira_refresh(store, case=key)
    assert [r["action"] for r in requests(store, key)] == ["comment", "comment", "unlink",
                                                           "refresh"]


def test_an_unlinked_issue_is_no_longer_shown(store: Store, case: tuple[str, str]) -> None:
    case_id, key = case
    link_issue(store, case_id)
    link_issue(store, case_id, linked=False, fetched_ms=T + 10)
    assert iops.case_integrations(store, case=key)["links"] == []
    with pytest.raises(OperationError, match="ENG-12 is not linked"):
        iops.request_jira_unlink(store, case=key, issue_key="ENG-12")


def test_salesforce_lookup_goes_on_the_requesters_latest_case(
        store: Store, case: tuple[str, str]) -> None:
    case_id, key = case
    ops.create_case(store, subject="Other customer", requester_email="zed@other.example")
    _, changes = iops.request_salesforce_lookup(store, email=" PAT@customer.example ")
    assert changes.case_ids == {case_id}
    assert requests(store, key)[0]["params"] == {"email": "PAT@customer.example"}
    with pytest.raises(OperationError, match="no case has the requester nobody@x.example"):
        iops.request_salesforce_lookup(store, email="nobody@x.example")
    for bad in ("not-an-address", "a@b", "a b@c.example", "@c.example"):
        with pytest.raises(OperationError, match="is not an e-mail address"):
            iops.request_salesforce_lookup(store, email=bad, case=key)
    iops.request_salesforce_refresh(store, case=key)
    assert [r["action"] for r in requests(store, key)] == ["lookup", "refresh"]


def test_a_request_is_not_undone(store: Store, case: tuple[str, str]) -> None:
    _, key = case
    label = store.last_undoable_label()
    iops.request_jira_create(store, case=key)
    assert store.last_undoable_label() == label  # once sent, the server may have run it


def test_a_request_made_before_signing_in_is_the_agents_after(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    _, key, _ = ops.create_case(store, subject="Offline")
    iops.request_jira_create(store, case=key)
    store.adopt_teamless("team-1", actor=ME, first_sign_in=True)
    assert requests(store, key)[0]["requested_by"] == ME
    incremental = store.read(dump_projections)
    store.write(lambda c: rebuild_projections(c))
    assert store.read(dump_projections) == incremental
    store.close()


def test_notifications_of_outcomes_and_of_a_resolved_issue(store: Store,
                                                           case: tuple[str, str]) -> None:
    case_id, key = case
    center = NotificationCenter(store, None, me=Me(ME))
    assert center.follow() == []
    request_id, _ = iops.request_jira_create(store, case=key)
    for n in range(2):
        from_server(store, case_id, ev.INTEGRATION_WAITING, {
            "request_id": request_id, "system": "jira", "action": "create",
            "reason": "rate limited", "next_try_ms": T + 60_000 * (n + 1)}, ms=T + n)
    from_server(store, case_id, ev.INTEGRATION_DONE, {
        "request_id": request_id, "system": "jira", "action": "create",
        "message": "JIRA issue ENG-12 created", "record": issue(fetched_ms=T + 5)}, ms=T + 5)
    found = center.follow()
    first_try = time.strftime("%H:%M UTC", time.gmtime((T + 60_000) / 1000))
    assert [(n.title, n.body) for n in found] == [
        (f"JIRA create waiting on {key}", f"rate limited; next try at {first_try}"),
        (f"JIRA create done on {key}", "JIRA issue ENG-12 created")]
    link_issue(store, case_id, category="in_progress", fetched_ms=T + 10)
    assert center.follow() == []
    link_issue(store, case_id, category="done", fetched_ms=T + 20)
    (resolved,) = center.follow()
    assert resolved.title == f"ENG-12 was resolved ({key})" and resolved.case_id == case_id
    link_issue(store, case_id, category="done", fetched_ms=T + 30)  # still done: quiet
    assert center.follow() == []
    # Someone else's case and request: nothing for me.
    store.set_actor("ben@example.com")
    other_id, other_key, _ = ops.create_case(store, subject="Not mine")
    link_issue(store, other_id, remote_id="20001", key="ENG-99", fetched_ms=T + 40)
    link_issue(store, other_id, remote_id="20001", key="ENG-99", category="done",
               fetched_ms=T + 50)
    assert center.follow() == []
    assert other_key
    center.close()

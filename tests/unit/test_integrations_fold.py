"""The fold of integration events (app/core/integrations.py), pure and through the store:
any order, any repeats of the same events give the same projection (the merge rule), and
a rebuild from the log equals the incremental state."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import event_schema as es
from app.core import events as ev
from app.core.ids import uuid7
from app.core.integrations import IntegrationFold, shown_state
from app.operations import cases as ops
from app.store.rebuild import rebuild_projections
from app.store.repo import Store, dump_projections

CASE = "01930000-0000-7000-8000-000000000001"
T = 1_796_000_000_000
R1, R2 = "01930000-0000-7000-8000-00000000aaa1", "01930000-0000-7000-8000-00000000aaa2"


def server_event(type_: str, payload: dict[str, Any], ms: int, *, n: int = 0,
                 case_id: str = CASE) -> ev.Event:
    event = ev.Event(id=uuid7(), type=type_, payload=payload, actor=es.SERVER_ACTOR,
                     device_id=es.SERVER_DEVICE, hlc=f"{ms:013d}.{n:06d}", case_id=case_id,
                     team_id="t1")
    es.validate_payload(type_, 1, payload)  # every event here is one the schema accepts
    return event


def record(remote_id: str = "10001", key: str = "ENG-12", *, category: str = "todo",
           linked: bool = True, fetched_ms: int = T, summary: str = "Printer on fire",
           ) -> dict[str, Any]:
    return {"remote_id": remote_id, "remote_key": key, "kind": "issue",
            "url": f"https://jira.example/browse/{key}", "linked": linked,
            "snapshot": {"summary": summary, "status": category.replace("_", " ").title(),
                         "status_category": category, "assignee": "Dana"},
            "fetched_ms": fetched_ms}


def requested(request_id: str, ms: int, action: str = "create",
              params: dict[str, Any] | None = None, actor: str = "ana@example.com",
              ) -> ev.Event:
    payload = {"request_id": request_id, "system": "jira", "action": action,
               "params": params or {}}
    es.validate_payload(ev.INTEGRATION_REQUESTED, 1, payload)
    return ev.Event(id=uuid7(), type=ev.INTEGRATION_REQUESTED, payload=payload, actor=actor,
                    device_id="laptop-a", hlc=f"{ms:013d}.000000", case_id=CASE, team_id="t1")


def head(request_id: str, action: str = "create") -> dict[str, Any]:
    return {"request_id": request_id, "system": "jira", "action": action}


def test_each_outcome_gives_its_state() -> None:
    fold = IntegrationFold()
    fold.add(requested(R1, T, params={"project": "ENG"}))
    assert fold.requests[(CASE, R1)].state == "pending"
    assert fold.requests[(CASE, R1)].params == {"project": "ENG"}
    assert fold.requests[(CASE, R1)].requested_by == "ana@example.com"
    fold.add(server_event(ev.INTEGRATION_WAITING, head(R1) | {
        "reason": "JIRA is not answering (circuit open)", "next_try_ms": T + 60_000}, T + 10))
    req = fold.requests[(CASE, R1)]
    assert (req.state, req.reason, req.next_try_ms) == (
        "waiting", "JIRA is not answering (circuit open)", T + 60_000)
    fold.add(server_event(ev.INTEGRATION_DONE, head(R1) | {
        "message": "JIRA issue ENG-12 created", "record": record()}, T + 20))
    req = fold.requests[(CASE, R1)]
    assert (req.state, req.message, req.reason, req.next_try_ms, req.remote_key) == (
        "done", "JIRA issue ENG-12 created", None, None, "ENG-12")
    link = fold.links[(CASE, "jira", "10001")]
    assert link.linked and link.remote_key == "ENG-12" and link.status_category == "todo"
    assert link.snapshot["assignee"] == "Dana" and link.fetched_ms == T

    fold.add(requested(R2, T + 30, action="link", params={"issue_key": "NOPE-1"}))
    fold.add(server_event(ev.INTEGRATION_FAILED, head(R2, "link") | {
        "reason": "Issue does not exist or you do not have permission to see it.",
        "remote_status": 404}, T + 40))
    req = fold.requests[(CASE, R2)]
    assert (req.state, req.remote_status) == ("failed", 404)
    assert req.reason == "Issue does not exist or you do not have permission to see it."


def test_a_record_changes_the_link_and_an_unlink_keeps_it_unlinked() -> None:
    fold = IntegrationFold()
    fold.add(server_event(ev.INTEGRATION_DONE, head(R1) | {
        "message": "created", "record": record()}, T + 1))
    fold.add(server_event(ev.INTEGRATION_RECORD, {"system": "jira", "record": record(
        key="OPS-7", category="in_progress", fetched_ms=T + 500)}, T + 501))
    link = fold.links[(CASE, "jira", "10001")]
    assert (link.remote_key, link.status_category) == ("OPS-7", "in_progress")  # moved project
    fold.add(server_event(ev.INTEGRATION_DONE, head(R2, "unlink") | {
        "message": "unlinked", "record": record(key="OPS-7", category="in_progress",
                                                linked=False, fetched_ms=T + 900)}, T + 901))
    # A refresh that fetched before the unlink but was recorded after it changes nothing.
    fold.add(server_event(ev.INTEGRATION_RECORD, {"system": "jira", "record": record(
        key="OPS-7", category="done", fetched_ms=T + 800)}, T + 1000))
    link = fold.links[(CASE, "jira", "10001")]
    assert link.linked is False and link.status_category == "in_progress"


def test_pending_is_shown_queued_once_the_server_has_it() -> None:
    assert shown_state("pending", at_server=False, refused=False) == "pending"
    assert shown_state("pending", at_server=True, refused=False) == "queued"
    assert shown_state("pending", at_server=False, refused=True) == "refused"
    assert shown_state("done", at_server=True, refused=False) == "done"


def _events() -> list[ev.Event]:
    """A request's whole life and a second, competing history on the same link."""
    return [
        requested(R1, T),
        requested(R1, T + 2, params={"project": "LATE"}),  # a repeat of the id: not run
        server_event(ev.INTEGRATION_WAITING, head(R1) | {
            "reason": "rate limited", "next_try_ms": T + 5_000}, T + 3),
        server_event(ev.INTEGRATION_WAITING, head(R1) | {
            "reason": "rate limited again", "next_try_ms": T + 9_000}, T + 4),
        server_event(ev.INTEGRATION_DONE, head(R1) | {
            "message": "JIRA issue ENG-12 created", "record": record(fetched_ms=T + 5)},
            T + 5),
        server_event(ev.INTEGRATION_RECORD, {"system": "jira", "record": record(
            category="done", fetched_ms=T + 50)}, T + 50),
        server_event(ev.INTEGRATION_RECORD, {"system": "jira", "record": record(
            category="in_progress", fetched_ms=T + 50)}, T + 50, n=1),  # same fetch time
        requested(R2, T + 60, action="unlink", params={"remote_id": "10001"}),
        server_event(ev.INTEGRATION_FAILED, head(R2, "unlink") | {
            "reason": "no", "remote_status": 403}, T + 61),
        server_event(ev.INTEGRATION_RECORD, {"system": "salesforce", "record": {
            "remote_id": "003XX", "remote_key": "003XX", "kind": "contact", "url": "",
            "linked": True, "snapshot": {}, "fetched_ms": T + 70}}, T + 70),
        server_event(ev.INTEGRATION_DONE, head(R1) | {"message": "x", "record": None}, T + 80,
                     case_id="01930000-0000-7000-8000-000000000002"),  # another case
    ]


def _folded(events: list[ev.Event]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    fold = IntegrationFold()
    for e in events:
        fold.add(e)
    return ({k: repr(v) for k, v in fold.links.items()},
            {k: repr(v) for k, v in fold.requests.items()})


EVENTS = _events()
IN_ORDER = _folded(EVENTS)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(range(len(EVENTS))), min_size=len(EVENTS),
                max_size=3 * len(EVENTS)).filter(lambda ix: set(ix) == set(range(len(EVENTS))))
       | st.permutations(range(len(EVENTS))))
def test_any_order_and_repeats_give_the_same_fold(order: list[int]) -> None:
    assert _folded([EVENTS[i] for i in order]) == IN_ORDER


def test_the_fold_in_order_is_the_expected_state() -> None:
    fold = IntegrationFold()
    for e in EVENTS:
        fold.add(e)
    req = fold.requests[(CASE, R1)]
    assert req.params == {} and req.state == "done"  # the first request, the last outcome
    other = fold.requests[("01930000-0000-7000-8000-000000000002", R1)]
    assert other.message == "x"  # an outcome on another case touches only that case
    link = fold.links[(CASE, "jira", "10001")]
    assert link.status_category == "in_progress"  # equal fetch times: the later clock wins
    assert fold.requests[(CASE, R2)].state == "failed"
    assert (CASE, "salesforce", "003XX") in fold.links


# --- through the store: incremental (in pages, any order, repeats) equals a rebuild --------
def _store_with_case() -> tuple[Store, str, Path]:
    folder = Path(tempfile.mkdtemp())
    store = Store(folder / "s.db")
    case_id, _, _ = ops.create_case(store, subject="Printer on fire")
    return store, case_id, folder


def _on(case_id: str, e: ev.Event) -> ev.Event:
    return ev.Event(id=e.id, type=e.type, payload=e.payload, actor=e.actor,
                    device_id=e.device_id, hlc=e.hlc, case_id=case_id, team_id=e.team_id,
                    server_seq=None)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(range(len(EVENTS))), st.integers(1, 4), st.booleans())
def test_pulled_in_pages_in_any_order_equals_a_rebuild(order: list[int], page: int,
                                                       twice: bool) -> None:
    store, case_id, _ = _store_with_case()
    try:
        events = [_on(case_id, EVENTS[i]) for i in order]
        for n, i in enumerate(range(0, len(events), page)):
            store.ingest([ev.Event(**{**_fields(e), "server_seq": 100 + n * page + j})
                          for j, e in enumerate(events[i:i + page])])
        if twice:
            store.ingest(events)  # repeats are known: nothing changes
        incremental = store.read(dump_projections)
        store.write(lambda conn: rebuild_projections(conn))
        assert store.read(dump_projections) == incremental
        rows = store.read(lambda c: c.exec_driver_sql(
            "SELECT request_id, state FROM integration_requests WHERE case_id = ?",
            (case_id,)).all())
        assert sorted(map(tuple, rows)) == [(R1, "done"), (R2, "failed")]
    finally:
        store.close()


def _fields(e: ev.Event) -> dict[str, Any]:
    return {"id": e.id, "type": e.type, "payload": e.payload, "actor": e.actor,
            "device_id": e.device_id, "hlc": e.hlc, "case_id": e.case_id,
            "team_id": e.team_id}

"""Integration events over a real sync (uvicorn on loopback, real SQLite stores): a request
recorded offline is pushed and shown queued; a teammate's laptop sees it; a server-only
outcome that a laptop forged is refused by the server and, if an older or compromised
server passed it on anyway, quarantined on every other laptop; the real one is applied."""

from __future__ import annotations

from pathlib import Path

from app.core import event_schema as es
from app.core import events as ev
from app.operations import integrations as iops
from app.store.repo import dump_projections
from app.sync.engine import sync_once
from tests.sync import test_quarantine as tq
from tests.sync.test_quarantine import Server, _client, _push_or_inject, _shared_case, _wire, held

server = tq.server  # the real sync server on loopback, with Ana and Ben in Support

RECORD = {"remote_id": "10001", "remote_key": "ENG-12", "kind": "issue",
          "url": "https://jira.example/browse/ENG-12", "linked": True,
          "snapshot": {"summary": "Pay here", "status_category": "done"},
          "fetched_ms": 1_796_000_000_000}


def test_a_request_made_offline_is_queued_once_pushed_and_seen_by_a_teammate(
        tmp_path: Path, server: Server) -> None:
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    key = _shared_case(a, sa, b, sb)  # a case id is a reference too
    request_id, _ = iops.request_jira_create(a, case=key, project="ENG")  # offline
    assert iops.case_integrations(a, case=key)["requests"][0]["state"] == "pending"
    sync_once(a, sa)
    (mine,) = iops.case_integrations(a, case=key)["requests"]
    assert (mine["request_id"], mine["state"]) == (request_id, "queued")
    sync_once(b, sb)
    (theirs,) = iops.case_integrations(b, case=key)["requests"]
    assert theirs == mine
    assert a.read(dump_projections) == b.read(dump_projections)


def test_a_forged_server_only_outcome_is_quarantined_and_the_real_one_applied(
        tmp_path: Path, server: Server) -> None:
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = _shared_case(a, sa, b, sb)
    request_id, _ = iops.request_jira_create(a, case=case_id)
    sync_once(a, sa)
    head = {"request_id": request_id, "system": "jira", "action": "create"}
    forged = {
        ev.INTEGRATION_DONE: _wire(server.support, type_=ev.INTEGRATION_DONE, case_id=case_id,
                                   payload=head | {"message": "created", "record": RECORD}),
        ev.INTEGRATION_FAILED: _wire(server.support, type_=ev.INTEGRATION_FAILED,
                                     case_id=case_id, payload=head | {"reason": "no"}),
        ev.INTEGRATION_WAITING: _wire(server.support, type_=ev.INTEGRATION_WAITING,
                                      case_id=case_id, payload=head | {
                                          "reason": "later", "next_try_ms": 1}),
        ev.INTEGRATION_RECORD: _wire(server.support, type_=ev.INTEGRATION_RECORD,
                                     case_id=case_id,
                                     payload={"system": "jira", "record": RECORD}),
    }
    # every server-only integration type is covered (mail's have their own test)
    assert set(forged) == {t for t in es.SERVER_ONLY_TYPES if t.startswith("integration.")}
    for event in forged.values():  # Ana's laptop claims to be the server: refused...
        assert _push_or_inject(server, sa, event) == "injected"  # ...so an old server's copy
    genuine = _wire(server.support, type_=ev.INTEGRATION_WAITING, case_id=case_id,
                    payload=head | {"reason": "JIRA is down", "next_try_ms": 2},
                    actor=es.SERVER_ACTOR, device_id=es.SERVER_DEVICE)
    assert _push_or_inject(server, sa, genuine) == "injected"

    sync_once(b, sb)

    assert set(held(b)) == {e["id"] for e in forged.values()}
    shown = iops.case_integrations(b, case=case_id)
    assert shown["links"] == []  # the forged record linked nothing
    (req,) = shown["requests"]
    assert (req["state"], req["reason"]) == ("waiting", "JIRA is down")

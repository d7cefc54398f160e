"""Push idempotency, per-event rejections, case keys, pull paging and team filtering."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from sync_server.ids import uuid7

from .helpers import World, bearer, created, event, login, pull_all, push


def test_push_is_idempotent(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    batch = [event("alice@example.com", world.alpha) for _ in range(3)]
    first = push(client, alice, batch)
    assert [r["status"] for r in first] == ["stored"] * 3
    assert [r["server_seq"] for r in first] == [1, 2, 3]
    again = push(client, alice, batch + [batch[0]])
    assert [r["status"] for r in again] == ["duplicate"] * 4
    assert [r["server_seq"] for r in again] == [1, 2, 3, 1]
    assert len(pull_all(client, alice)) == 3


def test_events_are_stored_verbatim(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    payload: dict[str, Any] = {"body": "héllo ✓", "nested": {"a": [1, 2.5, None, True]}, "z": 1}
    sent = event("alice@example.com", world.alpha, payload=payload, case_id=uuid7())
    push(client, alice, [sent])
    (got,) = pull_all(client, alice)
    assert got == {**sent, "server_seq": 1, "v": 1}  # no "v" sent: version 1


def test_concurrent_resends_store_once(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    batch = [event("alice@example.com", world.alpha) for _ in range(20)]
    outcomes: list[list[dict[str, Any]]] = []

    def send() -> None:
        outcomes.append(push(client, alice, batch))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = [r for results in outcomes for r in results if r["status"] == "stored"]
    assert len(stored) == 20
    seqs = {r["id"]: r["server_seq"] for r in stored}
    for results in outcomes:
        for r in results:
            assert r["server_seq"] == seqs[r["id"]]
    pulled = pull_all(client, alice)
    assert [e["server_seq"] for e in pulled] == list(range(1, 21))


def test_rejections_are_per_event_with_reasons(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    beta_case = created("carol@example.com", world.beta)
    push(client, carol, [beta_case])
    good = event("alice@example.com", world.alpha)
    batch = [
        event("carol@example.com", world.alpha),                        # actor mismatch
        event("alice@example.com", world.beta),                         # not a member
        event("alice@example.com", world.alpha, case_id=beta_case["case_id"]),  # other team's case
        event("alice@example.com", world.alpha, type_="case.key_assigned", case_id=uuid7(),
              payload={"key": "ALP-999"}),                               # server-only type
        event("alice@example.com", world.alpha, type_="case.updated", case_id=uuid7(),
              payload={"field": "team_id", "value": "no-such-team", "prev": None}),
        good,
    ]
    results = push(client, alice, batch)
    assert [r["status"] for r in results] == ["rejected"] * 5 + ["stored"]
    assert all(r["reason"] and r["server_seq"] is None for r in results[:5])
    assert "actor" in results[0]["reason"]
    assert "member" in results[1]["reason"]
    assert "case" in results[2]["reason"]
    assert [e["id"] for e in pull_all(client, alice)] == [good["id"]]


def test_invalid_events_are_refused_one_by_one(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    bad: list[dict[str, Any]] = [
        {**event("alice@example.com", world.alpha), "type": "Case Created"},
        {**event("alice@example.com", world.alpha), "hlc": "yesterday"},
        {**event("alice@example.com", world.alpha), "id": "not-a-uuid"},
        {**event("alice@example.com", world.alpha), "device_id": "d" * 65},
        {**event("alice@example.com", world.alpha), "payload": {"blob": "x" * (256 * 1024)}},
        {**event("alice@example.com", world.alpha), "payload": [1, 2]},
    ]
    for sent in bad:
        (result,) = push(client, alice, [sent])
        assert result["status"] == "rejected" and result["reason"], sent
        assert result["id"] == sent["id"] and result["server_seq"] is None
    assert "hlc" in push(client, alice, [bad[1]])[0]["reason"]
    # a batch envelope that is not a list of objects is still refused as a whole
    for body in ({"events": [1, "x"]}, {"events": {}}, {}):
        response = client.post("/api/v1/events/push", json=body, headers=alice)
        assert response.status_code == 422, body
    too_many = [event("alice@example.com", world.alpha) for _ in range(1001)]
    response = client.post("/api/v1/events/push", json={"events": too_many}, headers=alice)
    assert response.status_code == 422
    huge = b'{"events": [' + b" " * (9 * 1024 * 1024) + b"]}"
    response = client.post("/api/v1/events/push", content=huge, headers={
        **alice, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert pull_all(client, alice) == []


def test_case_created_gets_a_team_key(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    cases = [created("alice@example.com", world.alpha) for _ in range(2)]
    results = push(client, alice, cases)
    assert [r["server_seq"] for r in results] == [1, 3]
    push(client, carol, [created("carol@example.com", world.beta)])
    pulled = pull_all(client, alice)
    keys = [e for e in pulled if e["type"] == "case.key_assigned"]
    assert [k["payload"]["key"] for k in keys] == ["ALP-1", "ALP-2"]
    for key, case in zip(keys, cases, strict=True):
        assert key["case_id"] == case["case_id"]
        assert key["team_id"] == world.alpha
        assert key["actor"] == "system" and key["device_id"] == "server"
        assert key["hlc"] > case["hlc"]
        assert key["id"] != case["id"]
    beta_keys = [e["payload"]["key"] for e in pull_all(client, carol) if e["type"] == "case.key_assigned"]
    assert beta_keys == ["BET-1"]
    # a second case.created for the same case is refused
    again = created("alice@example.com", world.alpha, case_id=cases[0]["case_id"])
    assert push(client, alice, [again])[0]["status"] == "rejected"


def test_pull_paging_and_team_filtering(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    dave = bearer(login(client, "dave@example.com"))
    for i in range(7):
        push(client, alice, [event("alice@example.com", world.alpha, payload={"body": "hello", "i": i})])
        push(client, carol, [event("carol@example.com", world.beta, payload={"body": "hello", "i": i})])
    for limit in (1, 2, 3, 500):
        mine = pull_all(client, alice, limit=limit)
        assert [e["payload"]["i"] for e in mine] == list(range(7))
        assert {e["team_id"] for e in mine} == {world.alpha}
    assert len(pull_all(client, dave, limit=4)) == 14
    page = client.get("/api/v1/events", params={"since": 0, "limit": 3}, headers=carol).json()
    assert page["has_more"] is True and len(page["events"]) == 3
    last = client.get("/api/v1/events", params={"since": 14}, headers=carol).json()
    assert last == {"events": [], "next_cursor": 14, "has_more": False}
    for bad in ({"since": -1}, {"limit": 0}, {"limit": 1001}, {"since": "x"}):
        assert client.get("/api/v1/events", params=bad, headers=alice).status_code == 422


def test_moved_case_follows_its_team(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    dave = bearer(login(client, "dave@example.com"))
    case = created("alice@example.com", world.alpha)
    comment = event("alice@example.com", world.alpha, case_id=case["case_id"])
    assert [r["status"] for r in push(client, alice, [case, comment])] == ["stored"] * 2
    # only a member of both teams may move the case (dave is in Alpha and Beta)
    move = event("dave@example.com", world.beta, type_="case.updated", case_id=case["case_id"],
                 payload={"field": "team_id", "value": world.beta, "prev": world.alpha})
    assert push(client, dave, [move])[0]["status"] == "stored"
    # carol (Beta) now sees the whole history of the case, including its key
    seen = [e["type"] for e in pull_all(client, carol)]
    assert seen == ["case.created", "case.key_assigned", "comment.added", "case.updated"]
    # alice keeps what was stored for Alpha, but can no longer write to the case
    late = event("alice@example.com", world.alpha, case_id=case["case_id"])
    result = push(client, alice, [late])[0]
    assert result["status"] == "rejected"
    carol_reply = event("carol@example.com", world.beta, case_id=case["case_id"])
    assert push(client, carol, [carol_reply])[0]["status"] == "stored"
    assert carol_reply["id"] not in {e["id"] for e in pull_all(client, alice)}


def test_pull_windows_over_sparse_visibility(client: TestClient, world: World) -> None:
    """A user who may see few events still gets all of them, in order, at any page size."""
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    for i in range(6):
        push(client, alice, [event("alice@example.com", world.alpha) for _ in range(40)])
        push(client, carol, [event("carol@example.com", world.beta, payload={"body": "hello", "i": i})])
    for limit in (1, 2, 5):
        mine = pull_all(client, carol, limit=limit)
        assert [e["payload"]["i"] for e in mine] == list(range(6))
    page = client.get("/api/v1/events", params={"since": 0, "limit": 1}, headers=carol).json()
    assert page["has_more"] is True
    end = client.get("/api/v1/events", params={"since": 246, "limit": 1}, headers=carol).json()
    assert end == {"events": [], "next_cursor": 246, "has_more": False}

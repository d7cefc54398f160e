"""What a signed-in user may learn about other teams: their attachments (404, as if absent),
their activity through the pull cursor (never), and how much they may push (quotas)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sync_server.main import create_app
from sync_server.services import events as events_module
from sync_server.services import quota as quota_module
from sync_server.services.quota import PushQuota
from sync_server.settings import Settings

from .helpers import World, bearer, created, event, login, pull_all, push

BLOBS = "/api/v1/blobs"


def _attachment(actor: str, team: str, case_id: str, sha: str) -> dict[str, Any]:
    return event(actor, team, type_="attachment.added", case_id=case_id,
                 payload={"sha256": sha, "name": "trace.log", "size": 10, "mime": "text/plain"})


def _page(client: TestClient, headers: dict[str, str], since: int, limit: int = 500) -> Any:
    response = client.get("/api/v1/events", params={"since": since, "limit": limit},
                          headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_blobs_are_readable_only_by_teams_that_reference_them(client: TestClient,
                                                              world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))  # Alpha
    bob = bearer(login(client, "bob@example.com"))  # Alpha
    carol = bearer(login(client, "carol@example.com"))  # Beta
    dave = bearer(login(client, "dave@example.com"))  # Alpha and Beta
    data = os.urandom(5000)
    sha = hashlib.sha256(data).hexdigest()
    assert client.put(f"{BLOBS}/{sha}", content=data, headers=alice).status_code == 200
    case = created("alice@example.com", world.alpha)
    push(client, alice, [case, _attachment("alice@example.com", world.alpha, case["case_id"], sha)])
    for who in (alice, bob, dave):
        assert client.get(f"{BLOBS}/{sha}", headers=who).content == data
        head = client.head(f"{BLOBS}/{sha}", headers=who)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    # Another team's member gets exactly what a missing blob gets.
    missing = hashlib.sha256(b"never uploaded").hexdigest()
    for sha_ in (sha, missing):
        got = client.get(f"{BLOBS}/{sha_}", headers=carol)
        assert (got.status_code, got.json()) == (404, {"detail": "no such blob"})
        assert client.head(f"{BLOBS}/{sha_}", headers=carol).status_code == 404
    # Uploading the same bytes again teaches carol nothing (200 as for a new blob) and
    # grants nothing; a wrong body is refused whether or not the blob exists.
    again = client.put(f"{BLOBS}/{sha}", content=data, headers=carol)
    assert (again.status_code, again.json()) == (200, {"sha256": sha, "size": len(data)})
    assert client.get(f"{BLOBS}/{sha}", headers=carol).status_code == 404
    for sha_ in (sha, missing):
        assert client.put(f"{BLOBS}/{sha_}", content=b"other", headers=carol).status_code == 400


def test_blob_refs_follow_a_case_to_its_new_team(client: TestClient, world: World) -> None:
    dave = bearer(login(client, "dave@example.com"))  # may move cases between his teams
    carol = bearer(login(client, "carol@example.com"))
    data = os.urandom(3000)
    sha = hashlib.sha256(data).hexdigest()
    assert client.put(f"{BLOBS}/{sha}", content=data, headers=dave).status_code == 200
    case = created("dave@example.com", world.alpha)
    push(client, dave, [case, _attachment("dave@example.com", world.alpha, case["case_id"], sha)])
    assert client.get(f"{BLOBS}/{sha}", headers=carol).status_code == 404
    move = event("dave@example.com", world.alpha, type_="case.updated", case_id=case["case_id"],
                 payload={"field": "team_id", "value": world.beta, "prev": world.alpha})
    assert push(client, dave, [move])[0]["status"] == "stored"
    assert client.get(f"{BLOBS}/{sha}", headers=carol).content == data


def test_an_attachment_in_the_batch_that_moves_its_case_is_the_new_teams(
        client: TestClient, world: World) -> None:
    dave = bearer(login(client, "dave@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    sha = hashlib.sha256(b"moved").hexdigest()
    assert client.put(f"{BLOBS}/{sha}", content=b"moved", headers=dave).status_code == 200
    case = created("dave@example.com", world.alpha)
    move = event("dave@example.com", world.alpha, type_="case.updated", case_id=case["case_id"],
                 payload={"field": "team_id", "value": world.beta, "prev": world.alpha})
    added = _attachment("dave@example.com", world.beta, case["case_id"], sha)
    assert {r["status"] for r in push(client, dave, [case, move, added])} == {"stored"}
    assert client.get(f"{BLOBS}/{sha}", headers=carol).content == b"moved"


def test_teamless_cursor_never_shows_the_global_counter(client: TestClient, world: World) -> None:
    erin = bearer(login(client, "erin@example.com"))  # in no team
    alice = bearer(login(client, "alice@example.com"))
    assert _page(client, erin, 0) == {"events": [], "next_cursor": 0, "has_more": False}
    push(client, alice, [event("alice@example.com", world.alpha) for _ in range(25)])
    assert _page(client, erin, 0) == {"events": [], "next_cursor": 0, "has_more": False}
    assert _page(client, erin, 7) == {"events": [], "next_cursor": 7, "has_more": False}


def test_cursor_does_not_move_with_other_teams_pushes(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    mine = push(client, alice, [event("alice@example.com", world.alpha)])[0]["server_seq"]
    assert _page(client, alice, 0)["next_cursor"] == mine
    for _ in range(3):
        push(client, carol, [event("carol@example.com", world.beta) for _ in range(40)])
        for limit in (1, 5, 500):
            page = _page(client, alice, mine, limit)
            assert page == {"events": [], "next_cursor": mine, "has_more": False}
    # Her next event is found however far past the others' it lies; the cursor lands on it.
    later = push(client, alice, [event("alice@example.com", world.alpha)])[0]["server_seq"]
    for limit in (1, 2, 500):
        page = _page(client, alice, mine, limit)
        assert [e["server_seq"] for e in page["events"]] == [later]
        assert page["next_cursor"] == later and page["has_more"] is False


def test_sparse_events_beyond_many_windows_are_all_delivered(client: TestClient,
                                                             world: World) -> None:
    """limit=1 scans windows of 4 sequence numbers, 16 per request: 300 of Beta's events
    between two of Alpha's are skipped by index seeks, not by showing a cursor past them."""
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    first = push(client, alice, [event("alice@example.com", world.alpha)])[0]["server_seq"]
    push(client, carol, [event("carol@example.com", world.beta) for _ in range(300)])
    second = push(client, alice, [event("alice@example.com", world.alpha)])[0]["server_seq"]
    push(client, carol, [event("carol@example.com", world.beta) for _ in range(300)])
    cursors = []
    since, seen = 0, []
    for _ in range(10):
        page = _page(client, alice, since, limit=1)
        seen += [e["server_seq"] for e in page["events"]]
        cursors.append(page["next_cursor"])
        since = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == [first, second]
    assert set(cursors) <= {first, second}


@pytest.mark.parametrize("scan_max", [20_000, 10], ids=["scanned", "by-cases"])
def test_moved_case_history_is_pulled_by_the_new_team_across_gaps(
        client: TestClient, world: World, scan_max: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of seeking a moved case's events past a gap find them."""
    monkeypatch.setattr(events_module, "_SEEK_SCAN_MAX", scan_max)
    dave = bearer(login(client, "dave@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    alice = bearer(login(client, "alice@example.com"))
    case = created("dave@example.com", world.alpha)
    push(client, dave, [case])
    push(client, alice, [event("alice@example.com", world.alpha) for _ in range(200)])
    note = event("dave@example.com", world.alpha, case_id=case["case_id"])
    push(client, dave, [note])
    push(client, alice, [event("alice@example.com", world.alpha) for _ in range(200)])
    move = event("dave@example.com", world.alpha, type_="case.updated", case_id=case["case_id"],
                 payload={"field": "team_id", "value": world.beta, "prev": world.alpha})
    push(client, dave, [move])
    got = [e["id"] for e in pull_all(client, carol, limit=1)]
    assert [i for i in got if i in {case["id"], note["id"], move["id"]}] == [
        case["id"], note["id"], move["id"]]


@pytest.fixture
def quota_client(settings: Settings, engine: Engine, world: World,
                 monkeypatch: pytest.MonkeyPatch) -> Any:
    """A server allowing 5 events and 200 kB a minute, on a clock the test moves."""
    now = [1000.0]
    monkeypatch.setattr(quota_module, "clock", lambda: now[0])
    limited = settings.model_copy(update={"push_events_per_minute": 5,
                                          "push_bytes_per_minute": 200_000})
    with TestClient(create_app(limited, engine=engine, run_migrations=False)) as client:
        yield client, now


def test_push_quota_answers_429_with_retry_after(quota_client: Any, world: World) -> None:
    client, now = quota_client
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    push(client, alice, [event("alice@example.com", world.alpha) for _ in range(3)])
    now[0] += 20
    push(client, alice, [event("alice@example.com", world.alpha) for _ in range(2)])
    refused = [event("alice@example.com", world.alpha)]
    response = client.post("/api/v1/events/push", json={"events": refused}, headers=alice)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == 40  # when the first 3 leave the minute
    assert "quota" in response.json()["detail"]
    # Quotas are per user: carol is not slowed by alice.
    push(client, carol, [event("carol@example.com", world.beta) for _ in range(5)])
    now[0] += 40
    assert push(client, alice, refused)[0]["status"] == "stored"  # the retry succeeds
    # Bytes count too: one body of ~150 kB fits, a second does not within the minute.
    now[0] += 60
    big = {"body": "y" * 150_000}
    push(client, alice, [event("alice@example.com", world.alpha, payload=big)])
    response = client.post("/api/v1/events/push", headers=alice, json={
        "events": [event("alice@example.com", world.alpha, payload=big)]})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) == 60


def test_quota_lets_one_oversized_push_through_an_empty_minute() -> None:
    quota = PushQuota(bytes_per_minute=100, events_per_minute=10)
    quota.charge("u", 500, 1, now=0.0)  # alone in its minute: allowed
    with pytest.raises(quota_module.QuotaExceeded) as refused:
        quota.charge("u", 1, 1, now=30.0)
    assert refused.value.retry_after == 30
    quota.charge("u", 1, 1, now=60.5)


def test_default_quotas_allow_a_first_sync_of_100k_events_in_batches_of_1000() -> None:
    """A first sync pushes 100 batches of 1000 events (bench/sync_figures.py's events are
    ~400 bytes on the wire: ~0.4 MB a batch) at full speed within a minute."""
    defaults = Settings(db_url="sqlite://", data_dir=Path("."))
    quota = PushQuota(defaults.push_bytes_per_minute, defaults.push_events_per_minute)
    for i in range(100):
        quota.charge("u", 1000 * 400, 1000, now=i * 0.3)

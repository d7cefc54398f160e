"""The server enforces the event schema on every pushed event, one event at a time: the audit's
variants are refused with a reason, the good events around them are stored, and nothing it
stores can stop a teammate's pull (every pulled event passes the client's validation)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, update

from sync_server.ids import ServerClock, uuid7
from sync_server.main import create_app
from sync_server.services import accounts
from sync_server.settings import CLOCK_AHEAD_ENV, Settings, load_settings
from sync_server.tables import EVENT_SEQ, counters, events

from .helpers import World, bearer, created, event, login, pull_all, push

ALICE = "alice@example.com"
NOW_MS = int(time.time() * 1000)
HOUR_MS = 3_600_000


def _clock(ms: int) -> str:
    return f"{ms:013d}.000001"


def _pushed(client: TestClient, headers: dict[str, str],
            batch: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["status"], r["reason"] or "") for r in push(client, headers, batch)]


def _check_pulled(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Everything the server serves passes the client's own validation (app.core)."""
    from app.core.event_schema import validate_wire

    pulled = pull_all(client, headers)
    for item in pulled:
        validate_wire(item, now_ms=int(time.time() * 1000))
    return pulled


@pytest.mark.parametrize(("hlc", "words"), [
    ("9999999999999999.999999", "13 digits"),  # 16 digits: sorted after every real clock
    ("99999999999999.000000", "13 digits"),  # 14 digits
    ("9999999999999.000000", "h ahead of the server"),  # the year 2286: wins every conflict
    (_clock(NOW_MS + 25 * HOUR_MS), "h ahead of the server"),
    ("0000000000001.000000", "before 2000"),
])
def test_clocks_beyond_the_bound_are_refused(client: TestClient, world: World, hlc: str,
                                             words: str) -> None:
    alice = bearer(login(client, ALICE))
    bad = {**event(ALICE, world.alpha), "hlc": hlc}
    good = {**event(ALICE, world.alpha), "hlc": _clock(NOW_MS + 23 * HOUR_MS)}
    (status, reason), stored = _pushed(client, alice, [bad, good])
    assert status == "rejected" and words in reason
    assert stored == ("stored", "")
    assert [e["id"] for e in _check_pulled(client, alice)] == [good["id"]]


def test_the_2286_clock_reason_says_how_far_ahead(client: TestClient, world: World) -> None:
    alice = bearer(login(client, ALICE))
    ((_, reason),) = _pushed(client, alice, [{**event(ALICE, world.alpha),
                                              "hlc": "9999999999999.000000"}])
    hours = (9_999_999_999_999 - NOW_MS) // HOUR_MS
    assert f"{hours:,}" in reason or f"{hours + 1:,}" in reason


def test_the_clock_bound_is_a_setting(settings: Settings, engine: Engine, world: World,
                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    strict = settings.model_copy(update={"max_clock_ahead_s": 60})
    with TestClient(create_app(strict, engine=engine, run_migrations=False)) as client:
        alice = bearer(login(client, ALICE))
        early = {**event(ALICE, world.alpha), "hlc": _clock(NOW_MS + 10 * 60_000)}
        assert _pushed(client, alice, [early])[0][0] == "rejected"
    monkeypatch.setenv(CLOCK_AHEAD_ENV, "3600")
    loaded = load_settings(data_dir=tmp_path, db_url="sqlite://", with_secret=False)
    assert loaded.max_clock_ahead_s == 3600
    monkeypatch.delenv(CLOCK_AHEAD_ENV)
    default = load_settings(data_dir=tmp_path, db_url="sqlite://", with_secret=False)
    assert default.max_clock_ahead_s == 24 * 3600


def test_server_clock_has_the_clients_format() -> None:
    clock = ServerClock()
    after = clock.after("1732550000000.000001")
    assert len(after.partition(".")[0]) == 13 and after > "1732550000000.000001"
    with pytest.raises(ValueError):
        clock.after("9999999999999999.999999")
    with pytest.raises(ValueError):
        clock.after("1732550000000.000001\n")


def _case(team: str, **payload: Any) -> dict[str, Any]:
    return event(ALICE, team, type_="case.created", case_id=uuid7(), payload=payload)


AUDIT_PAYLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "fields as a string": ("case.created", {"fields": "oops", "tags": []}),
    "fields as a list": ("case.created", {"fields": ["subject", "x"], "tags": []}),
    "fields as an int": ("case.created", {"fields": 7, "tags": []}),
    "tags as an int": ("case.created", {"fields": {"subject": "t"}, "tags": 5}),
    "created_ms 10**30": ("case.created", {"fields": {"subject": "t"}, "tags": [],
                                           "created_ms": 10**30}),
    "created_ms 2**62": ("case.created", {"fields": {"subject": "t"}, "tags": [],
                                          "created_ms": 2**62}),
    "bad status": ("case.created", {"fields": {"subject": "t", "status": "exploded"}}),
    "size 10**30": ("attachment.added", {"sha256": "a" * 64, "name": "x.log", "size": 10**30,
                                         "mime": "text/plain"}),
    "size 2**41": ("attachment.added", {"sha256": "a" * 64, "name": "x.log", "size": 2**41,
                                        "mime": "text/plain"}),
    "customer dict name": ("customer.upserted", {"id": "c-1", "name": {"first": "A"}}),
    "customer list name": ("customer.upserted", {"id": "c-2", "name": ["A"]}),
    "agent dict name": ("agent.upserted", {"id": "zed@example.com", "name": {"n": 1}}),
    "agent list name": ("agent.upserted", {"id": "zed@example.com", "name": ["Z"]}),
    "unknown field edit": ("case.updated", {"field": "to", "value": "mars"}),
    "key edit": ("case.updated", {"field": "key", "value": "ALP-1"}),
    "comment without body": ("comment.added", {"internal": False}),
    "unknown type": ("case.teleported", {"to": "mars"}),
}


@pytest.mark.parametrize("name", sorted(AUDIT_PAYLOADS))
def test_audit_payloads_are_refused_and_the_rest_is_stored(client: TestClient, world: World,
                                                           name: str) -> None:
    alice = bearer(login(client, ALICE))
    type_, payload = AUDIT_PAYLOADS[name]
    case_id = uuid7() if type_.startswith(("case.", "attachment.", "comment.")) else None
    bad = event(ALICE, world.alpha, type_=type_, case_id=case_id, payload=payload)
    before, after = event(ALICE, world.alpha), event(ALICE, world.alpha)
    results = _pushed(client, alice, [before, bad, after])
    assert [s for s, _ in results] == ["stored", "rejected", "stored"]
    assert results[1][1].startswith(type_) or "unknown event type" in results[1][1]
    assert [e["id"] for e in _check_pulled(client, alice)] == [before["id"], after["id"]]


def test_newer_versions_and_server_only_types_are_refused(client: TestClient,
                                                          world: World) -> None:
    alice = bearer(login(client, ALICE))
    newer = {**event(ALICE, world.alpha), "v": 2}
    key = event(ALICE, world.alpha, type_="case.key_assigned", case_id=uuid7(),
                payload={"key": "ALP-7"})
    extra = event(ALICE, world.alpha, payload={"body": "hi", "from_the_future": [1, 2]})
    results = _pushed(client, alice, [newer, key, extra])
    assert results[0][0] == "rejected" and "newer" in results[0][1]
    assert results[1][0] == "rejected" and "server only" in results[1][1]
    assert results[2][0] == "stored"  # an unknown payload key is kept, not refused
    (pulled,) = _check_pulled(client, alice)
    assert pulled["payload"] == {"body": "hi", "from_the_future": [1, 2]}


def test_a_bad_envelope_costs_only_itself(client: TestClient, world: World) -> None:
    alice = bearer(login(client, ALICE))
    goods = [event(ALICE, world.alpha) for _ in range(3)]
    no_team = {**event(ALICE, world.alpha), "team_id": None}
    batch: list[Any] = [goods[0], {"not": "an event"}, goods[1], {**goods[2], "id": 5},
                        no_team, {**event(ALICE, world.alpha), "surprise": 1}, goods[2]]
    response = client.post("/api/v1/events/push", json={"events": batch}, headers=alice)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["stored", "rejected", "stored", "rejected",
                                              "rejected", "rejected", "stored"]
    assert [r["id"] for r in results] == [goods[0]["id"], None, goods[1]["id"], None,
                                          no_team["id"], batch[5]["id"], goods[2]["id"]]
    assert "team_id" in results[4]["reason"] and "surprise" in results[5]["reason"]
    assert [e["id"] for e in _check_pulled(client, alice)] == [g["id"] for g in goods]


def test_a_resent_event_is_acknowledged_even_if_todays_rules_refuse_it(
        client: TestClient, engine: Engine, world: World) -> None:
    """An event an older server stored answers 'duplicate', so its outbox entry clears."""
    alice = bearer(login(client, ALICE))
    old = {**event(ALICE, world.alpha), "hlc": "9999999999999.000000"}
    with engine.begin() as conn:
        conn.execute(insert(events).values(
            server_seq=1, id=old["id"], case_id=None, team_id=world.alpha, type=old["type"],
            payload=json.dumps(old["payload"]), actor=ALICE, device_id="dev-1", hlc=old["hlc"],
            received_at=time.time(), user_id=None, v=1))
        conn.execute(update(counters).where(counters.c.name == EVENT_SEQ).values(value=1))
    assert push(client, alice, [old])[0] == {"id": old["id"], "status": "duplicate",
                                             "server_seq": 1, "reason": None}


@pytest.mark.parametrize("key", ["ALP-1", "GAM-1", "gam-1", "K7QF", "K7QF-", "K7Q-12",
                                 "K7QF-12-1", " K7QF-12", "A1B2-3"])
def test_a_case_cannot_claim_a_team_key(client: TestClient, engine: Engine, world: World,
                                        key: str) -> None:
    accounts.add_team(engine, name="Digits", prefix="A1B2")  # a team prefix holding a digit
    alice = bearer(login(client, ALICE))
    forged = _case(world.alpha, fields={"subject": "mine now", "key": key, "team_id": world.alpha})
    ((status, reason),) = _pushed(client, alice, [forged])
    assert status == "rejected"
    assert "provisional" in reason or "Key" in reason
    assert _check_pulled(client, alice) == []


def test_a_provisional_key_is_accepted_and_replaced_by_a_team_key(client: TestClient,
                                                                  world: World) -> None:
    alice = bearer(login(client, ALICE))
    case = _case(world.alpha, fields={"subject": "printer", "key": "K7QF-12",
                                      "team_id": world.alpha}, tags=["printer"])
    assert _pushed(client, alice, [case]) == [("stored", "")]
    pulled = _check_pulled(client, alice)
    assert [e["type"] for e in pulled] == ["case.created", "case.key_assigned"]
    assert pulled[1]["payload"]["key"] == "ALP-1"


def test_moving_a_case_needs_both_teams(client: TestClient, world: World) -> None:
    alice = bearer(login(client, ALICE))
    carol = bearer(login(client, "carol@example.com"))
    dave = bearer(login(client, "dave@example.com"))
    case = created(ALICE, world.alpha)
    push(client, alice, [case])

    def move(actor: str, team: str) -> dict[str, Any]:
        return event(actor, team, type_="case.updated", case_id=case["case_id"],
                     payload={"field": "team_id", "value": world.beta, "prev": world.alpha})

    # alice is not in Beta; carol is not in Alpha (whatever team she writes on the event)
    assert _pushed(client, alice, [move(ALICE, world.alpha)])[0][0] == "rejected"
    assert "member" in _pushed(client, alice, [move(ALICE, world.alpha)])[0][1]
    assert _pushed(client, carol, [move("carol@example.com", world.beta)])[0][0] == "rejected"
    assert [e["type"] for e in _check_pulled(client, carol)] == []
    assert _pushed(client, dave, [move("dave@example.com", world.beta)])[0][0] == "stored"
    assert [e["type"] for e in _check_pulled(client, carol)][-1] == "case.updated"


def test_a_case_cannot_be_created_in_a_team_one_is_not_in(client: TestClient,
                                                          world: World) -> None:
    alice = bearer(login(client, ALICE))
    carol = bearer(login(client, "carol@example.com"))
    sneaky = _case(world.alpha, fields={"subject": "for beta", "team_id": world.beta})
    ((status, reason),) = _pushed(client, alice, [sneaky])
    assert status == "rejected" and "member" in reason
    assert _check_pulled(client, carol) == []


def test_an_event_is_stored_under_its_cases_team(client: TestClient, world: World) -> None:
    """Dave is in both teams: his note on an Alpha case, labelled Beta, stays with Alpha."""
    alice = bearer(login(client, ALICE))
    carol = bearer(login(client, "carol@example.com"))
    dave = bearer(login(client, "dave@example.com"))
    case = created(ALICE, world.alpha)
    push(client, alice, [case])
    note = event("dave@example.com", world.beta, case_id=case["case_id"],
                 payload={"body": "alpha only", "internal": True})
    assert _pushed(client, dave, [note])[0][0] == "stored"
    assert note["id"] not in {e["id"] for e in _check_pulled(client, carol)}
    (mine,) = [e for e in _check_pulled(client, alice) if e["id"] == note["id"]]
    assert mine["team_id"] == world.alpha
    # a case.created that names a team in its fields is stored, and keyed, under that team
    both = event("dave@example.com", world.alpha, type_="case.created", case_id=uuid7(),
                 payload={"fields": {"subject": "beta's", "team_id": world.beta}, "tags": []})
    assert _pushed(client, dave, [both])[0][0] == "stored"
    seen = [e for e in _check_pulled(client, carol) if e["case_id"] == both["case_id"]]
    assert [(e["type"], e["team_id"]) for e in seen] == [("case.created", world.beta),
                                                         ("case.key_assigned", world.beta)]
    assert seen[1]["payload"]["key"] == "BET-1"
    assert both["case_id"] not in {e["case_id"] for e in _check_pulled(client, alice)}


def test_an_event_on_a_known_case_is_judged_by_the_servers_team_for_it(
        client: TestClient, world: World) -> None:
    """A laptop whose view of a case's team is wrong (stale, or an older server let a move
    through) sends its events with that team: they are judged and stored by the team the
    server knows for the case, not refused for ever (found by the sync simulation: the
    agent's later edits of that case were all set aside). Unknown cases still need a team of
    the author's own, and a case of another team stays closed."""
    alice = bearer(login(client, "alice@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    case = uuid7()
    assert push(client, alice, [created("alice@example.com", world.alpha, case)])[0][
        "status"] == "stored"
    stale = event("alice@example.com", world.beta, case_id=case,
                  payload={"body": "an edit", "internal": False, "author_kind": "agent"})
    (result,) = push(client, alice, [stale])
    assert result["status"] == "stored"
    stored = [e for e in pull_all(client, alice) if e["id"] == stale["id"]]
    assert stored and stored[0]["team_id"] == world.alpha
    assert not [e for e in pull_all(client, carol) if e["id"] == stale["id"]]
    unknown = event("alice@example.com", world.beta, case_id=uuid7(),
                    payload={"body": "x", "internal": False, "author_kind": "agent"})
    assert push(client, alice, [unknown])[0]["status"] == "rejected"
    into_beta = event("carol@example.com", world.beta, case_id=case,
                      payload={"body": "x", "internal": False, "author_kind": "agent"})
    assert push(client, carol, [into_beta])[0]["status"] == "rejected"

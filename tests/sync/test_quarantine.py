"""Pulled events a build cannot apply are quarantined, never stop a sync; the outbox never
blocks. Against the real sync server on loopback (uvicorn), with real SQLite stores.

A bad event that today's server would refuse is written straight into the server's events
table, as an old or buggy server would have stored it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, select, text, update

from app.core import event_schema as es
from app.core import events as ev
from app.core.hlc import hlc_ms
from app.core.ids import uuid7
from app.operations import cases as ops
from app.operations import sync_health
from app.store import quarantine
from app.store import queries as q
from app.store import schema as s
from app.store.repo import Store
from app.sync.api import ApiError, SyncApi
from app.sync.engine import sync_once
from app.sync.session import SyncSession
from tests.server.helpers import live_server

PASSWORD = "a long enough password"
DAY_MS = 86_400_000


@dataclass
class Server:
    url: str
    engine: Engine
    support: str  # team ids
    billing: str


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    from sync_server.db import make_engine, migrate
    from sync_server.main import create_app
    from sync_server.services import accounts
    from sync_server.settings import Settings

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'srv.sqlite3'}", data_dir=tmp_path / "srv",
                        secret="x" * 48)
    engine = make_engine(settings.db_url)
    migrate(engine)
    support = accounts.add_team(engine, name="Support", prefix="SUP")
    billing = accounts.add_team(engine, name="Billing", prefix="BIL")
    for email in ("ana@example.com", "ben@example.com", "cy@example.com"):
        accounts.add_user(engine, email=email, name=email.split("@")[0].title(), role="agent",
                          password=PASSWORD)
    accounts.add_member(engine, team="Support", email="ana@example.com")
    accounts.add_member(engine, team="Support", email="ben@example.com")
    accounts.add_member(engine, team="Billing", email="cy@example.com")
    with live_server(create_app(settings, engine=engine, run_migrations=False)) as url:
        yield Server(url, engine, support, billing)
    engine.dispose()


def _client(tmp_path: Path, name: str, url: str, email: str,
            transport: httpx.BaseTransport | None = None) -> tuple[Store, SyncSession]:
    store = Store(tmp_path / name / "smart-support.db")
    session = SyncSession(store, SyncApi(url, transport=transport))
    session.login(email, PASSWORD)
    return store, session


def _now_ms() -> int:
    return int(time.time() * 1000)


def _hlc(ms: int | None = None) -> str:
    _hlc.n += 1  # type: ignore[attr-defined]
    return f"{(ms or _now_ms()):013d}.{_hlc.n % 1_000_000:06d}"  # type: ignore[attr-defined]


_hlc.n = 0  # type: ignore[attr-defined]


def _wire(team: str, *, type_: str = ev.COMMENT_ADDED, case_id: str | None = None,
          payload: Any = None, actor: str = "ana@example.com", **extra: Any) -> dict[str, Any]:
    event = {"id": uuid7(), "case_id": case_id, "team_id": team, "type": type_,
             "payload": {"body": "hello", "internal": False, "author_kind": "agent"}
             if payload is None else payload,
             "actor": actor, "device_id": "other-device", "hlc": _hlc(), "v": 1}
    event.update(extra)
    return event


def inject(engine: Engine, events: list[dict[str, Any]]) -> list[int]:
    """Store raw events in the server's log as they are, as an old/buggy server had."""
    from sync_server.tables import EVENT_SEQ, counters
    from sync_server.tables import events as server_events

    seqs = []
    with engine.begin() as conn:
        seq = int(conn.execute(select(counters.c.value)
                               .where(counters.c.name == EVENT_SEQ)).scalar_one())
        for e in events:
            seq += 1
            payload = e["payload"]
            conn.execute(insert(server_events).values(
                server_seq=seq, id=str(e["id"]), case_id=e.get("case_id"),
                team_id=e["team_id"], type=str(e["type"]),
                payload=json.dumps(payload),
                actor=e["actor"], device_id=e["device_id"], hlc=str(e["hlc"]),
                received_at=time.time(), user_id=None, v=int(e.get("v") or 1)))
            seqs.append(seq)
        conn.execute(update(counters).where(counters.c.name == EVENT_SEQ).values(value=seq))
    return seqs


def _push_or_inject(server: Server, session: SyncSession, event: dict[str, Any]) -> str:
    """Push as another client would; if this server refuses it (per event or the whole
    request), store it as an older, buggy or newer server would have."""
    try:
        results = session.call(lambda t: session.api.push(t, [event]))
    except ApiError:
        results = [{"status": "rejected"}]
    if results[0]["status"] == "rejected":
        inject(server.engine, [event])
        return "injected"
    return str(results[0]["status"])


def server_seq(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT value FROM counters WHERE name = 'event_seq'"))
                   .scalar_one())


def held(store: Store) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in store.read(quarantine.rows)}


def detail(store: Store, case_id: str) -> dict[str, Any]:
    found = store.read(lambda c: q.case_detail(c, case_id))
    assert found is not None
    return dict(found)


def comment_bodies(store: Store, case_id: str) -> list[str]:
    return [str(c["body"]) for c in store.read(lambda c: q.case_comments(c, [case_id]))]


# The audit's variants (each crashed the receiving client's ingest, or was applied although
# this build cannot know what it means). ``case`` says whether it needs a case id.
def _variants(team: str, case_id: str) -> dict[str, dict[str, Any]]:
    far = "9999999999999.000000"  # the year 2286
    return {
        "16-digit clock": _wire(team, case_id=case_id, hlc="9999999999999999.999999"),
        "14-digit clock": _wire(team, case_id=case_id, hlc="99999999999999.000000"),
        "clock in 2286": _wire(team, case_id=case_id, type_=ev.CASE_UPDATED, hlc=far,
                               payload={"field": "priority", "value": "urgent",
                                        "prev": "normal"}),
        "fields a string": _wire(team, case_id=uuid7(), type_=ev.CASE_CREATED,
                                 payload={"fields": "oops", "tags": []}),
        "fields a list": _wire(team, case_id=uuid7(), type_=ev.CASE_CREATED,
                               payload={"fields": ["subject", "x"], "tags": []}),
        "fields an int": _wire(team, case_id=uuid7(), type_=ev.CASE_CREATED,
                               payload={"fields": 7, "tags": []}),
        "tags an int": _wire(team, case_id=uuid7(), type_=ev.CASE_CREATED,
                             payload={"fields": {"subject": "t"}, "tags": 5}),
        "created_ms 10**30": _wire(team, case_id=uuid7(), type_=ev.CASE_CREATED,
                                   payload={"fields": {"subject": "t"}, "tags": [],
                                            "created_ms": 10**30}),
        "size 10**30": _wire(team, case_id=case_id, type_=ev.ATTACHMENT_ADDED,
                             payload={"sha256": "a" * 64, "name": "x.log", "size": 10**30,
                                      "mime": "text/plain"}),
        "customer name a dict": _wire(team, type_=ev.CUSTOMER_UPSERTED,
                                      payload={"id": uuid7(), "name": {"first": "A"},
                                               "email": "a@x.example"}),
        "agent name a list": _wire(team, type_=ev.AGENT_UPSERTED,
                                   payload={"id": "zed@example.com", "name": ["Z"],
                                            "email": "zed@example.com", "role": "agent"}),
        "payload not an object": _wire(team, case_id=case_id, payload="just text"),
        "id not a uuid": _wire(team, case_id=case_id, id="not-a-uuid"),
        "unknown type": _wire(team, case_id=case_id, type_="case.teleported",
                              payload={"to": "mars"}),
        "newer version": _wire(team, case_id=case_id, v=2),
    }


VARIANTS = list(_variants("t", "c"))


def _shared_case(a: Store, sa: SyncSession, b: Store, sb: SyncSession) -> str:
    case_id, _, _ = ops.create_case(a, subject="Printer on fire")
    sync_once(a, sa)
    sync_once(b, sb)
    return str(case_id)


@pytest.mark.parametrize("label", VARIANTS)
def test_a_bad_event_is_quarantined_and_the_sync_goes_on(tmp_path: Path, server: Server,
                                                         label: str) -> None:
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = _shared_case(a, sa, b, sb)
    bad = _variants(server.support, case_id)[label]
    before = _wire(server.support, case_id=case_id,
                   payload={"body": "before", "internal": False, "author_kind": "agent"})
    after = _wire(server.support, case_id=case_id,
                  payload={"body": "after", "internal": False, "author_kind": "agent"})
    for event in (before, bad, after):
        _push_or_inject(server, sa, event)
    clock_before = b.clock.last

    report = sync_once(b, sb, pull_page=2)  # the bad event is mid-page and pages go on

    assert b.get_meta("pull_cursor") == str(server_seq(server.engine))
    assert comment_bodies(b, case_id) == ["before", "after"]
    rows = held(b)
    assert len(rows) == 1 and len(report.quarantined) == 1
    row = next(iter(rows.values()))
    expected_id = bad["id"] if label != "id not a uuid" else row["id"]
    assert row["id"] == expected_id and report.quarantined[0][0] == expected_id
    assert json.loads(row["raw"])["id"] == bad["id"]  # kept as received
    assert row["reason"] and row["app_version"] == quarantine.APP_VERSION
    assert b.read(lambda c: c.execute(select(s.events.c.id)
                                      .where(s.events.c.id == bad["id"])).first()) is None
    assert sync_health.sync_health(b).quarantined == 1
    json_report = report.to_json()
    assert json_report["quarantined"]["count"] == 1
    assert json_report["quarantined"]["events"][0]["id"] == expected_id
    # A later round neither stops nor stores the same item twice.
    inject(server.engine, [_wire(server.support, case_id=case_id,
                                 payload={"body": "later", "internal": False,
                                          "author_kind": "agent"})])
    b.set_meta("pull_cursor", "0")  # even pulling everything again
    sync_once(b, sb)
    assert len(held(b)) == 1
    assert comment_bodies(b, case_id) == ["before", "after", "later"]
    # The laptop's clock was not moved by a far-future clock.
    assert hlc_ms(b.clock.last) < _now_ms() + DAY_MS
    assert b.clock.last >= clock_before


def test_all_variants_in_one_page_with_good_events_around(tmp_path: Path,
                                                          server: Server) -> None:
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = _shared_case(a, sa, b, sb)
    raw: list[dict[str, Any]] = []
    for i, bad in enumerate(_variants(server.support, case_id).values()):
        raw += [_wire(server.support, case_id=case_id,
                      payload={"body": f"good {i}", "internal": False, "author_kind": "agent"}),
                bad]
    inject(server.engine, raw)
    report = sync_once(b, sb)
    assert b.get_meta("pull_cursor") == str(server_seq(server.engine))
    assert len(comment_bodies(b, case_id)) == len(VARIANTS)
    assert len(held(b)) == len(VARIANTS) == len(report.quarantined)
    # Ben's next edit is dated now, not 2286, and reaches Ana.
    ops.set_fields(b, case=case_id, changes={"priority": "high"})
    edit = b.read(lambda c: c.execute(select(s.events.c.hlc).order_by(s.events.c.seq.desc())
                                      .limit(1)).scalar())
    assert abs(hlc_ms(str(edit)) - _now_ms()) < 60_000
    sync_once(b, sb)
    sync_once(a, sa)
    assert detail(a, case_id)["priority"] == "high"


def test_far_future_clock_refused_by_the_server_is_still_not_observed(
        tmp_path: Path, server: Server) -> None:
    """The server may store a far clock (an older server did); observe guards itself."""
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    far = _wire(server.support, case_id=uuid7(), type_=ev.CASE_CREATED,
                payload={"fields": {"subject": "from 2286"}, "tags": []},
                hlc="9999999999999.000000")
    inject(server.engine, [far])
    sync_once(b, sb)
    assert far["id"] in held(b)
    assert hlc_ms(b.clock.now()) < _now_ms() + 60_000
    assert hlc_ms(b.get_meta("hlc") or "0000000000000.000000") < _now_ms() + 60_000




def test_old_client_quarantines_a_new_type_and_ignores_a_new_field(tmp_path: Path,
                                                                   server: Server) -> None:
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")  # the "new" client
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")  # today's schema
    case_id = _shared_case(a, sa, b, sb)
    new_type = _wire(server.support, case_id=case_id, type_="case.snoozed",
                     payload={"until": "2030-01-01"})
    extra_field = _wire(server.support, case_id=case_id,
                        payload={"body": "with a mood", "internal": False,
                                 "author_kind": "agent", "mood": "cheerful"})
    _push_or_inject(server, sa, new_type)
    assert _push_or_inject(server, sa, extra_field) == "stored"
    report = sync_once(b, sb)
    assert [e[0] for e in report.quarantined] == [new_type["id"]]
    assert "with a mood" in comment_bodies(b, case_id)
    # Both keep syncing, both ways.
    ops.comment(b, case=case_id, body="from the old client")
    ops.comment(a, case=case_id, body="from the new client")
    sync_once(b, sb)
    sync_once(a, sa)
    sync_once(b, sb)
    assert "from the old client" in comment_bodies(a, case_id)
    assert "from the new client" in comment_bodies(b, case_id)
    assert b.outbox_count() == 0 and a.outbox_count() == 0


def test_reapply_after_upgrade(tmp_path: Path, server: Server,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = _shared_case(a, sa, b, sb)
    newer = _wire(server.support, case_id=case_id, v=2,
                  payload={"body": "v2 comment", "internal": False, "author_kind": "agent",
                           "format": "markdown"})
    snooze = _wire(server.support, case_id=case_id, type_="case.snoozed",
                   payload={"until": "2030-01-01"})
    inject(server.engine, [newer, snooze])
    sync_once(b, sb)
    assert set(held(b)) == {newer["id"], snooze["id"]}
    assert sync_once(b, sb).reapplied == 0  # same build: nothing re-checked

    # "Upgrade": this build now writes version 2 and knows case.snoozed.
    monkeypatch.setattr(ev, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(es._RULES, "case.snoozed", lambda p: None)
    monkeypatch.setattr(quarantine, "APP_VERSION", "9.9.9")
    report = sync_once(b, sb)
    assert report.reapplied == 2
    assert held(b) == {}
    assert "v2 comment" in comment_bodies(b, case_id)
    ids = b.read(lambda c: set(c.execute(select(s.events.c.id)).scalars()))
    assert {newer["id"], snooze["id"]} <= ids


def test_reapply_on_demand_and_rows_that_still_fail_stay(tmp_path: Path, server: Server,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = uuid7()
    created = _wire(server.support, case_id=case_id, type_=ev.CASE_CREATED,
                    payload={"fields": {"subject": "later"}, "tags": []}, v=2)
    broken = _wire(server.support, case_id=case_id, payload="just text")
    inject(server.engine, [created, broken])
    sync_once(b, sb)
    assert set(held(b)) == {created["id"], broken["id"]}
    monkeypatch.setattr(ev, "SCHEMA_VERSION", 2)
    assert sync_health.reapply_quarantined(b) == 1
    assert set(held(b)) == {broken["id"]}
    assert detail(b, case_id)["subject"] == "later"


def test_an_event_the_projector_fails_on_is_isolated(tmp_path: Path, server: Server,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A validated event must fold; if one still raises (a bug), only it is held."""
    from app.core.fold import CommentState, apply_comment_event, comment_id_of
    from app.store import projector

    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = _shared_case(a, sa, b, sb)
    poison = _wire(server.support, case_id=case_id,
                   payload={"body": "poison", "internal": False, "author_kind": "agent"})
    good = [_wire(server.support, case_id=case_id,
                  payload={"body": f"fine {i}", "internal": False, "author_kind": "agent"})
            for i in range(3)]
    inject(server.engine, [good[0], poison, good[1], good[2]])
    real = apply_comment_event

    def buggy(comment: Any, event: ev.Event) -> None:
        if event.payload.get("body") == "poison":
            raise RuntimeError("a projector bug")
        real(comment, event)

    monkeypatch.setattr(projector, "_COMMENTS", projector._Child(
        s.comments, CommentState, comment_id_of, buggy,
        projector.comment_row))
    report = sync_once(b, sb)
    assert b.get_meta("pull_cursor") == str(server_seq(server.engine))
    assert comment_bodies(b, case_id) == ["fine 0", "fine 1", "fine 2"]
    assert [e[0] for e in report.quarantined] == [poison["id"]]
    assert "a projector bug" in held(b)[poison["id"]]["reason"]


# --- the outbox ------------------------------------------------------------------------------
def test_a_refused_event_is_set_aside_and_the_rest_goes(tmp_path: Path, server: Server) -> None:
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = _shared_case(a, sa, b, sb)
    ops.comment(a, case=case_id, body="first")
    ops.comment(a, case=case_id, body="refused one")
    ops.comment(a, case=case_id, body="last")
    # This event claims another author than the signed-in Ana: the server refuses it, and
    # only it. (A team Ana is not in no longer does: an event on a known case is judged by
    # the server's team for the case.)
    a.write(lambda c: c.execute(update(s.events).where(
        s.events.c.payload.like('%refused one%')).values(actor="ben@example.com")))
    report = sync_once(a, sa)
    assert len(report.rejected) == 1 and a.outbox_count() == 0
    sync_once(b, sb)
    assert comment_bodies(b, case_id) == ["first", "last"]
    health = sync_health.sync_health(a)
    assert health.refused == 1 and health.refused_by_case == {case_id: 1}
    assert "1 change was refused by the server" in health.messages()
    rows = sync_health.refused_for_case(a, case_id=case_id)
    assert len(rows) == 1 and rows[0]["type"] == ev.COMMENT_ADDED
    notice = sync_health.refused_notice(rows)
    assert notice.startswith("1 change to this case was refused by the server")
    assert case_id in report.changes.case_ids  # the case view refreshes


class OldServer(httpx.HTTPTransport):
    """An older server in front of the real one: it refuses a whole push batch with 422 if
    any event in it has no team (as pydantic did), and counts the pushes."""

    def __init__(self) -> None:
        super().__init__()
        self.pushes: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events/push"):
            events = json.loads(request.read())["events"]
            self.pushes.append(len(events))
            if any(e.get("team_id") is None for e in events):
                return httpx.Response(422, json={"detail": [{"loc": ["body", "events"],
                                                             "msg": "team_id: none"}]},
                                      request=request)
        return super().handle_request(request)


def test_a_whole_batch_refusal_is_split_to_find_the_bad_event(tmp_path: Path,
                                                              server: Server) -> None:
    transport = OldServer()
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com", transport)
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = _shared_case(a, sa, b, sb)
    for i in range(9):
        ops.comment(a, case=case_id, body=f"note {i}")
    a.write(lambda c: c.execute(update(s.events).where(
        s.events.c.payload.like('%note 6%')).values(team_id=None)))
    transport.pushes.clear()
    report = sync_once(a, sa)
    assert [r[0] for r in report.rejected] == [
        a.read(lambda c: c.execute(select(s.events.c.id).where(
            s.events.c.payload.like('%note 6%'))).scalar())]
    assert "422" in report.rejected[0][1]
    assert a.outbox_count() == 0
    assert len(transport.pushes) <= 2 * 4 + 1  # halving, not one request per event
    sync_once(b, sb)
    assert comment_bodies(b, case_id) == [f"note {i}" for i in range(9) if i != 6]
    assert sync_health.sync_health(a).refused == 1


def test_an_edit_after_the_team_was_cleared_carries_the_team(tmp_path: Path,
                                                             server: Server) -> None:
    """The audit: an edit with team_id null on a case that has a team (on the server)."""
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = _shared_case(a, sa, b, sb)
    ops.set_fields(a, case=case_id, changes={"team": "none"})  # the server refuses this one
    ops.set_fields(a, case=case_id, changes={"priority": "urgent"})
    edit = a.read(lambda c: c.execute(select(s.events).order_by(s.events.c.seq.desc())
                                      .limit(1)).first())
    assert edit is not None and edit.team_id == server.support
    report = sync_once(a, sa)
    assert edit.id not in {i for i, _ in report.rejected} and a.outbox_count() == 0
    sync_once(b, sb)
    assert detail(b, case_id)["priority"] == "urgent"


def test_teammates_edit_of_a_case_created_without_a_team_field_carries_its_team(
        tmp_path: Path, server: Server) -> None:
    """A case.created whose payload has no team field (an older client) is in its team on
    the server; a teammate's edit of it goes to that team, not to no team."""
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = uuid7()
    assert _push_or_inject(server, sa, _wire(
        server.support, case_id=case_id, type_=ev.CASE_CREATED,
        payload={"fields": {"subject": "from an older client", "key": "A2B3-1"},
                 "tags": []})) == "stored"
    sync_once(b, sb)
    assert detail(b, case_id)["team_id"] is None
    ops.set_fields(b, case=case_id, changes={"priority": "high"})
    report = sync_once(b, sb)
    assert report.rejected == [] and report.pushed == 1 and b.outbox_count() == 0
    sync_once(a, sa)
    assert detail(a, case_id)["priority"] == "high"


def test_every_event_of_a_case_with_a_team_carries_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "x.db")
    store.set_meta("default_team", "team-1")
    case_id, _, _ = ops.create_case(store, subject="teamed")
    ops.comment(store, case=case_id, body="hi")
    ops.set_fields(store, case=case_id, changes={"team": "none"})
    ops.comment(store, case=case_id, body="after the team was cleared")
    ops.tag(store, case=case_id, add=["x"])
    ops.undo(store)
    teams = store.read(lambda c: [r.team_id for r in c.execute(
        select(s.events.c.team_id).where(s.events.c.case_id == case_id))])
    assert teams and all(t == "team-1" for t in teams), teams


# --- the clock ---------------------------------------------------------------------------------
def test_a_laptop_clock_far_from_the_servers_is_reported(tmp_path: Path, server: Server) -> None:
    from app.core.hlc import HybridClock
    from app.sync.engine import clock_warning

    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    b.clock = HybridClock(b.clock.last, wall=lambda: _now_ms() + 10 * 60_000)
    report = sync_once(b, sb)
    assert report.clock_offset_ms is not None
    assert 9 * 60_000 < report.clock_offset_ms < 11 * 60_000
    assert "Your computer's clock is 10 min ahead of the server" in report.summary()
    assert report.to_json()["clock_offset_ms"] == report.clock_offset_ms
    assert int(b.get_meta("clock_offset_ms") or 0) == report.clock_offset_ms
    health = sync_health.sync_health(b)
    assert health.messages() == ["Your computer's clock is 10 min ahead of the server"]
    assert clock_warning(-3 * 3600_000) == "Your computer's clock is 3 h behind the server"
    # Back in step: the warning goes.
    b.clock = HybridClock(b.clock.last)
    assert sync_once(b, sb).clock_offset_ms == 0
    assert sync_health.sync_health(b).messages() == []


def test_sync_json_lists_quarantined_and_clock_offset(tmp_path: Path, server: Server,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import sys
    from io import StringIO

    from app.cli import main
    from app.paths import db_path

    data = tmp_path / "cli"
    monkeypatch.setattr(sys, "stdin", StringIO(PASSWORD + "\n"))
    assert main(["--data-dir", str(data), "login", "--server", server.url, "--email",
                 "ben@example.com", "--password-stdin"]) == 0
    bad = _wire(server.support, case_id=uuid7(), type_="case.teleported", payload={})
    inject(server.engine, [bad])
    capsys.readouterr()
    assert main(["--data-dir", str(data), "sync", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["quarantined"] == {"count": 1, "events": [
        {"id": bad["id"], "type": "case.teleported",
         "reason": held(Store(db_path(data)))[bad["id"]]["reason"]}]}
    assert report["clock_offset_ms"] == 0
    assert "rejected" in report and "pushed" in report


def test_check_reports_quarantined_and_refused_and_reapplies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.maintenance import check
    from app.paths import db_path

    folder = tmp_path / "data"
    folder.mkdir()
    store = Store(db_path(folder))
    case_id, _, _ = ops.create_case(store, subject="local")
    ops.comment(store, case=case_id, body="the server said no")
    refused_id = store.read(lambda c: c.execute(select(s.events.c.id).order_by(
        s.events.c.seq.desc()).limit(1)).scalar())
    store.mark_pushed([(str(refused_id), None, "you are not a member of the event's team")])
    newer = _wire("team-1", case_id=uuid7(), type_=ev.CASE_CREATED, v=2, server_seq=7,
                  payload={"fields": {"subject": "from a newer build"}, "tags": []})
    broken = _wire("team-1", case_id=case_id, payload=[1, 2], server_seq=8)
    items = [(json.dumps(e), e) for e in (newer, broken)]
    good, bad = quarantine.triage(items, now_ms=_now_ms())
    assert good == [] and len(bad) == 2
    store.ingest(good, cursor=8, held=bad)
    store.close()

    report = check(folder)
    assert report["quarantined"] == 2 and report["refused"] == 1
    assert report["reapplied"] == 0
    monkeypatch.setattr(ev, "SCHEMA_VERSION", 2)
    report = check(folder)
    assert report["reapplied"] == 1 and report["quarantined"] == 1
    assert "1 held events now applied" in report["actions"]


def test_a_laptop_clock_behind_does_not_hold_back_teammates_events(
        tmp_path: Path, server: Server) -> None:
    from app.core.hlc import HybridClock

    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    b.clock = HybridClock(b.clock.last, wall=lambda: _now_ms() - 2 * DAY_MS)
    case_id, _, _ = ops.create_case(a, subject="made today")
    sync_once(a, sa)
    report = sync_once(b, sb)
    assert report.quarantined == [] and detail(b, str(case_id))["subject"] == "made today"
    assert report.clock_offset_ms is not None and report.clock_offset_ms < -DAY_MS
    assert "behind the server" in report.summary()


def test_an_event_held_for_a_clock_ahead_is_applied_once_time_catches_up(
        tmp_path: Path, server: Server) -> None:
    from app.core.hlc import HybridClock

    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    case_id = uuid7()
    early = _wire(server.support, case_id=case_id, type_=ev.CASE_CREATED,
                  payload={"fields": {"subject": "from a fast clock"}, "tags": []},
                  hlc=_hlc(_now_ms() + DAY_MS + 3_600_000))
    inject(server.engine, [early])
    sync_once(b, sb)
    assert "ahead" in held(b)[early["id"]]["reason"]
    assert sync_once(b, sb).reapplied == 0  # still too early
    b.clock = HybridClock(b.clock.last, wall=lambda: _now_ms() + 2 * 3_600_000)
    assert sync_once(b, sb).reapplied == 1
    assert held(b) == {} and detail(b, case_id)["subject"] == "from a fast clock"


class OddAnswers(httpx.HTTPTransport):
    """Between the client and the real server: the first push answer for one event gets a
    status this build does not know, and one gets a server_seq that is not a number."""

    def __init__(self) -> None:
        super().__init__()
        self.done = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not request.url.path.endswith("/events/push") or self.done:
            return response
        self.done = True
        response.read()
        data = response.json()
        data["results"][0]["status"] = "deferred"
        data["results"][1]["server_seq"] = "soon"
        return httpx.Response(200, json=data, request=request)


def test_push_answers_it_cannot_read_leave_the_event_queued(tmp_path: Path,
                                                            server: Server) -> None:
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com", OddAnswers())
    case_id, _, _ = ops.create_case(a, subject="odd answers")
    ops.comment(a, case=case_id, body="one")
    ops.comment(a, case=case_id, body="two")
    report = sync_once(a, sa)  # neither crashes nor sets anything aside: sent again
    assert report.rejected == [] and a.outbox_count() == 0
    assert report.duplicates == 2  # the two answers it could not read, sent again


def test_the_server_tells_its_time_even_to_an_in_process_client(
        tmp_path: Path, server: Server) -> None:
    """Laptops skewed by days (an in-process client sees no HTTP Date header) still measure
    the clock bound against the server's time, so a teammate's honest event is not held."""
    from fastapi.testclient import TestClient

    from app.core.hlc import HybridClock
    from sync_server.main import create_app
    from sync_server.settings import Settings

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'srv.sqlite3'}",
                        data_dir=tmp_path / "srv", secret="x" * 48)
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    a.clock = HybridClock(a.clock.last, wall=lambda: _now_ms() + 20 * 3_600_000)  # fast
    case_id, _, _ = ops.create_case(a, subject="from a fast laptop")
    sync_once(a, sa)
    with TestClient(create_app(settings, engine=server.engine, run_migrations=False),
                    base_url="http://in-process") as http:
        b = Store(tmp_path / "b" / "smart-support.db")
        b.clock = HybridClock(b.clock.last, wall=lambda: _now_ms() - 3 * DAY_MS)  # slow
        sb = SyncSession(b, SyncApi("http://in-process", client=http))
        sb.login("ben@example.com", PASSWORD)
        report = sync_once(b, sb)
        assert sb.api.server_date_ms is not None
        assert abs(sb.api.server_date_ms - _now_ms()) < 60_000
        assert report.quarantined == []
        assert detail(b, str(case_id))["subject"] == "from a fast laptop"


def test_server_time_falls_back_to_the_date_header() -> None:
    from app.sync.api import server_time_ms

    date = "Tue, 01 Dec 2026 22:00:00 GMT"
    assert server_time_ms(httpx.Headers({"x-server-time-ms": "1796162400123"})) == 1796162400123
    both = httpx.Headers([("date", date), ("date", date)])  # a proxy added its own
    assert server_time_ms(both) == 1796162400000
    assert server_time_ms(httpx.Headers({"x-server-time-ms": "soon", "date": date})) \
        == 1796162400000
    assert server_time_ms(httpx.Headers({"date": "yesterday"})) is None
    assert server_time_ms(httpx.Headers()) is None


def test_every_request_goes_through_the_one_call_path(tmp_path: Path, server: Server) -> None:
    """Subclasses that inject faults (the sync simulation's) override ``_call``: the raw pull
    must go through it like every other request."""

    class Counting(SyncApi):
        def __init__(self, url: str) -> None:
            super().__init__(url)
            self.paths: list[str] = []

        def _call(self, method: str, path: str, **kw: Any) -> Any:
            self.paths.append(path)
            return super()._call(method, path, **kw)

    store = Store(tmp_path / "c" / "smart-support.db")
    api = Counting(server.url)
    session = SyncSession(store, api)
    session.login("ben@example.com", PASSWORD)
    sync_once(store, session)
    assert "/events" in api.paths


def test_a_forged_team_key_from_an_older_server_cannot_shadow_the_real_case(
        tmp_path: Path, server: Server) -> None:
    """The audit: a pushed case.created with fields.key="SUP-1" made `case show SUP-1` open
    the attacker's case on other laptops. Today's server refuses it; if an older one stored
    it (or a forged case.key_assigned), every laptop holds it and SUP-1 stays the real case."""
    a, sa = _client(tmp_path, "a", server.url, "ana@example.com")
    b, sb = _client(tmp_path, "b", server.url, "ben@example.com")
    real = _shared_case(a, sa, b, sb)
    real_key = b.read(lambda c: c.execute(select(s.cases.c.key)
                                          .where(s.cases.c.id == real)).scalar())
    assert real_key == "SUP-1"
    forged_case = uuid7()
    forged = _wire(server.support, type_=ev.CASE_CREATED, case_id=forged_case,
                   payload={"fields": {"subject": "pay here", "key": "SUP-1"}, "tags": []},
                   hlc="1000000000000.000001")  # claims the key "earlier" than the real one
    stolen = _wire(server.support, type_=ev.CASE_KEY_ASSIGNED, case_id=real,
                   payload={"key": "SUP-99"})  # pretends to be the server
    assert _push_or_inject(server, sa, forged) == "injected"
    assert _push_or_inject(server, sa, stolen) == "injected"

    sync_once(b, sb)

    assert set(held(b)) == {forged["id"], stolen["id"]}
    shown = b.read(lambda c: c.execute(select(s.case_keys.c.case_id)
                                       .where(s.case_keys.c.key == "SUP-1")).scalar())
    assert shown == real
    assert b.read(lambda c: c.execute(select(s.cases.c.key)
                                      .where(s.cases.c.id == real)).scalar()) == "SUP-1"
    assert b.read(lambda c: c.execute(select(s.cases.c.id)
                                      .where(s.cases.c.id == forged_case)).first()) is None

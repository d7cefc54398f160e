"""Property: any interleaving of batches (duplicates, reorders, several users) stores every
event exactly once, server_seq is gap-free 1..N, and paged pulls return exactly the
authorized events in order."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, update

from sync_server.ids import uuid7
from sync_server.tables import EVENT_SEQ, cases, counters, events, teams

from .helpers import World, bearer, created, event, login, pull_all

USERS = {"alice@example.com": ("alpha",), "carol@example.com": ("beta",),
         "dave@example.com": ("alpha", "beta")}
EMAILS = sorted(USERS)


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(events))
        conn.execute(delete(cases))
        conn.execute(update(counters).where(counters.c.name == EVENT_SEQ).values(value=0))
        conn.execute(update(teams).values(next_case_number=1))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[tuple[str, dict[str, Any], bool]], list[tuple[str, list[int]]]]:
    """Events (owner, wire event, authorized?) and batches (sender, event indices)."""
    n = draw(st.integers(min_value=1, max_value=24))
    pool: list[tuple[str, str, str, bool]] = []  # (owner, team, kind, authorized)
    for _ in range(n):
        owner = draw(st.sampled_from(EMAILS))
        team = draw(st.sampled_from(["alpha", "beta"]))
        kind = draw(st.sampled_from(["comment", "comment", "case"]))
        pool.append((owner, team, kind, team in USERS[owner]))
    batches = draw(st.lists(st.tuples(
        st.sampled_from(EMAILS), st.lists(st.integers(0, n - 1), max_size=10)), max_size=8))
    return [(o, {"team": t, "kind": k}, ok) for o, t, k, ok in pool], batches


def test_any_interleaving_stores_once_and_pulls_exactly(client: TestClient, engine: Engine,
                                                        world: World) -> None:
    headers = {email: bearer(login(client, email)) for email in EMAILS}
    team_ids = {"alpha": world.alpha, "beta": world.beta}

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(scenarios(), st.lists(st.integers(1, 9), min_size=1, max_size=3))
    def check(scenario: tuple[list[tuple[str, dict[str, Any], bool]], list[tuple[str, list[int]]]],
              page_sizes: list[int]) -> None:
        _reset(engine)
        specs, batches = scenario
        wire: list[dict[str, Any]] = []
        for owner, spec, _ok in specs:
            team = team_ids[spec["team"]]
            wire.append(created(owner, team, uuid7()) if spec["kind"] == "case"
                        else event(owner, team, case_id=uuid7()))
        # batches only carry the sender's own events; then every outbox is flushed
        plan = [(sender, [wire[i] for i in idx if specs[i][0] == sender]) for sender, idx in batches]
        plan += [(email, [w for (o, _s, _k), w in zip(specs, wire, strict=True) if o == email])
                 for email in EMAILS]
        outcomes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for sender, batch in plan:
            if not batch:
                continue
            response = client.post("/api/v1/events/push", json={"events": batch},
                                   headers=headers[sender])
            assert response.status_code == 200
            for result in response.json()["results"]:
                outcomes[result["id"]].append(result)
        authorized = {w["id"] for (_o, _s, ok), w in zip(specs, wire, strict=True) if ok}
        for event_id, results in outcomes.items():
            statuses = [r["status"] for r in results]
            if event_id in authorized:
                assert statuses[0] == "stored" and set(statuses[1:]) <= {"duplicate"}
                assert len({r["server_seq"] for r in results}) == 1
            else:
                assert set(statuses) == {"rejected"}
        everything = pull_all(client, headers["dave@example.com"], limit=1000)
        assert [e["server_seq"] for e in everything] == list(range(1, len(everything) + 1))
        stored_ids = [e["id"] for e in everything if e["type"] != "case.key_assigned"]
        assert sorted(stored_ids) == sorted(authorized)
        creations = sum(1 for e in everything if e["type"] == "case.created")
        assert len(everything) == len(authorized) + creations
        for email in EMAILS:
            visible = {team_ids[t] for t in USERS[email]}
            expected = [e for e in everything if e["team_id"] in visible]
            for size in page_sizes:
                assert pull_all(client, headers[email], limit=size) == expected

    check()

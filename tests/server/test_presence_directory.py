"""Presence on a case and the agent directory."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sync_server.ids import uuid7

from .helpers import World, bearer, created, login, push


def test_presence(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    bob = bearer(login(client, "bob@example.com"))
    carol = bearer(login(client, "carol@example.com"))
    case = created("alice@example.com", world.alpha)
    push(client, alice, [case])
    case_id = case["case_id"]
    assert client.post("/api/v1/presence", json={"case_id": case_id, "state": "viewing"},
                       headers=alice).status_code == 200
    seen = client.get("/api/v1/presence", params={"case_id": case_id}, headers=bob).json()
    assert [v["email"] for v in seen["viewers"]] == ["alice@example.com"]
    mine = client.get("/api/v1/presence", params={"case_id": case_id}, headers=alice).json()
    assert mine["viewers"] == []  # only other users
    client.post("/api/v1/presence", json={"case_id": case_id, "state": "left"}, headers=alice)
    seen = client.get("/api/v1/presence", params={"case_id": case_id}, headers=bob).json()
    assert seen["viewers"] == []
    # another team's member learns nothing, not even that the case exists
    for response in (
        client.get("/api/v1/presence", params={"case_id": case_id}, headers=carol),
        client.post("/api/v1/presence", json={"case_id": case_id, "state": "viewing"}, headers=carol),
        client.get("/api/v1/presence", params={"case_id": uuid7()}, headers=alice),
    ):
        assert response.status_code == 404
        assert "alice" not in response.text
    bad = client.post("/api/v1/presence", json={"case_id": case_id, "state": "staring"}, headers=bob)
    assert bad.status_code == 422


def test_presence_expires_after_window(client: TestClient, world: World) -> None:
    state = client.app.state.smart  # type: ignore[attr-defined]
    state.settings = state.settings.model_copy(update={"presence_window_seconds": 0.0})
    alice = bearer(login(client, "alice@example.com"))
    bob = bearer(login(client, "bob@example.com"))
    case = created("alice@example.com", world.alpha)
    push(client, alice, [case])
    client.post("/api/v1/presence", json={"case_id": case["case_id"], "state": "viewing"},
                headers=alice)
    seen = client.get("/api/v1/presence", params={"case_id": case["case_id"]}, headers=bob).json()
    assert seen["viewers"] == []


def test_directory_lists_agents_of_my_teams(client: TestClient, world: World) -> None:
    alice = bearer(login(client, "alice@example.com"))
    agents = client.get("/api/v1/directory/agents", headers=alice).json()
    assert sorted(a["email"] for a in agents) == ["alice@example.com", "bob@example.com",
                                                  "dave@example.com"]
    dave = next(a for a in agents if a["email"] == "dave@example.com")
    assert [t["name"] for t in dave["teams"]] == ["Alpha"]  # Beta is not alice's business
    assert set(dave) == {"id", "email", "name", "role", "teams"}
    erin = bearer(login(client, "erin@example.com"))
    assert client.get("/api/v1/directory/agents", headers=erin).json() == []

"""Gap-freeness under concurrent pushes: a client pulling while others push never misses
an event (PostgreSQL: concurrent transactions; SQLite: one writer)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from sqlalchemy import Engine

from sync_server.main import create_app
from sync_server.settings import Settings

from .helpers import PASSWORD, World, created, event, live_server, pull_all

PUSHERS = [("alice@example.com", "alpha"), ("bob@example.com", "alpha"),
           ("carol@example.com", "beta"), ("dave@example.com", "beta")] * 2
BATCHES, BATCH = 12, 8


def _headers(base: str, email: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_pull_during_concurrent_pushes_is_gap_free(settings: Settings, engine: Engine,
                                                   world: World) -> None:
    app = create_app(settings, engine=engine, run_migrations=False)
    with live_server(app) as base:
        tokens = {email: _headers(base, email) for email, _ in PUSHERS}
        reader = _headers(base, "dave@example.com")
        done = threading.Event()
        observed: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def pusher(email: str, team_name: str) -> None:
            team = getattr(world, team_name)
            try:
                with httpx.Client(base_url=base, timeout=30) as client:
                    for i in range(BATCHES):
                        batch = [created(email, team) if (i + j) % 5 == 0 else event(email, team)
                                 for j in range(BATCH)]
                        response = client.post("/api/v1/events/push", json={"events": batch},
                                               headers=tokens[email])
                        assert response.status_code == 200
                        assert all(r["status"] == "stored" for r in response.json()["results"])
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        def puller() -> None:
            cursor = 0
            with httpx.Client(base_url=base, timeout=30) as client:
                while True:
                    finished = done.is_set()
                    page = client.get("/api/v1/events", params={"since": cursor, "limit": 37},
                                      headers=reader).json()
                    observed.extend(page["events"])
                    cursor = page["next_cursor"]
                    if finished and not page["has_more"]:
                        return

        threads = [threading.Thread(target=pusher, args=p) for p in PUSHERS]
        reading = threading.Thread(target=puller)
        reading.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        reading.join()
        assert not errors, errors
        seqs = [e["server_seq"] for e in observed]
        total = len(seqs)
        assert total >= len(PUSHERS) * BATCHES * BATCH
        assert seqs == list(range(1, total + 1))  # nothing missed, nothing twice, in order
        keys = [e for e in observed if e["type"] == "case.key_assigned"]
        for prefix in ("ALP", "BET"):
            numbers = sorted(int(k["payload"]["key"].split("-")[1]) for k in keys
                             if k["payload"]["key"].startswith(prefix))
            assert numbers == list(range(1, len(numbers) + 1))
        with httpx.Client(base_url=base) as client:
            alpha_only = pull_all(client, tokens["alice@example.com"], limit=100)
        assert alpha_only == [e for e in observed if e["team_id"] == world.alpha]

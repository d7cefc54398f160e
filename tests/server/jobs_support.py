"""Helpers of the job queue tests: integration requests pushed like a laptop pushes them,
a fake clock, and handler registrations undone after each test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sync_server.ids import uuid7
from sync_server.jobs import api
from sync_server.tables import jobs

from .helpers import created, event, push

# The fake clock's start: an hour from now, in whole seconds (jobs pushed now are due, and
# their 24 h give-up time is ahead).
T0 = (time.time_ns() // 1_000_000_000 + 3600) * 1000


class FakeClock:
    def __init__(self, start: int = T0) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def request(actor: str, team: str, case_id: str, *, system: str = "jira",
            action: str = "create", params: dict[str, Any] | None = None,
            request_id: str | None = None) -> dict[str, Any]:
    return event(actor, team, type_="integration.requested", case_id=case_id, payload={
        "request_id": request_id or uuid7(), "system": system, "action": action,
        "params": params if params is not None else {}})


def new_case(client: TestClient, headers: dict[str, str], actor: str, team: str) -> str:
    case = created(actor, team)
    case["payload"]["fields"] = {"subject": "printer on fire", "team_id": team}
    assert push(client, headers, [case])[0]["status"] == "stored"
    return str(case["case_id"])


def job_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(jobs).order_by(jobs.c.created_ms,
                                                                    jobs.c.id)).mappings()]


@contextmanager
def handlers(**by_action: api.Handler) -> Iterator[None]:
    """Register ``jira`` handlers by action for one test; the registry is restored after."""
    saved_handlers, saved_sites = dict(api._HANDLERS), dict(api._SITES)
    for action, handler in by_action.items():
        api.register("jira", action, handler)
    try:
        yield
    finally:
        api._HANDLERS.clear()
        api._HANDLERS.update(saved_handlers)
        api._SITES.clear()
        api._SITES.update(saved_sites)

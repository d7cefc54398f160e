"""The real thing: ``python -m sync_server serve`` as its own process, configured for JIRA
only by SMART_SUPPORT_JIRA_* variables, runs a laptop's create request with its in-process
workers against the fake JIRA over loopback, through a lost answer and a lagging search:
one issue, a done event with its Record."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync_server.ids import uuid7
from tests.fakes.fake_jira import FakeJira

from .helpers import created, event
from .server_process import seed, server_process


def pull(base: str, token: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    since = 0
    while True:
        page = httpx.get(f"{base}/api/v1/events", params={"since": since},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        found += page["events"]
        since = page["next_cursor"]
        if not page["has_more"]:
            return found


def test_serve_runs_a_create_through_a_lost_answer_to_one_issue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeJira(search_lag_s=0.5) as fake:
        for name, value in {"URL": fake.url, "USER": fake.user, "TOKEN": fake.token,
                            "PROJECT": "ENG", "SEARCH_SETTLE_S": "2"}.items():
            monkeypatch.setenv(f"SMART_SUPPORT_JIRA_{name}", value)
        monkeypatch.setenv("SMART_SUPPORT_JOB_BACKOFF_BASE_S", "0.2")
        monkeypatch.setenv("SMART_SUPPORT_JOB_POLL_S", "0.1")
        teams = seed(tmp_path / "srv", {"Support": ["ana@example.com"]})
        fake.inject("POST", r"/issue$", lose_response=True)
        with server_process(tmp_path / "srv") as server:
            token = server.token("ana@example.com")
            case = created("ana@example.com", teams["Support"])
            request_id = uuid7()
            ask = event("ana@example.com", teams["Support"], type_="integration.requested",
                        case_id=case["case_id"], payload={
                            "request_id": request_id, "system": "jira", "action": "create",
                            "params": {}})
            answer = httpx.post(f"{server.base}/api/v1/events/push", json={"events": [case, ask]},
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert [r["status"] for r in answer.json()["results"]] == ["stored", "stored"]
            deadline = time.monotonic() + 60
            while True:
                outcomes = [e for e in pull(server.base, token)
                            if e["type"] in ("integration.done", "integration.failed")
                            and e["payload"]["request_id"] == request_id]
                if outcomes or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            waited = [e for e in pull(server.base, token) if e["type"] == "integration.waiting"]
            log = (tmp_path / "srv" / "server.log").read_text(errors="replace")
            assert fake.token not in log
        assert [e["type"] for e in outcomes] == ["integration.done"], log[-2000:]
        assert outcomes[0]["payload"]["record"]["remote_key"] == "ENG-1"
        assert waited  # the lost answer was retried, not taken for a success or a failure
        assert len(fake.issues) == 1
        assert len(fake.requests("POST", r"/issue$")) == 1

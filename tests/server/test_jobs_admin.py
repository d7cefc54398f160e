"""Administering the queue: ``integrations status [--json]`` and GET
/api/v1/integrations/status give the same figures (admins only), ``integrations retry``
re-queues a failed job, the SMART_SUPPORT_JOB_*/BREAKER_* settings, and ``serve``'s app
running the workers in-process (and not unless asked)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sync_server.cli import main
from sync_server.jobs.api import Done, Job, JobContext, Permanent, Transient
from sync_server.jobs.breaker import BreakerPolicy
from sync_server.jobs.runner import register_handlers
from sync_server.jobs.worker import Worker, WorkerConfig
from sync_server.main import create_app
from sync_server.settings import Settings, SettingsError, load_settings

from .helpers import World, bearer, live_server, login, pull_all, push
from .jobs_support import FakeClock, handlers, job_rows, new_case, request

ALICE = "alice@example.com"


def _status_cli(db_url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["--db", db_url, "integrations", "status", *extra]) == 0
    return capsys.readouterr().out


def test_status_and_retry(client: TestClient, engine: Engine, world: World, db_url: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    alice = bearer(login(client, ALICE))
    case_id = new_case(client, alice, ALICE, world.alpha)

    async def create(job: Job, ctx: JobContext) -> Done:
        raise Transient("503 Service Unavailable")

    async def link(job: Job, ctx: JobContext) -> Done:
        raise Permanent("Issue does not exist", 404)

    clock = FakeClock()
    worker = Worker(engine, WorkerConfig(breaker=BreakerPolicy(threshold=1)), clock=clock)
    with handlers(create=create, link=link):
        for action, params in [("link", {"issue_key": "X-1"}), ("create", {})]:
            push(client, alice, [request(ALICE, world.alpha, case_id, action=action,
                                         params=params)])
            asyncio.run(worker.run_once())
    data = json.loads(_status_cli(db_url, capsys, "--json"))
    assert data["queue"] == {"queued": 0, "running": 0, "waiting": 1, "done": 0, "failed": 1}
    assert data["by_system"] == {"jira": data["queue"]}
    [breaker] = data["breakers"]
    assert (breaker["system"], breaker["site"], breaker["state"]) == ("jira", "default", "open")
    assert data["oldest_waiting"]["action"] == "create"
    assert {e["last_error"] for e in data["last_errors"]} == {
        "jira: 503 Service Unavailable", "jira: Issue does not exist"}
    # the same from the API, for admins only
    admin = bearer(login(client, "dave@example.com"))
    assert client.get("/api/v1/integrations/status", headers=admin).json() == data
    assert client.get("/api/v1/integrations/status", headers=alice).status_code == 403
    assert client.get("/api/v1/integrations/status").status_code == 401
    text = _status_cli(db_url, capsys)
    assert "jira default: open (1 failures" in text and "waiting 1" in text
    assert "jira: Issue does not exist" in text
    # retry: the failed job is queued again, same request_id; anything else is refused
    failed = next(r for r in job_rows(engine) if r["state"] == "failed")
    waiting = next(r for r in job_rows(engine) if r["state"] == "waiting")
    assert main(["--db", db_url, "integrations", "retry", failed["id"]]) == 0
    assert "queued again" in capsys.readouterr().out
    again = next(r for r in job_rows(engine) if r["id"] == failed["id"])
    assert (again["state"], again["request_id"]) == ("queued", failed["request_id"])
    assert again["give_up_at_ms"] > failed["give_up_at_ms"]
    assert main(["--db", db_url, "integrations", "retry", waiting["id"]]) == 1
    assert "no failed job" in capsys.readouterr().err


def test_queue_settings_from_the_environment(tmp_path: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SMART_SUPPORT_JOB_WORKERS": "2", "SMART_SUPPORT_JOB_LEASE_S": "30",
                        "SMART_SUPPORT_JOB_GIVE_UP_H": "1.5",
                        "SMART_SUPPORT_BREAKER_THRESHOLD": "7",
                        "SMART_SUPPORT_BREAKER_OPEN_S": "90",
                        "SMART_SUPPORT_BREAKER_HALF_OPEN_PROBES": "3"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(data_dir=tmp_path, with_secret=False)
    config = WorkerConfig.from_settings(settings)
    assert (config.concurrency, config.lease_ms, config.retry.give_up_s) == (2, 30_000, 5_400)
    assert config.breaker == BreakerPolicy(threshold=7, open_ms=90_000, probes=3,
                                           probe_lease_ms=30_000)
    defaults = Settings(db_url="sqlite://", data_dir=tmp_path)
    assert (defaults.job_give_up_h, defaults.breaker_half_open_probes) == (24.0, 1)
    for bad in ("soon", "0", "-5", "nan"):
        monkeypatch.setenv("SMART_SUPPORT_BREAKER_OPEN_S", bad)
        with pytest.raises(SettingsError, match="SMART_SUPPORT_BREAKER_OPEN_S"):
            load_settings(data_dir=tmp_path, with_secret=False)


def test_a_registrar_that_cannot_be_loaded_is_a_settings_error(tmp_path: Any) -> None:
    bad = Settings(db_url="sqlite://", data_dir=tmp_path, job_handlers="no_such_module:go")
    with pytest.raises(SettingsError, match="SMART_SUPPORT_JOB_HANDLERS names 'no_such"):
        register_handlers(bad)


def _done_events(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    return [e for e in pull_all(httpx.Client(base_url=base, timeout=30), headers)
            if e["type"] == "integration.done"]


@pytest.mark.parametrize("workers", [True, False])
def test_the_served_app_runs_workers_in_process_only_when_asked(
        settings: Settings, engine: Engine, world: World, workers: bool) -> None:
    async def create(job: Job, ctx: JobContext) -> Done:
        return Done("created ENG-1")

    quick = settings.model_copy(update={"job_poll_s": 0.05})
    with handlers(create=create):
        app = create_app(quick, engine=engine, run_migrations=False, workers=workers)
        with live_server(app) as base, TestClient(app) as client:
            alice = bearer(login(client, ALICE))
            case_id = new_case(client, alice, ALICE, world.alpha)
            push(client, alice, [request(ALICE, world.alpha, case_id)])
            deadline = time.monotonic() + (30 if workers else 1.5)
            while time.monotonic() < deadline and not _done_events(base, alice):
                time.sleep(0.05)
            assert bool(_done_events(base, alice)) is workers
    assert job_rows(engine)[0]["state"] == ("done" if workers else "queued")

"""The job queue across real processes: two worker processes on one PostgreSQL never run a
job twice at once; one worker process per SQLite file; a worker SIGKILLed mid-call leaves a
job that runs again flagged unknown_outcome and adopts what the killed call made; and the
fault run: requests against a remote failing or timing out 30 % of the time with the server
SIGKILLed twice part-way: none lost, none created twice (1,000 in bench/jobs_fault_run.py)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from sync_server.db import make_engine, migrate
from sync_server.main import create_app
from sync_server.services import accounts
from sync_server.settings import Settings
from sync_server.tables import jobs

from .conftest import SECRET, PgCluster, new_pg_database
from .fake_remote import TIMEOUT_ENV, FakeRemote
from .helpers import PASSWORD, bearer, login, push
from .jobs_processes import environment, fault_run, kill, spawn, stop, wait_for
from .jobs_support import new_case, request

ALICE = "alice@example.com"


def _seed_requests(settings: Settings, engine: Engine, n: int) -> list[str]:
    team = accounts.add_team(engine, name="Alpha")
    accounts.add_user(engine, email=ALICE, name="Alice", role="agent", password=PASSWORD)
    accounts.add_member(engine, team="Alpha", email=ALICE)
    with TestClient(create_app(settings, engine=engine, run_migrations=False)) as client:
        headers = bearer(login(client, ALICE))
        case_id = new_case(client, headers, ALICE, team)
        asks = [request(ALICE, team, case_id) for _ in range(n)]
        for start in range(0, n, 100):
            assert {r["status"] for r in push(client, headers, asks[start:start + 100])} == {
                "stored"}
    return [a["payload"]["request_id"] for a in asks]


def _states(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {str(s): int(n) for s, n in conn.execute(
            select(jobs.c.state, func.count()).group_by(jobs.c.state))}


def test_two_worker_processes_on_postgresql_never_run_a_job_twice(
        pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = new_pg_database(pg_cluster)
    settings = Settings(db_url=url, data_dir=tmp_path / "data", secret=SECRET)
    engine = make_engine(url)
    migrate(engine)
    ids = _seed_requests(settings, engine, 120)
    remote = FakeRemote(delay_s=0.05)  # calls overlap: a double claim would show
    with remote.serve() as base:
        env = environment(base, JOB_WORKERS="6", JOB_POLL_S="0.05")
        procs = [spawn(["--db", url, "worker"], env, tmp_path / f"worker{i}.log")
                 for i in range(2)]
        try:
            wait_for(lambda: _states(engine).get("done", 0) == len(ids), 120, "all done")
        finally:
            for proc in procs:
                stop(proc)
        stats = remote.stats()
    assert stats["calls"] == len(ids) == stats["created"]
    assert stats["duplicates"] == [] and stats["max_in_flight"] == 1
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert all("Traceback" not in log for log in logs), logs
    engine.dispose()


def test_one_worker_process_per_sqlite_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'server.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    env = environment("http://127.0.0.1:9", JOB_POLL_S="0.05")
    first = spawn(["--data-dir", str(data), "worker"], env, tmp_path / "first.log")
    try:
        wait_for(lambda: (data / "server.sqlite3.worker-lock").exists(), 30, "the lock")
        second = spawn(["--data-dir", str(data), "worker"], env, tmp_path / "second.log")
        assert second.wait(60) == 1
        assert "another process runs the job workers" in (tmp_path / "second.log").read_text()
        assert first.poll() is None
    finally:
        stop(first)
    engine.dispose()


def test_a_worker_killed_mid_call_leaves_a_job_that_reruns_unknown_and_adopts(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'server.sqlite3'}"
    settings = Settings(db_url=url, data_dir=data, secret=SECRET)
    data.mkdir()
    engine = make_engine(url)
    migrate(engine)
    [request_id] = _seed_requests(settings, engine, 1)
    remote = FakeRemote(lost_rate=1.0, hang_s=30)  # it makes the object, then hangs
    with remote.serve() as base:
        env = environment(base, JOB_LEASE_S="3", JOB_POLL_S="0.05", **{TIMEOUT_ENV: "20"})
        worker = spawn(["--data-dir", str(data), "worker"], env, tmp_path / "w1.log")
        try:
            wait_for(lambda: remote.stats()["created"] == 1, 60, "the first call")
        finally:
            kill(worker)  # SIGKILL mid-call: its outcome never written
        assert _states(engine) == {"running": 1}
        remote.lost_rate = 0.0
        again = spawn(["--data-dir", str(data), "worker"], env, tmp_path / "w2.log")
        try:
            wait_for(lambda: _states(engine) == {"done": 1}, 60, "the job to be done")
        finally:
            stop(again)
        stats = remote.stats()
    assert stats["created"] == 1 and stats["calls"] == 1 and stats["searches"] == 1
    with engine.connect() as conn:
        row = conn.execute(select(jobs)).mappings().one()
        done = conn.execute(select(func.max(jobs.c.updated_ms))).scalar()
    assert row["request_id"] == request_id and row["unknown_outcome"] and row["attempts"] == 2
    assert done is not None
    engine.dispose()


def test_fault_run_none_lost_none_created_twice(tmp_path: Path) -> None:
    # The CI size (about a minute on a busy 2-core machine); bench/jobs_fault_run.py runs
    # 1,000 and more.
    run = fault_run(tmp_path / "data", requests=200, kills=2)
    print(json.dumps(run.figures()))
    assert run.lost == [] and run.failed_without_reason == []
    assert run.done + run.failed == 200
    assert run.remote["duplicates"] == []
    assert run.remote["created"] == run.done  # every object made is the one reported
    assert run.adopted > 0  # the unknown-outcome path ran (lost answers, kills)

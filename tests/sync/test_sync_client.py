"""The sync client against the real server on loopback: login, push/pull, conflicts, secrets."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest

from app.cli import main
from app.operations import cases as ops
from app.store import queries as q
from app.store.conflicts import open_conflicts
from app.store.repo import Store, dump_projections
from app.sync.api import Offline, SyncApi
from app.sync.engine import sync_once
from app.sync.session import NotLoggedIn, SyncSession
from tests.server.helpers import live_server

PASSWORD = "a long enough password"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, object]]:
    from sync_server.db import make_engine, migrate
    from sync_server.main import create_app
    from sync_server.services import accounts
    from sync_server.settings import Settings

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'srv.sqlite3'}", data_dir=tmp_path / "srv",
                        secret="x" * 48)
    engine = make_engine(settings.db_url)
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_team(engine, name="Billing", prefix="BIL")
    for email in ("ana@example.com", "ben@example.com", "cy@example.com"):
        accounts.add_user(engine, email=email, name=email.split("@")[0].title(), role="agent",
                          password=PASSWORD)
    accounts.add_member(engine, team="Support", email="ana@example.com")
    accounts.add_member(engine, team="Support", email="ben@example.com")
    accounts.add_member(engine, team="Billing", email="cy@example.com")
    with live_server(create_app(settings, engine=engine, run_migrations=False)) as url:
        yield url, engine
    engine.dispose()


def _client(tmp_path: Path, name: str, url: str, email: str) -> tuple[Store, SyncSession]:
    store = Store(tmp_path / name / "smart-support.db")  # each client its own data folder
    session = SyncSession(store, SyncApi(url))
    session.login(email, PASSWORD)
    return store, session


def test_two_clients_exchange_cases_and_server_assigns_keys(tmp_path: Path, server) -> None:
    url, _ = server
    a, sa = _client(tmp_path, "a", url, "ana@example.com")
    b, sb = _client(tmp_path, "b", url, "ben@example.com")
    case_id, provisional, _ = ops.create_case(a, subject="Printer on fire", priority="high")
    ops.comment(a, case=provisional, body="first reply")
    report = sync_once(a, sa)
    # created, the reply, and the reply opening the new case
    assert report.pushed == 3 and a.outbox_count() == 0
    sync_once(b, sb)
    detail = b.read(lambda c: q.case_detail(c, case_id))
    assert detail["key"].startswith("SUP-")
    assert b.read(lambda c: q.resolve_case(c, provisional)) == case_id  # the old key resolves
    sync_once(a, sa)
    assert a.read(dump_projections) == b.read(dump_projections)


def test_other_team_cannot_see_cases(tmp_path: Path, server) -> None:
    url, _ = server
    a, sa = _client(tmp_path, "a", url, "ana@example.com")
    c, sc = _client(tmp_path, "c", url, "cy@example.com")
    ops.create_case(a, subject="Support only")
    sync_once(a, sa)
    report = sync_once(c, sc)
    assert report.pulled == 0
    assert c.read(q.status_counts) == {}


def test_concurrent_edit_conflict_is_noticed_not_lost(tmp_path: Path, server) -> None:
    url, _ = server
    a, sa = _client(tmp_path, "a", url, "ana@example.com")
    b, sb = _client(tmp_path, "b", url, "ben@example.com")
    case_id, key, _ = ops.create_case(a, subject="Shared")
    sync_once(a, sa)
    sync_once(b, sb)
    ops.set_fields(a, case=case_id, changes={"priority": "low"})  # Ana, offline for a while
    sync_once(a, sa)
    ops.set_fields(b, case=case_id, changes={"priority": "urgent"})  # Ben had not seen it
    sync_once(b, sb)
    sync_once(a, sa)
    assert a.read(lambda c: q.case_detail(c, case_id))["priority"] == "urgent"
    notices = a.read(lambda c: open_conflicts(c, case_id))
    assert len(notices) == 1
    assert notices[0]["local_value"] == "low" and notices[0]["remote_value"] == "urgent"
    # Ana's value is kept in the history and can be restored in one step.
    ops.restore_conflict(a, conflict_id=notices[0]["id"])
    assert a.read(lambda c: q.case_detail(c, case_id))["priority"] == "low"
    assert a.read(lambda c: open_conflicts(c, case_id)) == []


def test_sequential_edit_is_not_a_conflict(tmp_path: Path, server) -> None:
    url, _ = server
    a, sa = _client(tmp_path, "a", url, "ana@example.com")
    b, sb = _client(tmp_path, "b", url, "ben@example.com")
    case_id, _, _ = ops.create_case(a, subject="Shared")
    ops.set_fields(a, case=case_id, changes={"priority": "low"})
    sync_once(a, sa)
    sync_once(b, sb)
    ops.set_fields(b, case=case_id, changes={"priority": "high"})  # Ben saw "low"
    sync_once(b, sb)
    sync_once(a, sa)
    assert a.read(lambda c: open_conflicts(c, case_id)) == []


def test_offline_server_keeps_changes_queued(tmp_path: Path) -> None:
    store = Store(tmp_path / "x.db")
    session = SyncSession(store, SyncApi("http://127.0.0.1:9"))  # nothing listens on port 9
    with pytest.raises(NotLoggedIn):
        sync_once(store, session)
    ops.create_case(store, subject="offline work")
    with pytest.raises(Offline):
        session.login("ana@example.com", "x")
    assert store.outbox_count() == 1


def test_cli_login_sync_logout_and_no_secret_on_disk(tmp_path: Path, server, memory_keyring,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = server
    data = tmp_path / "data"
    monkeypatch.setattr(sys, "stdin", StringIO(PASSWORD + "\n"))
    assert main(["--data-dir", str(data), "login", "--server", url, "--email",
                 "ana@example.com", "--password-stdin"]) == 0
    assert main(["--data-dir", str(data), "run", "case new --subject 'From the CLI'"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", str(data), "sync", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pushed"] == 1
    refresh = next(iter(memory_keyring.secrets.values()))
    for path in data.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert refresh.encode() not in blob and PASSWORD.encode() not in blob, path
    assert main(["--data-dir", str(data), "logout"]) == 0
    assert memory_keyring.secrets == {}
    assert main(["--data-dir", str(data), "sync"]) == 1  # signed out: a clear error


def test_teammate_reply_opening_my_new_case_is_not_a_conflict(tmp_path: Path, server) -> None:
    """Regression: the created event's status ("new") was read as None, so a teammate's reply
    that opened the case looked like a conflict over "Nothing"."""
    url, _ = server
    a, sa = _client(tmp_path, "a", url, "ana@example.com")
    b, sb = _client(tmp_path, "b", url, "ben@example.com")
    case_id, _, _ = ops.create_case(a, subject="New one")
    sync_once(a, sa)
    sync_once(b, sb)
    ops.comment(b, case=case_id, body="On it")  # opens the new case
    sync_once(b, sb)
    sync_once(a, sa)
    assert a.read(lambda c: q.case_detail(c, case_id))["status"] == "open"
    assert a.read(lambda c: open_conflicts(c, case_id)) == []


def test_attachment_uploads_with_sync_and_downloads_on_demand(tmp_path: Path, server) -> None:
    from app.operations import attachments

    url, _ = server
    a, sa = _client(tmp_path, "a", url, "ana@example.com")
    b, sb = _client(tmp_path, "b", url, "ben@example.com")
    case_id, key, _ = ops.create_case(a, subject="With a log")
    log = tmp_path / "client.log"
    log.write_text("ERROR ERR-1042 sync failed\n" * 20)
    attachments.attach(a, case=key, path=log)
    report = sync_once(a, sa)
    assert report.blobs_uploaded == 1
    assert sync_once(a, sa).blobs_uploaded == 0  # uploaded once
    sync_once(b, sb)
    sha = b.read(lambda c: c.exec_driver_sql("SELECT sha256 FROM attachments").scalar())
    assert not attachments.blob_store(b).has(sha)
    opened = attachments.open_path(b, sha)  # not on B yet: fetched and verified
    assert opened.read_bytes() == log.read_bytes()

"""Issue 11's proof, end to end: a laptop records ``jira create`` offline; when it reconnects
the real sync server (uvicorn on loopback, its in-process workers) creates the issue in the
fake JIRA exactly once, although JIRA's first answer is lost; the link shows on a teammate's
laptop in ``case show --json``, readable offline from its snapshot."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from app.store.repo import Store
from app.sync.api import SyncApi
from app.sync.engine import sync_once
from app.sync.session import SyncSession
from app.terminal.runner import execute
from tests.fakes.fake_jira import FakeJira
from tests.server.helpers import live_server

PASSWORD = "a long enough password"


def _laptop(folder: Path, url: str, email: str) -> tuple[Store, SyncSession]:
    store = Store(folder / "smart-support.db")
    session = SyncSession(store, SyncApi(url))
    session.login(email, PASSWORD)
    return store, session


def _integrations(store: Store, key: str) -> dict[str, Any]:
    result = execute(store, f"case show {key}")
    assert result.ok, result.text
    return dict(result.data["integrations"])


def test_a_jira_create_made_offline_reaches_jira_once_and_a_teammate_sees_the_link(
        tmp_path: Path) -> None:
    from sync_server.db import make_engine, migrate
    from sync_server.main import create_app
    from sync_server.services import accounts
    from sync_server.settings import JiraSettings, Settings

    with FakeJira(search_lag_s=0.3) as fake:
        settings = Settings(
            db_url=f"sqlite:///{tmp_path / 'srv.sqlite3'}", data_dir=tmp_path / "srv",
            secret="x" * 48, job_backoff_base_s=0.2, job_poll_s=0.1, job_workers=1,
            jira=JiraSettings.model_validate({
                "url": fake.url, "user": fake.user, "token": fake.token, "api": 3,
                "project": "ENG", "search_settle_s": 1}))
        engine = make_engine(settings.db_url)
        migrate(engine)
        accounts.add_team(engine, name="Support", prefix="SUP")
        for email in ("ana@example.com", "ben@example.com"):
            accounts.add_user(engine, email=email, name=email.split("@")[0].title(),
                              role="agent", password=PASSWORD)
            accounts.add_member(engine, team="Support", email=email)
        fake.inject("POST", r"/issue$", lose_response=True)  # created, but the answer is lost
        app = create_app(settings, engine=engine, run_migrations=False, workers=True)
        with live_server(app) as url:
            a, sa = _laptop(tmp_path / "ana", url, "ana@example.com")
            b, sb = _laptop(tmp_path / "ben", url, "ben@example.com")
            try:
                made = execute(a, "case new --subject 'Printer on fire' "
                                  "--description 'It smokes when printing duplex'")
                key = made.data["key"]
                asked = execute(a, f"jira create {key} --type Bug")  # offline: not synced
                assert asked.ok and asked.data["state"] == "pending", asked.text
                (pending,) = _integrations(a, key)["requests"]
                assert pending["state"] == "pending" and fake.issues == {}

                sync_once(a, sa)  # back online: the request reaches the server
                deadline = time.monotonic() + 90
                sync_once(b, sb)
                shown = _integrations(b, key)
                while not shown["links"] and time.monotonic() < deadline:
                    time.sleep(0.3)
                    sync_once(b, sb)
                    shown = _integrations(b, key)
                sync_once(a, sa)
                on_a = _integrations(a, key)
            finally:
                a.close()
                b.close()
        engine.dispose()
        assert fake.faults == []  # the answer to the create was lost...
        assert fake.requests("POST", r"/search/jql$")  # ...so the retry searched first
        assert len(fake.issues) == 1  # and adopted the issue: created exactly once
        assert len(fake.requests("POST", r"/issue$")) == 1
        (issue,) = fake.issues.values()
        assert issue.summary == "[SUP-1] Printer on fire" and issue.issue_type == "Bug"
    (link,) = shown["links"]
    assert (link["system"], link["remote_id"], link["remote_key"]) == ("jira", issue.id,
                                                                       issue.key)
    assert link["linked"] is True and link["snapshot"]["summary"] == issue.summary
    assert link["status_category"] == "todo" and link["age_ms"] >= 0
    (request,) = shown["requests"]
    assert (request["request_id"], request["state"], request["remote_key"]) == (
        asked.data["request_id"], "done", issue.key)
    assert [lk["remote_key"] for lk in on_a["links"]] == [issue.key]
    assert [r["state"] for r in on_a["requests"]] == ["done"]

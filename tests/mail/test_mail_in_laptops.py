"""Issue 17's proof for mail in, end to end: a mail delivered to the team's Dovecot mailbox
becomes a case on two laptops synced with the real server (uvicorn on loopback, its
in-process workers polling the mailbox); the customer's answer lands on the same case; the
mailbox password is in neither laptop's data folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.operations.attachments import case_attachments
from app.store.repo import Store
from app.sync.api import SyncApi
from app.sync.engine import sync_once
from app.sync.session import SyncSession
from app.terminal.runner import execute
from tests.mail import dovecot
from tests.mail.mails import mail
from tests.server.helpers import live_server

PASSWORD = "a long enough password"


def _laptop(folder: Path, url: str, email: str) -> tuple[Store, SyncSession]:
    store = Store(folder / "smart-support.db")
    session = SyncSession(store, SyncApi(url))
    session.login(email, PASSWORD)
    return store, session


def _until(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _show(store: Store, session: SyncSession, key: str) -> dict[str, Any] | None:
    sync_once(store, session)
    result = execute(store, f"case show {key}")
    return dict(result.data) if result.ok else None


def test_a_mail_becomes_a_case_on_two_laptops_and_the_answer_lands_on_it(
        tmp_path: Path, imap: dovecot.Dovecot) -> None:
    from sync_server.db import make_engine, migrate
    from sync_server.mail import store as mailboxes
    from sync_server.main import create_app
    from sync_server.services import accounts
    from sync_server.settings import Settings

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'srv.sqlite3'}",
                        data_dir=tmp_path / "srv", secret="m" * 48, job_poll_s=0.1,
                        job_workers=1, mail_poll_s=0.3)
    engine = make_engine(settings.db_url)
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    for email in ("ana@example.com", "ben@example.com"):
        accounts.add_user(engine, email=email, name=email.split("@")[0].title(), role="agent",
                          password=PASSWORD)
        accounts.add_member(engine, team="Support", email=email)
    mailboxes.add(engine, team="Support", address="support@example.test",
                  imap_url=imap.url(), smtp_url="smtp://127.0.0.1:2525?tls=none",
                  password=dovecot.PASSWORD, server_secret=settings.secret)
    app = create_app(settings, engine=engine, run_migrations=False, workers=True)
    with live_server(app) as url:
        a, sa = _laptop(tmp_path / "ana", url, "ana@example.com")
        b, sb = _laptop(tmp_path / "ben", url, "ben@example.com")
        try:
            imap.deliver(mail(message_id="<m1@customer.test>",
                              attachments=[("log.txt", "text/plain", b"E42 paper jam\n")]))
            on_a = _until(lambda: _show(a, sa, "SUP-1"), "the case on Ana's laptop")
            on_b = _until(lambda: _show(b, sb, "SUP-1"), "the case on Ben's laptop")
            imap.deliver(mail(subject="Re: Printer on fire", body="Smoke is gone now.",
                              in_reply_to="<m1@customer.test>"))
            answered = _until(lambda: _answered(_show(b, sb, "SUP-1")),
                              "the answer on Ben's laptop")
            names = [_attachment_names(a, on_a["id"]), _attachment_names(b, on_b["id"])]
        finally:
            a.close()
            b.close()
    engine.dispose()
    for shown in (on_a, on_b):
        assert shown["subject"] == "Printer on fire"
        assert shown["description"].startswith("It smokes when printing duplex.")
        assert "email" in shown["tags"]
        assert "carla@customer.test" in str(shown["requester"])
    assert names[0] in (["log.txt", "original.eml"], ["log.txt", "original.eml", "original.eml"])
    assert names[1] == ["log.txt", "original.eml", "original.eml"]  # and the answer's
    (comment,) = answered["comments"]
    assert comment["body"] == "Smoke is gone now." and comment["internal"] is False
    assert comment["author"] == "Carla Customer"  # the requester, found by the sender
    assert _no_password(tmp_path / "ana", tmp_path / "ben")


def _answered(shown: dict[str, Any] | None) -> dict[str, Any] | None:
    return shown if shown and shown["comments"] else None


def _attachment_names(store: Store, case_id: str) -> list[str]:
    def read(conn: Any) -> list[str]:
        return sorted(str(row["name"]) for row in case_attachments(conn, case_id))

    return store.read(read)


def _no_password(*folders: Path) -> bool:
    secret = dovecot.PASSWORD.encode()
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert secret not in path.read_bytes(), path
    return True

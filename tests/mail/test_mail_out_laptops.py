"""Issue 17's proof for mail out, end to end: a reply written on a laptop while offline goes
out when the laptop syncs (the real server over loopback with its in-process workers, a
real aiosmtpd), exactly once, to the requester; the internal note never; the delivery comes
back to `case show --json`; `mail status` shows the mailbox without its password, and the
password is nowhere in the laptop's folder."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from app.store.repo import Store
from app.sync.api import SyncApi
from app.sync.engine import sync_once
from app.sync.session import SyncSession
from app.terminal.runner import execute
from tests.mail.smtp_capture import SmtpCapture
from tests.server.helpers import live_server

PASSWORD = "a long enough password"
MAILBOX_PASSWORD = "mailbox-secret-Zq81"
CUSTOMER = "pat@customer.test"


def _until(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_offline_reply_goes_out_when_the_laptop_syncs(tmp_path: Path) -> None:
    from sync_server.db import make_engine, migrate
    from sync_server.mail import store as mailboxes
    from sync_server.main import create_app
    from sync_server.services import accounts
    from sync_server.settings import Settings
    from sync_server.tables import mailboxes as mailbox_table

    smtp = SmtpCapture().start()
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'srv.sqlite3'}",
                        data_dir=tmp_path / "srv", secret="m" * 48, job_poll_s=0.1,
                        job_workers=1, mail_poll_s=30)
    engine = make_engine(settings.db_url)
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_user(engine, email="ana@example.com", name="Ana", role="agent",
                      password=PASSWORD)
    accounts.add_member(engine, team="Support", email="ana@example.com")
    box = mailboxes.add(engine, team="Support", address="support@example.test",
                        imap_url="imap://support@127.0.0.1:9?tls=none", smtp_url=smtp.url,
                        password=MAILBOX_PASSWORD, server_secret=settings.secret)
    with engine.begin() as conn:
        conn.execute(update(mailbox_table).where(mailbox_table.c.id == box)
                     .values(settings=json.dumps({"undo_s": 1})))
    app = create_app(settings, engine=engine, run_migrations=False, workers=True)
    folder = tmp_path / "ana"
    try:
        with live_server(app) as url:
            store = Store(folder / "smart-support.db")
            session = SyncSession(store, SyncApi(url))
            session.login("ana@example.com", PASSWORD)
            sync_once(store, session)
            try:
                made = execute(store, f"case new --subject 'Printer on fire' "
                                      f"--requester {CUSTOMER}")
                assert made.ok, made.text
                key = made.data["key"]
                # written offline: nothing reaches the server until the sync below
                assert execute(store, f"case comment {key} 'Turn it off and on.'").ok
                assert execute(store, f"case comment {key} --internal 'they never do'").ok
                time.sleep(1.5)
                assert smtp.messages == []
                sync_once(store, session)
                _until(lambda: smtp.messages, "the reply at the SMTP server")

                def delivered() -> dict[str, Any] | None:
                    sync_once(store, session)
                    shown = execute(store, "case show SUP-1")
                    if not shown.ok:
                        return None
                    states = [c["delivery"] for c in shown.data["comments"]]
                    return shown.data if states[0] and states[0]["state"] == "sent" else None

                shown = _until(delivered, "the delivery on the laptop")
                time.sleep(1.0)  # a second send would have happened by now
                answer = execute(store, "mail status --json")  # a new session, as the CLI
                assert answer.ok, answer.text
            finally:
                store.close()
    finally:
        smtp.stop()
        engine.dispose()
    [got] = smtp.messages
    assert got.recipients == [CUSTOMER]
    assert got.message["Subject"] == "[SUP-1] Re: Printer on fire"
    reply, note = shown["comments"]
    assert reply["delivery"]["state"] == "sent"
    assert reply["delivery"]["message_id"] == got.message["Message-ID"]
    assert note["internal"] and note["delivery"] is None
    [mailbox] = answer.data["mailboxes"]
    assert mailbox["address"] == "support@example.test" and mailbox["sent"] == 1
    assert MAILBOX_PASSWORD not in json.dumps(answer.data) + answer.text
    for path in folder.rglob("*"):
        if path.is_file():
            assert MAILBOX_PASSWORD.encode() not in path.read_bytes(), path

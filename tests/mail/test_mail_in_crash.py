"""Each message once, across crashes and processes: a `worker` process SIGKILLed while it
takes a full mailbox loses nothing and duplicates nothing when it starts again; two pollers
fetching one mailbox at the same time (their lease defeated) still take each message once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync_server.db import make_engine, migrate
from sync_server.mail import store
from sync_server.services import accounts
from sync_server.tables import events, mail_messages
from tests.mail import dovecot
from tests.mail.conftest import MailWorld
from tests.mail.mails import mail

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-test-secret-" + "z" * 40
COUNT = 60


def _counts(engine: object) -> tuple[int, int, int]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        taken = conn.execute(select(func.count()).select_from(mail_messages)).scalar_one()
        created = conn.execute(select(func.count()).select_from(events).where(
            events.c.type == "case.created")).scalar_one()
        ids = {json.loads(p)["mail"]["message_id"] for p in conn.execute(
            select(events.c.payload).where(events.c.type == "case.created")).scalars()}
    return int(taken), int(created), len(ids)


def _worker(data: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SMART_SUPPORT_SERVER_SECRET=SECRET,
               SMART_SUPPORT_MAIL_POLL_S="0.2")
    env.pop("SMART_SUPPORT_SERVER_ENV", None)
    log = (data / "worker.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "sync_server", "--data-dir", str(data),
                             "worker"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=log)


def test_a_worker_sigkilled_mid_fetch_loses_and_duplicates_nothing(
        tmp_path: Path, imap: dovecot.Dovecot) -> None:
    data = tmp_path / "srv"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'server.sqlite3'}")
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    store.add(engine, team="Support", address="support@example.test", imap_url=imap.url(),
              smtp_url="smtp://127.0.0.1:2525?tls=none", password=dovecot.PASSWORD,
              server_secret=SECRET)
    for n in range(COUNT):
        imap.deliver(mail(sender=f"c{n}@customer.test", subject=f"Case {n}",
                          body=f"Message number {n}.",
                          attachments=[("n.txt", "text/plain", f"{n}".encode() * 500)]))
    kills = 0
    proc = _worker(data)
    try:
        for _ in range(2):  # kill it twice while it works through the mailbox
            deadline = time.monotonic() + 60
            start = _counts(engine)[0]
            while _counts(engine)[0] < min(start + 8, COUNT - 5):
                assert proc.poll() is None, (data / "worker.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the worker took no mail"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
            proc = _worker(data)
        deadline = time.monotonic() + 90
        while _counts(engine)[0] < COUNT and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)
    taken, created, distinct = _counts(engine)
    engine.dispose()
    assert kills == 2
    assert (taken, created, distinct) == (COUNT, COUNT, COUNT)
    assert "Traceback" not in (data / "worker.log").read_text()


@pytest.mark.parametrize("pollers", [2])
def test_two_pollers_at_once_take_each_message_once(mail_world: MailWorld,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    pollers: int) -> None:
    # Defeat the lease: both fetch the same UIDs; the mail_messages row decides.
    real = store.take_lease
    monkeypatch.setattr(store, "take_lease", lambda *a, **k: real(*a, **{**k, "force": True}))
    for n in range(30):
        mail_world.imap.deliver(mail(sender=f"r{n}@customer.test", subject=f"Race {n}"))
    workers = [mail_world.poller() for _ in range(pollers)]
    threads = [threading.Thread(target=w.poll_once, args=(mail_world.mailbox_id,))
               for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for w in workers:
        w.poll_once(mail_world.mailbox_id)
    assert _counts(mail_world.engine) == (30, 30, 30)

"""Mailbox test fixtures: one real Dovecot per session (emptied before each test), a server
database (SQLite file) with team Support (SUP) and its mailbox on that Dovecot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sync_server.db import make_engine, migrate
from sync_server.ids import ServerClock
from sync_server.mail import store
from sync_server.mail.poll import MailConfig, Poller
from sync_server.services import accounts
from sync_server.services.blobs import FsBlobStore
from tests.mail import dovecot
from tests.server.conftest import new_pg_database, pg_cluster  # noqa: F401 (fixture)

SECRET = "mail-test-secret-" + "y" * 40
ADDRESS = "support@example.test"


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[dovecot.Dovecot]:
    if not dovecot.available():
        pytest.fail("the mailbox tests need Dovecot (`apt-get install -y dovecot-imapd`, "
                    "which `./dev` setup does)", pytrace=False)
    server = dovecot.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap(dovecot_server: dovecot.Dovecot) -> dovecot.Dovecot:
    dovecot_server.clear()
    return dovecot_server


@dataclass
class MailWorld:
    engine: Engine
    team_id: str
    mailbox_id: str
    blobs: FsBlobStore
    imap: dovecot.Dovecot
    data_dir: Path

    def poller(self, **config: object) -> Poller:
        settings = {"poll_s": 0.2, "max_blob_bytes": 256 * 1024, **config}
        return Poller(self.engine, SECRET, self.blobs, MailConfig(**settings),  # type: ignore[arg-type]
                      clock=ServerClock())

    def mailbox(self) -> store.Mailbox:
        with self.engine.connect() as conn:
            box = store.by_id(conn, self.mailbox_id)
        assert box is not None
        return box


@pytest.fixture(params=["sqlite", "postgresql"])
def mail_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every mail-in test on SQLite and on a real PostgreSQL (the server tests' cluster)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.sqlite3'}"
    return new_pg_database(request.getfixturevalue("pg_cluster"))


@pytest.fixture
def mail_world(tmp_path: Path, imap: dovecot.Dovecot, mail_db: str) -> Iterator[MailWorld]:
    data = tmp_path / "server"
    engine = make_engine(mail_db)
    migrate(engine)
    team_id = accounts.add_team(engine, name="Support", prefix="SUP")
    box_id = store.add(engine, team="Support", address=ADDRESS, imap_url=imap.url(),
                       smtp_url="smtp://127.0.0.1:2525?tls=none", password=dovecot.PASSWORD,
                       server_secret=SECRET)
    try:
        yield MailWorld(engine, team_id, box_id, FsBlobStore(data / "blobs"), imap, data)
    finally:
        engine.dispose()

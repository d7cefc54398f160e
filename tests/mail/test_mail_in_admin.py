"""Mailbox URLs exactly as the issue spells them, the sealed password, and the `mailbox`
commands round trip (list --json never shows the password; test logs in to both ends)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from sync_server.cli import main
from sync_server.db import make_engine
from sync_server.mail import secrets
from sync_server.mail.config import MailConfigError, parse_url
from sync_server.tables import mailboxes
from tests.mail import dovecot


@pytest.mark.parametrize(("url", "kind", "expected"), [
    ("imaps://support%40acme.com@imap.acme.com/Support", "imap",
     ("imaps", "support@acme.com", "imap.acme.com", 993, "implicit", "Support")),
    ("imaps://bob@IMAP.acme.com:1993", "imap",
     ("imaps", "bob", "imap.acme.com", 1993, "implicit", "INBOX")),
    ("imap://bob@127.0.0.1:1143?tls=none", "imap",
     ("imap", "bob", "127.0.0.1", 1143, "none", "INBOX")),
    ("imap://bob@mail.acme.com:143/Lists/Help", "imap",
     ("imap", "bob", "mail.acme.com", 143, "starttls", "Lists/Help")),
    ("smtps://support%40acme.com@smtp.acme.com", "smtp",
     ("smtps", "support@acme.com", "smtp.acme.com", 465, "implicit", "")),
    ("smtp://smtp.acme.com:587", "smtp", ("smtp", "", "smtp.acme.com", 587, "starttls", "")),
    ("smtp://u@127.0.0.1:2525?tls=none", "smtp", ("smtp", "u", "127.0.0.1", 2525, "none", "")),
])
def test_mailbox_urls(url: str, kind: str, expected: tuple[object, ...]) -> None:
    e = parse_url(url, kind=kind)  # type: ignore[arg-type]
    assert (e.scheme, e.user, e.host, e.port, e.tls, e.folder) == expected
    assert parse_url(e.display(), kind=kind) == e  # type: ignore[arg-type]


@pytest.mark.parametrize(("url", "kind", "says"), [
    ("imap://bob@mail.acme.com/INBOX", "imap", "needs a port"),
    ("smtp://smtp.acme.com", "smtp", "needs a port"),
    ("imaps://bob:hunter2@imap.acme.com", "imap", "no password in the URL"),
    ("imaps://bob@imap.acme.com?tls=none", "imap", "?tls=none goes only with imap://"),
    ("imap://bob@h:143?tls=off", "imap", "the only query allowed is ?tls=none"),
    ("imap://h:143", "imap", "names its user"),
    ("pop3://bob@h:110", "imap", "starts with imap://"),
    ("smtp://h:99999", "smtp", "port must be a number"),
    ("smtps://u@h/path", "smtp", "has no path"),
    ("imaps://bob@ imap.acme.com", "imap", "one line without spaces"),
])
def test_bad_mailbox_urls_say_why(url: str, kind: str, says: str) -> None:
    with pytest.raises(MailConfigError, match=None) as caught:
        parse_url(url, kind=kind)  # type: ignore[arg-type]
    assert says in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_sealed_passwords_open_only_with_their_secret_team_and_address() -> None:
    sealed = secrets.encrypt("s" * 48, "team-1", "support@acme.com", "pässword")
    assert "pässword" not in sealed and sealed.startswith("v1:")
    assert sealed != secrets.encrypt("s" * 48, "team-1", "support@acme.com", "pässword")
    assert secrets.decrypt("s" * 48, "team-1", "Support@Acme.com", sealed) == "pässword"
    for args in (("t" * 48, "team-1", "support@acme.com"), ("s" * 48, "team-2",
                 "support@acme.com"), ("s" * 48, "team-1", "other@acme.com")):
        with pytest.raises(secrets.SecretError):
            secrets.decrypt(*args, sealed)


def _run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def test_the_mailbox_commands_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str],
                                         imap: dovecot.Dovecot) -> None:
    where = ["--data-dir", str(tmp_path)]
    assert _run(monkeypatch, [*where, "team", "add", "Support"]) == 0
    add = [*where, "mailbox", "add", "Support", "support@example.test", "--imap", imap.url(),
           "--smtp", "smtp://127.0.0.1:1?tls=none", "--password-stdin"]
    assert _run(monkeypatch, add, dovecot.PASSWORD + "\n") == 0
    assert _run(monkeypatch, [*where, "mailbox", "add", "Nope", "a@b.test", "--imap",
                              imap.url(), "--smtp", "smtp://h:25", "--password-stdin"],
                "pw\n") == 1
    assert _run(monkeypatch, [*where, "mailbox", "add", "Support", "x@y.test", "--imap",
                              "imap://u:pw@h:143", "--smtp", "smtp://h:25", "--password-stdin"],
                "pw\n") == 1
    capsys.readouterr()
    assert _run(monkeypatch, [*where, "mailbox", "list", "--json"]) == 0
    out = capsys.readouterr().out
    (listed,) = json.loads(out)
    assert listed["address"] == "support@example.test" and listed["team"] == "Support"
    assert listed["imap"] == imap.url("INBOX") and listed["state"] == "new"
    assert listed["settings"] == {"undo_s": 10, "burst_per_hour": 20, "move_to": ""}
    assert dovecot.PASSWORD not in out and "password" not in out
    assert _run(monkeypatch, [*where, "mailbox", "list"]) == 0
    assert dovecot.PASSWORD not in capsys.readouterr().out
    # test: IMAP logs in, the SMTP end (nothing listens on port 1) fails and says so
    assert _run(monkeypatch, [*where, "mailbox", "test", "Support", "support@example.test"]) == 1
    captured = capsys.readouterr()
    assert "IMAP 127.0.0.1" in captured.err and "logged in as support@example.test" in captured.err
    assert "SMTP 127.0.0.1:1: FAILED" in captured.err
    assert dovecot.PASSWORD not in captured.out + captured.err
    engine = make_engine(f"sqlite:///{tmp_path / 'server.sqlite3'}")
    with engine.connect() as conn:
        (row,) = conn.execute(select(mailboxes)).all()
    engine.dispose()
    assert dovecot.PASSWORD not in json.dumps(list(row._mapping.values()))
    assert dovecot.PASSWORD.encode() not in (tmp_path / "server.sqlite3").read_bytes()
    assert _run(monkeypatch, [*where, "mailbox", "remove", "Support", "support@example.test"]) == 0
    assert _run(monkeypatch, [*where, "mailbox", "remove", "Support", "support@example.test"]) == 1
    capsys.readouterr()
    assert _run(monkeypatch, [*where, "mailbox", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []

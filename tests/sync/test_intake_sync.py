"""Mail imported after sign-in, against the real sync server on loopback: the server takes
every event (they are the signed-in agent's), and a teammate sees the case with the
customer as the author of the customer's words."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.content.email_intake import parse_email_file
from app.operations import intake
from app.store import intake_queries as iq
from app.store import queries as q
from app.store import schema as s
from app.store.repo import Store
from app.sync.engine import sync_once
from tests.support.seeded import intake_module
from tests.sync.test_sync_client import _client, server  # noqa: F401 - fixture

CUSTOMER = "dana@client.example"


def _mail(path: Path, subject: str, body: str, message_id: str) -> Path:
    raw = (f'From: "Dana Client" <{CUSTOMER}>\r\nTo: support@example.com\r\n'
           f"Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n"
           'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
           f"--b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
           "--b\r\nContent-Type: text/plain\r\n"
           f'Content-Disposition: attachment; filename="{message_id}.log"\r\n\r\n'
           f"ERROR ERR-1042 in {message_id}\r\n--b--\r\n")
    path.write_bytes(raw.encode())
    return path


def _actors(store: Store) -> set[str]:
    return set(store.read(lambda c: c.execute(select(s.events.c.actor)).scalars()))


def _case_id(store: Store, key: str) -> str:
    found = store.read(lambda c: q.resolve_case(c, key))
    assert found
    return str(found)


def test_mail_imported_after_sign_in_is_accepted_and_teammate_sees_customer_as_author(
        tmp_path: Path, server: Any) -> None:  # noqa: F811
    url, _ = server
    a, sa = _client(tmp_path, "ana", url, "ana@example.com")
    new = intake.receive_email(a, _mail(tmp_path / "new.eml", "VPN drops", "It drops hourly",
                                        "m1@client.example"))
    assert new.created and len(new.attachment_ids) == 1
    reply = intake.receive_email(a, _mail(tmp_path / "reply.eml", f"Re: [{new.key}] VPN drops",
                                          "Still dropping", "m2@client.example"))
    assert not reply.created and reply.key == new.key
    a_case = _case_id(a, new.key)
    # pasted text goes through the same path as `case attach`
    intake.add_text(a, case=new.key, text="ERROR ERR-2000 pasted\n", name="paste")
    assert _actors(a) == {"ana@example.com"}
    teams = set(a.read(lambda c: c.execute(
        select(s.events.c.team_id).where(s.events.c.case_id == a_case)).scalars()))
    assert None not in teams and len(teams) == 1

    report = sync_once(a, sa)
    assert report.rejected == [] and a.outbox_count() == 0
    assert a.read(lambda c: c.execute(select(s.events.c.id).where(
        s.events.c.server_seq.is_(None))).all()) == []

    b, sb = _client(tmp_path, "ben", url, "ben@example.com")
    sync_once(b, sb)
    b_case = _case_id(b, a.read(lambda c: q.case_detail(c, a_case))["key"])
    assert b_case == a_case
    detail = b.read(lambda c: q.case_detail(c, b_case))
    assert detail["subject"] == "VPN drops" and detail["requester"]
    comments = b.read(partial(q.case_comments, case_ids=[b_case]))
    assert [(x["author"], x["author_kind"]) for x in comments] == [(CUSTOMER, "customer")]
    assert comments[0]["author_name"] == "Dana Client"
    assert "Still dropping" in comments[0]["body"]
    names = sorted(r["name"] for r in b.read(lambda c: iq.case_attachments(c, b_case)))
    assert names == ["m1@client.example.log", "m2@client.example.log", "paste.txt"]
    a.close()
    b.close()


def test_outlook_msg_imported_after_sign_in_is_accepted(
        tmp_path: Path, server: Any) -> None:  # noqa: F811
    url, _ = server
    intake_module("sample_logs")  # make_fixtures imports it
    files = intake_module("make_fixtures").write_all(tmp_path / "fixtures")
    sender = parse_email_file(files["outlook.msg"]).from_email
    a, sa = _client(tmp_path, "ana", url, "ana@example.com")
    done = intake.receive_email(a, files["outlook.msg"])
    assert done.created
    assert _actors(a) == {"ana@example.com"}
    report = sync_once(a, sa)
    assert report.rejected == [] and a.outbox_count() == 0
    b, sb = _client(tmp_path, "ben", url, "ben@example.com")
    sync_once(b, sb)
    b_case = _case_id(b, a.read(lambda c: q.case_detail(c, _case_id(a, done.key)))["key"])
    history = b.read(lambda c: q.case_history(c, b_case))
    created = next(h for h in history if h["type"] == "case.created")
    assert created["payload"]["author"] == sender  # who wrote it, kept for the case's history
    a.close()
    b.close()

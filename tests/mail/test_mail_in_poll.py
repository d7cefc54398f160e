"""Mail in against a real Dovecot: a delivered mail becomes a case (customer, key,
attachments, the original .eml), an answer lands on its case, each message once, loops and
bounces create nothing, bad input gets a clear note, a failing mailbox a clear status."""

from __future__ import annotations

import json
from typing import Any

import imapclient
import pytest
from sqlalchemy import select

from sync_server.jobs import breaker
from sync_server.tables import breakers, events, mail_messages
from tests.mail import dovecot
from tests.mail.conftest import MailWorld
from tests.mail.mails import dsn, mail


def _events(world: MailWorld, type_: str | None = None) -> list[dict[str, Any]]:
    with world.engine.connect() as conn:
        rows = conn.execute(select(events).order_by(events.c.server_seq)).mappings().all()
    out = [{**r, "payload": json.loads(r["payload"])} for r in rows]
    return [e for e in out if type_ is None or e["type"] == type_]


def _dispositions(world: MailWorld) -> list[str]:
    with world.engine.connect() as conn:
        return [r.disposition for r in conn.execute(
            select(mail_messages).order_by(mail_messages.c.uid))]


def _seen(world: MailWorld) -> list[bool]:
    client = imapclient.IMAPClient("127.0.0.1", port=world.imap.port, ssl=False)
    try:
        client.login(dovecot.USER, dovecot.PASSWORD)
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
        return [imapclient.SEEN in f for _uid, f in sorted(flags.items())]
    finally:
        client.logout()


def test_a_mail_becomes_a_case_with_its_requester_attachments_and_original(
        mail_world: MailWorld) -> None:
    raw = mail(body="It smokes when printing duplex.\n\n> old quoted line\n\n-- \nCarla",
               attachments=[("photo.png", "image/png", b"\x89PNG fake" * 10)])
    mail_world.imap.deliver(raw)
    result = mail_world.poller().poll_once(mail_world.mailbox_id)
    assert result is not None and result.state == "ok", result
    (customer,) = _events(mail_world, "customer.upserted")
    assert customer["payload"]["email"] == "carla@customer.test"
    assert customer["payload"]["name"] == "Carla Customer"
    (created,) = _events(mail_world, "case.created")
    assert (created["actor"], created["device_id"]) == ("system", "server")
    fields = created["payload"]["fields"]
    assert fields["subject"] == "Printer on fire"
    assert fields["requester_id"] == customer["payload"]["id"]
    assert fields["team_id"] == mail_world.team_id
    assert fields["description"].startswith("It smokes when printing duplex.")
    assert "<summary>Signature</summary>" in fields["description"]
    assert created["payload"]["tags"] == ["email"]
    assert created["payload"]["mail"]["from"] == "carla@customer.test"
    (key,) = _events(mail_world, "case.key_assigned")
    assert key["payload"]["key"] == "SUP-1" and key["case_id"] == created["case_id"]
    attached = {e["payload"]["name"]: e["payload"] for e in
                _events(mail_world, "attachment.added")}
    assert set(attached) == {"photo.png", "original.eml"}
    stored = mail_world.blobs.get(attached["original.eml"]["sha256"]) or b""
    assert stored.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")  # IMAP sends CRLF
    assert attached["original.eml"]["sha256"] == created["payload"]["mail"]["raw_sha256"]
    assert mail_world.blobs.get(attached["photo.png"]["sha256"]) == b"\x89PNG fake" * 10
    assert _seen(mail_world) == [True]
    box = mail_world.mailbox()
    assert (box.state, box.last_uid, box.counts) == ("ok", 1, {"case": 1})


def test_each_message_once_polls_again_and_a_repeated_message_id_is_dropped(
        mail_world: MailWorld) -> None:
    first = mail(message_id="<same@customer.test>")
    mail_world.imap.deliver(first)
    poller = mail_world.poller()
    poller.poll_once(mail_world.mailbox_id)
    poller.poll_once(mail_world.mailbox_id)
    mail_world.imap.deliver(first)  # the same mail again (a resend, a second copy)
    poller.poll_once(mail_world.mailbox_id)
    poller.poll_once(mail_world.mailbox_id)
    assert len(_events(mail_world, "case.created")) == 1
    assert _dispositions(mail_world) == ["case", "duplicate"]
    assert _seen(mail_world) == [True, True]


def test_the_customers_answer_lands_on_the_same_case(mail_world: MailWorld) -> None:
    mail_world.imap.deliver(mail(message_id="<first@customer.test>"))
    poller = mail_world.poller()
    poller.poll_once(mail_world.mailbox_id)
    # Threaded by In-Reply-To a Message-ID the case received...
    mail_world.imap.deliver(mail(subject="Re: Printer on fire", body="Still smoking.",
                                 in_reply_to="<first@customer.test>"))
    # ...and by the case key in the subject, with no thread headers at all.
    mail_world.imap.deliver(mail(subject="[SUP-1] more news", body="Now it is out."))
    poller.poll_once(mail_world.mailbox_id)
    (created,) = _events(mail_world, "case.created")
    comments = _events(mail_world, "comment.added")
    assert [c["payload"]["body"] for c in comments] == ["Still smoking.", "Now it is out."]
    for comment in comments:
        assert comment["case_id"] == created["case_id"]
        assert comment["payload"]["author_kind"] == "customer"
        assert comment["payload"]["internal"] is False
        assert comment["payload"]["author"] == "carla@customer.test"
    assert len(_events(mail_world, "customer.upserted")) == 1  # the requester is found
    assert _dispositions(mail_world) == ["case", "comment", "comment"]
    assert _events(mail_world, "case.updated") == []  # it was new: nothing to reopen


def test_an_answer_reopens_a_solved_case(mail_world: MailWorld) -> None:
    from sync_server.db import write_tx
    from sync_server.ids import ServerClock
    from sync_server.jobs.queue import append_server_event, lock_counter

    mail_world.imap.deliver(mail(message_id="<first@customer.test>"))
    poller = mail_world.poller()
    poller.poll_once(mail_world.mailbox_id)
    (created,) = _events(mail_world, "case.created")
    with write_tx(mail_world.engine) as conn:  # an agent solved it meanwhile
        append_server_event(conn, ServerClock(), case_id=created["case_id"],
                            team_id=mail_world.team_id, type_="case.updated",
                            payload={"field": "status", "value": "solved", "prev": "new"},
                            seq=lock_counter(conn), now_ms=1_800_000_000_000)
    mail_world.imap.deliver(mail(subject="Re: Printer on fire", body="It is back.",
                                 in_reply_to="<first@customer.test>"))
    poller.poll_once(mail_world.mailbox_id)
    updates = [e["payload"] for e in _events(mail_world, "case.updated")]
    assert updates[-1] == {"field": "status", "value": "open", "prev": "solved"}
    comment = _events(mail_world, "comment.added")[-1]
    reopened = _events(mail_world, "case.updated")[-1]
    assert reopened["hlc"] > comment["hlc"] and reopened["actor"] == "system"


def test_auto_replies_own_mail_and_a_burst_create_no_case_and_are_counted(
        mail_world: MailWorld) -> None:
    mail_world.imap.deliver(mail(headers={"Auto-Submitted": "auto-replied"}))
    mail_world.imap.deliver(mail(headers={"Precedence": "bulk"}))
    mail_world.imap.deliver(mail(headers={"X-Autoreply": "yes"}))
    mail_world.imap.deliver(mail(sender="support@example.test"))
    for n in range(4):
        mail_world.imap.deliver(mail(sender="loop@robot.test", subject=f"Ping {n}"))
    box = mail_world.mailbox()
    with mail_world.engine.begin() as conn:
        from sqlalchemy import update

        from sync_server.tables import mailboxes
        conn.execute(update(mailboxes).values(settings=json.dumps(
            {**box.settings, "burst_per_hour": 2})))
    mail_world.poller().poll_once(mail_world.mailbox_id)
    assert _dispositions(mail_world) == ["auto_reply", "auto_reply", "auto_reply", "own",
                                         "case", "case", "burst", "burst"]
    assert len(_events(mail_world, "case.created")) == 2
    assert mail_world.mailbox().counts == {"auto_reply": 3, "own": 1, "case": 2, "burst": 2}
    assert _seen(mail_world) == [True] * 8


def test_a_bounce_is_no_case_and_names_what_bounced(mail_world: MailWorld) -> None:
    mail_world.imap.deliver(dsn("<reply-1@example.test>"))
    mail_world.poller().poll_once(mail_world.mailbox_id)
    assert _events(mail_world, "case.created") == []
    with mail_world.engine.connect() as conn:
        (row,) = conn.execute(select(mail_messages)).all()
    assert row.disposition == "bounce"
    assert "5.1.1" in row.reason and "no such user" in row.reason


def test_bad_input_gets_a_note_and_the_rest_is_still_taken(mail_world: MailWorld) -> None:
    mail_world.imap.deliver(mail(sender=""))  # no From
    mail_world.imap.deliver(b"Subject: broken\r\nMIME-Version: 1.0\r\nFrom: x@y.test\r\n"
                            b'Content-Type: multipart/mixed; boundary="nope"\r\n\r\n'
                            b"--nope\r\nContent-Type: text/plain\r\n\r\ncut off")
    mail_world.imap.deliver(mail(subject="Charset", body="ok").replace(
        b'charset="utf-8"', b'charset="x-unknown-42"'))
    mail_world.imap.deliver(mail(subject="Big file", attachments=[
        ("huge.bin", "application/octet-stream", b"z" * 300_000)]))
    mail_world.imap.deliver(mail(subject="Too big", body="x" * 700_000))
    mail_world.imap.deliver(mail(subject="Fine after all that"))
    result = mail_world.poller(max_mail_bytes=600_000).poll_once(mail_world.mailbox_id)
    assert result is not None and result.state == "ok"
    assert _dispositions(mail_world) == ["malformed", "malformed", "case", "case", "too_big",
                                         "case"]
    subjects = {e["payload"]["fields"]["subject"]: e["payload"]["fields"]["description"]
                for e in _events(mail_world, "case.created")}
    assert len(subjects) == 6
    assert "no sender address" in subjects["Printer on fire"]
    assert "could not be read as an e-mail" in subjects["broken"]
    assert subjects["Charset"].startswith("ok")
    assert "dropped huge.bin (300,000 bytes: over the attachment limit" in subjects["Big file"]
    assert "only its headers were read" in subjects["Too big"]
    names = [e["payload"]["name"] for e in _events(mail_world, "attachment.added")]
    assert "huge.bin" not in names
    assert subjects["Fine after all that"].startswith("It smokes")


def test_a_wrong_password_gives_a_clear_status_and_opens_the_breaker(
        mail_world: MailWorld) -> None:
    from sync_server.mail import store
    from tests.mail.conftest import SECRET

    store.add(mail_world.engine, team="Support", address="support@example.test",
              imap_url=mail_world.imap.url(), smtp_url="smtp://127.0.0.1:2525?tls=none",
              password="wrong", server_secret=SECRET)
    mail_world.imap.deliver(mail())
    poller = mail_world.poller()
    result = poller.poll_once(mail_world.mailbox_id)
    assert result is not None and result.state == "auth_failed"
    box = mail_world.mailbox()
    assert box.state == "auth_failed" and "refused the login" in (box.last_error or "")
    assert "wrong" not in (box.last_error or "")
    with mail_world.engine.connect() as conn:
        (row,) = conn.execute(select(breakers)).all()
    assert (row.system, row.site, row.state) == ("mail", box.imap.site, "open")
    again = poller.poll_once(mail_world.mailbox_id)  # no login attempt while open
    assert again is not None and again.state == "breaker_open"
    assert _events(mail_world) == [] and _seen(mail_world) == [False]
    with mail_world.engine.begin() as conn:
        assert breaker.admit(conn, "mail", box.imap.site, breaker.BreakerPolicy(),
                             10**13).probe  # it half-opens later, as every breaker does


def test_a_vanished_folder_is_a_clear_status(mail_world: MailWorld) -> None:
    from sync_server.mail import store
    from tests.mail.conftest import SECRET

    store.add(mail_world.engine, team="Support", address="support@example.test",
              imap_url=mail_world.imap.url("Gone"), smtp_url="smtp://127.0.0.1:2525?tls=none",
              password=dovecot.PASSWORD, server_secret=SECRET)
    result = mail_world.poller().poll_once(mail_world.mailbox_id)
    assert result is not None and result.state == "gone"
    assert "folder 'Gone'" in (mail_world.mailbox().last_error or "")


def test_a_bounce_marks_the_reply_and_an_answer_to_the_reply_lands_on_its_case(
        mail_world: MailWorld) -> None:
    from sqlalchemy import insert

    from sync_server.tables import mail_out

    mail_world.imap.deliver(mail(message_id="<ask@customer.test>"))
    poller = mail_world.poller()
    poller.poll_once(mail_world.mailbox_id)
    (created,) = _events(mail_world, "case.created")
    # The reply mail out sent (sync_server/mail/send.py records this row when it sends).
    with mail_world.engine.begin() as conn:
        conn.execute(insert(mail_out).values(
            comment_id="c0ffee00-0000-7000-8000-000000000001", case_id=created["case_id"],
            team_id=mail_world.team_id, mailbox_id=mail_world.mailbox_id,
            message_id="<reply-1@example.test>", state="sent", author="ana@example.com",
            recipients=json.dumps({"to": ["carla@customer.test"], "cc": []}),
            not_before_ms=0, sent_ms=1, reason=None, created_ms=1))
    mail_world.imap.deliver(mail(subject="Thanks!", body="That helped.",
                                 in_reply_to="<reply-1@example.test>"))
    mail_world.imap.deliver(dsn("<reply-1@example.test>"))
    poller.poll_once(mail_world.mailbox_id)
    (comment,) = _events(mail_world, "comment.added")
    assert comment["case_id"] == created["case_id"] and comment["payload"]["body"] == (
        "That helped.")
    (bounced,) = _events(mail_world, "mail.delivery")
    assert bounced["case_id"] == created["case_id"]
    assert (bounced["actor"], bounced["device_id"]) == ("system", "server")
    payload = bounced["payload"]
    assert (payload["comment_id"], payload["state"], payload["message_id"]) == (
        "c0ffee00-0000-7000-8000-000000000001", "bounced", "<reply-1@example.test>")
    assert "5.1.1" in payload["reason"] and payload["recipients"] == ["carla@customer.test"]
    with mail_world.engine.connect() as conn:
        row = conn.execute(select(mail_out)).one()
    assert row.state == "bounced" and "no such user" in row.reason
    assert _dispositions(mail_world) == ["case", "comment", "bounce"]


def test_starttls_is_required_unless_the_url_says_tls_none(mail_world: MailWorld) -> None:
    from sync_server.mail import store
    from tests.mail.conftest import SECRET

    plain = mail_world.imap.url().removesuffix("?tls=none")  # this Dovecot offers no TLS
    store.add(mail_world.engine, team="Support", address="support@example.test",
              imap_url=plain, smtp_url="smtp://127.0.0.1:2525?tls=none",
              password=dovecot.PASSWORD, server_secret=SECRET)
    mail_world.imap.deliver(mail())
    log = mail_world.imap.root / "dovecot.log"
    logins = log.read_text().count("Login: user=")
    result = mail_world.poller().poll_once(mail_world.mailbox_id)
    assert result is not None and result.state == "failing"
    assert "does not offer STARTTLS" in (mail_world.mailbox().last_error or "")
    assert log.read_text().count("Login: user=") == logins  # the password was never sent
    assert _events(mail_world) == [] and _seen(mail_world) == [False]


def test_a_message_intake_cannot_take_is_counted_failed_and_the_rest_is_taken(
        mail_world: MailWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync_server.mail import poll

    real = poll.__dict__["take"]

    def take(*args: Any, **kwargs: Any) -> Any:
        if b"Subject: Boom" in args[4].raw:
            raise ValueError("a value no rule foresaw")
        return real(*args, **kwargs)

    monkeypatch.setattr(poll, "take", take)
    for subject in ("First", "Boom", "Last"):
        mail_world.imap.deliver(mail(sender=f"{subject.lower()}@customer.test",
                                     subject=subject))
    poller = mail_world.poller()
    result = poller.poll_once(mail_world.mailbox_id)
    assert result is not None and result.state == "ok"
    box = mail_world.mailbox()
    assert "UID 2 was not taken: ValueError: a value no rule foresaw" in (box.last_error or "")
    poller.poll_once(mail_world.mailbox_id)  # not tried again
    assert _dispositions(mail_world) == ["case", "failed", "case"]
    assert mail_world.mailbox().counts == {"case": 2, "failed": 1}
    assert [e["payload"]["fields"]["subject"] for e in _events(mail_world, "case.created")] == [
        "First", "Last"]
    assert _seen(mail_world) == [True, False, True]  # left unread for a person


def test_starttls_and_implicit_tls_with_a_verified_certificate(
        mail_world: MailWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync_server.mail import store
    from tests.mail.conftest import SECRET

    server = dovecot.start(tls=True)
    try:
        user = dovecot.USER.replace("@", "%40")
        for url in (f"imap://{user}@127.0.0.1:{server.port}",
                    f"imaps://{user}@127.0.0.1:{server.tls_port}"):
            store.add(mail_world.engine, team="Support", address="support@example.test",
                      imap_url=url, smtp_url="smtp://127.0.0.1:2525?tls=none",
                      password=dovecot.PASSWORD, server_secret=SECRET)
            monkeypatch.delenv("SSL_CERT_FILE", raising=False)
            refused = mail_world.poller().poll_once(mail_world.mailbox_id)
            assert refused is not None and refused.state == "failing"
            assert "CERTIFICATE_VERIFY_FAILED" in (refused.error or ""), refused.error
            monkeypatch.setenv("SSL_CERT_FILE", str(server.root / "cert.pem"))
            server.deliver(mail(sender=f"tls{server.tls_port}-{len(url)}@customer.test"))
            result = mail_world.poller().poll_once(mail_world.mailbox_id)
            assert result is not None, "the poll did not run"
            assert result.state == "ok", result.error
            assert [o.disposition for o in result.outcomes] == ["case"]
            with mail_world.engine.begin() as conn:  # the breaker forgets the failure
                conn.execute(breakers.delete())
    finally:
        server.stop()


def test_idle_brings_new_mail_within_seconds_of_a_long_poll_interval(
        mail_world: MailWorld) -> None:
    import asyncio
    import threading
    import time

    poller = mail_world.poller(poll_s=60.0)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_until_complete, args=(poller.run(stop),))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while mail_world.mailbox().last_poll_ms is None:  # the first poll is done: idling
            assert time.monotonic() < deadline, "no first poll"
            time.sleep(0.05)
        time.sleep(0.5)
        delivered = time.monotonic()
        mail_world.imap.deliver(mail())
        while not _events(mail_world, "case.created"):
            assert time.monotonic() - delivered < 10, "IDLE did not bring the mail"
            time.sleep(0.05)
        waited = time.monotonic() - delivered
    finally:
        loop.call_soon_threadsafe(stop.set)
        runner.join(15)
        loop.close()
    assert not runner.is_alive()  # stopping does not wait out the 60 s interval
    assert waited < 10


def test_a_renumbered_folder_new_uidvalidity_is_read_from_its_start(
        mail_world: MailWorld) -> None:
    import time

    poller = mail_world.poller()
    for n in range(3):
        mail_world.imap.deliver(mail(sender=f"old{n}@customer.test", subject=f"Old {n}"))
    poller.poll_once(mail_world.mailbox_id)
    before = mail_world.mailbox().uidvalidity
    time.sleep(1.1)  # Dovecot's UIDVALIDITY is a time in seconds
    mail_world.imap.clear()  # the server rebuilt its folder: UIDs start again at 1
    for n in range(2):
        mail_world.imap.deliver(mail(sender=f"new{n}@customer.test", subject=f"New {n}"))
        poller.poll_once(mail_world.mailbox_id)
    box = mail_world.mailbox()
    assert box.uidvalidity != before and box.last_uid == 2
    assert [e["payload"]["fields"]["subject"] for e in _events(mail_world, "case.created")] == [
        "Old 0", "Old 1", "Old 2", "New 0", "New 1"]

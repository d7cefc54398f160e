"""Mail out (issue 17): a public reply pushed to the server is sent once over SMTP (a real
aiosmtpd on loopback) after the team's undo window, threaded, from the team's address; an
internal note never; undo send withdraws within the window and is refused after; 4xx is
retried, 5xx fails with the server's text; a connection lost after DATA resends with the same
Message-ID. Delivery comes back to laptops as server-authored mail.delivery events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.core import events as ev
from app.core.event_schema import check_pulled, validate_wire
from sync_server.ids import uuid7
from sync_server.jobs.retry import RetryPolicy
from sync_server.jobs.worker import Worker, WorkerConfig
from sync_server.mail import store as mailboxes
from sync_server.tables import mail_out
from tests.mail.smtp_capture import SmtpCapture

from .conftest import SECRET
from .helpers import World, bearer, event, login, pull_all, push
from .jobs_support import T0, FakeClock

ALICE = "alice@example.com"
CUSTOMER = "pat@customer.test"
ADDRESS = "support@alpha.test"


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    server = SmtpCapture().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def alice(client: TestClient) -> dict[str, str]:
    return bearer(login(client, ALICE))


def _mailbox(engine: Engine, smtp: SmtpCapture, undo_s: int = 10) -> str:
    box = mailboxes.add(engine, team="Alpha", address=ADDRESS,
                        imap_url="imap://support@127.0.0.1:1143?tls=none", smtp_url=smtp.url,
                        password="mailbox-password-zz9", server_secret=SECRET)
    if undo_s != 10:
        from sqlalchemy import update

        from sync_server.tables import mailboxes as table
        with engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == box)
                         .values(settings=f'{{"undo_s": {undo_s}}}'))
    return box


def _case(client: TestClient, headers: dict[str, str], team: str) -> str:
    customer_id = uuid7()
    case_id = uuid7()
    results = push(client, headers, [
        event(ALICE, team, type_="customer.upserted",
              payload={"id": customer_id, "name": "Pat", "email": CUSTOMER}),
        event(ALICE, team, type_="case.created", case_id=case_id, payload={
            "fields": {"subject": "Printer on fire", "team_id": team,
                       "requester_id": customer_id}, "tags": []})])
    assert [r["status"] for r in results] == ["stored", "stored"], results
    return case_id


def _reply(client: TestClient, headers: dict[str, str], team: str, case_id: str,
           body: str = "Hello Pat,\n\nturn it off <now> & wait.", *,
           internal: bool = False) -> str:
    comment = event(ALICE, team, case_id=case_id,
                    payload={"body": body, "internal": internal, "author_kind": "agent"})
    assert push(client, headers, [comment])[0]["status"] == "stored"
    return str(comment["id"])


def _worker(engine: Engine, clock: FakeClock) -> Worker:
    return Worker(engine, WorkerConfig(concurrency=2, lease_ms=60_000,
                                       retry=RetryPolicy(base_s=2.0)),
                  clock=clock, uniform=lambda low, high: high)


def _deliveries(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    found = [e for e in pull_all(client, headers) if e["type"] == ev.MAIL_DELIVERY]
    for wire in found:
        check_pulled(validate_wire(wire, now_ms=T0))  # what a laptop accepts
    return found


def _run(worker: Worker) -> int:
    return asyncio.run(worker.run_once())


def test_a_public_reply_is_sent_once_after_the_undo_window_with_the_right_headers(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str],
        smtp: SmtpCapture) -> None:
    _mailbox(engine, smtp)
    case_id = _case(client, alice, world.alpha)
    comment_id = _reply(client, alice, world.alpha, case_id)
    queued = _deliveries(client, alice)
    assert [d["payload"]["state"] for d in queued] == ["queued"]
    assert queued[0]["payload"]["comment_id"] == comment_id
    clock = FakeClock(start=int(queued[0]["payload"]["at_ms"]))
    worker = _worker(engine, clock)
    assert _run(worker) == 0 and smtp.messages == []  # held for the undo window
    clock.advance(10_001)
    assert _run(worker) == 1
    assert _run(worker) == 0  # nothing left: sent once
    [got] = smtp.messages
    assert got.sender == ADDRESS and got.recipients == [CUSTOMER]
    msg = got.message
    keys = [e["payload"]["key"] for e in pull_all(client, alice)
            if e["type"] == ev.CASE_KEY_ASSIGNED]
    assert msg["Subject"] == f"[{keys[0]}] Re: Printer on fire"
    assert msg["To"] == CUSTOMER and "Alpha" in msg["From"] and ADDRESS in msg["From"]
    assert msg["Message-ID"] == queued[0]["payload"]["message_id"]
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and "turn it off <now> & wait." in text.get_content()
    assert html is not None and "turn it off &lt;now&gt; &amp; wait." in html.get_content()
    states = [d["payload"] for d in _deliveries(client, alice)]
    assert [s["state"] for s in states] == ["queued", "sent"]
    assert states[1]["recipients"] == [CUSTOMER]
    assert states[0]["author"] == states[1]["author"] == ALICE  # told if it fails
    assert states[1]["message_id"] == msg["Message-ID"]

    # a second reply threads on the first one
    _reply(client, alice, world.alpha, case_id, "And a follow-up.")
    clock.advance(10_001)
    assert _run(worker) == 1
    second = smtp.messages[1].message
    assert second["In-Reply-To"] == msg["Message-ID"]
    assert second["Message-ID"] != msg["Message-ID"]


def test_an_internal_note_is_never_sent(client: TestClient, engine: Engine, world: World,
                                        alice: dict[str, str], smtp: SmtpCapture) -> None:
    _mailbox(engine, smtp, undo_s=0)
    case_id = _case(client, alice, world.alpha)
    _reply(client, alice, world.alpha, case_id, "note to self", internal=True)
    assert _run(_worker(engine, FakeClock(start=T0 + 60_000))) == 0
    assert smtp.messages == [] and _deliveries(client, alice) == []


def test_undo_send_withdraws_within_the_window_and_is_refused_after(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str],
        smtp: SmtpCapture) -> None:
    _mailbox(engine, smtp)
    case_id = _case(client, alice, world.alpha)
    first = _reply(client, alice, world.alpha, case_id)
    withdraw = event(ALICE, world.alpha, type_=ev.MAIL_WITHDRAW, case_id=case_id,
                     payload={"comment_id": first})
    assert push(client, alice, [withdraw])[0]["status"] == "stored"
    clock = FakeClock(start=T0 + 3_600_000)
    worker = _worker(engine, clock)
    assert _run(worker) == 1
    assert smtp.messages == []
    assert [d["payload"]["state"] for d in _deliveries(client, alice)] == ["queued",
                                                                            "withdrawn"]
    again = event(ALICE, world.alpha, type_=ev.MAIL_WITHDRAW, case_id=case_id,
                  payload={"comment_id": first})
    refused = push(client, alice, [again])[0]
    assert refused["status"] == "rejected" and "withdrawn already" in refused["reason"]

    second = _reply(client, alice, world.alpha, case_id, "this one goes")
    clock.advance(3_600_000)
    assert _run(worker) == 1 and len(smtp.messages) == 1
    late = push(client, alice, [event(ALICE, world.alpha, type_=ev.MAIL_WITHDRAW,
                                      case_id=case_id, payload={"comment_id": second})])[0]
    assert late["status"] == "rejected" and "too late to undo" in late["reason"]


def test_4xx_is_retried_then_sent_and_5xx_fails_with_the_servers_text(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str],
        smtp: SmtpCapture) -> None:
    _mailbox(engine, smtp, undo_s=0)
    case_id = _case(client, alice, world.alpha)
    clock = FakeClock(start=T0 + 3_600_000)
    worker = _worker(engine, clock)
    smtp.fail_next("451 4.3.0 Mailbox busy, try later")
    _reply(client, alice, world.alpha, case_id, "first")
    assert _run(worker) == 1 and smtp.messages == []
    clock.advance(2_001)
    assert _run(worker) == 1 and len(smtp.messages) == 1
    smtp.fail_next("550 5.1.1 No such user here")
    _reply(client, alice, world.alpha, case_id, "second")
    assert _run(worker) == 1
    clock.advance(600_000)
    assert _run(worker) == 0 and len(smtp.messages) == 1  # never retried
    states = [(d["payload"]["state"], d["payload"]["reason"]) for d in _deliveries(client, alice)]
    assert states[0] == ("queued", None)
    assert states[1][0] == "queued" and "451 4.3.0 Mailbox busy" in states[1][1]
    assert states[2] == ("sent", None)
    assert states[3] == ("queued", None)
    assert states[4][0] == "failed" and "550 5.1.1 No such user here" in states[4][1]
    with engine.connect() as conn:
        rows = {r.state for r in conn.execute(select(mail_out.c.state))}
    assert rows == {"sent", "failed"}


def test_a_connection_lost_after_data_resends_with_the_same_message_id(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str],
        smtp: SmtpCapture) -> None:
    _mailbox(engine, smtp, undo_s=0)
    case_id = _case(client, alice, world.alpha)
    clock = FakeClock(start=T0 + 3_600_000)
    worker = _worker(engine, clock)
    smtp.drop_after_data()
    comment_id = _reply(client, alice, world.alpha, case_id)
    assert _run(worker) == 1
    withdraw = push(client, alice, [event(ALICE, world.alpha, type_=ev.MAIL_WITHDRAW,
                                          case_id=case_id, payload={"comment_id": comment_id})])
    assert withdraw[0]["status"] == "rejected"  # it may have gone out: no undo
    clock.advance(2_001)
    assert _run(worker) == 1
    first, second = smtp.messages
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert _deliveries(client, alice)[-1]["payload"]["state"] == "sent"


def test_a_long_reply_goes_out_with_crlf_line_ends(
        client: TestClient, engine: Engine, world: World, alice: dict[str, str],
        smtp: SmtpCapture) -> None:
    # regression: bytes with bare LF line ends reached the SMTP server as one line (a strict
    # server, aiosmtpd among them, refuses a line over 1,000 bytes: "500 Line too long")
    _mailbox(engine, smtp, undo_s=0)
    case_id = _case(client, alice, world.alpha)
    body = "\n".join(f"line {n}: the printer still smokes a little" for n in range(80))
    _reply(client, alice, world.alpha, case_id, body)
    assert _run(_worker(engine, FakeClock(start=T0 + 3_600_000))) == 1
    [got] = smtp.messages
    assert b"\r\n" in got.data and b"\n" not in got.data.replace(b"\r\n", b"")
    text = got.message.get_body(("plain",))
    assert text is not None and "line 79: the printer" in text.get_content()
    assert _deliveries(client, alice)[-1]["payload"]["state"] == "sent"

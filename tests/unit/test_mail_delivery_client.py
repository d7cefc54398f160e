"""Mail out on the laptop: `case show --json` gives each comment its delivery as the server
reported it (the latest mail.delivery by clock); a laptop-made mail.delivery is ignored;
undo send is refused once the reply is no longer queued."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core import events as ev
from app.core.event_schema import SERVER_ACTOR, SERVER_DEVICE
from app.operations import cases as ops
from app.operations.errors import OperationError
from app.operations.mail import withdraw_reply
from app.store.repo import Store
from app.terminal.runner import execute


def _delivery(case_id: str, comment_id: str, state: str, ms: int, *,
              actor: str = SERVER_ACTOR, device: str = SERVER_DEVICE) -> ev.Event:
    from app.core.ids import uuid7

    return ev.Event(id=uuid7(), type=ev.MAIL_DELIVERY, case_id=case_id, actor=actor,
                    device_id=device, hlc=f"{ms:013d}.000000", server_seq=None, payload={
                        "comment_id": comment_id, "state": state, "at_ms": ms,
                        "message_id": "<m1@alpha.test>", "reason": None,
                        "recipients": ["pat@customer.test"]})


def test_case_show_json_gives_each_comment_its_delivery(tmp_path: Path) -> None:
    store = Store(tmp_path / "smart-support.db")
    case_id, key, _ = ops.create_case(store, subject="Printer on fire")
    result = execute(store, f"case comment {key} hello")
    assert result.ok, result.text
    shown = execute(store, f"case show {key}")
    comment_id = shown.data["comments"][0]["id"]
    assert shown.data["comments"][0]["delivery"] is None
    now = 1_900_000_000_000
    store.ingest([_delivery(case_id, comment_id, "queued", now),
                  _delivery(case_id, comment_id, "sent", now + 5),
                  _delivery(case_id, comment_id, "failed", now + 9, actor="mallory",
                            device="dev-x")])
    delivery = execute(store, f"case show {key}").data["comments"][0]["delivery"]
    assert delivery == {"state": "sent", "at_ms": now + 5, "message_id": "<m1@alpha.test>",
                        "reason": None}
    with pytest.raises(OperationError, match="too late to undo"):
        withdraw_reply(store, case=key, comment_id=comment_id)


def test_i_am_told_when_my_reply_failed_or_bounced_and_not_for_others() -> None:
    from app.operations.notifications import Me, notifications_for

    me = Me("ana@example.com", "Ana", "ana@example.com")
    now = 1_900_000_000_000
    events = []
    for state, author in (("sent", "ana@example.com"), ("failed", "ana@example.com"),
                          ("bounced", "ANA@example.com"), ("failed", "ben@example.com")):
        e = _delivery("case-1", "c1", state, now)
        e.payload.update(author=author, reason=f"550 5.1.1 {state}")
        events.append(e)
    notes = notifications_for(events, me, keys={"case-1": "SUP-7"})
    assert [(n.kind, n.title) for n in notes] == [
        ("mail", "Your reply on SUP-7 was not delivered (failed)"),
        ("mail", "Your reply on SUP-7 was not delivered (bounced)")]
    assert notes[0].body == "550 5.1.1 failed"

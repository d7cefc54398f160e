"""What sync could not do is visible: the status button and the case view say so."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from app.core.ids import uuid7
from app.operations import cases as ops
from app.store import quarantine
from app.store import schema as s

WAIT = 10_000


def _refuse_a_comment(store: Any, case_id: str, reason: str) -> None:
    ops.comment(store, case=case_id, body="this one the server refused")
    event_id = store.read(lambda c: c.execute(select(s.events.c.id).order_by(
        s.events.c.seq.desc()).limit(1)).scalar())
    store.mark_pushed([(str(event_id), None, reason)])


def _hold_one(store: Any, case_id: str) -> None:
    item = {"id": uuid7(), "case_id": case_id, "team_id": "t", "type": "case.teleported",
            "payload": {}, "actor": "x@example.com", "device_id": "d",
            "hlc": f"{int(time.time() * 1000):013d}.000001", "server_seq": 5, "v": 1}
    good, held = quarantine.triage([(json.dumps(item), item)], now_ms=int(time.time() * 1000))
    store.ingest(good, held=held)


def test_status_button_and_case_view_show_held_and_refused_events(
        window: Any, qtbot: Any, store: Any) -> None:
    case_id = str(window.detail.detail["id"])
    reason = "you are not a member of the event's team <b>bold</b>"
    _refuse_a_comment(store, case_id, reason)
    _hold_one(store, case_id)
    window.sync.refresh_health()
    status = window.sync_status
    qtbot.waitUntil(lambda: "1 event could not be applied" in status.text(), timeout=WAIT)
    assert "1 change was refused by the server" in status.toolTip()
    assert "1 event could not be applied" in status.toolTip()

    detail = window.open_case_tab(case_id)
    qtbot.waitUntil(lambda: detail.refused_label.isVisibleTo(detail), timeout=WAIT)
    text = detail.refused_label.text()
    assert text.startswith("1 change to this case was refused by the server")
    assert "<b>bold</b>" in text  # the server's words shown as they are, never as markup
    from PySide6.QtCore import Qt

    assert detail.refused_label.textFormat() == Qt.TextFormat.PlainText


def test_nothing_is_shown_when_all_is_well(window: Any, qtbot: Any) -> None:
    window.sync.refresh_health()
    qtbot.waitUntil(lambda: window.sync.health is not None, timeout=WAIT)
    assert "could not" not in window.sync_status.text()
    assert "refused" not in window.sync_status.toolTip()
    assert not window.detail.refused_label.isVisibleTo(window.detail)

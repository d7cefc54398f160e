"""Sync in the real window, against the real server on loopback (qasync loop, APScheduler)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.operations import cases as ops
from app.sync.engine import sync_once
from tests.sync.test_sync_client import PASSWORD, _client, server  # noqa: F401 - fixture

WAIT = 10_000


@pytest.fixture
def loop(qapp: Any) -> Iterator[Any]:
    import qasync

    ev = qasync.QEventLoop(qapp)
    yield ev
    ev.close()


@pytest.fixture
def sync_window(qapp: Any, qtbot: Any, tmp_path: Path, loop: Any) -> Iterator[Any]:
    from app.store.repo import Store
    from app.ui.app import make_application
    from app.ui.main_window import MainWindow

    make_application()
    store = Store(tmp_path / "me.db")
    win = MainWindow(store, loop=loop, sync_interval=3600)
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    qtbot.waitUntil(win.is_idle, timeout=WAIT)
    yield win
    win.close()
    store.close()


def sign_in(win: Any, qtbot: Any, url: str, email: str = "ana@example.com") -> None:
    win.open_sign_in()
    dialog = win.sign_in_dialog
    dialog.server.setText(url)
    qtbot.keyClicks(dialog.email, email)
    qtbot.keyClicks(dialog.password, "wrong password")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=WAIT)
    assert "Wrong email or password" in dialog.error.text()
    assert dialog.password.text() == ""  # never kept
    qtbot.keyClicks(dialog.password, PASSWORD)
    with qtbot.waitSignal(dialog.sig_signed_in, timeout=WAIT):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.sync.state == "online" and win.sync.last_sync_ms is not None,
                    timeout=WAIT)


def test_sign_in_sync_live_update_and_conflict(sync_window: Any, qtbot: Any, tmp_path: Path,
                                               server: Any) -> None:  # noqa: F811
    win = sync_window
    url, _ = server
    assert "Offline — local only" in win.sync_status.text()
    sign_in(win, qtbot, url)
    assert win.store.get_meta("account_email") == "ana@example.com"
    qtbot.waitUntil(lambda: win.sync.live is not None and win.sync.live.state == "connected",
                    timeout=WAIT)

    # A local case is pushed soon after it is written (the poke), not at the 1 h timer.
    case_id, _key, _ = ops.create_case(win.store, subject="Printer on fire", priority="low")
    win.bridge.sig_changes_applied.emit(ops.set_fields(win.store, case=case_id,
                                                       changes={"priority": "low"}))
    qtbot.waitUntil(lambda: win.store.outbox_count() == 0 and win.is_idle(), timeout=WAIT)
    qtbot.waitUntil(lambda: win.outbox_label.text() == "All changes synced", timeout=WAIT)
    assert "Online" in win.sync_status.text() and "synced" in win.sync_status.text()

    # Ben, on another device, replies; the open case refreshes through the SSE hint and
    # the text Ana is typing stays.
    detail = win.open_case_tab(case_id)
    qtbot.waitUntil(lambda: detail.detail is not None, timeout=WAIT)
    detail.composer.editor.setFocus()
    qtbot.keyClicks(detail.composer.editor, "Half-written answer")
    ben, sb = _client(tmp_path, "ben", url, "ben@example.com")
    sync_once(ben, sb)
    hints = win.sync.hints
    ops.comment(ben, case=case_id, body="Ben here: rebooted the printer")
    sync_once(ben, sb)
    qtbot.waitUntil(lambda: "rebooted the printer" in detail.conversation.toPlainText(),
                    timeout=WAIT)
    assert win.sync.hints > hints
    assert detail.composer.editor.toPlainText() == "Half-written answer"

    # Ben views the case: a chip in the header (presence).
    sb.call(lambda t: sb.api.presence(t, case_id))
    win.sync._report_presence()
    qtbot.waitUntil(lambda: any("Ben is viewing" in c.text() for c in detail.viewer_chips),
                    timeout=WAIT)

    # Concurrent edit: Ana sets high while Ben (who had not seen it) sets urgent.
    win.bridge.run(ops.set_fields, case=case_id, changes={"priority": "high"})
    qtbot.waitUntil(lambda: win.store.outbox_count() == 0 and win.is_idle(), timeout=WAIT)
    ops.set_fields(ben, case=case_id, changes={"priority": "urgent"})
    # Ben's event must not have seen "high": rewind his view by pushing without pulling.
    sync_once(ben, sb)
    qtbot.waitUntil(lambda: detail.conflicts_box.isVisibleTo(detail) and any(
        "priority" in r[0].text() for r in detail.conflict_rows), timeout=WAIT)
    texts = [row[0].text() for row in detail.conflict_rows]
    row = next(r for r in detail.conflict_rows if "priority" in r[0].text())
    assert row[0].text().startswith("Ben changed priority to Urgent while you set it to High"), \
        texts
    restore = row[1]
    qtbot.mouseClick(restore, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not any("priority" in r[0].text() for r in detail.conflict_rows)
                    and detail.detail["priority"] == "high", timeout=WAIT)
    ben.close()

    # Sign out: back to local only.
    win.sync.sign_out()
    qtbot.waitUntil(lambda: win.sync.state == "signed-out" and win.is_idle(), timeout=WAIT)
    assert "Offline — local only" in win.sync_status.text()
    assert win.sync.live is None

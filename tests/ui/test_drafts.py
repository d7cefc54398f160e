"""Nothing typed is lost: the composer's drafts are saved locally as the agent types
(debounced, on the writer thread) and come back after switching cases, closing the tab,
a restart or a crash (kill -9); a sent reply deletes its draft. Real widgets offscreen on
a seeded store, through the real Bridge; the crash is a real SIGKILLed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.operations import drafts as dops
from app.operations.store import open_store

WAIT = 10_000


@pytest.fixture
def bridge(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.bridge import Bridge

    make_application()
    b = Bridge(store)
    yield b
    qtbot.waitUntil(lambda: b.pending == 0, timeout=WAIT)
    b.shutdown()


def case_ids(store: Any, n: int) -> list[str]:
    from app.operations.lists import fetch_rows, view_filter

    rows, _ = fetch_rows(store, view_filter("all-open", True, "", ""), "updated", True, n)
    return [str(r[0]) for r in rows]


def _view(qtbot: Any, bridge: Any) -> Any:
    from app.ui.case_detail import CaseDetail

    view = CaseDetail(bridge)
    qtbot.addWidget(view)
    view.resize(1100, 800)
    view.show()
    return view


def _show(qtbot: Any, view: Any, case_id: str) -> None:
    view.load(case_id)
    qtbot.waitUntil(lambda: not view.loading and view.detail is not None
                    and view.detail["id"] == case_id, timeout=WAIT)


def _kept(store: Any, case_id: str) -> dict[str, Any] | None:
    return dops.load_draft(store, case_id=case_id, kind="reply")


def test_typing_is_saved_and_back_after_switching_cases(qtbot: Any, bridge: Any,
                                                        store: Any) -> None:
    a, b = case_ids(store, 2)
    view = _view(qtbot, bridge)
    _show(qtbot, view, a)
    qtbot.keyClicks(view.composer.editor, "Half a reply")
    assert _kept(store, a) is None  # debounced: not on every key
    qtbot.waitUntil(lambda: (_kept(store, a) or {}).get("text") == "Half a reply",
                    timeout=WAIT)
    _show(qtbot, view, b)
    assert view.composer.editor.toPlainText() == ""  # a's typing is not b's reply
    qtbot.keyClicks(view.composer.editor, "x")
    _show(qtbot, view, a)  # switched away before b's pause: b's typing is saved too
    qtbot.waitUntil(lambda: view.composer.editor.toPlainText() == "Half a reply",
                    timeout=WAIT)
    qtbot.waitUntil(lambda: (_kept(store, b) or {}).get("text") == "x", timeout=WAIT)


def test_a_note_draft_comes_back_in_a_new_window_in_note_mode(qtbot: Any, bridge: Any,
                                                             store: Any) -> None:
    (a,) = case_ids(store, 1)
    first = _view(qtbot, bridge)
    _show(qtbot, first, a)
    first.composer.note_button.setChecked(True)
    qtbot.keyClicks(first.composer.editor, "Check the logs")
    qtbot.waitUntil(lambda: (_kept(store, a) or {}).get("mode") == "note", timeout=WAIT)
    second = _view(qtbot, bridge)  # a restart builds the view anew from the store
    _show(qtbot, second, a)
    qtbot.waitUntil(lambda: second.composer.editor.toPlainText() == "Check the logs",
                    timeout=WAIT)
    assert second.composer.internal


def test_a_sent_reply_deletes_its_draft(qtbot: Any, bridge: Any, store: Any) -> None:
    (a,) = case_ids(store, 1)
    view = _view(qtbot, bridge)
    _show(qtbot, view, a)
    qtbot.keyClicks(view.composer.editor, "Thanks, fixed in 2.4")
    view.composer.flush_draft()
    qtbot.waitUntil(lambda: _kept(store, a) is not None, timeout=WAIT)
    view.composer.send()
    qtbot.waitUntil(lambda: view.composer.editor.toPlainText() == "" and bridge.pending == 0,
                    timeout=WAIT)
    assert _kept(store, a) is None
    _show(qtbot, view, case_ids(store, 2)[1])
    _show(qtbot, view, a)
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=WAIT)
    assert view.composer.editor.toPlainText() == ""


def test_closing_a_tab_keeps_the_draft_and_says_so(qtbot: Any, bridge: Any,
                                                   store: Any) -> None:
    from PySide6.QtWidgets import QLabel, QTabWidget

    from app.ui.case_detail import CaseDetail
    from app.ui.case_tabs import CaseTabs

    widget = QTabWidget()
    qtbot.addWidget(widget)
    widget.addTab(QLabel("the list"), "Cases")
    tabs = CaseTabs(bridge, widget, lambda: CaseDetail(bridge))
    widget.show()
    a, b = case_ids(store, 2)
    detail = tabs.open(a)
    qtbot.waitUntil(lambda: detail.detail is not None, timeout=WAIT)
    tabs.open(b)  # a spare-less close deletes the view: the typing must be written first
    tabs.prepare_spare()
    detail.composer.editor.setFocus()
    qtbot.keyClicks(detail.composer.editor, "Do not lose me")
    with qtbot.waitSignal(bridge.sig_message, timeout=WAIT) as said:
        tabs.close(widget.indexOf(detail))  # at once: the debounce has not fired
    assert "Draft kept for" in said.args[0]
    qtbot.waitUntil(lambda: (_kept(store, a) or {}).get("text") == "Do not lose me",
                    timeout=WAIT)
    again = tabs.open(a)
    qtbot.waitUntil(lambda: again.composer.editor.toPlainText() == "Do not lose me",
                    timeout=WAIT)
    tabs.shutdown()


CRASH = """
import sys, time
from pathlib import Path
from app.operations import drafts as dops
from app.operations.store import open_store
store = open_store(Path(sys.argv[1]))
for n in range(1, 6):  # the agent types on; each pause saves the draft
    dops.save_draft(store, case_id=sys.argv[2], kind="reply", mode="reply",
                    text="Rebooting fixes it" + "!" * n)
print("saved", flush=True)
time.sleep(60)
"""


def test_a_draft_survives_kill_9(data_dir: Path, store: Any) -> None:
    (a,) = case_ids(store, 1)
    proc = subprocess.Popen([sys.executable, "-c", CRASH, str(data_dir), a],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "saved"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    after = open_store(data_dir)
    try:
        kept = dops.load_draft(after, case_id=a, kind="reply")
        assert kept is not None and kept["text"] == "Rebooting fixes it!!!!!"
        assert [d["case_id"] for d in dops.list_drafts(after)] == [a]
        assert dops.list_drafts(after)[0]["case_key"]
    finally:
        after.close()


def test_bad_drafts_are_refused_with_a_message(store: Any) -> None:
    with pytest.raises(ValueError, match="needs its case"):
        dops.save_draft(store, case_id=None, kind="reply", text="x")
    with pytest.raises(ValueError, match="Unknown draft kind"):
        dops.save_draft(store, case_id="c", kind="tweet", text="x")
    with pytest.raises(ValueError, match="Unknown composer mode"):
        dops.save_draft(store, case_id="c", kind="reply", text="x", mode="shout")
    assert dops.list_drafts(store) == []


def test_escape_leaves_the_composer(qtbot: Any, bridge: Any, store: Any) -> None:
    (a,) = case_ids(store, 1)
    view = _view(qtbot, bridge)
    _show(qtbot, view, a)
    view.activateWindow()
    view.composer.editor.setFocus()
    qtbot.waitUntil(view.composer.editor.hasFocus, timeout=WAIT)
    qtbot.keyClicks(view.composer.editor, "typed")
    qtbot.keyClick(view.composer.editor, Qt.Key.Key_Escape)
    assert not view.composer.editor.hasFocus()
    assert view.composer.editor.toPlainText() == "typed"


def test_the_new_case_dialog_keeps_its_typing_on_cancel(qtbot: Any, bridge: Any,
                                                        store: Any) -> None:
    from app.ui.new_case_dialog import NewCaseDialog

    first = NewCaseDialog(bridge, [])
    qtbot.addWidget(first)
    first.show()
    qtbot.keyClicks(first.subject, "Printer on fire")
    first.description.setPlainText("Smoke since 9am")
    first.priority.setCurrentIndex(first.priority.findData("urgent"))
    with qtbot.waitSignal(bridge.sig_message, timeout=WAIT) as said:
        first.reject()  # at once: the debounce has not fired
    assert "New case draft kept" in said.args[0]
    second = NewCaseDialog(bridge, [])
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: second.subject.text() == "Printer on fire", timeout=WAIT)
    assert second.description.toPlainText() == "Smoke since 9am"
    assert second.priority.currentData() == "urgent"
    assert second.general_error.text().startswith("Your unsent new case is back")
    with qtbot.waitSignal(second.sig_created, timeout=WAIT):
        second.submit()
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=WAIT)
    assert dops.load_draft(store, case_id=None, kind="new_case") is None  # created: gone


def test_the_bulk_edit_dialog_keeps_its_choices_for_the_same_cases(
        qtbot: Any, bridge: Any, store: Any) -> None:
    from app.ui.widgets import BulkEditDialog

    a, b, c = case_ids(store, 3)
    first = BulkEditDialog(bridge, [(a, "A"), (b, "B")], [])
    qtbot.addWidget(first)
    first.status.setCurrentIndex(first.status.findData("pending"))
    qtbot.keyClicks(first.add_tags, "vip")
    with qtbot.waitSignal(bridge.sig_message, timeout=WAIT) as said:
        first.reject()
    assert "Bulk edit draft kept" in said.args[0]
    qtbot.waitUntil(lambda: dops.load_draft(store, case_id=None, kind="bulk") is not None,
                    timeout=WAIT)
    other = BulkEditDialog(bridge, [(a, "A"), (c, "C")], [])  # other cases: a fresh form
    qtbot.addWidget(other)
    again = BulkEditDialog(bridge, [(b, "B"), (a, "A")], [])
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.add_tags.text() == "vip", timeout=WAIT)
    assert again.status.currentData() == "pending"
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=WAIT)
    assert other.add_tags.text() == "" and other.status.currentIndex() == 0
    other.reject()  # nothing chosen: the other cases' draft is not written over it
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=WAIT)
    assert dops.load_draft(store, case_id=None, kind="bulk") is not None


def test_the_drafts_list_shows_where_drafts_wait_and_opens_one(
        qtbot: Any, bridge: Any, store: Any) -> None:
    from app.ui.drafts_dialog import DraftsDialog

    a, b = case_ids(store, 2)
    dops.save_draft(store, case_id=a, kind="note", mode="note", text="Ask QA", updated_ms=1)
    dops.save_draft(store, case_id=b, kind="reply", text="Hello\nthere", updated_ms=3)
    dops.save_draft(store, case_id=None, kind="new_case", text='{"subject": "VPN down"}',
                    updated_ms=2)
    dialog = DraftsDialog(bridge)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=WAIT)
    lines = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert len(lines) == 3
    assert lines[0].startswith("Reply on ") and "Hello there" in lines[0]
    assert lines[1].startswith("New case — VPN down")
    assert lines[2].startswith("Internal note on ") and "Ask QA" in lines[2]
    with qtbot.waitSignal(dialog.sig_open_case, timeout=WAIT) as opened:
        dialog.list.itemActivated.emit(dialog.list.item(2))
    assert opened.args == [a]


def test_open_tabs_and_the_view_come_back_at_start(qapp: Any, qtbot: Any, store: Any) -> None:
    from app.operations import session as session_ops
    from app.ui.app import make_application
    from app.ui.main_window import MainWindow

    make_application()
    a, b = case_ids(store, 2)
    first = MainWindow(store)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitUntil(first.is_idle, timeout=WAIT)
    first.sidebar.select("unassigned")
    first.open_case_tab(a)
    first.open_case_tab(b)
    qtbot.waitUntil(first.is_idle, timeout=WAIT)
    first.close()
    assert session_ops.load_session(store) == {"tabs": [a, b], "view": "unassigned"}
    second = MainWindow(store)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitUntil(lambda: second.case_tabs.open_case_ids() == [a, b], timeout=WAIT)
    assert second.lists.view.id == "unassigned"
    assert second.tabs.currentIndex() == 0  # the list stays in front
    qtbot.waitUntil(second.is_idle, timeout=WAIT)
    second.close()


def test_a_damaged_session_setting_gives_an_empty_session(store: Any) -> None:
    from app.operations import session as session_ops

    for raw in ("{not json", "[1, 2]", '{"tabs": [3, "no-such-case"], "view": 7}'):
        store.set_meta(session_ops.SESSION_KEY, raw)
        assert session_ops.load_session(store) == {"tabs": [], "view": None}

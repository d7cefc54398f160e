"""Drive the real main window: list, detail, composer, dialog, undo, tabs, palette."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from sqlalchemy import event, func, select

from app.store import schema as s

WAIT = 10_000


def event_count(store: Any) -> int:
    return int(store.read(lambda c: c.execute(select(func.count()).select_from(s.events))
                          .scalar()))


def history_text(detail: Any) -> str:
    h = detail.history
    return "\n".join(h.topLevelItem(i).text(2) for i in range(h.topLevelItemCount()))


def test_list_and_sidebar_load(window: Any) -> None:
    assert window.model.rowCount() > 0
    assert window.sidebar.counts_loaded
    my_open = window.sidebar.items["my-open"]
    assert my_open.data(Qt.ItemDataRole.UserRole + 10) == window.model.rowCount()
    assert window.detail.case_id == window.model.case_id(0)
    assert "Offline" in window.sync_label.text()


def test_ui_thread_runs_no_sql(qapp: Any, qtbot: Any, store: Any) -> None:
    from app.ui.main_window import MainWindow

    threads: list[str] = []

    def record(*_args: Any) -> None:
        threads.append(threading.current_thread().name)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        win = MainWindow(store)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.is_idle() and win.detail.detail is not None, timeout=WAIT)
        win.move_selection(1)
        qtbot.waitUntil(win.is_idle, timeout=WAIT)
        win.close()
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert threads
    assert threading.main_thread().name not in threads


def test_create_case_through_dialog(window: Any, qtbot: Any) -> None:
    window.new_case()
    dialog = window.new_case_dialog
    qtbot.keyClicks(dialog.subject, "Scanner offline after firmware update")
    dialog.description.setPlainText("The **scanner** shows offline.")
    qtbot.keyClicks(dialog.requester, "new.person@example.org")
    qtbot.keyClicks(dialog.tags, "hardware vip")
    dialog.priority.setCurrentIndex(dialog.priority.findData("high"))
    with qtbot.waitSignal(dialog.sig_created, timeout=WAIT) as blocker:
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    case_id, key = blocker.args
    qtbot.waitUntil(lambda: window.model.row_of(case_id) >= 0, timeout=WAIT)
    qtbot.waitUntil(lambda: window.detail.case_id == case_id and window.detail.detail is not None,
                    timeout=WAIT)
    assert window.detail.key_label.text() == key
    assert window.detail.detail["tags"] == ["hardware", "vip"]
    assert "scanner" in window.detail.conversation.toPlainText()


def test_empty_subject_shows_message_and_writes_nothing(window: Any, qtbot: Any,
                                                        store: Any) -> None:
    before = event_count(store)
    window.new_case()
    dialog = window.new_case_dialog
    qtbot.keyClicks(dialog.requester, "not an email")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.errors["subject"].isVisibleTo(dialog)
    assert "required" in dialog.errors["subject"].text()
    assert dialog.errors["requester_email"].isVisibleTo(dialog)
    assert window.bridge.pending == 0
    assert event_count(store) == before
    dialog.reject()


def test_edit_subject_in_place_shows_in_history(window: Any, qtbot: Any) -> None:
    detail = window.detail
    edit = detail.subject_edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "Renamed in place")
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: detail.detail["subject"] == "Renamed in place", timeout=WAIT)
    assert "Renamed in place" in history_text(detail)
    row = window.model.row_of(detail.case_id)
    qtbot.waitUntil(lambda: window.model.rows()[row][2] == "Renamed in place", timeout=WAIT)


def test_edit_priority_combo(window: Any, qtbot: Any) -> None:
    detail = window.detail
    combo = detail.priority_combo
    target = "urgent" if detail.detail["priority"] != "urgent" else "low"
    index = combo.findData(target)
    combo.setCurrentIndex(index)
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        combo.activated.emit(index)
    qtbot.waitUntil(lambda: detail.detail["priority"] == target, timeout=WAIT)
    assert "priority" in history_text(detail)


def test_reply_with_ctrl_enter(window: Any, qtbot: Any) -> None:
    detail = window.detail
    window.focus_composer(False)
    editor = detail.composer.editor
    qtbot.keyClicks(editor, "Thanks, **fixed** now")
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "Thanks, fixed now" in detail.conversation.toPlainText(),
                    timeout=WAIT)
    assert editor.toPlainText() == ""
    last = detail.conversation.rendered[-1]
    assert last["internal"] is False and "Thanks" in last["body"]


def test_internal_note_is_distinct(window: Any, qtbot: Any) -> None:
    from app.ui import theme

    detail = window.detail
    qtbot.mouseClick(detail.composer.note_button, Qt.MouseButton.LeftButton)
    assert detail.composer.internal
    assert detail.composer.send_button.text() == "Add note"
    qtbot.keyClicks(detail.composer.editor, "Customer is on the legacy plan")
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        qtbot.mouseClick(detail.composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: detail.conversation.rendered[-1]["body"]
                    == "Customer is on the legacy plan", timeout=WAIT)
    note = detail.conversation.rendered[-1]
    assert note["internal"] is True
    assert note["background"] == theme.current().internal_bg
    public = [r for r in detail.conversation.rendered if not r["internal"]]
    assert public and all(r["background"] != note["background"] for r in public)
    assert "INTERNAL NOTE" in detail.conversation.toPlainText()


def test_undo_with_ctrl_z(window: Any, qtbot: Any) -> None:
    detail = window.detail
    old = detail.detail["status"]
    target = "pending" if old != "pending" else "open"
    combo = detail.status_combo
    combo.setCurrentIndex(combo.findData(target))
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: window.undo_label is not None and window.is_idle(), timeout=WAIT)
    assert "Ctrl+Z" in window.undo_hint.text()
    window.activateWindow()
    window.table.setFocus()
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: detail.detail["status"] == old, timeout=WAIT)
    assert combo.currentData() == old


def test_open_two_cases_in_tabs(window: Any, qtbot: Any) -> None:
    first, second = window.model.case_id(0), window.model.case_id(1)
    window.table.selectRow(0)
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    window.open_case_tab(second)
    assert window.tabs.count() == 3
    qtbot.waitUntil(lambda: all(d.detail is not None for d in window.tab_details.values()),
                    timeout=WAIT)
    assert set(window.tab_details) == {first, second}
    assert window.tabs.tabText(2).startswith(window.model.case_key(1))
    window.open_case_tab(first)  # already open: switch, no new tab
    assert window.tabs.count() == 3 and window.tabs.currentIndex() == 1
    window.close_tab(window.tabs.currentIndex())
    assert window.tabs.count() == 2 and first not in window.tab_details


def test_case_header_meta_line_fits_or_steps_aside(window: Any, qtbot: Any) -> None:
    # In a tab: "Created … · Updated …", never cut mid-word; beside the list (narrow, whose
    # Updated column says it): no meta line rather than a clipped "min ago".
    window.table.selectRow(0)
    pane = window.detail
    qtbot.waitUntil(lambda: pane.detail is not None, timeout=WAIT)
    assert pane._compact and pane.meta_label.text() == ""
    assert "Created" in pane.meta_label.toolTip()
    tab = window.open_case_tab(window.model.case_id(0))
    qtbot.waitUntil(lambda: tab.detail is not None, timeout=WAIT)
    qtbot.wait(50)
    text = tab.meta_label.text()
    assert not tab._compact and text.startswith("Created ")
    assert text == tab.meta_label.full_text or text.endswith("…")


def test_next_previous_with_j_k(window: Any, qtbot: Any) -> None:
    window.table.selectRow(0)
    window.move_selection(1)
    qtbot.waitUntil(lambda: window.detail.case_id == window.model.case_id(1), timeout=WAIT)
    window.move_selection(-1)
    qtbot.waitUntil(lambda: window.detail.case_id == window.model.case_id(0), timeout=WAIT)


def test_command_palette_jumps_to_case(window: Any, qtbot: Any, store: Any) -> None:
    from app.store import queries as q

    rows = store.read(lambda c: q.list_cases(c, q.CaseFilter(statuses=["solved"]),
                                             me=store.actor, now_ms=0, limit=1))
    case_id, key = rows[0][0], rows[0][1]
    window.open_palette()
    palette = window.command_palette
    qtbot.keyClicks(palette.edit, key)
    qtbot.waitUntil(lambda: not palette.searching and palette.list.count() > 0
                    and palette._timer.isActive() is False, timeout=WAIT)
    qtbot.waitUntil(lambda: not palette.searching, timeout=WAIT)
    top = palette.list.item(0).data(Qt.ItemDataRole.UserRole)
    assert top == ("case", case_id)
    qtbot.keyClick(palette.edit, Qt.Key.Key_Return)
    assert case_id in window.tab_details
    qtbot.waitUntil(lambda: window.tab_details[case_id].detail is not None, timeout=WAIT)


def test_palette_runs_an_action(window: Any, qtbot: Any) -> None:
    window.open_palette()
    palette = window.command_palette
    qtbot.keyClicks(palette.edit, "new case")
    qtbot.waitUntil(lambda: not palette.searching and not palette._timer.isActive(),
                    timeout=WAIT)
    kinds = [palette.list.item(i).data(Qt.ItemDataRole.UserRole)[0]
             for i in range(palette.list.count())]
    assert "action" in kinds
    row = kinds.index("action")
    palette.list.setCurrentRow(row)
    qtbot.keyClick(palette.edit, Qt.Key.Key_Return)
    assert window.new_case_dialog.isVisible()
    window.new_case_dialog.reject()


def test_filter_field(window: Any, qtbot: Any) -> None:
    qtbot.keyClicks(window.filter_edit, "priority:urgent")
    qtbot.waitUntil(lambda: window.is_idle() and all(
        r[4] == "urgent" for r in window.model.rows()), timeout=WAIT)
    window.filter_edit.clear()
    qtbot.keyClicks(window.filter_edit, "colour:blue")
    qtbot.waitUntil(lambda: window.filter_edit.property("invalid") is True, timeout=WAIT)


def test_sort_by_requester_on_worker(window: Any, qtbot: Any) -> None:
    window.sidebar.select("all-open")
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    window.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    names = [r[5].casefold() for r in window.model.rows()]
    assert names == sorted(names)


def test_sort_of_a_loaded_view_is_in_memory_and_natural(window: Any, qtbot: Any) -> None:
    window.sidebar.select("all-open")
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    before = {r[0] for r in window.model.rows()}
    window.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # Key
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    rows = window.model.rows()
    assert {r[0] for r in rows} == before  # the same cases, only reordered
    sup = [int(r[1].split("-")[1]) for r in rows if r[1].startswith("SUP-")]
    assert sup == sorted(sup)  # SUP-9 before SUP-10
    window.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # Priority
    qtbot.waitUntil(window.is_idle, timeout=WAIT)
    order = {"urgent": 3, "high": 2, "normal": 1, "low": 0}
    ranks = [order[r[4]] for r in window.model.rows()]
    assert ranks == sorted(ranks, reverse=True)


def test_cheatsheet_lists_shortcuts(window: Any) -> None:
    window.show_cheatsheet()
    keys = [k for k, _ in window.shortcut_help]
    for k in ("Ctrl+N", "Ctrl+K", "Ctrl+Z", "Ctrl+F", "J", "K", "Ctrl+W", "Ctrl+`", "F1"):
        assert k in keys
    window.cheatsheet.reject()


def test_terminal_dock(window: Any, qtbot: Any) -> None:
    dock = window.terminal
    assert not dock.unavailable  # the command language is part of the app
    window.toggle_terminal()
    qtbot.keyClicks(dock.input, "help")
    with qtbot.waitSignal(dock.sig_command_done, timeout=WAIT):
        qtbot.keyClick(dock.input, Qt.Key.Key_Return)
    assert dock.output.toPlainText().strip()
    assert dock.history == ["help"]


def test_screenshot_writes_png(qapp: Any, data_dir: Path, tmp_path: Path) -> None:
    from app.ui.screenshot import take

    out = tmp_path / "list.png"
    take(data_dir, out, view="list", size=(1200, 800))
    image = QImage(str(out))
    assert out.stat().st_size > 10_000
    assert (image.width(), image.height()) == (1200, 800)
    with pytest.raises(ValueError, match="unknown view"):
        take(data_dir, tmp_path / "x.png", view="chart")


def test_screenshot_of_a_case(qapp: Any, data_dir: Path, tmp_path: Path, store: Any) -> None:
    from app.store import queries as q
    from app.ui.screenshot import take

    key = store.read(lambda c: q.list_cases(c, q.CaseFilter(), me=store.actor, now_ms=0,
                                            limit=1))[0][1]
    out = tmp_path / "case.png"
    take(data_dir, out, view=f"case:{key}")
    assert QImage(str(out)).size().width() == 1400


def test_terminal_command_changes_refresh_the_detail(window: Any, qtbot: Any) -> None:
    dock = window.terminal
    assert not dock.unavailable
    detail = window.detail
    key = detail.detail["key"]
    window.toggle_terminal()
    dock.input.setText(f'case comment {key} --internal "Checked from the terminal"')
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        qtbot.keyClick(dock.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Checked from the terminal" in detail.conversation.toPlainText(),
                    timeout=WAIT)
    qtbot.keyClick(dock.input, Qt.Key.Key_Up)
    assert dock.input.text().startswith("case comment")
    dock.input.setText("cas")
    qtbot.keyClick(dock.input, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: dock.input.text() != "cas" or window.bridge.pending == 0,
                    timeout=WAIT)
    assert dock.input.text().startswith("cas")


def test_invalid_edit_shows_banner_and_reverts(window: Any, qtbot: Any, store: Any) -> None:
    detail = window.detail
    before = event_count(store)
    chips = detail.tags_chips
    tags = list(chips.tags)
    chips.input.setFocus()
    qtbot.keyClicks(chips.input, "bad!tag")
    with qtbot.waitSignal(window.bridge.sig_error, timeout=WAIT) as blocker:
        qtbot.keyClick(chips.input, Qt.Key.Key_Return)
    assert "not a valid tag" in blocker.args[0]
    assert window.banner.isVisibleTo(window)
    assert "not a valid tag" in window.banner.label.text()
    assert chips.tags == tags and chips.input.text() == ""
    assert event_count(store) == before


def test_start_up_does_not_import_what_it_does_not_use() -> None:
    # Cold start is a budget (≤ 1 s at 100,000 cases): pypdf alone took ~90 ms to import
    # and ~30 MB, and is only needed when a PDF is read.
    import os
    import subprocess
    import sys

    code = ("import sys; import app.ui.main_window; "
            "print(sorted(m for m in ('pypdf', 'alembic', 'pyqtgraph') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

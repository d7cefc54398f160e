"""Round-2 editing: tag chips, due date, split, link, bulk edit, saved views, mentions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDate, QItemSelectionModel, Qt

from app.store import queries as q

WAIT = 10_000


def reloaded(window: Any, qtbot: Any) -> None:
    qtbot.waitUntil(window.is_idle, timeout=WAIT)


def test_tag_chips_add_and_remove(window: Any, qtbot: Any) -> None:
    detail = window.detail
    chips = detail.tags_chips
    qtbot.keyClicks(chips.input, "#Printer")
    qtbot.keyClick(chips.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "printer" in chips.chips, timeout=WAIT)
    assert "printer" in detail.detail["tags"]
    remove = chips.chips["printer"].findChild(type(detail.menu_button))
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "printer" not in chips.chips, timeout=WAIT)
    assert "printer" not in detail.detail["tags"]


def test_due_date_picker_sets_and_clears(window: Any, qtbot: Any) -> None:
    detail = window.detail
    picker = detail.due_picker
    picker.set_date(QDate(2031, 3, 14))
    qtbot.waitUntil(lambda: (detail.detail.get("due_at") or "").startswith("2031-03-14"),
                    timeout=WAIT)
    assert picker.clear_button.isEnabled()
    qtbot.mouseClick(picker.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not detail.detail.get("due_at"), timeout=WAIT)
    assert picker.edit.text() == "No due date"


def test_split_a_comment_into_a_new_case(window: Any, qtbot: Any, store: Any) -> None:
    detail = window.detail
    detail.composer.editor.setPlainText("Second problem: the scanner jams too")
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        detail.composer.send()
    qtbot.waitUntil(lambda: "scanner jams" in detail.conversation.toPlainText(), timeout=WAIT)
    comment = detail.conversation.rendered[-1]
    assert comment["id"] != "description"
    # the context menu finds the comment under the mouse
    conv = detail.conversation
    frame = conv.document().rootFrame().childFrames()[-1]
    cursor = conv.textCursor()
    cursor.setPosition(frame.firstPosition() + 2)
    point = conv.cursorRect(cursor).center()
    assert conv.comment_at(point)["id"] == comment["id"]
    with qtbot.waitSignal(detail.sig_split_done, timeout=WAIT) as blocker:
        conv.sig_split.emit(comment["id"])
    new_id = blocker.args[0]
    qtbot.waitUntil(lambda: new_id in window.tab_details and
                    window.tab_details[new_id].detail is not None, timeout=WAIT)
    new = window.tab_details[new_id].detail
    assert new["subject"].startswith("Second problem")
    assert any(link["id"] == detail.case_id for link in new["links"])


def test_link_through_case_picker(window: Any, qtbot: Any) -> None:
    detail = window.detail
    other_key = window.model.case_key(1)
    detail.pick_case("link")
    picker = detail.picker
    picker.search.setText(other_key)
    qtbot.waitUntil(lambda: picker.results.count() > 0, timeout=WAIT)
    with qtbot.waitSignal(window.bridge.sig_changes_applied, timeout=WAIT):
        qtbot.mouseClick(picker.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: other_key in detail.links_label.text(), timeout=WAIT)


def test_bulk_edit_preview_then_apply(window: Any, qtbot: Any, store: Any) -> None:
    reloaded(window, qtbot)
    sm = window.table.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in range(3):
        sm.select(window.model.index(row, 0), flags)
    ids = window.table.selected_case_ids()
    assert len(ids) == 3
    window.bulk_edit()
    dialog = window.bulk_dialog
    dialog.priority.setCurrentIndex(dialog.priority.findData("urgent"))
    qtbot.keyClicks(dialog.add_tags, "bulk-test")
    assert not dialog.apply_button.isEnabled()
    qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.apply_button.isEnabled(), timeout=WAIT)
    lines = [dialog.preview.item(i).text() for i in range(dialog.preview.count())]
    assert sum("+bulk-test" in x for x in lines) == 3
    # Editing the changes takes the stale preview away and Apply waits for a new one.
    qtbot.keyClicks(dialog.add_tags, "x")
    assert not dialog.apply_button.isEnabled() and dialog.preview.count() == 1
    assert "Preview again" in dialog.preview.item(0).text()
    qtbot.keyClick(dialog.add_tags, Qt.Key.Key_Backspace)
    qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.apply_button.isEnabled(), timeout=WAIT)
    # the preview wrote nothing
    assert all("bulk-test" not in store.read(lambda c, i=i: q.case_detail(c, i))["tags"]
               for i in ids)
    with qtbot.waitSignal(dialog.sig_applied, timeout=WAIT):
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    for i in ids:
        d = store.read(lambda c, i=i: q.case_detail(c, i))
        assert d["priority"] == "urgent" and "bulk-test" in d["tags"]
    # the list rows refresh (in place or re-fetched)
    qtbot.waitUntil(lambda: window.is_idle() and all(
        window.model.rows()[window.model.row_of(i)][4] == "urgent"
        for i in ids if window.model.row_of(i) >= 0), timeout=WAIT)


def test_saved_view_rename_and_delete(window: Any, qtbot: Any, monkeypatch: Any) -> None:
    from PySide6.QtWidgets import QInputDialog

    window.sidebar.select("recent")
    reloaded(window, qtbot)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Fresh", True))
    window.save_current_view()
    qtbot.waitUntil(lambda: "saved:Fresh" in window.sidebar.items, timeout=WAIT)
    item = window.sidebar.items["saved:Fresh"]
    assert item.data(Qt.ItemDataRole.UserRole + 11).query == "updated:<7d"
    menu = window.sidebar.saved_menu(item)
    assert [a.text() for a in menu.actions()] == ["Rename…", "Delete"]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("This week", True))
    menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: "saved:This week" in window.sidebar.items
                    and "saved:Fresh" not in window.sidebar.items, timeout=WAIT)
    recent = window.sidebar.items["recent"].data(Qt.ItemDataRole.UserRole + 10)
    qtbot.waitUntil(lambda: window.sidebar.items["saved:This week"].data(
        Qt.ItemDataRole.UserRole + 10) == recent, timeout=WAIT)
    window.sidebar.saved_menu(window.sidebar.items["saved:This week"]).actions()[1].trigger()
    qtbot.waitUntil(lambda: "saved:This week" not in window.sidebar.items, timeout=WAIT)


def test_mention_completer_inserts_agent(window: Any, qtbot: Any) -> None:
    editor = window.detail.composer.editor
    names = editor.names.stringList()
    assert names
    first = names[0]
    editor.setFocus()
    qtbot.keyClicks(editor, "Thanks @" + first[:2])
    qtbot.waitUntil(lambda: editor.completer.popup().isVisible(), timeout=WAIT)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    text = editor.toPlainText()
    assert text.startswith("Thanks @") and text.endswith(" ")
    assert text[len("Thanks @"):-1] in names  # a whole agent name was inserted
    assert not editor.completer.popup().isVisible()

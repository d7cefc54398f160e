"""No accidental changes: a closed drop-down ignores the wheel and value keys (a change
needs an explicit choice) and draws its arrow; a typed due date is read or refused with a
message, and the calendar opens on today's month; single-key shortcuts never type into,
or switch, the composer. Real widgets offscreen."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QDate, QLocale, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

WAIT = 10_000
CASE = {"id": "c1", "key": "SUP-1", "status": "open", "priority": "normal",
        "type": "question", "assignee_id": None, "tags": [], "due_at": None,
        "agents": [("a1", "Ana")], "links": []}


@pytest.fixture
def fields(qapp: Any, qtbot: Any) -> Any:
    from app.ui.app import make_application
    from app.ui.case_fields import CaseFields

    make_application()
    host = QWidget()
    lay = QVBoxLayout(host)
    view = CaseFields()
    lay.addWidget(view)
    elsewhere = QLineEdit()  # somewhere else for the focus to be
    lay.addWidget(elsewhere)
    qtbot.addWidget(host)
    host.show()
    host.activateWindow()
    qtbot.waitExposed(host)
    view.fill(dict(CASE))
    view.host = host  # the window lives as long as the view under test
    elsewhere.setFocus()
    qtbot.waitUntil(elsewhere.hasFocus, timeout=WAIT)
    return view


def _wheel(widget: QWidget, steps: int = -1) -> None:
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _combos(view: Any) -> list[Any]:
    return [view.status_combo, view.priority_combo, view.type_combo, view.assignee_combo]


def test_the_wheel_over_a_field_never_changes_it(qtbot: Any, fields: Any) -> None:
    sent: list[dict[str, Any]] = []
    fields.sig_fields.connect(sent.append)
    for combo in _combos(fields):
        before = combo.currentIndex()
        _wheel(combo, -1)
        _wheel(combo, 1)
        _wheel(combo, -2)
        assert combo.currentIndex() == before, combo.accessibleName()
        assert not combo.hasFocus()  # the wheel does not take the focus either
    assert sent == []


def test_keys_on_a_closed_field_open_it_and_change_nothing(qtbot: Any, fields: Any) -> None:
    sent: list[dict[str, Any]] = []
    fields.sig_fields.connect(sent.append)
    combo = fields.status_combo
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus, timeout=WAIT)
    before = combo.currentIndex()
    qtbot.keyClick(combo, Qt.Key.Key_S)  # a letter: a plain combo jumps to "Solved"
    assert combo.currentIndex() == before and not combo.view().isVisible()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentIndex() == before  # it opened instead
    qtbot.waitUntil(combo.view().isVisible, timeout=WAIT)
    assert sent == []
    # The explicit choice: down in the open list, then Enter.
    qtbot.keyClick(combo.view(), Qt.Key.Key_Down)
    qtbot.keyClick(combo.view(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: sent != [], timeout=WAIT)
    assert sent == [{"status": combo.itemData(before + 1)}]


def test_a_drop_down_draws_its_arrow(qtbot: Any, fields: Any) -> None:
    combo = fields.priority_combo
    combo.resize(160, 32)
    image = combo.grab().toImage()
    background = QColor(image.pixel(combo.width() - 30, combo.height() // 2))
    arrow = [QColor(image.pixel(x, y)) for x in range(combo.width() - 18, combo.width() - 2)
             for y in range(4, combo.height() - 4)]
    assert any(abs(c.lightness() - background.lightness()) > 40 for c in arrow)


def test_a_typed_iso_date_is_taken(qtbot: Any, fields: Any) -> None:
    sent: list[dict[str, Any]] = []
    fields.sig_fields.connect(sent.append)
    edit = fields.due_picker.edit
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=WAIT)
    edit.lineEdit().selectAll()
    qtbot.keyClicks(edit, "2027-03-04")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert sent == [{"due_at": "2027-03-04"}]


def test_a_typed_non_date_is_refused_with_a_message(qtbot: Any, fields: Any) -> None:
    sent: list[dict[str, Any]] = []
    fields.sig_fields.connect(sent.append)
    fields.fill({**CASE, "due_at": "2027-01-02"})
    edit = fields.due_picker.edit
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=WAIT)
    edit.lineEdit().selectAll()
    qtbot.keyClicks(edit, "next tuesday")
    with qtbot.waitSignal(edit.sig_refused, timeout=WAIT) as refused:
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert "“next tuesday” is not a date" in refused.args[0]
    assert edit.toolTip() == refused.args[0]
    assert sent == [] and fields.due_picker.value() == "2027-01-02"


@pytest.mark.parametrize(("name", "typed", "expected"), [
    ("en_US", "3/4/27", QDate(2027, 3, 4)), ("de_DE", "04.03.27", QDate(2027, 3, 4)),
    ("en_GB", "04/03/2027", QDate(2027, 3, 4)), ("C", "2027-03-04", QDate(2027, 3, 4)),
    ("C", "Thu 4 Mar 2027", QDate(2027, 3, 4)), ("en_US", "soon", None),
])
def test_the_locale_short_form_is_read(name: str, typed: str, expected: QDate | None) -> None:
    from app.ui.date_field import parse_typed_date

    assert parse_typed_date(typed, locale=QLocale(name)) == expected


def test_the_calendar_opens_on_todays_month(qtbot: Any, fields: Any) -> None:
    edit = fields.due_picker.edit
    assert fields.due_picker.value() is None
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton, pos=QPoint(edit.width() - 6,
                                                               edit.height() // 2))
    calendar = edit.calendarWidget()
    qtbot.waitUntil(calendar.isVisible, timeout=WAIT)
    today = QDate.currentDate()
    assert (calendar.yearShown(), calendar.monthShown()) == (today.year(), today.month())
    calendar.window().hide()


def test_single_key_shortcuts_never_type_into_or_switch_the_composer(
        qtbot: Any, window: Any) -> None:
    composer = window.detail.composer
    window.focus_composer(True)  # writing an internal note
    qtbot.waitUntil(composer.editor.hasFocus, timeout=WAIT)
    row = window.list.currentIndex().row() if hasattr(window, "list") else None
    qtbot.keyClicks(composer.editor, "rnjk?")
    assert composer.editor.toPlainText() == "rnjk?"
    assert composer.internal  # "r" did not turn the note into a public reply
    if row is not None:
        assert window.list.currentIndex().row() == row
    # From outside the composer, R focuses an empty reply: the key itself is not typed.
    composer.editor.clear()
    qtbot.keyClick(composer.editor, Qt.Key.Key_Escape)
    assert not composer.editor.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_R)
    qtbot.waitUntil(composer.editor.hasFocus, timeout=WAIT)
    assert not composer.internal and composer.editor.toPlainText() == ""

"""The terminal dock alone (no main window): commands run on the writer and announce their
changes like any operation; Tab completes; history with the arrow keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.core.changes import Changes
from app.operations.terminal import available, complete, run_line

WAIT = 10_000


@pytest.fixture
def dock(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.bridge import Bridge
    from app.ui.terminal_dock import TerminalDock

    bridge = Bridge(store)
    d = TerminalDock(bridge)
    qtbot.addWidget(d)
    d.show()
    yield d
    bridge.shutdown()


def _enter(dock: Any, qtbot: Any, line: str) -> tuple[bool, str]:
    dock.input.setText(line)
    with qtbot.waitSignal(dock.sig_command_done, timeout=WAIT) as done:
        qtbot.keyClick(dock.input, Qt.Key.Key_Return)
    return done.args[0], done.args[1]


def test_a_command_writes_and_announces_its_changes(dock: Any, qtbot: Any) -> None:
    assert not dock.unavailable and available()
    applied: list[Changes] = []
    dock.bridge.sig_changes_applied.connect(applied.append)
    ok, text = _enter(dock, qtbot, 'case new --subject "Toner everywhere"')
    assert ok and text.startswith("created ")
    assert applied and applied[-1].created
    key = text.split()[-1]
    ok, text = _enter(dock, qtbot, f"case show {key}")
    assert ok and "Toner everywhere" in text
    ok, text = _enter(dock, qtbot, "case show NOPE-1")
    assert not ok and "NOPE-1" in text
    assert "NOPE-1" in dock.output.toPlainText()
    # ↑ brings back the last command, ↓ past the newest clears the line.
    qtbot.keyClick(dock.input, Qt.Key.Key_Up)
    assert dock.input.text() == "case show NOPE-1"
    qtbot.keyClick(dock.input, Qt.Key.Key_Down)
    assert dock.input.text() == ""


def test_tab_completes_the_last_word(dock: Any, qtbot: Any) -> None:
    # Regression: the one option replaced the whole line ("case sh" became "show").
    dock.input.setText("case sh")
    qtbot.keyClick(dock.input, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: dock.input.text() == "case show", timeout=WAIT)
    # Several options: the line grows by their common prefix and they are listed.
    dock.input.setText("case set K priority=u")
    qtbot.keyClick(dock.input, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: dock.input.text() == "case set K priority=urgent", timeout=WAIT)
    dock.input.setText("case set K status=o")
    qtbot.keyClick(dock.input, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: "status=on-hold" in dock.output.toPlainText(), timeout=WAIT)
    assert dock.input.text() == "case set K status=o"  # "open" and "on-hold" share only "o"


def test_run_line_and_complete_without_qt(store: Any) -> None:
    result = run_line(store, line="help")
    assert result.ok and "case new" in result.text
    assert "show" in " ".join(complete(store, "case sh"))

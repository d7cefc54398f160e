"""What one field edit from the case view costs, counted on the real store.

A case view (CaseDetail) on the real Bridge over a seeded SQLite store; the agent picks
another priority in the header. Every SQL statement on ``store.engine`` is counted (any
thread) from the edit until the view shows the value and its history row and no job is in
flight.

Measured on the seeded 300-case store:
- before (commit 06dfc8c): 36 statements (15 on the writer: the operation itself; 21 on
  reader threads: the whole case read again — SLA, case, people, links, comments, history,
  agents, conflicts, refused — plus the attachments bar and the signatures panel), 3 read
  jobs, and the conversation drawn anew;
- after: 18 statements (the same 15 on the writer; 3 on a reader: the case's row and its
  events in one read transaction), 1 read job, the conversation left alone.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from app.operations import cases as ops
from app.store import queries as q

WAIT = 10_000
WRITER = "db-writer"
MAX_STATEMENTS = 18  # after; 36 before
MAX_READ_STATEMENTS = 3  # after; 21 before


class Statements:
    """Statements run on an engine, per thread name (the pools' prefixes)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.by_thread: Counter[str] = Counter()
        self.texts: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self.lock:
            self.by_thread[threading.current_thread().name.rsplit("_", 1)[0]] += 1
            self.texts.append(" ".join(statement.split()[:6]))

    def reset(self) -> None:
        with self.lock:
            self.by_thread.clear()
            self.texts.clear()

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    @property
    def total(self) -> int:
        return sum(self.by_thread.values())

    @property
    def reads(self) -> int:
        return self.total - self.by_thread[WRITER]


@pytest.fixture
def bridge(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.bridge import Bridge

    make_application()
    b = Bridge(store)
    yield b
    qtbot.waitUntil(lambda: b.pending == 0, timeout=WAIT)
    b.shutdown()
    model = getattr(store, "_analytics_model", None)
    if model is not None:
        model.close()


def _view(qtbot: Any, bridge: Any) -> Any:
    from app.ui.case_detail import CaseDetail

    view = CaseDetail(bridge)
    qtbot.addWidget(view)
    view.resize(1100, 900)
    view.show()
    return view


@pytest.fixture
def view(qtbot: Any, bridge: Any) -> Any:
    return _view(qtbot, bridge)


@pytest.fixture
def case_id(store: Any) -> str:
    return str(store.read(lambda c: q.resolve_case(c, "SUP-5")))


def idle(bridge: Any, view: Any) -> bool:
    return bridge.pending == 0 and not view.loading and view.detail is not None


def show(qtbot: Any, view: Any, case_id: str) -> None:
    view.load(case_id)
    qtbot.waitUntil(lambda: idle(view.bridge, view) and view.detail["id"] == case_id
                    and view.signatures.case_key is not None, timeout=WAIT)


def choose_priority(view: Any) -> str:
    """The agent picks the next priority in the header's combo (as a click does)."""
    combo = view.priority_combo
    values = [combo.itemData(i) for i in range(combo.count())]
    value = values[(values.index(combo.currentData()) + 1) % len(values)]
    index = combo.findData(value)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    return str(value)


def wait_shown(qtbot: Any, view: Any, field: str, value: Any, history_rows: int) -> None:
    qtbot.waitUntil(lambda: idle(view.bridge, view) and view.detail[field] == value
                    and view.history.topLevelItemCount() == history_rows, timeout=WAIT)


def test_one_field_edit_costs_few_statements(qtbot: Any, view: Any, store: Any,
                                             case_id: str) -> None:
    show(qtbot, view, case_id)
    counted = Statements(store.engine)
    try:
        for _ in range(3):  # the first edit and the ones after cost the same
            rows = view.history.topLevelItemCount()
            counted.reset()
            value = choose_priority(view)
            wait_shown(qtbot, view, "priority", value, rows + 1)
            assert counted.by_thread[WRITER] > 0  # the operation ran and was counted
            assert counted.reads <= MAX_READ_STATEMENTS, counted.texts
            assert counted.total <= MAX_STATEMENTS, counted.texts
            stored = store.read(lambda c: q.case_detail(c, case_id))
            assert stored["priority"] == value == view.priority_combo.currentData()
    finally:
        counted.close()


def test_a_field_edit_leaves_the_conversation_alone(qtbot: Any, view: Any, store: Any,
                                                    case_id: str) -> None:
    show(qtbot, view, case_id)
    document = view.conversation.document()
    rows = view.history.topLevelItemCount()
    value = choose_priority(view)
    wait_shown(qtbot, view, "priority", value, rows + 1)
    view.product_edit.setText("Renamed product")
    view.product_edit.setModified(True)
    view.product_edit.editingFinished.emit()
    wait_shown(qtbot, view, "product", "Renamed product", rows + 2)
    assert view.conversation.document() is document  # not drawn again
    assert view.history.topLevelItem(0).text(2).startswith("changed product: ")

    # A comment is what redraws it.
    view.bridge.run(ops.comment, case=case_id, body="A second reply")
    qtbot.waitUntil(lambda: "A second reply" in view.conversation.toPlainText(), timeout=WAIT)
    assert view.conversation.document() is not document


def test_someone_elses_edit_refreshes_only_the_fields(qtbot: Any, view: Any, store: Any,
                                                      case_id: str) -> None:
    """An edit the view did not make (a macro, the terminal, a sync pull) names the
    case's fields: the header and history follow, with the small read."""
    show(qtbot, view, case_id)
    document = view.conversation.document()
    rows = view.history.topLevelItemCount()
    counted = Statements(store.engine)
    try:
        view.bridge.run(ops.set_fields, case=case_id, changes={"status": "pending"})
        wait_shown(qtbot, view, "status", "pending", rows + 1)
        assert view.status_combo.currentData() == "pending"
        assert counted.reads <= MAX_READ_STATEMENTS, counted.texts
    finally:
        counted.close()
    assert view.conversation.document() is document


def test_a_hidden_view_of_the_case_loads_when_shown(qtbot: Any, bridge: Any, store: Any,
                                                    case_id: str) -> None:
    visible, hidden = _view(qtbot, bridge), _view(qtbot, bridge)
    show(qtbot, visible, case_id)
    show(qtbot, hidden, case_id)
    hidden.hide()
    rows = visible.history.topLevelItemCount()
    before = hidden.detail["priority"]
    value = choose_priority(visible)
    wait_shown(qtbot, visible, "priority", value, rows + 1)
    assert hidden.detail["priority"] == before  # stale: nothing read for it yet
    hidden.show()
    wait_shown(qtbot, hidden, "priority", value, rows + 1)
    assert hidden.priority_combo.currentData() == value

"""The case view's JIRA panel, built alone on a real SQLite store through the real Bridge:
linked issues from the projection (key, status chip, age), requests as they are recorded and
as the server answers, plain text for what JIRA says, reloads only on "integrations"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from sqlalchemy import func, select

from app.core import events as ev
from app.core.changes import Changes
from app.operations import cases as ops
from app.store import schema as s
from tests.support.integration_events import T, from_server, link, record

WAIT = 10_000
MIN = 60_000


@pytest.fixture
def store_seed() -> None:
    return None


@pytest.fixture
def bridge(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.bridge import Bridge

    make_application()
    store.set_actor("ana@example.com")
    b = Bridge(store)
    yield b
    qtbot.waitUntil(lambda: b.pending == 0, timeout=WAIT)
    b.shutdown()


@pytest.fixture
def case(store: Any) -> tuple[str, str]:
    case_id, key, _ = ops.create_case(store, subject="Printer on fire",
                                      requester_email="pat@customer.example")
    return case_id, key


@pytest.fixture
def panel(qtbot: Any, bridge: Any, case: tuple[str, str]) -> Any:
    from app.ui.integrations_panel import IntegrationsPanel

    view = IntegrationsPanel(bridge, clock=lambda: T + 12 * MIN)
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    return view


def issue(summary: str = "Printer on fire", category: str = "in_progress",
          status: str = "In Review", key: str = "ENG-12") -> dict[str, Any]:
    return record("jira", "issue", "10001", key, {
        "summary": summary, "status": status, "status_category": category,
        "assignee": "Dana", "updated": "2026-12-01T10:00:00.000+0000"})


def load(qtbot: Any, panel: Any, case_id: str) -> None:
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.set_case(case_id)


def requested(store: Any) -> list[dict[str, Any]]:
    rows = store.read(lambda c: c.execute(select(s.integration_requests)).all())
    return [dict(r._mapping) for r in rows]


def test_a_linked_issue_shows_its_key_status_and_age(qtbot: Any, panel: Any, store: Any,
                                                     case: tuple[str, str]) -> None:
    from app.ui import theme

    link(store, case[0], "jira", issue())
    load(qtbot, panel, case[0])
    (row,) = panel.rows
    assert row.key_label.text() == "ENG-12"
    assert row.chip.text() == "In Review"
    bg, _fg = theme.status_colors("open")  # in progress borrows the open colours
    assert bg.name() in row.chip.styleSheet()
    assert row.summary.text() == "Printer on fire"
    assert "Dana" in row.meta.text() and "as of 12 min ago" in row.meta.text()
    assert not panel.empty.isVisible() and panel.refresh_button.isEnabled()


def test_create_records_exactly_one_pending_request_and_shows_it(
        qtbot: Any, panel: Any, store: Any, bridge: Any, case: tuple[str, str]) -> None:
    ops.comment(store, case=case[1], body="Logs attached, ERR-1042 again")
    load(qtbot, panel, case[0])
    assert panel.empty.isVisible() and not panel.requests.labels
    dialog = panel.create_dialog()
    assert dialog.comments.count() == 1
    dialog.project.setText("eng")
    dialog.issue_type.setCurrentText("Task")
    dialog.comments.item(0).setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.create_issue(*dialog.values())
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=WAIT)
    (req,) = requested(store)
    assert (req["action"], req["state"]) == ("create", "pending")
    (label,) = panel.requests.labels
    assert label.text() == "JIRA create: pending"
    # the next dialog starts from what was used last
    again = panel.create_dialog()
    assert (again.project.text(), again.issue_type.currentText()) == ("ENG", "Task")


def test_a_failed_request_shows_the_remote_reason_as_text(
        qtbot: Any, panel: Any, store: Any, bridge: Any, case: tuple[str, str]) -> None:
    load(qtbot, panel, case[0])
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.link_issue("eng-7")
    (req,) = requested(store)
    reason = "Issue does not exist or you do not have permission to see it. <b>x</b>"
    from_server(store, case[0], ev.INTEGRATION_FAILED, {
        "request_id": req["request_id"], "system": "jira", "action": "link",
        "reason": reason, "remote_status": 404}, ms=T + MIN)
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):  # as a sync pull announces it
        bridge.sig_changes_applied.emit(Changes(case_ids={case[0]}, fields={"integrations"},
                                                remote=True))
    (label,) = panel.requests.labels
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert label.text() == f"JIRA link ENG-7: failed: {reason}"


def test_a_waiting_request_shows_when_it_is_tried_next(
        qtbot: Any, panel: Any, store: Any, case: tuple[str, str]) -> None:
    link(store, case[0], "jira", issue())
    load(qtbot, panel, case[0])
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.refresh_remote()
    (req,) = requested(store)
    from_server(store, case[0], ev.INTEGRATION_WAITING, {
        "request_id": req["request_id"], "system": "jira", "action": "refresh",
        "reason": "JIRA is unavailable (breaker open)", "next_try_ms": T + 20 * MIN})
    load(qtbot, panel, case[0])
    (label,) = panel.requests.labels
    assert label.text().startswith("JIRA refresh: waiting: JIRA is unavailable (breaker "
                                   "open); next try ")
    assert label.text().endswith("(in 8 min)")


def test_a_hostile_summary_shows_as_text(qtbot: Any, panel: Any, store: Any,
                                         case: tuple[str, str]) -> None:
    hostile = '<b>x</b><img src="http://evil.example/p.png">'
    link(store, case[0], "jira", issue(summary=hostile, status="<i>Open</i>"))
    load(qtbot, panel, case[0])
    (row,) = panel.rows
    for label in (row.summary, row.chip, row.key_label, row.meta):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert row.summary.text() == hostile and row.chip.text() == "<i>Open</i>"


def test_changes_without_integrations_do_not_reload(qtbot: Any, panel: Any, bridge: Any,
                                                    case: tuple[str, str]) -> None:
    load(qtbot, panel, case[0])
    before = panel.reloads
    bridge.sig_changes_applied.emit(Changes(case_ids={case[0]}, fields={"status"}))
    bridge.sig_changes_applied.emit(Changes(case_ids={"other"}, fields={"integrations"}))
    bridge.sig_changes_applied.emit(Changes(comment_case_ids={case[0]}, case_ids={case[0]}))
    assert panel.reloads == before
    panel.hide()  # hidden: marked stale, read when shown again
    bridge.sig_changes_applied.emit(Changes(case_ids={case[0]}, fields={"integrations"}))
    assert panel.reloads == before
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.show()
    assert panel.reloads == before + 1


def test_its_own_request_does_not_reload_it_twice(qtbot: Any, panel: Any, bridge: Any,
                                                  case: tuple[str, str]) -> None:
    load(qtbot, panel, case[0])
    before = panel.reloads
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.link_issue("ENG-9")
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=WAIT)
    assert panel.reloads == before + 1  # from its own result; the Changes it skips


def test_a_bad_request_says_why_and_records_nothing(qtbot: Any, panel: Any, store: Any,
                                                    bridge: Any, case: tuple[str, str]) -> None:
    load(qtbot, panel, case[0])
    panel.unlink("ENG-3")
    qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=WAIT)
    assert "ENG-3 is not linked" in panel.error.text()
    assert store.read(lambda c: c.execute(select(func.count()).select_from(
        s.integration_requests)).scalar()) == 0


def test_the_link_dialog_accepts_only_a_valid_key(qtbot: Any) -> None:
    from app.ui.integrations_panel import KeyDialog

    dialog = KeyDialog()
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.edit.setText("eng 42")
    assert not ok.isEnabled() and "is not a JIRA issue key" in dialog.error.text()
    assert dialog.key() is None
    dialog.edit.setText(" eng-42 ")
    assert ok.isEnabled() and dialog.key() == "ENG-42"


def test_a_hidden_panel_reads_only_when_shown_then_runs_what_waited(
        qtbot: Any, panel: Any, case: tuple[str, str]) -> None:
    panel.hide()  # another tab of the case view shows
    panel.set_case(case[0])
    assert panel.reloads == 0
    ran: list[str] = []
    panel.when_loaded(lambda: ran.append(str(panel.data.get("key"))))
    assert panel.reloads == 0 and not ran
    with qtbot.waitSignal(panel.sig_loaded, timeout=WAIT):
        panel.show()
    assert ran == [case[1]] and panel.reloads == 1
    panel.when_loaded(lambda: ran.append("again"))  # loaded: runs at once, no read
    assert ran == [case[1], "again"] and panel.reloads == 1


def test_the_case_view_has_jira_and_customer_tabs_and_the_palette_runs_on_them(
        qtbot: Any, bridge: Any, store: Any, case: tuple[str, str]) -> None:
    from types import SimpleNamespace

    from app.ui.case_detail import CaseDetail
    from app.ui.commands import integration_actions

    link(store, case[0], "jira", issue())
    detail = CaseDetail(bridge)
    qtbot.addWidget(detail)
    detail.resize(1000, 800)
    detail.show()
    with qtbot.waitSignal(detail.sig_loaded, timeout=WAIT):
        detail.load(case[0])
    tabs = detail.integrations
    assert detail.tabs.tabText(tabs.jira_tab) == "JIRA" and tabs.jira.reloads == 0  # hidden
    with qtbot.waitSignal(tabs.jira.sig_loaded, timeout=WAIT):
        detail.tabs.setCurrentWidget(tabs.jira)
    assert detail.tabs.tabText(tabs.jira_tab) == "JIRA (1)"
    assert tabs.jira.rows[0].key_label.text() == "ENG-12"
    actions = {a.title: a for a in integration_actions(
        SimpleNamespace(current_detail=lambda: detail))}  # type: ignore[arg-type]
    assert set(actions) == {"JIRA: create issue from this case", "JIRA: link issue…",
                            "Salesforce: sync case", "Salesforce: look up requester"}
    actions["Salesforce: sync case"].run()
    assert detail.tabs.currentWidget() is tabs.customer
    qtbot.waitUntil(lambda: bridge.pending == 0 and bool(tabs.customer.requests.labels),
                    timeout=WAIT)
    assert [r["action"] for r in requested(store)] == ["sync"]
    assert tabs.customer.requests.labels[0].text() == "Salesforce sync: pending"

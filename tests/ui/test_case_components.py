"""The case view's parts, each built alone (no window, no case view): header, fields,
conflict notice, conversation, history; and the reads behind them on a real store."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event

from app.core.changes import Changes
from app.operations import case_queries as cq
from app.operations import cases as ops
from app.store import queries as q

EVIL = "<b>bold</b> & <img src=x>"


@pytest.fixture(autouse=True)
def app(qapp: Any) -> Any:
    from app.ui.app import make_application

    return make_application()


def case(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": "c1", "key": "SUP-1", "subject": "Printer on fire", "status": "open",
        "priority": "normal", "type": "problem", "assignee_id": None, "product": "PrintHub",
        "due_at": None, "tags": ["vip"], "links": [], "created_ms": 1_700_000_000_000,
        "updated_ms": 1_700_000_100_000, "requester": {"name": "Maria Lopez",
                                                       "email": "maria@globex.example"},
        "organization": {"name": "Globex"}, "team": {"name": "Support"},
        "agents": [("a1", "Ana Agent"), ("a2", "Ben Agent")], "description": "It burns.",
        "comments": [{"id": "m1", "body": "Have you tried water?", "internal": False,
                      "created_ms": 1_700_000_050_000, "author_name": "Ana Agent",
                      "author_kind": "agent", "case_key": "SUP-1"}]}
    d.update(over)
    return d


# --- header -------------------------------------------------------------------------------
def test_header_shows_the_case_literally_and_emits_a_changed_subject(qtbot: Any) -> None:
    from app.ui.case_header import CaseHeader

    header = CaseHeader()
    qtbot.addWidget(header)
    header.fill(case(key=EVIL, requester={"name": EVIL}))
    assert header.key_label.text() == EVIL  # plain text, not markup
    assert "&lt;b&gt;bold&lt;/b&gt;" in header.requester_label.text()  # escaped in rich text
    assert header.meta_label.full_text.startswith("Created ")
    subjects: list[str] = []
    header.sig_subject.connect(subjects.append)
    header.subject_edit.setModified(True)
    header.subject_edit.editingFinished.emit()  # the same text: nothing to store
    header.subject_edit.setText("Printer on fire again")
    header.subject_edit.setModified(True)
    header.subject_edit.editingFinished.emit()
    assert subjects == ["Printer on fire again"]

    header.set_compact(True)
    assert header.meta_label.text() == "" and header.llm_button.text() == ""
    header.set_compact(False)
    assert header.llm_button.text() == "Ask the LLM…"
    header.set_viewers([{"name": "Ben Agent", "email": "ben@example.com"}])
    assert [c.text() for c in header.viewer_chips] == ["Ben is viewing"]


def test_header_actions_leave_as_one_signal(qtbot: Any) -> None:
    from app.ui.case_header import ACTIONS, CaseHeader

    header = CaseHeader()
    qtbot.addWidget(header)
    seen: list[str] = []
    header.sig_action.connect(seen.append)
    for action in header.case_menu.actions():
        if not action.isSeparator():
            action.trigger()
    header.llm_button.click()
    header.macro_button.click()
    assert seen == ["link", "merge", "llm", "macros", "attach", "open_tab", "llm", "macros"]
    assert set(seen) == set(ACTIONS)


# --- fields -------------------------------------------------------------------------------
def test_fields_emit_only_what_changed(qtbot: Any) -> None:
    from app.ui.case_fields import CaseFields

    fields = CaseFields()
    qtbot.addWidget(fields)
    fields.fill(case())
    assert fields.priority_combo.currentData() == "normal"
    assert [fields.assignee_combo.itemText(i) for i in range(fields.assignee_combo.count())] \
        == ["Unassigned", "Ana Agent", "Ben Agent"]
    edits: list[dict[str, Any]] = []
    tags: list[tuple[list[str], list[str]]] = []
    fields.sig_fields.connect(edits.append)
    fields.sig_tags.connect(lambda add, remove: tags.append((add, remove)))

    combo = fields.priority_combo
    combo.activated.emit(combo.currentIndex())  # the same value again
    combo.setCurrentIndex(combo.findData("urgent"))
    combo.activated.emit(combo.currentIndex())
    assignee = fields.assignee_combo
    assignee.setCurrentIndex(assignee.findData("a2"))
    assignee.activated.emit(assignee.currentIndex())
    fields.product_edit.setText("  ")
    fields.product_edit.setModified(True)
    fields.product_edit.editingFinished.emit()
    fields.due_picker.sig_changed.emit("2026-12-24")
    fields.tags_chips.sig_add.emit("vip")  # already there
    fields.tags_chips.sig_add.emit("printer")
    fields.tags_chips.sig_remove.emit("vip")
    assert edits == [{"priority": "urgent"}, {"assignee_id": "a2"}, {"product": None},
                     {"due_at": "2026-12-24"}]
    assert tags == [(["printer"], []), ([], ["vip"])]


def test_a_quick_second_edit_back_to_the_stored_value_is_sent(qtbot: Any) -> None:
    """Before the first edit's values come back, choosing the stored value again is a
    change (it undoes the first), not a no-op; a fill forgets what was sent."""
    from app.ui.case_fields import CaseFields
    from app.ui.case_header import CaseHeader

    fields, header = CaseFields(), CaseHeader()
    qtbot.addWidget(fields)
    qtbot.addWidget(header)
    fields.fill(case())
    header.fill(case())
    edits: list[dict[str, Any]] = []
    subjects: list[str] = []
    fields.sig_fields.connect(edits.append)
    header.sig_subject.connect(subjects.append)
    combo = fields.priority_combo
    for value in ("urgent", "normal"):
        combo.setCurrentIndex(combo.findData(value))
        combo.activated.emit(combo.currentIndex())
    fields.tags_chips.sig_remove.emit("vip")
    fields.tags_chips.sig_add.emit("vip")
    for text in ("Renamed", "Printer on fire"):
        header.subject_edit.setText(text)
        header.subject_edit.setModified(True)
        header.subject_edit.editingFinished.emit()
    assert edits == [{"priority": "urgent"}, {"priority": "normal"}]
    assert subjects == ["Renamed", "Printer on fire"]
    fields.fill(case())  # the stored values: "normal" again is no change
    combo.activated.emit(combo.findData("normal"))
    assert len(edits) == 2


def test_fields_refreshed_without_agents_or_links_keep_them(qtbot: Any) -> None:
    from app.ui.case_fields import CaseFields

    fields = CaseFields()
    qtbot.addWidget(fields)
    fields.show()
    fields.fill(case(links=[{"kind": "related", "id": "c9", "key": "SUP-9",
                             "subject": EVIL}]))
    assert fields.links_label.isVisible() and "&lt;b&gt;" in fields.links_label.text()
    row = {k: v for k, v in case(priority="high", tags=[]).items()
           if k not in ("agents", "links")}  # what a field refresh brings
    fields.fill(row)
    assert fields.priority_combo.currentData() == "high" and fields.tags_chips.tags == []
    assert fields.assignee_combo.count() == 3 and fields.links_label.isVisible()


# --- notices, history ---------------------------------------------------------------------
def test_conflict_banner_rows_and_their_buttons(qtbot: Any) -> None:
    from app.ui.case_notices import ConflictBanner, RefusedNotice

    banner = ConflictBanner()
    qtbot.addWidget(banner)
    assert banner.isHidden()  # no conflict, no notice
    banner.show_conflicts([{"id": "k1", "field": "priority", "remote_name": "Ben",
                            "remote_text": "urgent", "local_text": "low"}])
    assert not banner.isHidden()
    assert banner.rows[0][0].text() == "Ben changed priority to Urgent while you set it to Low —"
    with qtbot.waitSignal(banner.sig_restore) as restored:
        banner.rows[0][1].click()
    assert restored.args == ["k1"]
    with qtbot.waitSignal(banner.sig_dismiss) as dismissed:
        banner.rows[0][2].click()
    assert dismissed.args == ["k1"]
    banner.show_conflicts([])
    assert banner.rows == [] and banner.isHidden()

    notice = RefusedNotice()
    qtbot.addWidget(notice)
    notice.show_refused([{"id": "e1", "type": "comment.added", "reason": EVIL}])
    assert EVIL in notice.text() and not notice.isHidden()


def test_history_lists_newest_first_with_agent_names(qtbot: Any) -> None:
    from app.ui.case_history_view import CaseHistory

    history = CaseHistory()
    qtbot.addWidget(history)
    rows = [{"actor": "a1", "hlc": "1700000000000.000001", "summary": "created the case",
             "synced": True},
            {"actor": "x@example.com", "hlc": "garbage", "summary": EVIL, "synced": False}]
    assert history.fill(rows, {"a1": "Ana Agent"}) == 2
    newest, oldest = history.topLevelItem(0), history.topLevelItem(1)
    assert (newest.text(1), newest.text(2), newest.text(3)) == ("x@example.com", EVIL, "local")
    assert (oldest.text(1), oldest.text(3)) == ("Ana Agent", "✓")


# --- conversation -------------------------------------------------------------------------
def test_conversation_is_drawn_again_only_when_it_changed(qtbot: Any) -> None:
    from app.ui.conversation_view import Conversation

    view = Conversation()
    qtbot.addWidget(view)
    d = case()
    assert view.show_detail(d)
    document = view.document()
    assert [r["id"] for r in view.rendered] == ["description", "m1"]
    assert not view.show_detail(case(priority="urgent", tags=[], subject="Renamed"))
    assert view.document() is document
    assert view.show_detail(case(), force=True) and view.document() is not document
    document = view.document()
    changed = case()
    changed["comments"][0]["body"] = "Have you tried sand?"
    assert view.show_detail(changed) and "sand" in view.toPlainText()
    assert view.show_detail(case(id="c2")) and view.document() is not document
    view.reset()
    assert view.show_detail(case(id="c2"))  # after a reset nothing counts as shown


# --- the reads ----------------------------------------------------------------------------
def test_case_refresh_reads_the_row_and_history_in_two_statements(store: Any) -> None:
    case_id = str(store.read(lambda c: q.resolve_case(c, "SUP-5")))
    ops.set_fields(store, case=case_id, changes={"priority": "urgent", "product": EVIL})
    ops.tag(store, case=case_id, add=["printer"])
    cq.sla_config(store)  # the shared read model is opened by the first whole load
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            seen.append(statement.split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        fresh = cq.case_refresh(store, case_id, sla=True, at_ms=cq.now_ms())
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert fresh is not None
    assert [s for s in seen if s == "SELECT"] == ["SELECT", "SELECT"] and len(seen) <= 3
    whole = store.read(lambda c: cq.load_case_bundle(c, case_id, sla=cq.sla_config(store),
                                                     at_ms=cq.now_ms()))
    assert whole is not None
    for name in ("priority", "product", "tags", "updated_ms", "status", "subject"):
        assert fresh["fields"][name] == whole[name], name
    assert "printer" in fresh["fields"]["tags"]
    assert [(h["id"], h["summary"], h["synced"]) for h in fresh["history"]] == \
        [(h["id"], h["summary"], h["synced"]) for h in whole["history"]]
    assert fresh["sla"].policy == whole["sla"].policy
    lean = cq.case_refresh(store, case_id, sla=False, at_ms=cq.now_ms())
    assert lean is not None and "sla" not in lean
    assert cq.case_refresh(store, "no-such-case", sla=False, at_ms=0) is None


def test_signatures_panel_follows_only_what_it_shows(qtbot: Any, store: Any) -> None:
    from app.ui.bridge import Bridge
    from app.ui.signatures_panel import SignaturesPanel

    bridge = Bridge(store)
    try:
        panel = SignaturesPanel(bridge)
        qtbot.addWidget(panel)
        panel.case_id = "c1"
        panel.data = {"related": [{"id": "c7"}]}
        assert not panel.shows_changed(Changes(case_ids={"c1"}, fields={"priority"}))
        assert not panel.shows_changed(Changes(case_ids={"c3"}, fields={"status"}))
        assert panel.shows_changed(Changes(case_ids={"c7"}, fields={"status"}))
        assert panel.shows_changed(Changes(case_ids={"c3"}, comment_case_ids={"c3"}))
        assert panel.shows_changed(Changes(case_ids={"c1"}, fields={"attachments"}))
        assert panel.shows_changed(Changes(case_ids={"c1"}, fields={"links"}))
        assert panel.shows_changed(Changes(rebuilt=True))
        assert panel.shows_changed(Changes(case_ids={"c4"}, created=True, membership=True))
    finally:
        bridge.shutdown()

"""The case view with its mounted widgets: attachments (drop, paste), error signatures and
related cases, the LLM dialog, folded quoted history, saved replies (``::``), macros and
the SLA badge. Real widgets offscreen, on a seeded store, through the real Bridge."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QGuiApplication, QImage

from app.operations import cases as ops
from app.operations import intake
from app.operations import macros as mops
from app.store import queries as q
from tests.support.seeded import intake_module

WAIT = 10_000


def _sample_logs() -> ModuleType:
    return intake_module("sample_logs")


QUOTED = ("Hi team,\n\nThe installer fails with ERR-1042 since this morning.\n\n"
          + intake._details("Signature", "Maria Lopez\nIT Operations")
          + "\n\n" + intake._details("Quoted history (2 lines)",
                                     "On Monday Ben wrote:\nDid the update work?"))


@pytest.fixture
def bridge(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.bridge import Bridge

    make_application()
    b = Bridge(store)
    yield b
    qtbot.waitUntil(lambda: b.pending == 0, timeout=WAIT)  # no job outlives the store
    b.shutdown()
    model = getattr(store, "_analytics_model", None)
    if model is not None:
        model.close()


@pytest.fixture
def detail(qtbot: Any, bridge: Any) -> Any:
    from app.ui.case_detail import CaseDetail

    view = CaseDetail(bridge)
    qtbot.addWidget(view)
    view.resize(1000, 900)
    view.show()
    return view


@pytest.fixture
def case(store: Any) -> tuple[str, str]:
    """A new urgent case on the 24/7 platform team, from Maria Lopez, quoting a mail."""
    case_id, key, _ = ops.create_case(
        store, subject="DataFlow installer fails with ERR-1042", description=QUOTED,
        priority="urgent", team="platform", requester_email="maria.lopez@globex.example",
        requester_name="Maria Lopez", product="DataFlow")
    return case_id, key


def idle(bridge: Any, view: Any) -> bool:
    return bridge.pending == 0 and not view.loading and view.detail is not None


def show_case(qtbot: Any, view: Any, case_id: str) -> None:
    view.load(case_id)
    qtbot.waitUntil(lambda: idle(view.bridge, view) and view.detail["id"] == case_id
                    and view.attachments.case_id == case_id, timeout=WAIT)


def history_texts(view: Any) -> list[str]:
    return [view.history.topLevelItem(i).text(2)
            for i in range(view.history.topLevelItemCount())]


# --- attachments ------------------------------------------------------------------------
def test_drop_a_file_on_the_case_attaches_it(qtbot: Any, detail: Any, case: Any,
                                             tmp_path: Path) -> None:
    case_id, _key = case
    show_case(qtbot, detail, case_id)
    assert detail.attachments.chips == [] and detail.attachments.empty.isVisible()
    log = tmp_path / "installer.log"
    log.write_text(_sample_logs().ALL_STYLES)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(log))])
    drop = QDropEvent(QPointF(200, 300), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(detail.attachments.sig_attached, timeout=WAIT):
        detail.dropEvent(drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: [c.row["name"] for c in detail.attachments.chips]
                    == ["installer.log"], timeout=WAIT)
    qtbot.waitUntil(lambda: any("attached installer.log" in t for t in history_texts(detail)),
                    timeout=WAIT)
    assert detail.tabs.tabText(1) == f"History ({detail.history.topLevelItemCount()})"

    # A file dropped into the composer is attached too, not pasted as a file:// link.
    notes = tmp_path / "notes.txt"
    notes.write_text("plain notes\n")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(notes))])
    with qtbot.waitSignal(detail.attachments.sig_attached, timeout=WAIT):
        detail.composer.editor.insertFromMimeData(mime)
    qtbot.waitUntil(lambda: len(detail.attachments.chips) == 2, timeout=WAIT)
    assert detail.composer.editor.toPlainText() == ""


def test_ctrl_v_in_the_conversation_attaches_a_screenshot(qtbot: Any, detail: Any,
                                                          case: Any) -> None:
    case_id, _key = case
    show_case(qtbot, detail, case_id)
    image = QImage(64, 40, QImage.Format.Format_RGB32)
    image.fill(QColor("#3b5bdb"))
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(detail.attachments.sig_attached, timeout=WAIT):
        qtbot.keyClick(detail.conversation, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(detail.attachments.chips) == 1, timeout=WAIT)
    row = detail.attachments.chips[0].row
    assert row["mime"] == "image/png" and row["name"].startswith("screenshot-")
    qtbot.waitUntil(lambda: any("attached screenshot-" in t for t in history_texts(detail)),
                    timeout=WAIT)
    # Text (likely copied from the conversation itself) is not attached by Ctrl+V here.
    QGuiApplication.clipboard().setText("a line copied from the conversation")
    qtbot.keyClick(detail.conversation, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert detail.attachments.error.isVisibleTo(detail) and detail.bridge.pending == 0
    assert "screenshot or copied files" in detail.attachments.error.text()
    assert len(detail.attachments.chips) == 1


# --- signatures ---------------------------------------------------------------------------
def test_signatures_tab_counts_and_opens_a_related_case(qtbot: Any, detail: Any, store: Any,
                                                        case: Any, tmp_path: Path) -> None:
    case_id, _key = case
    show_case(qtbot, detail, case_id)
    qtbot.waitUntil(lambda: detail.signatures.case_key is not None, timeout=WAIT)
    assert detail.tabs.tabText(2) == "Signatures"  # no count while there are none

    log = tmp_path / "installer.log"
    log.write_text(_sample_logs().ALL_STYLES)
    others = store.read(lambda c: c.exec_driver_sql(
        "select key from cases where key like 'PLT-%' order by key limit 2").scalars().all())
    for other in others:
        intake.add_text(store, case=other, text="boot\ninstaller failed with ERR-1042\n")
    with qtbot.waitSignal(detail.signatures.sig_loaded, timeout=WAIT) as loaded:
        detail.attachments.attach_files([log])
    n_sigs, n_related = loaded.args
    assert n_sigs == detail.signatures.tree.topLevelItemCount() > 5 and n_related == 2
    assert detail.tabs.tabText(2) == f"Signatures ({n_sigs})"
    assert "2 other cases show ERR-1042" in detail.signatures.headline.text()

    # The key link of a related case opens it: resolved to its id on a reader thread.
    row = next(r for r in detail.signatures.rows if r.case["key"] == others[0])
    with qtbot.waitSignal(detail.sig_open_case, timeout=WAIT) as opened:
        row.key_label.linkActivated.emit(f"case:{others[0]}")
    assert opened.args == [store.read(lambda c: q.resolve_case(c, others[0]))]


# --- the LLM dialog -----------------------------------------------------------------------
def test_llm_draft_reply_lands_in_the_composer(qtbot: Any, detail: Any, case: Any) -> None:
    case_id, _key = case
    show_case(qtbot, detail, case_id)
    detail.composer.set_internal(True)
    detail.llm_button.click()
    dialog = detail.llm_dialog
    assert dialog is not None and dialog.isVisible() and dialog.case == detail.detail["key"]
    with qtbot.waitSignal(dialog.sig_prompt_ready, timeout=WAIT):
        pass  # the first template's prompt
    if dialog.template != "draft_reply":
        with qtbot.waitSignal(dialog.sig_prompt_ready, timeout=WAIT):
            dialog.set_template("draft_reply")
    assert dialog.template == "draft_reply" and dialog.built is not None
    # The agent copies the answer in their assistant: it is on the clipboard.
    body = "Hello Maria,\n\nplease run the installer as an administrator."
    QGuiApplication.clipboard().setText(json.dumps({"subject": "Re: installer", "body": body,
                                                    "language": "en"}))
    with qtbot.waitSignal(dialog.sig_preview_ready, timeout=WAIT):
        dialog.paste_button.click()
    with qtbot.waitSignal(dialog.sig_composer_text, timeout=WAIT):
        dialog.accept_button.click()
    assert detail.composer.editor.toPlainText() == body
    assert not detail.composer.internal  # switched to Reply mode; nothing was sent
    qtbot.waitUntil(lambda: detail.llm_dialog is None, timeout=WAIT)
    qtbot.waitUntil(lambda: idle(detail.bridge, detail), timeout=WAIT)
    assert not any(c.get("body") == body for c in detail.detail["comments"])


def test_ctrl_shift_l_opens_the_llm_dialog(qtbot: Any, detail: Any, case: Any) -> None:
    case_id, _key = case
    show_case(qtbot, detail, case_id)
    detail.activateWindow()
    qtbot.waitActive(detail)
    detail.conversation.setFocus()
    qtbot.keyClick(detail.conversation, Qt.Key.Key_L,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = detail.llm_dialog
    assert dialog is not None and dialog.case == detail.detail["key"]
    with qtbot.waitSignal(dialog.sig_prompt_ready, timeout=WAIT):
        pass
    dialog.reject()
    qtbot.waitUntil(lambda: detail.llm_dialog is None, timeout=WAIT)


# --- folded sections ----------------------------------------------------------------------
def test_quoted_history_is_folded_until_clicked(qtbot: Any, detail: Any, store: Any,
                                                case: Any) -> None:
    case_id, key = case
    ops.comment(store, case=key, body="Thanks!\n\n" + intake._details(
        "Quoted history (1 lines)", "Earlier: the agent asked for logs"))
    show_case(qtbot, detail, case_id)
    conv = detail.conversation
    text = conv.toPlainText()
    assert "The installer fails with ERR-1042" in text
    assert "▸ Quoted history (2 lines)" in text and "▸ Signature" in text
    assert "Did the update work?" not in text and "IT Operations" not in text
    assert "<details>" not in text and "<summary>" not in text
    assert "Earlier: the agent asked" not in text and "Thanks!" in text

    quoted = next(k for k, (summary, _t) in conv.sections.items()
                  if k.startswith("description:") and summary.startswith("Quoted"))
    with qtbot.waitSignal(conv.sig_section_toggled, timeout=WAIT) as toggled:
        conv.anchorClicked.emit(QUrl(f"fold:{quoted}"))  # the agent clicks the line
    assert toggled.args == [quoted, True]
    text = conv.toPlainText()
    assert "Did the update work?" in text and "▾ Quoted history (2 lines)" in text
    assert "IT Operations" not in text  # only the section clicked opens
    conv.anchorClicked.emit(QUrl(f"fold:{quoted}"))
    assert "Did the update work?" not in conv.toPlainText()


# --- saved replies ------------------------------------------------------------------------
def test_double_colon_inserts_a_rendered_saved_reply(qtbot: Any, detail: Any, store: Any,
                                                     case: Any) -> None:
    case_id, key = case
    mops.save_reply(store, name="Thanks for the logs",
                    text="Hi {{requester.first_name}}, thanks: {{case.key}} is in progress.")
    mops.save_reply(store, name="Call me", text="Call me on {{agent.phone}}")
    show_case(qtbot, detail, case_id)
    editor = detail.composer.editor
    editor.setFocus()
    qtbot.keyClicks(editor, "Hello ::tha")
    qtbot.waitUntil(lambda: editor.reply_popup.isVisible() and editor.replies.rowCount() == 1,
                    timeout=WAIT)
    assert editor.replies.item(0).text().startswith("Thanks for the logs")
    with qtbot.waitSignal(detail.composer.sig_reply_inserted, timeout=WAIT):
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert editor.toPlainText() == f"Hello Hi Maria, thanks: {key} is in progress."
    assert not editor.reply_popup.isVisible() and not detail.composer.error.isVisible()

    # A placeholder with no value: a clear message, nothing inserted.
    editor.clear()
    qtbot.keyClicks(editor, "::call")
    qtbot.waitUntil(lambda: editor.reply_popup.isVisible() and editor.replies.rowCount() == 1,
                    timeout=WAIT)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(detail.composer.error.isVisible, timeout=WAIT)
    assert "no value for {{agent.phone}}" in detail.composer.error.text()
    assert editor.toPlainText() == "::call"


# --- macros -------------------------------------------------------------------------------
def test_macro_from_the_dialog_updates_the_open_case(qtbot: Any, detail: Any, store: Any,
                                                     case: Any) -> None:
    case_id, key = case
    mops.save_macro(store, name="Hold for customer",
                    actions={"status": "on-hold", "add_tags": ["waiting"],
                             "reply": "Waiting for {{requester.first_name}}.",
                             "internal": True})
    show_case(qtbot, detail, case_id)
    detail.macro_button.click()
    qtbot.waitUntil(lambda: detail.macro_dialog is not None, timeout=WAIT)
    dialog = detail.macro_dialog
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=WAIT)
    assert "tag +waiting" in dialog.text.toPlainText() and key in dialog.text.toPlainText()
    with qtbot.waitSignal(detail.bridge.sig_changes_applied, timeout=WAIT) as applied:
        dialog.apply_button.click()
    assert case_id in applied.args[0].case_ids  # through the bridge, like any operation
    qtbot.waitUntil(lambda: idle(detail.bridge, detail)
                    and detail.detail["status"] == "on-hold", timeout=WAIT)
    assert "waiting" in detail.detail["tags"] and "waiting" in detail.tags_chips.chips
    assert detail.status_combo.currentData() == "on-hold"
    assert "Waiting for Maria." in detail.conversation.toPlainText()
    qtbot.waitUntil(lambda: detail.macro_dialog is None, timeout=WAIT)


# --- SLA badge ----------------------------------------------------------------------------
def test_sla_badge_at_risk_then_paused(qtbot: Any, detail: Any, store: Any,
                                       case: Any) -> None:
    case_id, key = case
    # Urgent: first response within 1h (24/7 platform calendar); at risk from the start.
    show_case(qtbot, detail, case_id)
    badge = detail.sla_badge
    assert badge.isVisible() and badge.state == "at_risk"
    assert re.fullmatch(r"At risk · first response in (59m|1h)", badge.text())
    assert "SLA policy Urgent" in badge.toolTip()
    assert "First response: at risk" in badge.toolTip()

    # Pending pauses the clocks; the tooltip keeps the audit trail.
    ops.set_fields(store, case=key, changes={"status": "pending"})
    later = detail.clock() + 2 * 3_600_000 + 10 * 60_000
    detail.clock = lambda: later
    show_case(qtbot, detail, case_id)
    assert badge.state == "paused" and badge.text().startswith("Paused ·")
    assert re.search(r"paused 2h(9|10)m while pending \(still paused\)", badge.toolTip())


def test_sla_badge_breached_then_met(qtbot: Any, detail: Any, store: Any, case: Any) -> None:
    case_id, key = case
    two_hours_on = detail.clock() + 2 * 3_600_000
    detail.clock = lambda: two_hours_on
    show_case(qtbot, detail, case_id)
    assert detail.sla_badge.state == "breached"
    assert re.fullmatch(r"Breached · first response (59m|1h\d*m?) over", detail.sla_badge.text())
    # Answered and solved (now, within both targets): met.
    ops.comment(store, case=key, body="Run the installer as an administrator.")
    ops.set_fields(store, case=key, changes={"status": "solved"})
    show_case(qtbot, detail, case_id)
    assert detail.sla_badge.state == "met" and detail.sla_badge.text() == "SLA met"
    assert "First response: met" in detail.sla_badge.toolTip()


def test_attachment_bar_labels_shorten_in_whole_words(qtbot: Any, qapp: Any) -> None:
    # A narrow pane used to show "No attachmen…" and "…nshot (Ctrl+V)".
    from app.ui.widgets import ElidedLabel

    label = ElidedLabel("Drop files here or paste a screenshot (Ctrl+V)",
                        shorter=("Drop or paste files here",))
    qtbot.addWidget(label)
    label.show()  # resize events reach shown widgets
    metrics = label.fontMetrics()
    for width, shown in ((metrics.horizontalAdvance(label.full_text) + 4, label.full_text),
                         (metrics.horizontalAdvance("Drop or paste files here") + 4,
                          "Drop or paste files here"),
                         (30, "")):
        label.resize(width, 20)
        assert label.text() == shown, width
    assert label.sizeHint().width() >= metrics.horizontalAdvance(label.full_text)
    assert label.toolTip() == label.full_text

"""Every label that shows user data shows it as plain text: a subject '<h1>big</h1>' stays
those characters, never a heading (Qt's AutoText renders strings that look like HTML)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtGui import QTextDocument
from sqlalchemy import text as sql_text

HOSTILE = "<h1>big</h1><img src=x>"
PLAIN = Qt.TextFormat.PlainText


def shown(tip: str) -> str:
    """What Qt shows for a tooltip: rich text when it looks like HTML, else the string."""
    if not GuiQt.mightBeRichText(tip):
        return tip
    doc = QTextDocument()
    doc.setHtml(tip)
    return doc.toPlainText()


def hostile_mail(tmp_path: Path) -> Path:
    raw = (f'From: "{HOSTILE}" <evil@example.com>\r\nTo: support@example.com\r\n'
           f"Subject: {HOSTILE}\r\nMessage-ID: <hostile@example.com>\r\n\r\n"
           "It shows <b>ERR-1042</b>\r\n").encode()
    path = tmp_path / "hostile.eml"
    path.write_bytes(raw)
    return path


def test_plain_label_helpers(qapp: Any) -> None:
    from app.ui.widgets import ElidedLabel, plain_label, plain_tip

    label = plain_label(HOSTILE)
    assert label.textFormat() == PLAIN and label.text() == HOSTILE
    elided = ElidedLabel(HOSTILE)
    assert elided.textFormat() == PLAIN
    assert shown(elided.toolTip()) == HOSTILE
    assert plain_tip("Remove report.pdf") == "Remove report.pdf"  # ordinary text unchanged
    assert shown(plain_tip(f"{HOSTILE}\nsecond line")) == f"{HOSTILE}\nsecond line"


def test_hostile_subject_is_plain_in_toast_header_list_and_notifications(
        window: Any, qtbot: Any, store: Any, tmp_path: Path) -> None:
    from app.operations import intake
    from app.operations.notifications import Notification, NotificationCenter
    from app.ui.notification_center import NotificationPanel

    results: list[Any] = []
    # the way the app runs it: on the database worker, then changes_applied to every view
    window.bridge.run(intake.receive_email, path=hostile_mail(tmp_path), on_done=results.append)
    qtbot.waitUntil(lambda: bool(results) and window.is_idle(), timeout=15_000)
    done = results[0]
    assert done.created
    # the undo toast: "Ctrl+Z to undo: import e-mail '<h1>…'"
    hint = window.undo_hint
    assert hint.textFormat() == PLAIN
    assert hint.text() == f"Ctrl+Z to undo: import e-mail '{HOSTILE}'"
    window.show_error(f"Could not send '{HOSTILE}'")
    for label in (window.message_label, window.banner.label):
        assert label.textFormat() == PLAIN and label.text() == f"Could not send '{HOSTILE}'"
    window.grab().save(str(tmp_path / "toast.png"))

    # the case header
    case_id = store.read(lambda c: c.execute(sql_text(
        "select id from cases where key = :k"), {"k": done.key}).scalar())
    detail = window.detail
    detail.load(case_id)
    qtbot.waitUntil(lambda: not detail.loading and detail.case_id == case_id
                    and detail.detail is not None, timeout=10_000)
    assert detail.subject_edit.text() == HOSTILE
    assert detail.key_label.textFormat() == PLAIN and detail.key_label.text() == done.key
    # the requester line is rich text on purpose (the name in bold), every part escaped
    doc = QTextDocument()
    doc.setHtml(detail.requester_label.text())
    assert doc.toPlainText().startswith(HOSTILE)
    assert detail.requester_label.textFormat() == Qt.TextFormat.RichText
    history_tips = [detail.history.topLevelItem(i).toolTip(2)
                    for i in range(detail.history.topLevelItemCount())]
    hostile_history = [t for t in history_tips if HOSTILE in shown(t)]
    assert hostile_history and all(t != shown(t) for t in hostile_history)

    # the list's subject tooltip, in a saved view whose name is hostile too
    from app.ui.case_list import COLUMNS
    from app.ui.sidebar import View

    window.set_view(View(f"saved:{HOSTILE}", HOSTILE, "status:new", "updated", False))
    qtbot.waitUntil(window.is_idle, timeout=10_000)
    assert window.view_title.textFormat() == PLAIN and window.view_title.text() == HOSTILE
    model = window.table.model()
    subject_col = [c[0] for c in COLUMNS].index("Subject")
    tips = [model.data(model.index(r, subject_col), Qt.ItemDataRole.ToolTipRole)
            for r in range(model.rowCount())]
    hostile_tips = [t for t in tips if t and shown(t) == HOSTILE]
    assert hostile_tips, "the imported case is in the list"
    assert all(t != HOSTILE for t in hostile_tips)  # escaped: Qt would render the raw one

    # the notification centre
    center = NotificationCenter(store)
    center._store([Notification("customer_reply", HOSTILE, f"Reply: {HOSTILE}",
                                int(time.time() * 1000), "hostile-1", case_id, done.key)])
    panel = NotificationPanel(center, window.bridge)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.sig_loaded, timeout=10_000):
        panel.refresh()
    item = panel.list.item(0)
    assert item.text().startswith(f"↩  {HOSTILE}\nReply: {HOSTILE}\n")
    assert shown(item.toolTip()) == f"{HOSTILE}\nReply: {HOSTILE}"
    assert panel.title.textFormat() == PLAIN
    panel.shutdown()
    center.close()


def test_attachment_chip_and_error_are_plain(window: Any, qtbot: Any, monkeypatch: Any) -> None:
    from app.operations import intake

    bar = window.detail.attachments
    assert bar.error.textFormat() == PLAIN
    monkeypatch.setenv(intake.PASTE_MAX_BYTES_ENV, "100")
    mime = QMimeData()
    mime.setText(HOSTILE * 10)  # 230 bytes: over the 100-byte limit
    errors: list[str] = []
    bar.sig_error.connect(errors.append)
    assert bar.attach_mime(mime)
    assert errors and "over the limit of 100 bytes" in errors[0]
    assert bar.error.text() == errors[0] and bar.error.textFormat() == PLAIN


# --- the rest of the sweep: every view that shows data from a case, a teammate, a server
# answer or a file. EVIL mixes a heading, an image, a link and an entity.
LINK = "<a href=x>link</a>"
EVIL = f"{HOSTILE}{LINK}&amp;"
RAW_MARKUP = ("<h1>", "<img", "<a href=x>")


def rendered(rich: str) -> str:
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def assert_no_live_markup(root: Any) -> None:
    """No label under ``root`` would render the data's markup: each is plain text, or
    rich text that carries the data escaped."""
    from PySide6.QtWidgets import QLabel

    for label in root.findChildren(QLabel):
        if label.textFormat() == PLAIN:
            continue
        text = label.text()
        if label.textFormat() == Qt.TextFormat.AutoText and not GuiQt.mightBeRichText(text):
            continue
        assert not any(m in text for m in RAW_MARKUP), (label.objectName(), text)


def test_sidebar_agent_and_saved_views_are_plain(qapp: Any, qtbot: Any) -> None:
    from app.ui.sidebar import Sidebar

    bar = Sidebar(EVIL)
    qtbot.addWidget(bar)
    assert bar.who.textFormat() == PLAIN and bar.who.text() == EVIL
    bar.set_counts({"counts": {}, "saved": [{"name": EVIL, "query": f"tag:{EVIL}"}]})
    item = bar.saved.item(0)
    assert item.text() == EVIL  # item text is never rich
    assert shown(item.toolTip()) == f"tag:{EVIL}"
    assert_no_live_markup(bar)


def test_signatures_panel_rows_tooltips_and_merge_question_are_plain(
        window: Any, qtbot: Any, monkeypatch: Any) -> None:
    from PySide6.QtWidgets import QMessageBox

    from app.ui import signatures_panel as sp

    panel = sp.SignaturesPanel(window.bridge, confirm=lambda _q: False)
    qtbot.addWidget(panel)
    sig = {"title": EVIL, "kind": "error_code", "key": f"error_code:{EVIL}", "count": 2,
           "first_line": 3, "last_line": 3, "attachment": EVIL, "sha256": None}
    related = {"id": "c2", "key": f"SUP-2{LINK}", "subject": EVIL, "status": "open",
               "product": EVIL, "shared": [EVIL], "linked": False, "count": 1}
    panel._show({"key": "SUP-1", "signatures": [sig], "groups": [{"summary": EVIL}],
                 "related": [related]})
    item = panel.tree.topLevelItem(0)
    assert item.text(0) == EVIL and item.text(3) == EVIL
    assert shown(item.toolTip(0)) == f"Error code: {EVIL}\nkey: error_code:{EVIL}"
    assert panel.headline.textFormat() == PLAIN and panel.headline.text() == EVIL
    row = panel.rows[0]
    assert row.subject.textFormat() == PLAIN and shown(row.subject.toolTip()) == EVIL
    assert row.shared.textFormat() == PLAIN and row.shared.text() == f"Shares {EVIL}"
    # the key is a link: rich text on purpose, the key escaped inside it
    assert row.key_label.textFormat() == Qt.TextFormat.RichText
    assert rendered(row.key_label.text()) == f"SUP-2{LINK}"
    assert shown(row.merge_button.toolTip()) == f"Merge SUP-2{LINK} into this case"
    assert_no_live_markup(panel)
    panel._fail(f"could not merge {EVIL}")
    assert panel.error.textFormat() == PLAIN and panel.error.text() == f"could not merge {EVIL}"

    asked: list[tuple[Any, str]] = []

    def fake_exec(box: QMessageBox) -> int:
        asked.append((box.textFormat(), box.text()))
        return int(QMessageBox.StandardButton.Cancel.value)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    assert sp._ask(f"Merge SUP-2 ({EVIL}) into SUP-1?") is False
    assert asked == [(PLAIN, f"Merge SUP-2 ({EVIL}) into SUP-1?")]


def test_new_case_dialog_errors_are_plain(window: Any, qtbot: Any) -> None:
    from app.operations.errors import OperationError
    from app.ui.new_case_dialog import NewCaseDialog

    dialog = NewCaseDialog(window.bridge, [("a1", EVIL)])
    qtbot.addWidget(dialog)
    dialog.subject.setText("A subject")
    dialog.requester.setText(EVIL)
    dialog.submit()
    label = dialog.errors["requester_email"]
    assert label.textFormat() == PLAIN and label.text() == f"'{EVIL}' is not an email address."
    dialog._failed(OperationError(EVIL))
    assert dialog.general_error.textFormat() == PLAIN and EVIL in dialog.general_error.text()
    assert_no_live_markup(dialog)


def test_llm_dialog_answer_lines_and_errors_are_plain(window: Any, qtbot: Any) -> None:
    from app.operations.llm import Preview
    from app.ui.llm_dialog import LlmDialog

    key = str(window.detail.detail["key"])
    dialog = LlmDialog(window.bridge, key)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.built is not None, timeout=10_000)
    dialog._show_preview(Preview(case_id="c", case_key=key, template="t", answer_sha256="",
                                 data={}, info=[EVIL], warnings=[EVIL]))
    from PySide6.QtWidgets import QLabel

    texts = {lab.text(): lab.textFormat() for lab in dialog.findChildren(QLabel)}
    assert texts[EVIL] == PLAIN and texts[f"⚠ {EVIL}"] == PLAIN
    dialog._fail(EVIL)
    assert dialog.error.textFormat() == PLAIN and dialog.error.text() == EVIL
    assert dialog.description.textFormat() == PLAIN
    assert_no_live_markup(dialog)


def test_sign_in_error_and_sync_status_tooltip_are_plain(
        window: Any, qtbot: Any, monkeypatch: Any) -> None:
    from app.ui.sync_ui import SignInDialog

    dialog = SignInDialog(window.sync)
    qtbot.addWidget(dialog)
    dialog.show_error(f"the server said {EVIL}")
    assert dialog.error.textFormat() == PLAIN
    assert dialog.error.text() == f"the server said {EVIL}"
    assert_no_live_markup(dialog)
    status = window.sync_status
    monkeypatch.setattr(status, "health_messages", lambda: [f"refused: {EVIL}"])
    status.refresh()
    assert shown(status.toolTip()).endswith(f"\nrefused: {EVIL}")
    assert f"refused: {EVIL}" in status.text()  # button text is never rich


def test_search_snippets_are_escaped_before_the_highlight(qapp: Any, qtbot: Any) -> None:
    from types import SimpleNamespace

    from PySide6.QtGui import QFont

    from app.ui.search_ui import (
        SearchResultsModel,
        SearchResultsView,
        hit_html,
        plain_snippet,
        snippet_html,
    )

    raw = f"before {EVIL} «{EVIL}» after «&lt;»"
    marked = snippet_html(raw)
    assert "<b>" in marked and rendered(marked) == plain_snippet(raw)
    hit = {"id": "c1", "key": "SUP-1", "subject": EVIL, "snippet": raw,
           "snippet_source": "comment", "status": "open", "priority": "high",
           "updated_ms": 0}
    assert rendered(hit_html(hit, QFont(), 4000)) == f"{EVIL}\n{plain_snippet(raw)} · in a comment"
    in_subject = dict(hit, snippet=f"«{EVIL}» tail", snippet_source="subject")
    assert rendered(hit_html(in_subject, QFont(), 4000)).startswith(f"{EVIL} tail\n")

    model = SearchResultsModel()
    model.set_hits([hit])
    tip = model.data(model.index(0, 1), Qt.ItemDataRole.ToolTipRole)
    assert shown(tip) == f"{EVIL}\n\n{plain_snippet(raw)}"
    view = SearchResultsView()
    qtbot.addWidget(view)
    view.show_result(SimpleNamespace(hits=[hit], total=1, took_ms=3.0, query=EVIL,
                                     suggestion=EVIL, notes=[EVIL]))
    assert view.notes.textFormat() == PLAIN and view.notes.text() == f"Note: {EVIL}"
    assert view.summary.textFormat() == PLAIN
    # "did you mean" is a link (rich text on purpose), the suggestion escaped in it
    assert rendered(view.suggestion.text()) == f"Did you mean {EVIL}?"
    assert_no_live_markup(view)


def test_dashboard_cards_and_titles_are_plain(qapp: Any) -> None:
    from app.ui.dashboard_widgets import Card, ChartPanel

    card = Card("Open")
    card.set(EVIL, f"top tag {EVIL}")
    assert (card.value.textFormat(), card.note.textFormat()) == (PLAIN, PLAIN)
    assert card.note.text() == f"top tag {EVIL}"
    panel = ChartPanel(EVIL)
    panel.subtitle.setText(EVIL)
    assert panel.title.textFormat() == PLAIN and panel.subtitle.textFormat() == PLAIN
    assert_no_live_markup(card)
    assert_no_live_markup(panel)


def test_terminal_prints_output_literally(window: Any) -> None:
    # columns of spaces kept too (HTML would collapse them)
    lines = [f"error: no case {EVIL}", "SUP-1    open     high", "  indented"]
    for line in lines:
        window.terminal._print(line)
    assert window.terminal.output.toPlainText().splitlines()[-3:] == lines


def test_plain_box_shows_text_literally(qapp: Any) -> None:
    from PySide6.QtWidgets import QMessageBox

    from app.ui.widgets import plain_box

    box = plain_box(QMessageBox.Icon.Critical, "Smart Support Agent", EVIL)
    assert box.textFormat() == PLAIN and box.text() == EVIL


def test_filter_error_and_sla_badge_tooltips_are_plain(window: Any, qtbot: Any) -> None:
    from app.ui.sla_badge import SlaBadge

    window._filter_invalid(f"unknown field '{EVIL}'")
    assert shown(window.filter_edit.toolTip()) == f"unknown field '{EVIL}'"
    badge = SlaBadge()
    qtbot.addWidget(badge)
    badge.show_status(None, error=EVIL)
    assert shown(badge.toolTip()) == f"The SLA cannot be computed: {EVIL}"
    assert_no_live_markup(badge)

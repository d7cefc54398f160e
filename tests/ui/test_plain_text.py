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
    panel = NotificationPanel(center)
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

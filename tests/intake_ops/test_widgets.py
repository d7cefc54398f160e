"""pytest-qt tests of the attachments bar, the LLM dialog and the signatures panel,
offscreen, on a real seeded store through the real Bridge."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SMART_SUPPORT_THEME", "light")

import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QColor, QDropEvent, QGuiApplication, QImage, QTextCursor  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app.operations import attachments as att  # noqa: E402
from app.operations import intake  # noqa: E402
from app.store import intake_queries as iq  # noqa: E402
from app.store import queries as q  # noqa: E402
from app.store import schema as s  # noqa: E402
from tests.intake_ops.conftest import case_id  # noqa: E402


@pytest.fixture
def bridge(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.bridge import Bridge

    make_application()
    b = Bridge(store)
    yield b
    qtbot.waitUntil(lambda: b.pending == 0, timeout=10_000)  # no job outlives the store
    b.shutdown()


def wait_idle(qtbot: Any, bridge: Any) -> None:
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=10_000)


# --- attachments bar --------------------------------------------------------------------
def test_attachments_bar_drop_paste_open_and_limit(qtbot: Any, bridge: Any, store: Any,
                                                   files: dict[str, Path]) -> None:
    from app.ui.attachments_bar import AttachmentsBar

    opened: list[QUrl] = []
    bar = AttachmentsBar(bridge, open_url=opened.append)
    qtbot.addWidget(bar)
    bar.resize(900, 130)
    bar.show()
    cid = case_id(store, "SUP-3")
    with qtbot.waitSignal(bar.sig_loaded, timeout=10_000):
        bar.set_case(cid)
    assert bar.chips == [] and bar.empty.isVisible()

    # drop a log file on the bar
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(files["all_styles.log"]))])
    drop = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(bar.sig_attached, timeout=10_000):
        bar.dropEvent(drop)
    qtbot.waitUntil(lambda: len(bar.chips) == 1, timeout=10_000)
    assert bar.chips[0].row["name"] == "all_styles.log"
    assert "text log" in bar.chips[0].toolTip()

    # paste a screenshot from the clipboard
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(QColor("#3b5bdb"))
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(bar.sig_attached, timeout=10_000):
        bar.paste()
    qtbot.waitUntil(lambda: len(bar.chips) == 2, timeout=10_000)
    shot = bar.chips[1].row
    assert shot["mime"] == "image/png" and shot["name"].startswith("screenshot-")

    # click a chip: the blob opens in the system viewer (stubbed)
    qtbot.mouseClick(bar.chips[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    assert Path(opened[0].toLocalFile()).read_bytes()[:4] == b"\x89PNG"

    # too large: a clear message on the bar, nothing attached
    store.set_meta(att.MAX_BYTES_META, "100")
    with qtbot.waitSignal(bar.sig_error, timeout=10_000) as blocker:
        bar.attach_files([files["text.pdf"]])
    assert "over the limit of 100 bytes" in blocker.args[0]
    assert bar.error.isVisible() and "nothing was attached" in bar.error.text()
    assert len(store.read(lambda c: iq.case_attachments(c, cid))) == 2

    # remove with the chip's × button
    with qtbot.waitSignal(bar.sig_loaded, timeout=10_000):
        bar.chips[0].close_button.click()
    qtbot.waitUntil(lambda: len(bar.chips) == 1, timeout=10_000)
    wait_idle(qtbot, bridge)


# --- LLM dialog -------------------------------------------------------------------------
def test_llm_dialog_prompt_copy_paste_and_accept(qtbot: Any, bridge: Any, store: Any) -> None:
    from app.ui import llm_dialog
    from app.ui.llm_dialog import SECRET_HINT, LlmDialog

    before = store.read(lambda c: q.case_detail(c, case_id(store, "SUP-3")))
    dialog = LlmDialog(bridge, "SUP-3", template="triage")
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.sig_prompt_ready, timeout=10_000):
        pass
    built = dialog.built
    assert built is not None and dialog.template == "triage"
    shown = dialog.prompt_view.toPlainText()
    assert shown == built.text and before["requester"]["email"] not in shown
    # redactions are highlighted
    span = built.spans[0]
    cursor = QTextCursor(dialog.prompt_view.document())
    cursor.setPosition(span.start + 1)
    assert cursor.charFormat().background().color() == QColor(
        llm_dialog.KIND_COLORS[span.kind][0])

    # redact a selection the detectors missed
    word = "Umbrella" if "Umbrella" in shown else before["subject"].split()[0]
    start = shown.index(word)
    cursor = dialog.prompt_view.textCursor()
    cursor.setPosition(start)
    cursor.setPosition(start + len(word), QTextCursor.MoveMode.KeepAnchor)
    dialog.prompt_view.setTextCursor(cursor)
    assert dialog.redact_button.isEnabled()
    with qtbot.waitSignal(dialog.sig_prompt_ready, timeout=10_000):
        dialog.redact_button.click()
    assert word not in dialog.prompt_view.toPlainText()
    built = dialog.built

    # copy: the clipboard holds the prompt, marked secret; the copy is in the history
    dialog.copy_button.click()
    board = QGuiApplication.clipboard()
    assert board.text() == built.text
    mime = board.mimeData()
    assert mime is not None and bytes(mime.data(SECRET_HINT).data()) == b"secret"
    assert dialog.copy_timer is not None and dialog.copy_timer.isActive()
    wait_idle(qtbot, bridge)
    copied = store.read(lambda c: c.execute(select(s.events.c.payload).where(
        s.events.c.type == "llm.prompt_copied")).scalars().all())
    assert json.loads(copied[-1]) == {"template": "triage", "prompt_sha256": built.sha256}

    # paste the answer from the clipboard, untick a change, accept
    person = next(p for p, _ in built.redaction_map.items() if p.startswith("[PERSON"))
    new_priority = "urgent" if before["priority"] != "urgent" else "low"
    board.setText("```json\n" + json.dumps({
        "category": "question", "priority": new_priority, "product": "",
        "reason": f"{person} asked", "tags": ["from-llm"]}) + "\n```")
    with qtbot.waitSignal(dialog.sig_preview_ready, timeout=10_000):
        dialog.paste_button.click()
    labels = [box.text() for _, box, _ in dialog._boxes]
    assert any(label.startswith("Priority:") for label in labels)
    tag_box = next(box for change, box, _ in dialog._boxes if change.kind == "tags")
    tag_box.setChecked(False)
    with qtbot.waitSignal(dialog.sig_applied, timeout=10_000):
        dialog.accept_button.click()
    wait_idle(qtbot, bridge)
    after = store.read(lambda c: q.case_detail(c, case_id(store, "SUP-3")))
    assert after["priority"] == new_priority and "from-llm" not in after["tags"]


def test_llm_dialog_bad_answer_and_reply(qtbot: Any, bridge: Any, store: Any) -> None:
    from app.ui.llm_dialog import LlmDialog

    dialog = LlmDialog(bridge, "SUP-3", template="draft_reply")
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.sig_prompt_ready, timeout=10_000):
        pass
    dialog.answer.setPlainText('{"body": "no subject or language"}')
    dialog.read_answer()
    qtbot.waitUntil(dialog.error.isVisible, timeout=10_000)
    assert "does not fit the draft_reply template" in dialog.error.text()
    assert not dialog.accept_button.isEnabled()
    dialog.answer.setPlainText(json.dumps({"subject": "Re", "body": "Hello there",
                                           "language": "en"}))
    with qtbot.waitSignal(dialog.sig_preview_ready, timeout=10_000):
        dialog.read_answer()
    (change, box, editor) = dialog._boxes[0]
    assert change.kind == "reply" and editor is not None
    editor.setPlainText("Hello there, edited")
    with qtbot.waitSignal(dialog.sig_composer_text, timeout=10_000) as blocker:
        dialog.accept_button.click()
    assert blocker.args == ["Hello there, edited"]
    wait_idle(qtbot, bridge)


def test_copy_secret_clears_only_our_text(qtbot: Any, qapp: Any) -> None:
    from app.ui.llm_dialog import copy_secret

    board = QGuiApplication.clipboard()
    copy_secret("the prompt", board, clear_after_ms=30)
    qtbot.waitUntil(lambda: board.text() == "", timeout=5_000)
    copy_secret("the prompt", board, clear_after_ms=30)
    board.setText("something the agent copied since")
    qtbot.wait(100)
    assert board.text() == "something the agent copied since"


# --- signatures panel -------------------------------------------------------------------
def test_signatures_panel_context_link_and_merge(qtbot: Any, bridge: Any, store: Any,
                                                 files: dict[str, Path],
                                                 make: ModuleType) -> None:
    from app.ui.signatures_panel import SignaturesPanel

    att.attach(store, case="SUP-3", path=files["all_styles.log"])
    for key in ("SUP-4", "SUP-6"):
        intake.add_text(store, case=key, text="boot\ninstaller failed with ERR-1042\n")
    asked: list[str] = []
    panel = SignaturesPanel(bridge, confirm=lambda m: asked.append(m) or True)
    qtbot.addWidget(panel)
    panel.resize(760, 700)
    panel.show()
    opened: list[str] = []
    panel.sig_open_case.connect(opened.append)
    with qtbot.waitSignal(panel.sig_loaded, timeout=10_000) as blocker:
        panel.set_case(case_id(store, "SUP-3"))
    n_sigs, n_related = blocker.args
    assert n_sigs == panel.tree.topLevelItemCount() > 5 and n_related == 2
    assert "2 other cases show ERR-1042" in panel.headline.text()

    item = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                if panel.tree.topLevelItem(i).text(0) == "Error code ERR-1042")
    with qtbot.waitSignal(panel.sig_context_loaded, timeout=10_000):
        panel.tree.expandItem(item)
    texts = [item.child(i).text(0) for i in range(item.childCount())]
    assert any("installer failed with ERR-1042" in t and t.lstrip().startswith("40 ")
               for t in texts)

    rows = {row.case["key"]: row for row in panel.rows}
    rows["SUP-4"].key_label.linkActivated.emit("case:SUP-4")
    assert opened == ["SUP-4"]
    with qtbot.waitSignal(panel.sig_loaded, timeout=10_000):
        rows["SUP-4"].link_button.click()
    wait_idle(qtbot, bridge)
    links = store.read(lambda c: q.case_detail(c, case_id(store, "SUP-3")))["links"]
    assert [lk["key"] for lk in links] == ["SUP-4"]
    qtbot.waitUntil(lambda: any(r.case["key"] == "SUP-4" and not r.link_button.isEnabled()
                                for r in panel.rows), timeout=10_000)

    rows = {row.case["key"]: row for row in panel.rows}
    rows["SUP-6"].merge_button.click()
    qtbot.waitUntil(lambda: {r.case["key"] for r in panel.rows} == {"SUP-4"}, timeout=10_000)
    assert asked and "Merge SUP-6" in asked[0]
    merged = store.read(lambda c: q.case_detail(c, case_id(store, "SUP-6")))
    assert merged["merged_into"] == case_id(store, "SUP-3")
    wait_idle(qtbot, bridge)

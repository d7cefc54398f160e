"""The attachments bar reads a file off the database writer: a field edit on another case
completes while a 25 MB PDF is being parsed, the read shows progress and can be cancelled
(then nothing is kept). Offscreen, a real seeded store, the real Bridge; the parser is held
mid-file by an Event, so the order of events is certain without timing thresholds."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SMART_SUPPORT_THEME", "light")

import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from app.operations import attachments as att  # noqa: E402
from app.operations import cases as case_ops  # noqa: E402
from tests.intake_ops.conftest import case_id, snapshot  # noqa: E402


@pytest.fixture
def bridge(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.bridge import Bridge

    make_application()
    b = Bridge(store)
    yield b
    qtbot.waitUntil(lambda: b.pending == 0, timeout=60_000)  # no job outlives the store
    b.shutdown()


@pytest.fixture(scope="module")
def pdf_25mb(make: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "export-log.pdf"
    path.write_bytes(make.big_pdf(pages=2000))  # just under the 25 MiB attachment limit
    return path


class HeldParser:
    """Holds pypdf's page extraction at page ``at`` until :meth:`release` (a real parse
    of a real file, stopped where the test wants it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: int) -> None:
        from pypdf import PageObject

        self.reached = threading.Event()
        self.go = threading.Event()
        self.calls = 0
        original = PageObject.extract_text

        def extract_text(page: Any, *args: Any, **kwargs: Any) -> str:
            self.calls += 1
            if self.calls == at:
                self.reached.set()
                self.go.wait(60)  # released by the test (or its teardown)
            return str(original(page, *args, **kwargs))

        monkeypatch.setattr(PageObject, "extract_text", extract_text)

    def release(self) -> None:
        self.go.set()


def blob_files(data_dir: Path) -> list[Path]:
    root = data_dir / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def make_bar(qtbot: Any, bridge: Any, case: str) -> Any:
    from app.ui.attachments_bar import AttachmentsBar

    bar = AttachmentsBar(bridge)
    qtbot.addWidget(bar)
    bar.resize(900, 160)
    bar.show()
    with qtbot.waitSignal(bar.sig_loaded, timeout=10_000):
        bar.set_case(case)
    return bar


def test_a_field_edit_completes_while_a_25mb_pdf_is_parsed(
        qtbot: Any, bridge: Any, store: Any, pdf_25mb: Path, data_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cid = case_id(store, "SUP-3")
    bar = make_bar(qtbot, bridge, cid)
    held = HeldParser(monkeypatch, at=500)
    edited: list[Any] = []
    try:
        bar.attach_files([pdf_25mb])
        qtbot.waitUntil(held.reached.is_set, timeout=60_000)  # parsing page 500 of 2000
        bridge.run(case_ops.set_fields, case="SUP-5", changes={"priority": "urgent"},
                   on_done=edited.append)
        qtbot.waitUntil(lambda: bool(edited), timeout=10_000)  # the writer is free
        assert not held.go.is_set()  # ... and the parser is still held
        other = store.read(lambda c: att.case_attachments(c, case_id(store, "SUP-5")))
        assert other == [] and store.read(lambda c: att.case_attachments(c, cid)) == []
        [job] = bar.jobs
        qtbot.waitUntil(lambda: job.bar.value() >= 25, timeout=10_000)  # 10 + 89 * 500/2000
        assert job.isVisible() and job.cancel_button.isEnabled()
        assert "export-log.pdf" in job.label.full_text
    finally:
        held.release()
    with qtbot.waitSignal(bar.sig_attached, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: len(bar.chips) == 1, timeout=10_000)
    assert bar.chips[0].row["name"] == "export-log.pdf" and bar.jobs == []
    [row] = store.read(lambda c: att.case_attachments(c, cid))
    assert row["kind"] == "pdf" and row["size"] == pdf_25mb.stat().st_size
    assert blob_files(data_dir) == [att.blob_store(store).path_for(row["sha256"])]


def test_cancel_while_the_pdf_is_parsed_keeps_nothing(
        qtbot: Any, bridge: Any, store: Any, pdf_25mb: Path, data_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cid = case_id(store, "SUP-3")
    bar = make_bar(qtbot, bridge, cid)
    before = snapshot(store)
    held = HeldParser(monkeypatch, at=3)
    try:
        bar.attach_files([pdf_25mb])
        qtbot.waitUntil(held.reached.is_set, timeout=60_000)
        [job] = bar.jobs
        job.cancel_button.click()
        assert not job.cancel_button.isEnabled() and "Cancelling" in job.label.full_text
    finally:
        held.release()
    with qtbot.waitSignal(bar.sig_cancelled, timeout=60_000) as blocker:
        pass
    assert blocker.args == ["export-log.pdf"]
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=10_000)
    assert held.calls < 2000  # stopped after the page it was on
    assert bar.jobs == [] and "was cancelled; nothing was attached" in bar.error.text()
    assert snapshot(store) == before  # no event, no extracted row
    assert blob_files(data_dir) == []  # no blob, no staged copy
    assert bar.chips == []


def test_cancel_after_the_read_before_the_record_keeps_nothing(
        qtbot: Any, bridge: Any, store: Any, files: dict[str, Path], data_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A Cancel that comes after the last check of the reading thread (the file is read,
    its result not yet delivered) still keeps nothing: the preparation is discarded."""
    from PySide6.QtCore import QCoreApplication

    cid = case_id(store, "SUP-3")
    bar = make_bar(qtbot, bridge, cid)
    before = snapshot(store)
    gate = threading.Event()
    reading = threading.Event()
    original = att.prepare

    def slow_prepare(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        reading.set()
        gate.wait(30)  # the file is read; the GUI thread has not heard yet
        return result

    monkeypatch.setattr(att, "prepare", slow_prepare)
    try:
        bar.attach_files([files["all_styles.log"]])
        qtbot.waitUntil(reading.is_set, timeout=10_000)
        bar.jobs[0].cancel_button.click()
    finally:
        gate.set()
    with qtbot.waitSignal(bar.sig_cancelled, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: bridge.pending == 0, timeout=10_000)
    QCoreApplication.processEvents()
    assert snapshot(store) == before and blob_files(data_dir) == []


def test_pasted_text_is_read_off_the_writer_and_attached(
        qtbot: Any, bridge: Any, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pasted log text (up to 10 MB) is scanned on the reading thread, like a file."""
    from app.operations import intake

    cid = case_id(store, "SUP-3")
    bar = make_bar(qtbot, bridge, cid)
    threads: list[str] = []
    original = intake.prepare_text

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(intake, "prepare_text", spy)
    with qtbot.waitSignal(bar.sig_attached, timeout=30_000):
        bar.attach_text("10:00 sync failed with ERR-1042\n10:01 retry failed with ERR-1042\n")
    qtbot.waitUntil(lambda: len(bar.chips) == 1, timeout=10_000)
    assert bar.chips[0].row["name"] == "pasted.txt" and bar.jobs == []
    assert threads and threads[0].startswith("attach-read")  # not "db-writer"

"""Attaching in two steps on a real seeded store: ``prepare`` (staging, hashing, parsing:
off the writer, with progress and cancel) writes nothing; ``record`` is the short write."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.operations import attachments as att
from app.operations.errors import OperationError
from app.store import intake_queries as iq
from tests.intake_ops.conftest import case_id, snapshot


def files_under(root: Path) -> list[Path]:
    """Every file under the blob folder, the staging area included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture(scope="module")
def big_pdf(make: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "export-log.pdf"
    path.write_bytes(make.big_pdf(pages=300, size=3 * 1024 * 1024))
    return path


def test_prepare_writes_nothing_and_record_attaches(store: Any, big_pdf: Path,
                                                    data_dir: Path) -> None:
    before = snapshot(store)
    seen: list[int] = []
    prepared = att.prepare(store, case="SUP-3", path=big_pdf, on_progress=seen.append)
    assert snapshot(store) == before  # no event, no extracted row
    assert att.blob_store(store).has(prepared.extract.sha256) is False
    assert prepared.extract.kind == "pdf" and "ERR-1000" in prepared.extract.text
    assert seen == sorted(set(seen)) and seen[0] < 10 and seen[-1] >= 95  # copy, then pages
    aid, changes = att.record(store, prepared=prepared)
    cid = case_id(store, "SUP-3")
    assert changes.event_ids == [aid] and changes.case_ids == {cid}
    rows = store.read(lambda c: iq.case_attachments(c, cid))
    assert [(r["name"], r["kind"], r["sha256"]) for r in rows] == [
        ("export-log.pdf", "pdf", prepared.extract.sha256)]
    blob = att.blob_store(store).path_for(prepared.extract.sha256)
    assert blob.read_bytes() == big_pdf.read_bytes()
    assert files_under(data_dir / "blobs") == [blob]  # the staging folder is gone


def test_cancel_while_a_pdf_is_parsed_leaves_no_blob_and_no_event(store: Any, big_pdf: Path,
                                                                   data_dir: Path) -> None:
    before = snapshot(store)
    progress: list[int] = []
    with pytest.raises(att.Cancelled, match="was cancelled; nothing was attached"):
        att.prepare(store, case="SUP-3", path=big_pdf, on_progress=progress.append,
                    should_cancel=lambda: bool(progress) and progress[-1] >= 40)
    assert 40 <= progress[-1] < 95  # stopped between two pages, not at the end
    assert snapshot(store) == before
    assert files_under(data_dir / "blobs") == []


def test_cancel_while_staging_and_discard_after_reading(store: Any, tmp_path: Path,
                                                        data_dir: Path) -> None:
    log = tmp_path / "service.log"
    log.write_bytes(b"10:00 sync failed with ERR-1042\n" * 200_000)  # 6.4 MB: several chunks
    before = snapshot(store)
    calls: list[int] = []

    def stop_after_one_chunk() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(att.Cancelled):
        att.prepare(store, case="SUP-3", path=log, should_cancel=stop_after_one_chunk)
    assert files_under(data_dir / "blobs") == []
    prepared = att.prepare(store, case="SUP-3", path=log)
    att.discard(prepared)  # cancelled after it was read: nothing is kept
    assert snapshot(store) == before and files_under(data_dir / "blobs") == []
    with pytest.raises(OperationError, match="nothing was attached"):
        att.record(store, prepared=prepared)  # a discarded preparation cannot be recorded
    assert snapshot(store) == before


def test_refusals_of_prepare_write_nothing(store: Any, tmp_path: Path, data_dir: Path,
                                           files: dict[str, Path]) -> None:
    before = snapshot(store)
    with pytest.raises(OperationError, match="no case"):
        att.prepare(store, case="SUP-999999", path=files["text.pdf"])
    with pytest.raises(OperationError, match="not a PDF file.*--force"):
        att.prepare(store, case="SUP-3", path=files["not_a_pdf.pdf"])
    with pytest.raises(OperationError, match="cannot read missing.log"):
        att.prepare(store, case="SUP-3", path=tmp_path / "missing.log")
    assert snapshot(store) == before and files_under(data_dir / "blobs") == []


def test_same_content_prepared_twice_is_one_blob(store: Any, files: dict[str, Path],
                                                 data_dir: Path) -> None:
    first = att.prepare(store, case="SUP-3", path=files["all_styles.log"])
    second = att.prepare(store, case="SUP-4", path=files["all_styles.log"])
    att.record(store, prepared=first)
    att.record(store, prepared=second)
    blob = att.blob_store(store).path_for(first.extract.sha256)
    assert files_under(data_dir / "blobs") == [blob]
    for key in ("SUP-3", "SUP-4"):
        cid = case_id(store, key)
        assert len(store.read(lambda c, i=cid: iq.case_attachments(c, i))) == 1


def test_a_refused_record_keeps_no_blob(store: Any, files: dict[str, Path],
                                        data_dir: Path) -> None:
    prepared = att.prepare(store, case="SUP-3", path=files["all_styles.log"])
    prepared.case = "SUP-999999"  # the case is gone by the time the writer gets to it
    before = snapshot(store)
    with pytest.raises(OperationError, match="no case 'SUP-999999'"):
        att.record(store, prepared=prepared)
    assert snapshot(store) == before and files_under(data_dir / "blobs") == []


def test_staging_folders_of_a_dead_process_are_swept(store: Any, files: dict[str, Path],
                                                     data_dir: Path) -> None:
    tmp = data_dir / "blobs" / "tmp"
    stale, fresh = tmp / "stage-crashed", tmp / "stage-in-use"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
        (folder / "report.pdf").write_bytes(b"%PDF-1.4 half copied")
    day_ago = time.time() - 25 * 3600
    os.utime(stale, (day_ago, day_ago))
    att.attach(store, case="SUP-3", path=files["all_styles.log"])
    assert not stale.exists() and (fresh / "report.pdf").is_file()

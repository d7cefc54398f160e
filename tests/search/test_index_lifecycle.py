"""The index is derived data: rebuilt when missing, damaged or outdated; caught up by seq."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import index as windex

from app.operations import cases as ops
from app.search import indexer
from app.search.service import SearchService
from app.search.state import STATE_FILE, IndexState
from app.store.repo import Store
from tests.search.conftest import CORPUS, ME, make_store, subjects


def _service(tmp: Path, store: Store) -> SearchService:
    svc = SearchService(tmp, store, procs=1)
    svc.ensure_index()
    return svc


@pytest.fixture()
def built(tmp_path: Path) -> tuple[Path, Store]:
    store = make_store(tmp_path, CORPUS)
    _service(tmp_path, store).close()
    return tmp_path, store


def test_first_open_builds_and_reopen_does_not(built: tuple[Path, Store]) -> None:
    tmp, store = built
    svc = SearchService(tmp, store, procs=1)
    svc.ensure_index()
    assert svc.last_build_seconds is None  # opened, not rebuilt
    assert svc.search("okta", me=ME).total == 1
    svc.close()


def test_missing_seq_marker_rebuilds(built: tuple[Path, Store]) -> None:
    tmp, store = built
    (tmp / "index" / STATE_FILE).unlink()
    svc = _service(tmp, store)
    assert svc.last_build_seconds is not None
    assert svc.search("okta", me=ME).total == 1
    assert svc.verify() == []
    svc.close()


def test_corrupt_segment_rebuilds(built: tuple[Path, Store]) -> None:
    tmp, store = built
    segments = [p for p in (tmp / "index").iterdir() if p.suffix in (".seg", ".trm", ".pst")]
    assert segments
    for seg in segments:
        data = bytearray(seg.read_bytes())
        seg.write_bytes(bytes(b ^ 0x5A for b in data[: len(data) // 2]))
    svc = _service(tmp, store)
    assert svc.last_build_seconds is not None
    assert subjects(svc, "printers ") [0] == "Printer offline in the Berlin office"
    assert svc.verify() == []
    svc.close()


def test_schema_version_bump_rebuilds(built: tuple[Path, Store],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tmp, store = built
    monkeypatch.setattr(indexer, "SCHEMA_VERSION", indexer.SCHEMA_VERSION + 1)
    svc = _service(tmp, store)
    assert svc.last_build_seconds is not None
    state = IndexState.load(tmp / "index")
    assert state is not None and state.version == indexer.SCHEMA_VERSION
    svc.close()


def test_crash_after_commit_before_marker_catches_up(built: tuple[Path, Store]) -> None:
    tmp, store = built
    svc = _service(tmp, store)
    before = IndexState.load(tmp / "index")
    assert before is not None
    ops.create_case(store, subject="Narwhal keyboard issue")
    assert svc.catch_up() == 1
    svc.close()
    before.save(tmp / "index")  # as if the process died before writing the marker
    svc = _service(tmp, store)
    assert svc.last_build_seconds is None
    assert svc.search("narwhal", me=ME).total == 1  # re-indexed once, not duplicated
    assert svc.indexed_seq == before.seq + 1
    assert svc.verify() == []
    svc.close()


def test_events_while_closed_are_caught_up_on_open(built: tuple[Path, Store]) -> None:
    tmp, store = built
    key = ops.create_case(store, subject="Offline yak shaving")[1]
    ops.tag(store, case=key, add=["yak"])
    svc = _service(tmp, store)
    assert [h["key"] for h in svc.search("tag:yak", me=ME).hits] == [key]
    svc.close()


def test_progress_and_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(tmp_path, CORPUS)
    monkeypatch.setattr(indexer, "PROGRESS_EVERY", 3)
    seen: list[tuple[int, int]] = []
    svc = SearchService(tmp_path, store, procs=1)
    with pytest.raises(indexer.IndexCancelled):
        svc.ensure_index(progress=lambda d, t: seen.append((d, t)), cancel=lambda: bool(seen))
    assert seen == [(3, 10)]
    assert not (tmp_path / "index").exists()  # nothing half-built is left
    assert not (tmp_path / "index.building").exists()
    svc.ensure_index(progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (10, 10)
    assert svc.search("okta", me=ME).total == 1
    svc.close()


def test_verify_finds_a_tampered_index(built: tuple[Path, Store]) -> None:
    tmp, store = built
    svc = _service(tmp, store)
    assert svc.verify() == []
    victim = svc.search("okta", me=ME).hits[0]
    svc.close()
    ix = windex.open_dir(str(tmp / "index"))
    with ix.writer() as w:
        w.delete_by_term("id", victim["id"])
    ix.close()
    svc = _service(tmp, store)
    problems = svc.verify()
    assert any("holds 9 case documents" in p for p in problems), problems
    assert any(victim["key"] in p and "missing" in p for p in problems), problems
    svc.close()


def test_verify_reports_stale_fields(built: tuple[Path, Store]) -> None:
    tmp, store = built
    svc = _service(tmp, store)
    key = svc.search("okta", me=ME).hits[0]["key"]
    svc.close()
    ops.set_fields(store, case=key, changes={"status": "solved"})
    IndexState(indexer.SCHEMA_VERSION, 10**9).save(tmp / "index")  # claims to be current
    svc = SearchService(tmp, store, procs=1)
    svc.ensure_index()
    problems = svc.verify()
    assert any(key in p and "status" in p for p in problems), problems
    svc.close()


def test_parallel_build_answers_like_single_process(built: tuple[Path, Store],
                                                    tmp_path_factory: pytest.TempPathFactory,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    tmp, store = built
    monkeypatch.setattr(indexer, "PARALLEL_MIN", 0)
    single = _service(tmp, store)
    other = tmp_path_factory.mktemp("parallel")
    parallel = SearchService(other, store, procs=2)
    ticks: list[tuple[int, int]] = []
    parallel.ensure_index(progress=lambda d, t: ticks.append((d, t)))
    assert ticks[-1] == (10, 10)
    assert len([p for p in (other / "index").iterdir() if p.suffix == ".seg"]) >= 2
    for query in ("printers", '"log file"', "status:open", "org:acme OR tag:sso", "okt"):
        a, b = single.search(query, me=ME), parallel.search(query, me=ME)
        assert (a.total, {h["id"] for h in a.hits}) == (b.total, {h["id"] for h in b.hits})
    assert parallel.verify() == []
    single.close()
    parallel.close()

"""Indexing as an import meets it: progress, cases findable batch by batch, the commit hook,
and ``smart-support import`` bringing the index up to date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from whoosh.index import Index

from app.cli import main
from app.paths import db_path
from app.search import indexer
from app.search.service import SearchService
from app.store.importer import import_file
from app.store.repo import Store
from tests.search.conftest import ME, write_jsonl


def _cases(token: str, n: int) -> list[dict[str, Any]]:
    return [{"subject": f"{token} case {i}", "description": f"Report {i} about the {token}.",
             "requester": {"name": f"Req {i}", "email": f"req{i}@{token}.example"},
             "created_at": "2026-01-02T10:00:00Z",
             "comments": [{"body": f"Reply {i}", "created_at": "2026-01-02T11:00:00Z"}]}
            for i in range(n)]


def _found(service: SearchService, token: str) -> int:
    return service.search(token, me=ME).total


def test_catch_up_commits_each_batch_searchable_with_progress(
        fresh: tuple[Store, SearchService], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, service = fresh
    report = import_file(store, write_jsonl(tmp_path / "more.jsonl", _cases("zephyr", 12)))
    assert report.imported == 12
    monkeypatch.setattr(indexer, "CATCH_UP_BATCH", 10)  # events a batch: several batches
    seen: list[tuple[int, int, int]] = []
    count = service.catch_up(
        progress=lambda done, behind: seen.append((done, behind, _found(service, "zephyr"))))
    assert count > 20 and len(seen) >= 3
    dones = [d for d, _, _ in seen]
    assert dones == sorted(dones) and seen[-1][0] == seen[-1][1] == count
    found = [f for _, _, f in seen]
    assert found == sorted(found)
    assert 0 < found[0] < 12  # the first batch is findable before the last is indexed
    assert found[-1] == 12 and _found(service, "zephyr") == 12


def test_segment_committed_hook_after_build_and_each_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(indexer, "SEGMENT_COMMITTED", [])

    @indexer.on_segment_committed
    def hook(ix: Index) -> None:
        with ix.searcher() as s:
            calls.append(s.doc_count())

    indexer.on_segment_committed(hook)  # registering twice runs it once
    store = Store(tmp_path / "store.db")
    store.set_actor(ME)
    import_file(store, write_jsonl(tmp_path / "a.jsonl", _cases("alpha", 3)))
    service = SearchService(tmp_path, store, procs=1)
    service.ensure_index()
    assert len(calls) == 1 and calls[0] >= 3  # the full build's commit
    import_file(store, write_jsonl(tmp_path / "b.jsonl", _cases("beta", 4)))
    monkeypatch.setattr(indexer, "CATCH_UP_BATCH", 4)
    service.catch_up()
    assert len(calls) >= 3 and calls == sorted(calls) and calls[-1] > calls[0]
    service.close()
    store.close()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_import_indexes_with_progress(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    first = write_jsonl(tmp_path / "first.jsonl", _cases("quokka", 5))
    code, out, err = _run(["--data-dir", str(data), "import", str(first), "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["imported"] == 5 and result["indexed"] is True
    assert "indexing 5/5" in err  # a full build reports cases
    second = write_jsonl(tmp_path / "second.jsonl", _cases("wombat", 3))
    code, out, err = _run(["--data-dir", str(data), "import", str(second)], capsys)
    assert code == 0 and out.startswith("imported 3 cases")
    assert "indexing " in err  # the catch-up reports events
    store = Store(db_path(data))
    service = SearchService(data, store, procs=1)
    service.ensure_index()
    assert service.last_build_seconds is None  # opened as it was left: current, no rebuild
    assert _found(service, "quokka") == 5 and _found(service, "wombat") == 3
    service.close()
    store.close()


def test_cli_import_no_index_leaves_the_index_alone(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    path = write_jsonl(tmp_path / "c.jsonl", _cases("numbat", 2))
    code, out, err = _run(["--data-dir", str(data), "import", str(path), "--json",
                           "--no-index"], capsys)
    assert code == 0 and json.loads(out)["imported"] == 2 and "indexed" not in json.loads(out)
    assert "indexing" not in err and not (data / "index").exists()

"""The search controller alone (no main window), on a real seeded store and a real index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.changes import Changes
from app.operations import cases as ops
from app.operations.search import dir_lock

WAIT = 30_000


@pytest.fixture
def bridge(qapp: Any, store: Any) -> Iterator[Any]:
    from app.ui.bridge import Bridge

    b = Bridge(store)
    yield b
    b.shutdown()


@pytest.fixture
def search(bridge: Any, data_dir: Path) -> Iterator[Any]:
    from app.ui.search_ui import SearchController

    ctl = SearchController(bridge, data_dir)
    bridge.sig_changes_applied.connect(ctl.on_changes)
    yield ctl
    ctl.shutdown()


def test_index_opens_searches_and_follows_comments(search: Any, bridge: Any,
                                                   qtbot: Any) -> None:
    with qtbot.waitSignal(search.sig_ready, timeout=WAIT):
        search.start()
    with qtbot.waitSignal(search.sig_results, timeout=WAIT) as got:
        search.search("printer")
    assert got.args[0].query == "printer" and got.args[0].total > 0

    # Changes that touch no case text do not start an indexing run; a comment does.
    search.on_changes(Changes(views=True, sync=True, remote=True))
    assert not search.indexing
    case_id = got.args[0].hits[0]["id"]
    with qtbot.waitSignal(search.sig_updated, timeout=WAIT):
        bridge.run(ops.comment, case=case_id, body="the zebracorn ate the toner")
    with qtbot.waitSignal(search.sig_results, timeout=WAIT) as got:
        search.search("zebracorn")
    assert [h["id"] for h in got.args[0].hits] == [case_id]


def test_a_cancelled_build_says_so_and_can_start_again(search: Any, qtbot: Any) -> None:
    search.cancel_indexing()
    with qtbot.waitSignal(search.sig_failed, timeout=WAIT) as failed:
        search.start()
    assert failed.args[0].startswith("Indexing cancelled")
    assert not search.started and not search.ready
    with qtbot.waitSignal(search.sig_ready, timeout=WAIT):
        search.start()


def test_one_index_lock_per_folder(tmp_path: Path) -> None:
    assert dir_lock(tmp_path / "a") is dir_lock(tmp_path / "a" / ".." / "a")
    assert dir_lock(tmp_path / "a") is not dir_lock(tmp_path / "b")

"""Search as the UI runs it: open the index service, build or catch up the index, run a query.

Qt-free. ``open_service``, ``ensure_index`` and ``catch_up`` run on the window's indexing
thread, ``run_search`` on a reader. Whoosh (``app.search.service``) is imported only there,
so opening a window does not pay for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select

from app.search.help import HELP_TEXT
from app.store import schema as s
from app.store.repo import Store

if TYPE_CHECKING:
    from app.search.service import SearchResult, SearchService

__all__ = ["HELP_TEXT", "IndexCancelled", "catch_up", "dir_lock", "ensure_index",
           "case_count", "open_service", "run_search"]

# Below this many cases the index builds in-process: worker processes cost more to start
# than they save.
IN_PROCESS_CASES = 20_000

_DIR_LOCKS: dict[str, threading.Lock] = {}
_DIR_LOCKS_GUARD = threading.Lock()


class IndexCancelled(Exception):
    """The indexing was cancelled (the window closed, or the agent clicked Cancel)."""


def dir_lock(data_dir: Path) -> threading.Lock:
    """One index writer per folder in this process: a window closed while building (its
    build still winding down after the cancel) and a new window on the same folder."""
    with _DIR_LOCKS_GUARD:
        return _DIR_LOCKS.setdefault(str(Path(data_dir).resolve()), threading.Lock())


def case_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(s.cases)).scalar() or 0)


def open_service(data_dir: Path, store: Store) -> SearchService:
    """Indexing thread: the search service of ``data_dir`` (the index is not opened yet)."""
    from app.search.service import SearchService

    cases = store.read(case_count)
    return SearchService(data_dir, store, procs=1 if cases < IN_PROCESS_CASES else None)


def ensure_index(service: SearchService, progress: Callable[[int, int], None],
                 cancel: threading.Event) -> int:
    """Indexing thread: open (or rebuild) the index, then catch up; the indexed seq.
    Raises :class:`IndexCancelled` when ``cancel`` is set during a build."""
    from app.search.indexer import IndexCancelled as BuildCancelled

    try:
        service.ensure_index(progress=progress, cancel=cancel)
    except BuildCancelled as exc:
        raise IndexCancelled(str(exc)) from exc
    return int(service.indexed_seq)


def catch_up(service: SearchService) -> int:
    """Indexing thread: index the events applied since the last run; how many."""
    return int(service.catch_up())


def run_search(service: SearchService, query: str, me: str, limit: int) -> SearchResult:
    """Reader thread: ``query`` for the agent ``me``, the best ``limit`` hits."""
    return service.search(query, me=me, limit=limit)

"""The database worker: one writer thread (SQLite likes a single writer) and reader threads.

The UI never runs SQL itself: it submits functions here and gets a ``Future`` back.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from app.store.repo import Store

T = TypeVar("T")


class DatabaseWorker:
    def __init__(self, store: Store, readers: int = 2) -> None:
        self.store = store
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="db-reader")

    def write(self, fn: Callable[..., T], /, **kwargs: Any) -> Future[T]:
        """Run ``fn(store, **kwargs)`` on the writer thread (an operation)."""
        return self._writer.submit(fn, self.store, **kwargs)

    def read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on a reader thread (a query, a search)."""
        return self._readers.submit(fn, *args, **kwargs)

    def shutdown(self) -> None:
        self._writer.shutdown(wait=True, cancel_futures=False)
        self._readers.shutdown(wait=False, cancel_futures=True)

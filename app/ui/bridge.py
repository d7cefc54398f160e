"""The Qt bridge: runs operations and queries off the UI thread, answers on the GUI thread.

The UI thread never runs SQL. Widgets call :meth:`Bridge.read` (a query on a reader thread)
or :meth:`Bridge.run` (an operation on the single writer thread). The worker's future
reports back through a queued Qt signal, so callbacks always run on the GUI thread.

Every successful operation ends in **one** ``sig_changes_applied(Changes)`` emission; views
subscribe once and refresh only the part the flags name (``cases``/``case_ids``,
``comments``, ``views``, ``sync``...).
"""

from __future__ import annotations

import itertools
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from app.core.changes import Changes
from app.operations.errors import OperationError
from app.operations.store import Store, StoreError
from app.operations.worker import DatabaseWorker

Callback = Callable[[Any], None]
ErrorCallback = Callable[[Exception], None]


def now_ms() -> int:
    return int(time.time() * 1000)


def find_changes(result: Any) -> Changes | None:
    """The ``Changes`` an operation returned (alone or inside a tuple)."""
    if isinstance(result, Changes):
        return result
    if isinstance(result, tuple):
        for item in result:
            if isinstance(item, Changes):
                return item
    changes = getattr(result, "changes", None)
    return changes if isinstance(changes, Changes) else None


def describe(exc: BaseException) -> str:
    """A message for the agent: domain errors as is, anything else with its type."""
    if isinstance(exc, OperationError | StoreError):
        return str(exc)
    if isinstance(exc, ValueError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Bridge(QObject):
    """Owns the :class:`DatabaseWorker`; the one door from widgets to the store."""

    sig_changes_applied = Signal(object)
    """Changes: emitted on the GUI thread after every successful operation. Views refresh
    only the part its flags name. Never emitted for reads."""

    sig_error = Signal(str)
    """str: an operation or query failed; the message is meant for the agent."""

    sig_message = Signal(str)
    """str: a short note for the status bar (the last operation's label)."""

    sig_busy = Signal(int)
    """int: how many jobs are in flight (0 when idle); tests and screenshots wait on it."""

    _sig_done = Signal(object, object, object, bool)  # token, result, exc, tracked

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.worker = DatabaseWorker(store)
        # HTTP (sync, sign-in) runs here, never on the writer: a slow server must not block
        # local writes. Its store transactions are short and serialized by the store's lock.
        self._network = ThreadPoolExecutor(max_workers=1, thread_name_prefix="network")
        self._pending = 0
        self._closed = False
        # The callbacks of jobs in flight, by token. They stay on the GUI thread: a callback
        # holds widgets, and a widget whose last reference a worker thread dropped would be
        # deleted twice (PySide defers it to the GUI thread, after Qt already deleted it).
        self._callbacks: dict[int, tuple[Callback | None, ErrorCallback | None]] = {}
        self._tokens = itertools.count()
        self._sig_done.connect(self._deliver)

    # --- public API ---------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return self._pending

    def read(self, fn: Callable[..., Any], /, *args: Any, on_done: Callback | None = None,
             on_error: ErrorCallback | None = None, track: bool = True) -> None:
        """Run ``fn(*args)`` on a reader thread; ``on_done(result)`` on the GUI thread.
        ``track=False``: a background refresh that ``pending`` (and idleness) ignores."""
        if self._closed:
            return  # the window closed: a late timer's query is dropped
        self._submit(self.worker.read(fn, *args), on_done, on_error, track=track)

    def query(self, fn: Callable[..., Any], /, *args: Any, on_done: Callback | None = None,
              on_error: ErrorCallback | None = None, **kwargs: Any) -> None:
        """Run ``store.read(lambda conn: fn(conn, *args, **kwargs))`` on a reader thread."""
        store = self.store
        self.read(lambda: store.read(lambda conn: fn(conn, *args, **kwargs)),
                  on_done=on_done, on_error=on_error)

    def run(self, op: Callable[..., Any], /, *, on_done: Callback | None = None,
            on_error: ErrorCallback | None = None, initiator: object | None = None,
            **kwargs: Any) -> None:
        """Run the operation ``op(store, **kwargs)`` on the writer thread.

        On success ``on_done(result)`` runs, then ``sig_changes_applied`` is emitted with the
        operation's ``Changes``, their ``initiator`` set to ``initiator`` (the view that asked
        and updates itself from ``result``). On failure ``on_error`` runs if given, else
        ``sig_error``.
        """

        if self._closed:
            return
        self._submit(self.worker.write(op, **kwargs), self._applied(on_done, initiator),
                     on_error)

    def _applied(self, on_done: Callback | None, initiator: object | None = None) -> Callback:
        """The completion of a write: ``on_done(result)``, then the result's Changes (and
        their message) are announced, so every view refreshes from one signal."""

        def done(result: Any) -> None:
            changes = find_changes(result)
            if changes is not None and initiator is not None:
                changes.initiator = initiator
            if on_done is not None:
                on_done(result)
            if changes is not None:
                if changes.message:
                    self.sig_message.emit(changes.message)
                self.sig_changes_applied.emit(changes)

        return done

    def network(self, op: Callable[..., Any], /, *, on_done: Callback | None = None,
                on_error: ErrorCallback | None = None, **kwargs: Any) -> None:
        """Like :meth:`run`, but ``op(store, **kwargs)`` runs on the network thread (sync,
        sign-in: HTTP that may hang until its timeout). Local writes go on meanwhile."""

        if self._closed:
            return
        self._submit(self._network.submit(op, self.store, **kwargs), self._applied(on_done),
                     on_error)

    def background(self, executor: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any,
                   on_done: Callback | None = None, on_error: ErrorCallback | None = None,
                   track: bool = True) -> None:
        """Run ``fn(*args)`` on ``executor`` (indexing, analytics, notifications threads);
        callbacks on the GUI thread. ``track=False``: long work ``pending`` ignores.
        ``fn`` and ``args`` are released on the worker: they must hold no widget."""
        if self._closed:
            return
        self._submit(executor.submit(fn, *args), on_done, on_error, track=track)

    def shutdown(self) -> None:
        self._closed = True
        self._network.shutdown(wait=False, cancel_futures=True)
        self.worker.shutdown()

    # --- plumbing -----------------------------------------------------------------------
    def _submit(self, future: Future[Any], on_done: Callback | None,
                on_error: ErrorCallback | None, *, track: bool = True) -> None:
        if track:
            self._pending += 1
            self.sig_busy.emit(self._pending)
        token = next(self._tokens)
        self._callbacks[token] = (on_done, on_error)
        bridge = weakref.ref(self)  # the worker holds no widget and no bridge

        def finished(f: Future[Any]) -> None:
            # Worker thread: hand over to the GUI thread through a queued signal.
            if f.cancelled():
                return
            exc = f.exception()
            target = bridge()
            if target is None:
                return
            try:
                target._sig_done.emit(token, None if exc else f.result(), exc, track)
            except RuntimeError:  # the bridge was deleted while the job ran
                pass

        future.add_done_callback(finished)

    @Slot(object, object, object, bool)
    def _deliver(self, token: int, result: Any, exc: Exception | None,
                 tracked: bool = True) -> None:
        on_done, on_error = self._callbacks.pop(token, (None, None))
        if tracked:
            self._pending -= 1
        try:
            if self._closed:
                return
            if exc is not None:
                if on_error is not None:
                    on_error(exc)
                else:
                    self.sig_error.emit(describe(exc))
            elif on_done is not None:
                on_done(result)
        finally:
            if tracked:
                self.sig_busy.emit(self._pending)

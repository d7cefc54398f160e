"""Starting and stopping workers: in-process under ``serve`` (the app's lifespan) or alone
under ``smart-support-server worker``."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import IO

from sync_server.db import make_engine, migrate
from sync_server.jobs.worker import Worker, WorkerConfig, sqlite_worker_lock
from sync_server.mail.poll import Poller, mail_poller
from sync_server.notify import Notice
from sync_server.settings import JOB_HANDLERS_ENV, Settings, SettingsError
from sync_server.state import AppState

log = logging.getLogger(__name__)


def register_handlers(settings: Settings) -> None:
    """The integrations' handlers (``sync_server.integrations.register_all``, when present)
    and any extra registrars in settings.job_handlers ("module:function", comma separated)."""
    try:
        integrations = importlib.import_module("sync_server.integrations")
    except ImportError:
        integrations = None
    register_all = getattr(integrations, "register_all", None)
    if callable(register_all):
        register_all(settings)
    for spec in filter(None, (part.strip() for part in settings.job_handlers.split(","))):
        module_name, _, function_name = spec.partition(":")
        try:
            function = getattr(importlib.import_module(module_name),
                               function_name or "register")
        except (ImportError, AttributeError) as exc:
            raise SettingsError(f"{JOB_HANDLERS_ENV} names {spec!r}, which cannot be "
                                f"loaded: {exc}") from None
        function(settings)


async def run_periodic(settings: Settings, stop: asyncio.Event) -> None:
    """Each integration's periodic tasks (``periodic_tasks(settings)``: (interval_s, make
    coroutine) pairs, e.g. the refresh of linked JIRA issues), until ``stop``. A task that
    raises is logged and runs again at its next interval."""
    try:
        integrations = importlib.import_module("sync_server.integrations")
    except ImportError:
        return
    periodic = getattr(integrations, "periodic_tasks", None)
    tasks = periodic(settings) if callable(periodic) else []

    async def every(interval_s: float, make: Callable[[], Awaitable[object]]) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            if stop.is_set():
                return
            try:
                await make()
            except Exception:
                log.exception("periodic integration task failed")

    await asyncio.gather(*(every(float(interval), make) for interval, make in tasks))


async def _work(worker: Worker, settings: Settings, stop: asyncio.Event,
                mail: Poller | None = None) -> None:
    # The team mailboxes' poller (sync_server/mail) runs beside the job workers.
    await asyncio.gather(worker.run(stop), run_periodic(settings, stop),
                         *([mail.run(stop)] if mail is not None else []))


class RunningWorkers:
    def __init__(self, task: asyncio.Task[None], stop_event: asyncio.Event,
                 lock: IO[str]) -> None:
        self._task, self._stop, self._lock = task, stop_event, lock

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Let running attempts end (their leases cover a hard stop), then release."""
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        finally:
            self._lock.close()


def start_workers(state: AppState) -> RunningWorkers | None:
    """Workers inside the HTTP server process (call from its event loop)."""
    lock = sqlite_worker_lock(state.settings.db_url)
    if lock is None:
        log.warning("another process runs the job workers of this SQLite database; "
                    "this one only serves HTTP")
        return None

    def announce(seq: int, teams: frozenset[str]) -> None:
        if not state.settings.is_postgres:  # PostgreSQL: NOTIFY at commit tells every process
            state.broadcaster.publish(Notice(seq=seq, teams=teams))

    worker = Worker(state.engine, WorkerConfig.from_settings(state.settings),
                    server_clock=state.clock, on_event=announce)
    mail = mail_poller(state.engine, state.settings, secret=state.secret,
                       blobs=state.blob_store, clock=state.clock, on_event=announce)
    stop = asyncio.Event()
    return RunningWorkers(asyncio.create_task(_work(worker, state.settings, stop, mail)), stop,
                          lock)


async def run_alone(settings: Settings) -> int:
    """``smart-support-server worker``: run until SIGTERM/SIGINT. Exit code 1 if another
    process already runs the workers of this SQLite database."""
    engine = make_engine(settings.db_url, pool_size=max(2, settings.job_workers))
    try:
        migrate(engine)
        register_handlers(settings)
        lock = sqlite_worker_lock(settings.db_url)
        if lock is None:
            log.error("another process runs the job workers of this SQLite database")
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        worker = Worker(engine, WorkerConfig.from_settings(settings))
        try:
            await _work(worker, settings, stop, mail_poller(engine, settings))
        finally:
            lock.close()
        return 0
    finally:
        engine.dispose()

"""Sync as the UI runs it: sign in and out, a sync round, presence, the saved session, and
the scheduler and live stream the sync controller owns.

Qt-free. The network functions run on the bridge's network thread, the reads on a reader.
``app.sync`` is imported lazily (httpx, keyring, APScheduler) so a window opens without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.core.changes import Changes
from app.core.errors import AppError
from app.operations.sync_health import SyncHealth, sync_health
from app.store.repo import Store

if TYPE_CHECKING:
    from app.sync.engine import SyncReport
    from app.sync.live import LiveStream
    from app.sync.scheduler import SyncScheduler
    from app.sync.session import SyncSession

__all__ = ["SyncHealth", "health_job", "load_session", "make_scheduler", "outcome_of",
           "presence_job", "sign_in", "sign_in_message", "sign_out", "start_live_stream",
           "sync_job"]


def load_session(store: Store) -> SyncSession | None:
    """Reader thread: the saved sign-in (server in meta, refresh token in the keyring)."""
    from app.sync.session import NotLoggedIn, session_for

    try:
        session = session_for(store)
    except NotLoggedIn:
        return None
    return session if session.email and session.logged_in else None


def sign_in(store: Store, *, server: str, email: str,
            password: str) -> tuple[SyncSession, Changes]:
    """Network thread: log in (the refresh token goes to the keyring, never the password)."""
    from app.sync.api import SyncApi
    from app.sync.session import SyncSession

    session = SyncSession(store, SyncApi(server.strip()))
    session.login(email.strip(), password)
    return session, Changes(rebuilt=True, sync=True, directory=True,
                            message=f"Signed in as {session.email}")


def sign_out(store: Store, *, session: SyncSession) -> Changes:
    session.logout()
    return Changes(sync=True, message="Signed out — working offline")


def sync_job(store: Store, *, session: SyncSession) -> SyncReport:
    """Network thread: one push + pull round. Its store transactions are short and
    serialized with local writes by the store's write lock.

    The round's changes are marked ``remote`` even when it only pushed: they are sync's
    answer, not a local edit, so views (and the controller, which pushes after every local
    edit) tell them apart by the flag."""
    from app.sync.engine import sync_once

    report = sync_once(store, session)
    report.changes.remote = True
    return report


def health_job(store: Store) -> SyncHealth:
    """Reader thread: held and refused events and the clock offset."""
    return sync_health(store)


def presence_job(session: SyncSession, case_id: str) -> list[dict[str, Any]]:
    """Reader thread: say we are viewing ``case_id``; who else is."""
    api = session.api
    session.call(lambda t: api.presence(t, case_id))
    return list(session.call(lambda t: api.who_is_viewing(t, case_id)))


def outcome_of(exc: BaseException) -> str:
    """A failed round as the scheduler counts it: signed-out, offline or error."""
    from app.sync.api import Offline, Unauthorized
    from app.sync.session import NotLoggedIn

    if isinstance(exc, NotLoggedIn | Unauthorized):
        return "signed-out"
    if isinstance(exc, Offline):
        return "offline"
    return "error"


def sign_in_message(exc: BaseException) -> str:
    """What the sign-in dialog says about a failed sign-in."""
    from app.sync.api import ApiError, Offline, Unauthorized

    if isinstance(exc, Unauthorized):
        return "Wrong email or password."
    if isinstance(exc, Offline):
        return f"Cannot reach the server: {exc}"
    if isinstance(exc, ApiError):
        return f"The server refused the sign-in: {exc}"
    if isinstance(exc, ValueError | TypeError):  # a malformed URL, mostly
        return f"Check the server address: {exc}"
    if isinstance(exc, AppError):  # the store's and the operations' words are the agent's
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def make_scheduler(run_sync: Callable[[], Any], interval: float, *,
                   loop: asyncio.AbstractEventLoop,
                   on_state: Callable[[str], None]) -> SyncScheduler:
    """The APScheduler-driven sync timer on ``loop`` (not started)."""
    from app.sync.scheduler import SyncScheduler

    return SyncScheduler(run_sync, interval, loop=loop, on_state=on_state)


def start_live_stream(session: SyncSession, on_hint: Callable[[int], None], *,
                      on_state: Callable[[str], None]) -> LiveStream:
    """The server-sent-event stream of ``session``'s server, started on its own thread."""
    from app.sync.live import LiveStream, session_token

    live = LiveStream(session.server, session_token(session), on_hint, on_state=on_state)
    live.start()
    return live

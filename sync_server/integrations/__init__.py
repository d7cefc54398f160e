"""The remote systems the server's job queue talks to (issue 11).

The worker (sync_server/jobs) calls :func:`register_all` when it starts and runs each of
:func:`periodic_tasks` every ``interval_s`` seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from sync_server.settings import Settings

PeriodicTask = tuple[float, Callable[[], Coroutine[Any, Any, Any]]]
_INSTALLED: dict[str, Any] = {}  # db url -> the Jira of the configured site
_SALESFORCE: dict[str, Any] = {}  # db url -> the Salesforce of the configured org
_MAIL: dict[str, Any] = {}  # db url -> the engine of the mail sender


def _jira(settings: Settings) -> Any:
    from sync_server.integrations import jira

    if settings.jira is None:
        return None
    # Registered on every call (a test may have cleared the registry); the engine is kept.
    found = _INSTALLED[settings.db_url] = jira.install(
        settings.jira, settings.db_url, reuse=_INSTALLED.get(settings.db_url))
    return found


def _salesforce(settings: Settings) -> Any:
    from sync_server.integrations import salesforce

    if settings.salesforce is None:
        return None
    found = _SALESFORCE[settings.db_url] = salesforce.install(
        settings.salesforce, settings.db_url, reuse=_SALESFORCE.get(settings.db_url))
    return found


def _mail(settings: Settings) -> bool:
    """The team mailbox's sending (sync_server/mail/send.py): registered when this process
    has the secret that opens the mailbox passwords."""
    from sync_server.db import make_engine
    from sync_server.mail import send
    from sync_server.mail.poll import server_secret
    from sync_server.services.blobs import DbBlobStore, FsBlobStore

    secret = server_secret(settings)
    if not secret:
        return False
    engine = _MAIL.get(settings.db_url)
    if engine is None:
        engine = _MAIL[settings.db_url] = make_engine(settings.db_url)
    blobs = (DbBlobStore(engine) if settings.blob_store == "db"
             else FsBlobStore(settings.data_dir / "blobs"))
    send.install(engine, secret, blobs)
    return True


def register_all(settings: Settings) -> list[str]:
    """Register the handlers of every configured system; the systems registered."""
    systems = ["jira"] if _jira(settings) is not None else []
    systems += ["mail"] if _mail(settings) else []
    return systems + (["salesforce"] if _salesforce(settings) is not None else [])


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    """(interval in seconds, a function making the coroutine to run) for each periodic job:
    the refresh of linked JIRA issues (SMART_SUPPORT_JIRA_REFRESH_S)."""
    found = _jira(settings)
    if found is None or settings.jira is None:
        return []
    return [(settings.jira.refresh_s, found.refresh_linked)]


def forget_all() -> None:
    """Close the integrations' database engines and forget them (tests, shutdown)."""
    for installed in (*_INSTALLED.values(), *_SALESFORCE.values()):
        installed.dispose()
    for engine in _MAIL.values():
        engine.dispose()
    _INSTALLED.clear()
    _SALESFORCE.clear()
    _MAIL.clear()

"""What an integration handler sees and returns: the contract between the job queue
(sync_server/jobs) and the integrations (sync_server/integrations).

A handler is ``async def handler(job, ctx) -> Done | Failed``; it raises :class:`Transient`
(timeouts, connection errors, 5xx: retried with backoff, counts against the breaker),
:class:`RateLimited` (429: retried after ``retry_after_s``) or :class:`Permanent` (400, 403,
404, validation: fails at once with the remote's message, no breaker failure). A job whose
``unknown_outcome`` is true may already have reached the remote system (an earlier attempt
timed out after sending, or its process was killed mid-call): the handler must look for
what that attempt made (e.g. JIRA: search by the request's label) before making it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Job:
    id: str
    request_id: str  # the client's idempotency key
    team_id: str
    case_id: str
    system: str
    site: str
    action: str
    params: dict[str, Any]
    attempts: int  # attempts started, this one included (1 on the first)
    created_ms: int
    unknown_outcome: bool = False  # an earlier attempt may have reached the remote


@dataclass(frozen=True)
class CommentView:
    id: str
    body: str
    internal: bool
    author: str
    at_ms: int


@dataclass(frozen=True)
class CaseView:
    """The case as the server's event log has it (folded when the job runs)."""

    id: str
    key: str | None
    subject: str
    description: str
    requester_email: str | None
    requester_name: str | None
    status: str | None
    priority: str | None
    comments: tuple[CommentView, ...] = ()
    url: str | None = None  # a link back to the case, when the server knows its public URL
    fields: dict[str, Any] = field(default_factory=dict)  # every folded field, as text


class JobContext(Protocol):
    now_ms: int

    def case(self) -> CaseView:
        """The job's case, folded from the server's events."""
        ...

    def links(self, system: str) -> list[dict[str, Any]]:
        """Records of ``system`` linked on the job's case (contract Record dicts, linked
        ones only), folded from integration.done / integration.record events."""
        ...


@dataclass(frozen=True)
class Done:
    message: str
    record: dict[str, Any] | None = None  # a contract Record (see app/core/event_schema.py)
    # Case field name -> new value: recorded as server-authored case.updated events after
    # the outcome event, in the same transaction (e.g. a field Salesforce owns).
    case_updates: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    reason: str
    remote_status: int | None = None


class Transient(Exception):
    """Worth another try later; a failure of the remote system (counts against its breaker)."""

    def __init__(self, reason: str, *, retry_after_s: float | None = None,
                 unknown_outcome: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.unknown_outcome = unknown_outcome  # the request may have reached the remote


class RateLimited(Transient):
    """429 / REQUEST_LIMIT_EXCEEDED: retried no sooner than ``retry_after_s``."""


class Permanent(Exception):
    """Cannot succeed as asked: fails the job at once with the remote system's message."""

    def __init__(self, reason: str, remote_status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.remote_status = remote_status


Handler = Callable[[Job, JobContext], Awaitable[Done | Failed]]
SiteFunction = Callable[[], str]

# (conn, job, outcome state, event type, payload) -> the event to record instead: a system
# whose outcomes are not integration.* events (the mailbox: mail.delivery) says which.
EventShaper = Callable[[Any, Job, str, str, dict[str, Any]], tuple[str, dict[str, Any]]]

_HANDLERS: dict[tuple[str, str], Handler] = {}
_SITES: dict[str, SiteFunction] = {}
_SHAPERS: dict[str, EventShaper] = {}
DEFAULT_SITE = "default"


def register(system: str, action: str, handler: Handler) -> None:
    """Make ``handler`` run the jobs of ``system``/``action`` (a later call replaces it)."""
    _HANDLERS[(system, action)] = handler


def register_site(system: str, site: SiteFunction) -> None:
    """The site (e.g. the JIRA base URL) a new job of ``system`` is run against: each
    (system, site) has its own breaker."""
    _SITES[system] = site


def site_of(system: str) -> str:
    function = _SITES.get(system)
    return function() if function is not None else DEFAULT_SITE


def handler_for(system: str, action: str) -> Handler | None:
    return _HANDLERS.get((system, action))


def register_events(system: str, shaper: EventShaper) -> None:
    """Make the outcome events of ``system``'s jobs what ``shaper`` returns."""
    _SHAPERS[system] = shaper


def outcome_event(conn: Any, job: Job, state: str, type_: str, payload: dict[str, Any]
                  ) -> tuple[str, dict[str, Any]]:
    shaper = _SHAPERS.get(job.system)
    return shaper(conn, job, state, type_, payload) if shaper is not None else (type_, payload)


def unregister_all() -> None:
    """Forget every handler and site function (tests)."""
    _HANDLERS.clear()
    _SITES.clear()
    _SHAPERS.clear()

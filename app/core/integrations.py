"""A case's integration state (JIRA, Salesforce), folded from its integration events.

Two projections, each a deterministic fold (any order, any repeats, the same state):

* a **link** per ``(case, system, remote_id)``: the record as the server last described it
  (``integration.done`` with a record, ``integration.record``). The record fetched last wins
  (``fetched_ms``, then the event's ``(hlc, id)``), so a slow refresh recorded after a
  webhook cannot put an older status back. An unlink is a record with ``linked`` false.
* a **request** per ``(case, request_id)``: what was asked (the earliest ``integration.requested`` of
  that id: the server runs that one) and its outcome (the latest of ``done`` / ``failed`` /
  ``waiting`` by ``(hlc, id)``: the server records them in order, and a retried job may
  follow a failure with a later outcome). With no outcome yet the state is ``pending``;
  readers show ``queued`` once the server has the request (its ``server_seq``), which is
  not part of the fold so that every device folds the same events to the same rows.

Remote events are untrusted: the schema (event_schema.py) has checked them; this fold still
reads every value defensively and never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.core import events as ev
from app.core.hlc import hlc_ms

SYSTEMS = ("jira", "salesforce")
PENDING, QUEUED, WAITING, DONE, FAILED = "pending", "queued", "waiting", "done", "failed"
REFUSED = "refused"  # the server refused the request event itself (read-time, like queued)
_OUTCOME_STATE = {ev.INTEGRATION_DONE: DONE, ev.INTEGRATION_FAILED: FAILED,
                  ev.INTEGRATION_WAITING: WAITING}
REQUEST_TYPES = frozenset({ev.INTEGRATION_REQUESTED, *_OUTCOME_STATE})
RECORD_TYPES = frozenset({ev.INTEGRATION_DONE, ev.INTEGRATION_RECORD})

# A JIRA issue key: project key (a capital letter, then capitals, digits or _), a dash, a
# number without leading zeros (JIRA's own rule for keys).
JIRA_KEY_RE = re.compile(r"[A-Z][A-Z0-9_]+-[1-9][0-9]*")
_MAX_TEXT = 4_000


def _str(value: Any, limit: int = 320) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(slots=True)
class LinkState:
    case_id: str
    system: str
    remote_id: str
    remote_key: str = ""
    kind: str = ""
    url: str = ""
    snapshot: dict[str, Any] = field(default_factory=dict)
    fetched_ms: int = 0
    linked: bool = False
    rank: str = ""  # the winning record's order: fetched_ms (13 digits) | hlc | id

    @property
    def status_category(self) -> str | None:
        value = self.snapshot.get("status_category")
        return value if isinstance(value, str) else None


@dataclass(slots=True)
class RequestState:
    request_id: str
    case_id: str
    system: str = ""
    action: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    requested_by: str = ""
    requested_ms: int | None = None
    request_clock: str = ""  # the requested event's (hlc|id); "" until it is seen
    state: str = PENDING
    message: str | None = None
    reason: str | None = None
    remote_status: int | None = None
    next_try_ms: int | None = None
    remote_key: str | None = None  # the record a done outcome named
    outcome_clock: str = ""
    updated_ms: int | None = None


def record_of(event: ev.Event) -> tuple[str, dict[str, Any]] | None:
    """``(system, record)`` when ``event`` describes a linked record, else None."""
    if event.type not in RECORD_TYPES:
        return None
    record = event.payload.get("record")
    system = event.payload.get("system")
    if not isinstance(record, dict) or not isinstance(system, str):
        return None
    if not _str(record.get("remote_id"), 200):
        return None
    return system[:32], record


def link_key_of(event: ev.Event) -> tuple[str, str, str] | None:
    """``(case_id, system, remote_id)`` of the link ``event`` describes."""
    found = record_of(event)
    if found is None or not event.case_id:
        return None
    system, record = found
    return event.case_id, system, _str(record.get("remote_id"), 200)


def request_id_of(event: ev.Event) -> str | None:
    if event.type not in REQUEST_TYPES or not event.case_id:
        return None
    return _str(event.payload.get("request_id"), 36) or None


def apply_link_event(link: LinkState, event: ev.Event) -> bool:
    """Fold one record-carrying event into ``link``; True if it won (changed the link)."""
    found = record_of(event)
    if found is None:
        return False
    _, record = found
    fetched = _int(record.get("fetched_ms"))
    fetched = fetched if fetched is not None and 0 <= fetched < 10**13 else hlc_ms(event.hlc)
    rank = f"{fetched:013d}|{event.clock}"
    if rank <= link.rank:
        return False
    snapshot = record.get("snapshot")
    link.rank = rank
    link.fetched_ms = fetched
    link.remote_key = _str(record.get("remote_key"), 200)
    link.kind = _str(record.get("kind"), 16)
    link.url = _str(record.get("url"), 2048)
    link.snapshot = dict(snapshot) if isinstance(snapshot, dict) else {}
    link.linked = record.get("linked") is True
    return True


def apply_request_event(req: RequestState, event: ev.Event) -> None:
    """Fold one request or outcome event into ``req`` (in place)."""
    p = event.payload
    clock = event.clock
    ms = hlc_ms(event.hlc)
    if req.updated_ms is None or ms > req.updated_ms:
        req.updated_ms = ms
    if event.type == ev.INTEGRATION_REQUESTED:
        if req.request_clock and clock >= req.request_clock:
            return  # the earliest request of this id is the one the server runs
        req.request_clock = clock
        req.system = _str(p.get("system"), 32)
        req.action = _str(p.get("action"), 32)
        params = p.get("params")
        req.params = dict(params) if isinstance(params, dict) else {}
        req.requested_by = _str(event.actor)
        req.requested_ms = ms
        return
    state = _OUTCOME_STATE.get(event.type)
    if state is None or clock <= req.outcome_clock:
        return
    req.outcome_clock = clock
    req.state = state
    if not req.request_clock:  # what was asked is known only from the outcome so far
        req.system = _str(p.get("system"), 32)
        req.action = _str(p.get("action"), 32)
    req.message = _str(p.get("message"), _MAX_TEXT) if state == DONE else None
    req.reason = None if state == DONE else _str(p.get("reason"), _MAX_TEXT)
    req.remote_status = _int(p.get("remote_status")) if state == FAILED else None
    req.next_try_ms = _int(p.get("next_try_ms")) if state == WAITING else None
    found = record_of(event) if state == DONE else None
    req.remote_key = (_str(found[1].get("remote_key"), 200) or None) if found else None


@dataclass(slots=True)
class IntegrationFold:
    """Links and requests folded in memory (a rebuild, a batch, a notification check)."""

    links: dict[tuple[str, str, str], LinkState] = field(default_factory=dict)
    # Keyed by (case_id, request_id): an outcome can only touch a request of its own case.
    requests: dict[tuple[str, str], RequestState] = field(default_factory=dict)

    def add(self, event: ev.Event) -> None:
        key = link_key_of(event)
        if key is not None:
            link = self.links.get(key)
            if link is None:
                link = self.links[key] = LinkState(*key)
            apply_link_event(link, event)
        request_id = request_id_of(event)
        if request_id is not None and event.case_id:
            req = self.requests.get((event.case_id, request_id))
            if req is None:
                req = RequestState(request_id, event.case_id)
                self.requests[(event.case_id, request_id)] = req
            apply_request_event(req, event)


def shown_state(req_state: str, *, at_server: bool, refused: bool) -> str:
    """The state an agent reads: ``pending`` becomes ``queued`` once the server has the
    request, or ``refused`` when the server would not take it."""
    if req_state != PENDING:
        return req_state
    if refused:
        return REFUSED
    return QUEUED if at_server else PENDING

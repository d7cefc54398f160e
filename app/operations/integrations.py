"""Integration requests (JIRA, Salesforce) from a case, and what a case knows of them.

A request is one ``integration.requested`` event in the outbox, so it works offline; the
server runs it with its own credentials and records the outcome as server-authored events
(app/core/integrations.py folds them). Every request is checked here first, so a bad key or
an unknown comment is refused with a clear message and nothing is recorded. Each function
returns ``(request_id, Changes)``; the request id (a fresh UUIDv7) is the idempotency key.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, select

from app.core import event_schema as es
from app.core import events as ev
from app.core.changes import Changes
from app.core.commands import EventFactory
from app.core.fold import CaseState
from app.core.ids import uuid7
from app.core.integrations import JIRA_KEY_RE, PENDING, WAITING, LinkState, shown_state
from app.core.sla import format_duration
from app.operations.errors import NotFound, OperationError
from app.store import queries as q
from app.store import schema as s
from app.store.db import StoreError
from app.store.integration_tables import json_object, link_state, request_state
from app.store.projector import load_case
from app.store.repo import Store

PROJECT_RE = re.compile(r"[A-Z][A-Z0-9_]+")
SYSTEM_NAMES = {"jira": "JIRA", "salesforce": "Salesforce"}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _case(conn: Connection, ref: str) -> CaseState:
    case_id = q.resolve_case(conn, ref)
    state = load_case(conn, case_id) if case_id else None
    if state is None or not state.exists or state.fields.get("deleted"):
        raise NotFound(f"no case '{ref}'")
    return state


def _label(state: CaseState) -> str:
    return str(state.fields.get("key") or state.id)


def jira_key(value: str) -> str:
    """A JIRA issue key as JIRA writes it (upper case), or OperationError saying why not."""
    key = str(value).strip().upper()
    if not JIRA_KEY_RE.fullmatch(key) or len(key) > es.MAX_KEY:
        raise OperationError(f"'{str(value).strip()[:80]}' is not a JIRA issue key: a project "
                             "key, a dash and a number, e.g. ENG-42")
    return key


def _links(conn: Connection, case_id: str, system: str) -> list[LinkState]:
    t = s.integration_links
    rows = conn.execute(select(t).where(t.c.case_id == case_id, t.c.system == system,
                                        t.c.linked.is_(True)).order_by(t.c.remote_key))
    return [link_state(r._mapping) for r in rows]


def _linked_issue(conn: Connection, state: CaseState, key: str) -> LinkState:
    for link in _links(conn, state.id, "jira"):
        if link.remote_key.upper() == key:
            return link
    raise OperationError(f"{key} is not linked to {_label(state)}")


ParamsOf = Callable[[Connection, CaseState], dict[str, Any]]


def _record(store: Store, case: str, system: str, action: str,
            params_of: ParamsOf) -> tuple[str, Changes]:
    """Record one request: ``params_of(conn, state)`` checks the case and gives the params."""
    request_id = uuid7()

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _case(conn, case)
        params: dict[str, Any] = params_of(conn, state)
        payload = {"request_id": request_id, "system": system, "action": action,
                   "params": params}
        try:  # what the server would refuse is refused here, before anything is recorded
            es.validate_payload(ev.INTEGRATION_REQUESTED, ev.SCHEMA_VERSION, payload)
        except es.InvalidEvent as exc:
            raise OperationError(f"{SYSTEM_NAMES[system]} {action}: {exc.reason}") from None
        return [f.make(ev.INTEGRATION_REQUESTED, payload, case_id=state.id,
                       team_id=state.fields.get("team_id"))]

    label = f"{SYSTEM_NAMES[system]}: {action} for {case.strip()}"
    try:
        # Not undoable: once sent, the server may already have run it.
        changes = store.record(build, label=label, undoable=False)
    except StoreError as exc:
        raise OperationError(str(exc)) from exc
    return request_id, changes


# --- JIRA ---------------------------------------------------------------------------------
def request_jira_create(store: Store, *, case: str, project: str | None = None,
                        issue_type: str | None = None,
                        comment_ids: Iterable[str] = ()) -> tuple[str, Changes]:
    """Ask for a new JIRA issue built from the case (and the chosen comments)."""
    wanted = list(dict.fromkeys(str(c).strip() for c in comment_ids))

    def params(conn: Connection, state: CaseState) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if project is not None:
            key = project.strip().upper()
            if not PROJECT_RE.fullmatch(key) or len(key) > es.MAX_KEY:
                raise OperationError(f"'{project.strip()[:80]}' is not a JIRA project key: "
                                     "capital letters, digits or _, starting with a letter")
            out["project"] = key
        if issue_type is not None:
            name = issue_type.strip()
            if not name or len(name) > es.MAX_KEY or _CONTROL_RE.search(name):
                raise OperationError("the issue type must be a name such as Bug or Task")
            out["issue_type"] = name
        if wanted:
            found = set(conn.execute(select(s.comments.c.id).where(
                s.comments.c.case_id == state.id, s.comments.c.known.is_(True),
                s.comments.c.redacted.is_(False),
                s.comments.c.id.in_(wanted))).scalars())
            missing = [c for c in wanted if c not in found]
            if missing:
                raise OperationError(f"{_label(state)} has no comment '{missing[0][:80]}'")
            out["comment_ids"] = wanted
        return out

    return _record(store, case, "jira", "create", params)


def request_jira_link(store: Store, *, case: str, issue_key: str) -> tuple[str, Changes]:
    """Ask to link an existing JIRA issue (by key) to the case."""
    key = jira_key(issue_key)

    def params(conn: Connection, state: CaseState) -> dict[str, Any]:
        if any(lk.remote_key.upper() == key for lk in _links(conn, state.id, "jira")):
            raise OperationError(f"{key} is already linked to {_label(state)}")
        r = s.integration_requests.c
        for params_text in conn.execute(select(r.params).where(
                r.case_id == state.id, r.system == "jira", r.action == "link",
                r.state.in_((PENDING, WAITING)))).scalars():
            if json_object(params_text).get("issue_key") == key:
                raise OperationError(f"a link of {key} to {_label(state)} is already "
                                     "requested")
        return {"issue_key": key}

    return _record(store, case, "jira", "link", params)


def request_jira_comment(store: Store, *, case: str, text: str,
                         issue: str | None = None) -> tuple[str, Changes]:
    """Ask to add ``text`` as a comment to the case's linked JIRA issue (``issue``: its key,
    needed when the case has several)."""
    body = str(text).strip()
    if not body:
        raise OperationError("the JIRA comment is empty")
    if len(body) > es.MAX_REMOTE_BODY:
        raise OperationError(f"the JIRA comment is {len(body):,} characters long; JIRA takes "
                             f"at most {es.MAX_REMOTE_BODY:,}")
    key = jira_key(issue) if issue is not None else None

    def params(conn: Connection, state: CaseState) -> dict[str, Any]:
        if key is not None:
            return {"issue": _linked_issue(conn, state, key).remote_id, "body": body}
        links = _links(conn, state.id, "jira")
        if not links:
            raise OperationError(f"no JIRA issue is linked to {_label(state)} yet: create or "
                                 "link one first")
        if len(links) > 1:
            keys = ", ".join(lk.remote_key for lk in links)
            raise OperationError(f"{_label(state)} has several JIRA issues ({keys}): say "
                                 "which one")
        return {"issue": links[0].remote_id, "body": body}

    return _record(store, case, "jira", "comment", params)


def request_jira_unlink(store: Store, *, case: str, issue_key: str) -> tuple[str, Changes]:
    """Ask to unlink a linked JIRA issue (by its key) from the case."""
    key = jira_key(issue_key)
    return _record(store, case, "jira", "unlink", lambda conn, state: {
        "remote_id": _linked_issue(conn, state, key).remote_id})


def request_jira_refresh(store: Store, *, case: str) -> tuple[str, Changes]:
    """Ask for a fresh snapshot of every JIRA issue linked to the case."""

    def params(conn: Connection, state: CaseState) -> dict[str, Any]:
        if not _links(conn, state.id, "jira"):
            raise OperationError(f"no JIRA issue is linked to {_label(state)}: nothing to "
                                 "refresh")
        return {}

    return _record(store, case, "jira", "refresh", params)


# --- Salesforce ---------------------------------------------------------------------------
def request_salesforce_sync(store: Store, *, case: str) -> tuple[str, Changes]:
    """Ask to create or update the case's Salesforce Case (an upsert on its id)."""
    return _record(store, case, "salesforce", "sync", lambda conn, state: {})


def request_salesforce_refresh(store: Store, *, case: str) -> tuple[str, Changes]:
    """Ask for fresh snapshots of the Salesforce records linked to the case."""
    return _record(store, case, "salesforce", "refresh", lambda conn, state: {})


def _email(value: str) -> str:
    email = str(value).strip()
    local, at, domain = email.rpartition("@")
    if (not at or not local or "." not in domain or domain.startswith(".")
            or len(email) > es.MAX_EMAIL or _CONTROL_RE.search(email) or " " in email):
        raise OperationError(f"'{email[:80]}' is not an e-mail address")
    return email


def case_of_requester(conn: Connection, email: str) -> str | None:
    """The most recently updated case (not deleted) whose requester has ``email``."""
    found = q.find_customer(conn, email)
    if not found:
        return None
    c = s.cases.c
    value = conn.execute(select(c.id).where(c.requester_id == found["id"], c.exists.is_(True),
                                            c.deleted.is_(False))
                         .order_by(c.updated_ms.desc(), c.id.desc()).limit(1)).scalar()
    return str(value) if value else None


def request_salesforce_lookup(store: Store, *, email: str,
                              case: str | None = None) -> tuple[str, Changes]:
    """Ask Salesforce for the Contact and Account of ``email``. Requests live on a case:
    ``case``, or else the latest case of the requester with that address."""
    address = _email(email)
    if case is None:
        case = store.read(lambda conn: case_of_requester(conn, address))
        if case is None:
            raise OperationError(f"no case has the requester {address}: name the case the "
                                 "lookup is for")
    return _record(store, case, "salesforce", "lookup", lambda conn, state: {
        "email": address})


# --- reading ------------------------------------------------------------------------------
def _iso(ms: int | None) -> str | None:
    if not ms:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def integrations_of(conn: Connection, case_id: str, *, now_ms: int | None = None,
                    unlinked: bool = False) -> dict[str, Any]:
    """The case's linked records (each with its last snapshot and its age, readable offline)
    and its requests (oldest first, each with its state, reason and next try)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    t = s.integration_links
    query = select(t).where(t.c.case_id == case_id)
    if not unlinked:
        query = query.where(t.c.linked.is_(True))
    links = []
    for row in conn.execute(query.order_by(t.c.system, t.c.remote_key, t.c.remote_id)):
        lk = link_state(row._mapping)
        age = max(0, now - lk.fetched_ms)
        links.append({"system": lk.system, "remote_id": lk.remote_id,
                      "remote_key": lk.remote_key, "kind": lk.kind, "url": lk.url,
                      "linked": lk.linked, "snapshot": lk.snapshot,
                      "status_category": lk.status_category, "fetched_ms": lk.fetched_ms,
                      "fetched": _iso(lk.fetched_ms), "age_ms": age,
                      "age": format_duration(age)})
    r = s.integration_requests
    rows = [request_state(m._mapping) for m in conn.execute(
        select(r).where(r.c.case_id == case_id)
        .order_by(r.c.requested_ms, r.c.updated_ms, r.c.request_id))]
    # pending becomes queued (or refused) by what the server said of the request event
    event_ids = [req.request_clock.rpartition("|")[2] for req in rows if req.request_clock]
    at_server: dict[str, tuple[bool, str | None]] = {}
    for i in range(0, len(event_ids), 500):
        for eid, seq, error in conn.execute(
                select(s.events.c.id, s.events.c.server_seq, s.events.c.sync_error)
                .where(s.events.c.id.in_(event_ids[i:i + 500]))):
            at_server[eid] = (seq is not None, error)
    requests = []
    for req in rows:
        seen, error = at_server.get(req.request_clock.rpartition("|")[2], (True, None))
        state = shown_state(req.state, at_server=seen, refused=error is not None)
        requests.append({
            "request_id": req.request_id, "system": req.system, "action": req.action,
            "params": req.params, "state": state,
            "reason": error if state == "refused" else req.reason, "message": req.message,
            "remote_status": req.remote_status, "remote_key": req.remote_key,
            "next_try_ms": req.next_try_ms, "next_try": _iso(req.next_try_ms),
            "requested_by": req.requested_by, "requested_ms": req.requested_ms,
            "requested": _iso(req.requested_ms), "updated_ms": req.updated_ms})
    return {"links": links, "requests": requests}


def case_integrations(store: Store, *, case: str,
                      now_ms: int | None = None) -> dict[str, Any]:
    """:func:`integrations_of` by case key (a read; the UI runs it on a reader thread)."""
    def read(conn: Connection) -> dict[str, Any]:
        return integrations_of(conn, _case(conn, case).id, now_ms=now_ms)

    return store.read(read)


def _shown(value: Any) -> str:
    """A snapshot value as text: a string, or a remote object's display name."""
    if isinstance(value, dict):
        value = value.get("displayName") or value.get("name")
    return " ".join(value.split())[:200] if isinstance(value, str) else ""


def summary_lines(integrations: dict[str, Any]) -> list[str]:
    """Lines for ``case show``: each linked record and each request that is not done."""
    lines = []
    for lk in integrations["links"]:
        snap = lk["snapshot"]
        status = _shown(snap.get("status")) or lk["status_category"] or "?"
        summary = (_shown(snap.get("summary")) or _shown(snap.get("name")))[:70]
        assignee = _shown(snap.get("assignee"))
        who = f" · {assignee}" if assignee else ""
        lines.append(f"  {SYSTEM_NAMES.get(lk['system'], lk['system'])} "
                     f"{lk['remote_key']}: {summary} [{status}{who}] · as of {lk['age']} ago")
    for r in integrations["requests"]:
        if r["state"] == "done":
            continue
        what = f"{SYSTEM_NAMES.get(r['system'], r['system'])} {r['action']}"
        detail = r["reason"] or ""
        if r["state"] == "waiting" and r["next_try"]:
            detail = f"{detail}; next try {r['next_try']}".strip("; ")
        lines.append(f"  {what}: {r['state']}" + (f" ({detail})" if detail else ""))
    return lines

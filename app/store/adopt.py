"""Work done before the first sign-in, made acceptable to the server at sign-in.

The server stores an event only if its actor is the signed-in user and its team is one of
theirs. Events recorded before signing in carry the placeholder actor (``me@localhost``), or,
from an older importer or the mail intake, the customer's address; imported cases have no
team. At sign-in, the events that never left this device (``server_seq`` null) are rewritten
in place: the signed-in agent becomes the actor (the original is kept in the payload), and a
``case.created`` gets the team inside its payload, so the server sees the case created in the
team rather than one ``case.updated`` per case (which, when the creation was refused, gave
teammates cases that have no ``case.created``).

Rewriting unsent events is safe because nobody else has them; the projections are patched so
they stay exactly what a rebuild of the rewritten log gives (tests compare the two).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from app.core import events as ev
from app.core.fold import CaseState, apply_case_event, comment_author
from app.store import schema as s
from app.store.projector import case_row, row_event

_CHUNK = 500


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def adopt_unsynced(conn: Connection, team_id: str, *, actor: str | None = None,
                   placeholder: str = "me@localhost", anyone: bool = False) -> int:
    """Give this device's unsent events ``team_id`` and (with ``actor``) the agent as author;
    returns how many events were rewritten.

    ``placeholder`` events are re-attributed; with ``anyone`` (the first sign-in: every
    unsent event was recorded on this device before any account), also events under any
    other address. The original actor is kept as ``payload.offline_actor``, and for a
    comment whose words were someone else's as ``payload.author`` (what the comment shows).
    """
    e = s.events.c
    rows = conn.execute(select(e.id, e.type, e.actor, e.team_id, e.payload, e.case_id, e.hlc)
                        .where(e.server_seq.is_(None)).order_by(e.seq)).all()
    adoption = _Adoption(team_id, actor, placeholder, anyone)
    for r in rows:
        adoption.add(r)
    adoption.write(conn)
    return len(adoption.updates)


@dataclass(slots=True)
class _Adoption:
    """The rewrites of the unsent events, and the projection rows they change."""

    team_id: str
    actor: str | None
    placeholder: str
    anyone: bool
    updates: list[tuple[str, str, str, str]] = field(default_factory=list)
    created_clock: dict[str, str] = field(default_factory=dict)  # case id -> clock of a
    # case.created now in the team
    comments: list[tuple[str, str]] = field(default_factory=list)  # (author, comment id)
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (author, attachment id)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (requested_by, request clock)

    def add(self, r: Any) -> None:
        reattribute = (self.actor is not None and r.actor != self.actor
                       and (r.actor == self.placeholder or self.anyone))
        payload: dict[str, Any] | None = None
        if r.type == ev.CASE_CREATED or reattribute:
            payload = json.loads(r.payload)
        team_in_payload = payload is not None and self._team_into_created(r, payload)
        new_actor = (self._take_over(r, payload) if reattribute and payload is not None
                     else r.actor)
        if not (reattribute or team_in_payload or r.team_id is None):
            return
        if reattribute:
            self._reattributed(r, payload or {}, new_actor)
        self.updates.append((r.team_id or self.team_id, new_actor,
                             _dump(payload) if payload is not None else r.payload, r.id))

    def _take_over(self, r: Any, payload: dict[str, Any]) -> str:
        """The signed-in agent as the event's actor; the original kept in the payload."""
        if self.actor is None:
            return str(r.actor)
        payload["offline_actor"] = r.actor
        if r.type == ev.COMMENT_ADDED and r.actor != self.placeholder and not payload.get("author"):
            payload["author"] = r.actor  # a customer's words stay the customer's
        return self.actor

    def _team_into_created(self, r: Any, payload: dict[str, Any]) -> bool:
        """A case.created without a team gets this one inside its fields."""
        if r.type != ev.CASE_CREATED or not r.case_id:
            return False
        fields = payload.get("fields")
        if not isinstance(fields, dict) or fields.get("team_id"):
            return False
        fields["team_id"] = self.team_id
        self.created_clock[r.case_id] = f"{r.hlc}|{r.id}"
        return True

    def _reattributed(self, r: Any, payload: dict[str, Any], new_actor: str) -> None:
        if r.type == ev.COMMENT_ADDED:
            changed = ev.Event(id=r.id, type=r.type, payload=payload, actor=new_actor,
                               device_id="", hlc=r.hlc, case_id=r.case_id)
            self.comments.append((comment_author(changed), r.id))
        elif r.type == ev.ATTACHMENT_ADDED:
            self.attachments.append((new_actor, r.id))
        elif r.type == ev.INTEGRATION_REQUESTED:
            self.requests.append((new_actor, f"{r.hlc}|{r.id}"))

    def write(self, conn: Connection) -> None:
        if self.updates:
            # A refusal for the old actor or a missing team no longer applies: send them again.
            conn.exec_driver_sql("UPDATE events SET team_id = ?, actor = ?, payload = ?, "
                                 "sync_error = NULL WHERE id = ? AND server_seq IS NULL",
                                 self.updates)
        if self.comments:
            conn.exec_driver_sql("UPDATE comments SET author = ? WHERE id = ?", self.comments)
        if self.attachments:
            conn.exec_driver_sql("UPDATE attachments SET author = ? WHERE id = ?",
                                 self.attachments)
        if self.requests:
            conn.exec_driver_sql("UPDATE integration_requests SET requested_by = ? "
                                 "WHERE request_clock = ?", self.requests)
        _team_from_created(conn, self.team_id, self.created_clock)


def _team_from_created(conn: Connection, team_id: str, created: dict[str, str]) -> None:
    """Decide the team field of the cases whose case.created now holds the team, as a
    rebuild of the rewritten log would: the greatest clock that wrote the field wins."""
    c = s.cases.c
    ids = list(created)
    changed: list[tuple[str | None, str, str]] = []
    refold: list[str] = []
    for i in range(0, len(ids), _CHUNK):
        for case_id, clocks_text in conn.execute(
                select(c.id, c.clocks).where(c.id.in_(ids[i:i + _CHUNK]))):
            clocks = json.loads(clocks_text or "{}")
            if "team_id" not in clocks:
                refold.append(case_id)  # the field's place in the clocks follows the log
            elif created[case_id] >= clocks["team_id"]:
                clocks["team_id"] = created[case_id]
                changed.append((team_id, json.dumps(clocks, separators=(",", ":"), sort_keys=True), case_id))
    changed += _refold_team(conn, refold)
    if changed:
        conn.exec_driver_sql("UPDATE cases SET team_id = ?, clocks = ? WHERE id = ?", changed)


def _refold_team(conn: Connection, ids: list[str]) -> list[tuple[str | None, str, str]]:
    """The team field and clocks of ``ids`` folded from their events in log order."""
    e = s.events.c
    out: list[tuple[str | None, str, str]] = []
    for i in range(0, len(ids), _CHUNK):
        states: dict[str, CaseState] = {}
        for row in conn.execute(select(s.events).where(e.case_id.in_(ids[i:i + _CHUNK]))
                                .order_by(e.seq)):
            event = row_event(row)
            if event.type in ev.CASE_EVENT_TYPES and event.case_id:
                state = states.setdefault(event.case_id, CaseState(id=event.case_id))
                apply_case_event(state, event)
        for case_id, state in states.items():
            out.append((state.fields.get("team_id"), case_row(state)["clocks"], case_id))
    return out

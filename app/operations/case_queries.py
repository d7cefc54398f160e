"""Reads behind the case view: the whole case (header, conversation, history, SLA,
conflicts, refused changes), the small read after a field edit, the signatures panel.

Every function runs on a reader thread (the UI calls them through its Bridge); a ``conn``
argument is a read connection from ``store.read``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from app.core import events as ev
from app.core.sla import SlaConfig, SlaStatus, sla_status
from app.operations.store import resolve_case

if TYPE_CHECKING:
    from app.store.repo import Store

__all__ = ["PATCH_FIELDS", "SLA_FIELDS", "case_refresh", "case_sla", "conflict_text", "current_sla",
           "history_ms", "load_case_bundle", "load_case_view", "load_panel", "now_ms",
           "resolve_case", "signature_context", "sla_config"]

PATCH_FIELDS = frozenset({"subject", "status", "priority", "type", "assignee_id", "product",
                          "due_at", "tags", "attachments"})
"""Fields the case view can show again from the case's row and its events alone (no
conversation, links, people or conflicts to read): :func:`case_refresh` suffices."""

SLA_FIELDS = frozenset({"status", "priority", "due_at", "team_id", "organization_id",
                        "deleted"})
"""Fields an SLA clock depends on: only their change recomputes the badge."""

FIELD_NAMES = {"assignee_id": "the assignee", "due_at": "the due date",
               "requester_id": "the requester", "team_id": "the team"}


def now_ms() -> int:
    return int(time.time() * 1000)


def history_ms(hlc: str) -> int:
    """The wall-clock milliseconds of an event's clock; 0 for a malformed one (a history
    row must show even when its clock does not parse)."""
    try:
        return int(str(hlc).split(".")[0])
    except ValueError:
        return 0


def sla_config(store: Store) -> SlaConfig:
    """The SLA configuration of the store's analytics read model (opened once, shared)."""
    from app.operations.insights import shared_model

    return shared_model(store).config


def case_sla(conn: Connection, case_id: str, config: SlaConfig, at_ms: int,
             history: list[dict[str, Any]] | None = None) -> SlaStatus:
    """The SLA clocks of one case at ``at_ms``, from its events (``history`` when the
    caller has read them already)."""
    from app.store import queries as q

    rows = history if history is not None else q.case_history(conn, case_id)
    events = [ev.Event(id=h["id"], type=h["type"], payload=h["payload"], actor=h["actor"],
                       device_id="", hlc=h["hlc"], case_id=case_id) for h in rows]
    return sla_status(events, config, at_ms)


def _agent_names(agents: list[dict[str, Any]]) -> dict[str, str]:
    names = {str(a["id"]): str(a["name"]) for a in agents}
    names.update({str(a.get("email")): str(a["name"]) for a in agents if a.get("email")})
    return names


def _describe_conflicts(conflicts: list[dict[str, Any]], names: dict[str, str]) -> None:
    """Adds ``remote_name`` and each side's ``*_text`` as the notice shows them."""
    for c in conflicts:
        actor = str(c["remote_actor"])
        c["remote_name"] = names.get(actor) or (actor.split("@")[0].replace(".", " ").title()
                                                if "@" in actor else actor)
        for side in ("local", "remote"):
            value = c[f"{side}_value"]
            if c["field"] == "assignee_id":
                value = names.get(str(value), value) if value else "Unassigned"
            c[f"{side}_text"] = str(value) if value not in (None, "") else "nothing"


def load_case_bundle(conn: Connection, case_id: str, *, sla: SlaConfig | None = None,
                     at_ms: int | None = None) -> dict[str, Any] | None:
    """The case, its history and the agents for the assignee picker; the comment bodies
    split into main text and folded sections; the SLA status when ``sla`` (the
    configuration) is given; open conflicts and refused changes."""
    from app.operations.intake import fold_sections
    from app.operations.sync_health import refused_in_case
    from app.store import queries as q
    from app.store.conflicts import open_conflicts

    detail = q.case_detail(conn, case_id)
    if detail is None:
        return None
    detail["history"] = q.case_history(conn, case_id)
    if detail.get("description"):
        detail["description_folded"] = fold_sections(str(detail["description"]))
    for comment in detail.get("comments", []):
        comment["folded"] = fold_sections(str(comment.get("body") or ""))
    if sla is not None:
        detail["sla"] = case_sla(conn, case_id, sla, at_ms or now_ms(), detail["history"])
    agents = q.directory(conn, "agents")
    detail["agents"] = [(a["id"], a["name"]) for a in agents]
    conflicts = open_conflicts(conn, case_id)
    _describe_conflicts(conflicts, _agent_names(agents))
    detail["conflicts"] = conflicts
    detail["refused"] = refused_in_case(conn, case_id)
    return detail


def load_case_view(store: Store, case_id: str, at_ms: int) -> dict[str, Any] | None:
    """The case view's whole load: the bundle with its SLA; a broken SLA configuration
    becomes ``sla_error`` (the badge says so) instead of failing the load."""
    config, error = None, None
    try:
        config = sla_config(store)
    except (OSError, ValueError) as exc:  # a broken sla.json
        error = str(exc)
    detail = store.read(lambda conn: load_case_bundle(conn, case_id, sla=config, at_ms=at_ms))
    if detail is not None and error:
        detail["sla_error"] = error
    return detail


def _history(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """The case's events, oldest first, as history rows (one statement: the view names
    actors from the agents it already holds)."""
    from app.store import schema as s
    from app.store.projector import row_event

    rows = conn.execute(select(s.events).where(s.events.c.case_id == case_id)
                        .order_by(s.events.c.hlc, s.events.c.id)).all()
    out = []
    for r in rows:
        e = row_event(r)
        out.append({"id": e.id, "type": e.type, "actor": e.actor, "actor_name": e.actor,
                    "hlc": e.hlc, "ms": history_ms(e.hlc), "summary": ev.describe(e),
                    "synced": e.server_seq is not None, "payload": e.payload})
    return out


def case_refresh(store: Store, case_id: str, *, sla: bool,
                 at_ms: int) -> dict[str, Any] | None:
    """The small read after a field edit (see :data:`PATCH_FIELDS`): the case's row (its
    fields as stored), its history and, when ``sla``, its SLA status — two statements.
    None when the case is gone."""
    from app.store import queries as q

    config, error = None, None
    if sla:
        try:
            config = sla_config(store)
        except (OSError, ValueError) as exc:
            error = str(exc)

    def read(conn: Connection) -> dict[str, Any] | None:
        row = q.case_state_row(conn, case_id)
        if row is None or not row["exists"]:
            return None
        fields = {k: v for k, v in row.items() if k != "clocks"}
        fields["tags"] = str(fields["tags"]).split() if fields.get("tags") else []
        history = _history(conn, case_id)
        out: dict[str, Any] = {"fields": fields, "history": history}
        if config is not None:
            out["sla"] = case_sla(conn, case_id, config, at_ms, history)
        if error:
            out["sla_error"] = error
        return out

    return store.read(read)


def conflict_text(c: dict[str, Any]) -> str:
    """"Ben changed priority to Urgent while you set it to Low"."""
    field = FIELD_NAMES.get(str(c["field"]), str(c["field"]).replace("_", " "))

    def nice(v: str) -> str:
        return v.replace("-", " ").capitalize() if v.islower() and " " not in v else v

    return (f"{c['remote_name']} changed {field} to {nice(c['remote_text'])} "
            f"while you set it to {nice(c['local_text'])}")


# --- the signatures panel ----------------------------------------------------------------
def load_panel(conn: Connection, case_id: str) -> dict[str, Any]:
    """The case key, its signatures and the related cases."""
    from app.store import intake_queries as iq
    from app.store import schema as s

    key = conn.execute(s.cases.select().with_only_columns(s.cases.c.key)
                       .where(s.cases.c.id == case_id)).scalar()
    return {"key": key, "signatures": iq.case_signatures(conn, case_id),
            "groups": iq.related_by_signature(conn, case_id),
            "related": iq.related_cases(conn, case_id)}


def signature_context(data_dir: Path, sha256: str, line: int,
                      radius: int) -> list[tuple[int, str]]:
    """The lines around ``line`` of the stored blob ``sha256`` (empty when it is absent)."""
    from app.store import intake_queries as iq

    return iq.signature_context(data_dir, sha256, line, radius)


def current_sla(store: Store, case_id: str, at_ms: int) -> SlaStatus:
    """The SLA clocks of one case now (the badge's minute tick)."""
    config = sla_config(store)
    return store.read(lambda conn: case_sla(conn, case_id, config, at_ms))

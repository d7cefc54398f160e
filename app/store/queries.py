"""Read models for the UI and the CLI. Plain rows and dicts; no Qt."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, or_, select

from app.core import events as ev
from app.core.model import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    STATUS_RANK,
    InvalidValue,
    Priority,
    Status,
    suggest,
)
from app.store import schema as s
from app.store.projector import row_event

LIST_COLUMNS = ("key", "subject", "status", "priority", "requester", "assignee", "updated_ms",
                "tags")
SORTABLE = {"key": s.cases.c.created_ms, "subject": s.cases.c.subject,
            "status": s.cases.c.status, "priority": s.cases.c.priority,
            "updated": s.cases.c.updated_ms, "created": s.cases.c.created_ms}
FILTER_FIELDS = ("status", "priority", "assignee", "tag", "product", "team", "type", "is",
                 "updated")


@dataclass(slots=True)
class CaseFilter:
    statuses: list[str] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)
    assignee: str | None = None  # agent id, "me" or "none"
    tags: list[str] = field(default_factory=list)
    product: str | None = None
    team: str | None = None
    type: str | None = None
    text: str | None = None
    updated_within_days: int | None = None
    include_merged: bool = False

    @staticmethod
    def parse(query: str) -> CaseFilter:
        """``status:open assignee:me tag:vip printer`` → a filter; bad fields raise."""
        flt = CaseFilter()
        words = []
        for token in query.split():
            name, sep, value = token.partition(":")
            if not sep:
                words.append(token)
                continue
            name = name.lower()
            if name not in FILTER_FIELDS:
                hint = suggest(name, list(FILTER_FIELDS))
                raise InvalidValue(f"unknown filter '{name}'"
                                   + (f" (did you mean '{hint}'?)" if hint else ""))
            flt.set(name, value)
        flt.text = " ".join(words) or None
        return flt

    def set(self, name: str, value: str) -> None:
        value = value.strip()
        setter = _SETTERS.get(name)
        if setter is None:
            setattr(self, name, value)
        else:
            setter(self, value)

    def _set_status(self, value: str) -> None:
        allowed = [x.value for x in Status] + ["open-all"]
        for v in value.split(","):
            if v not in allowed:
                raise InvalidValue(f"'{v}' is not a status ({', '.join(allowed)})")
            self.statuses += sorted(OPEN_STATUSES) if v == "open-all" else [v]

    def _set_priority(self, value: str) -> None:
        for v in value.split(","):
            if v not in [p.value for p in Priority]:
                raise InvalidValue(f"'{v}' is not a priority")
            self.priorities.append(v)

    def _set_assignee(self, value: str) -> None:
        self.assignee = value

    def _set_tag(self, value: str) -> None:
        self.tags.append(value.lower())

    def _set_updated(self, value: str) -> None:
        days = value.lstrip("<").lower()
        if not (days.endswith("d") and days[:-1].isdigit()):
            raise InvalidValue(f"'updated:{value}' should look like updated:<7d")
        self.updated_within_days = int(days[:-1])

    def _set_is(self, value: str) -> None:
        if value == "unassigned":
            self.assignee = "none"
        elif value == "open":
            self.statuses += sorted(OPEN_STATUSES)
        else:
            raise InvalidValue(f"'is:{value}' is not known (is:open, is:unassigned)")


# How CaseFilter.set reads each filter that is more than a plain value.
_SETTERS: dict[str, Callable[[CaseFilter, str], None]] = {
    "status": CaseFilter._set_status, "priority": CaseFilter._set_priority,
    "assignee": CaseFilter._set_assignee, "tag": CaseFilter._set_tag,
    "updated": CaseFilter._set_updated, "is": CaseFilter._set_is,
}


BUILTIN_VIEWS: dict[str, tuple[str, CaseFilter, str]] = {
    "my-open": ("My open cases",
                CaseFilter(statuses=sorted(OPEN_STATUSES), assignee="me"), "updated"),
    "unassigned": ("Unassigned",
                   CaseFilter(statuses=sorted(OPEN_STATUSES), assignee="none"), "updated"),
    "all-open": ("All open", CaseFilter(statuses=sorted(OPEN_STATUSES)), "updated"),
    "pending": ("Pending", CaseFilter(statuses=["pending"]), "updated"),
    "recent": ("Recently updated", CaseFilter(updated_within_days=7), "updated"),
    "solved": ("Solved", CaseFilter(statuses=["solved", "closed"]), "updated"),
}


def _conditions(flt: CaseFilter, me: str, now_ms: int) -> list[ColumnElement[bool]]:
    c = s.cases.c
    out: list[ColumnElement[bool]] = [c.exists.is_(True), c.deleted.is_(False)]
    if not flt.include_merged:
        out.append(c.merged_into.is_(None))
    if flt.statuses:
        out.append(c.status.in_(flt.statuses))
    if flt.priorities:
        out.append(c.priority.in_(flt.priorities))
    if flt.assignee == "none":
        out.append(c.assignee_id.is_(None))
    elif flt.assignee:
        out.append(c.assignee_id == (me if flt.assignee == "me" else flt.assignee))
    for tag in flt.tags:
        out.append(c.id.in_(select(s.case_tags.c.case_id).where(
            s.case_tags.c.tag == tag, s.case_tags.c.present.is_(True))))
    if flt.product:
        out.append(func.lower(c.product) == flt.product.lower())
    if flt.team:
        out.append(c.team_id == flt.team)
    if flt.type:
        out.append(c.type == flt.type)
    if flt.updated_within_days is not None:
        out.append(c.updated_ms >= now_ms - flt.updated_within_days * 86_400_000)
    if flt.text:
        for word in flt.text.split():
            like = f"%{word}%"
            out.append(or_(c.subject.like(like), c.key.like(like)))
    return out


def _apply_filter(q: Select[Any], flt: CaseFilter, me: str, now_ms: int) -> Select[Any]:
    return q.where(*_conditions(flt, me, now_ms))


def count_views(conn: Connection, filters: dict[str, CaseFilter], *, me: str,
                now_ms: int) -> dict[str, int]:
    """Counts for several views in one pass over the cases (the sidebar)."""
    if not filters:
        return {}
    cols = [func.coalesce(func.sum(case((and_(*_conditions(f, me, now_ms)), 1), else_=0)), 0)
            .label(f"v{i}") for i, f in enumerate(filters.values())]
    row = conn.execute(select(*cols).select_from(s.cases)).one()
    return {name: int(row[i]) for i, name in enumerate(filters)}


def _sort_column(sort: str) -> Any:
    c = s.cases.c
    if sort == "priority":  # by urgency, not alphabetically
        return case(PRIORITY_RANK, value=c.priority, else_=-1)
    if sort == "status":  # in workflow order
        return case(STATUS_RANK, value=c.status, else_=-1)
    if sort == "requester":
        return select(s.customers.c.name).where(s.customers.c.id == c.requester_id) \
            .scalar_subquery()
    if sort == "assignee":
        return select(s.agents.c.name).where(s.agents.c.id == c.assignee_id).scalar_subquery()
    return SORTABLE.get(sort, c.updated_ms)


def list_cases(conn: Connection, flt: CaseFilter, *, me: str, now_ms: int,
               sort: str = "updated", descending: bool = True,
               limit: int | None = None, offset: int = 0) -> list[tuple[Any, ...]]:
    """Rows of (id, key, subject, status, priority, requester, assignee, updated_ms, tags).

    ``sort`` is a column of SORTABLE or "requester" / "assignee" (by name).
    """
    c = s.cases.c
    q = select(c.id, c.key, c.subject, c.status, c.priority, c.requester_id, c.assignee_id,
               c.updated_ms, c.tags)
    q = _apply_filter(q, flt, me, now_ms)
    col = _sort_column(sort)
    q = q.order_by(col.desc() if descending else col.asc(),
                   c.id.desc() if descending else c.id.asc())
    if limit:
        q = q.limit(limit)
    if offset:
        q = q.offset(offset)
    return _named_rows(conn, conn.execute(q).all())


def list_rows(conn: Connection, case_ids: list[str]) -> list[tuple[Any, ...]]:
    """The list rows of just these cases (to refresh changed rows in place)."""
    c = s.cases.c
    rows = conn.execute(select(c.id, c.key, c.subject, c.status, c.priority, c.requester_id,
                               c.assignee_id, c.updated_ms, c.tags)
                        .where(c.id.in_(case_ids))).all()
    return _named_rows(conn, rows)


def _named_rows(conn: Connection, rows: Any) -> list[tuple[Any, ...]]:
    # Names come from the small directories, mapped here rather than joined per row.
    agents: dict[str, str] = {r[0]: r[1] for r in conn.execute(
        select(s.agents.c.id, s.agents.c.name))}
    wanted = {r[5] for r in rows if r[5]}
    customers: dict[str, str] = {}
    if len(wanted) < 500:
        if wanted:
            customers = {r[0]: r[1] for r in conn.execute(
                select(s.customers.c.id, s.customers.c.name).where(s.customers.c.id.in_(wanted)))}
    else:
        customers = {r[0]: r[1] for r in conn.execute(
            select(s.customers.c.id, s.customers.c.name))}
    return [(r[0], r[1], r[2], r[3], r[4], customers.get(r[5], ""),
             agents.get(r[6], r[6]) if r[6] else None, r[7], r[8]) for r in rows]


def count_cases(conn: Connection, flt: CaseFilter, *, me: str, now_ms: int) -> int:
    q = _apply_filter(select(func.count()).select_from(s.cases), flt, me, now_ms)
    return int(conn.execute(q).scalar() or 0)


def resolve_case(conn: Connection, ref: str) -> str | None:
    """A case id from a key (current or old, any case) or an id."""
    ref = ref.strip()
    # Keys are stored upper-case, so an exact match on the upper-cased ref uses the index.
    found = conn.execute(select(s.case_keys.c.case_id)
                         .where(s.case_keys.c.key == ref.upper())).scalar()
    if found:
        return str(found)
    found = conn.execute(select(s.cases.c.id).where(s.cases.c.id == ref,
                                                    s.cases.c.exists.is_(True))).scalar()
    return str(found) if found else None


def _name(conn: Connection, table: Any, rec_id: str | None) -> dict[str, Any] | None:
    if not rec_id:
        return None
    row = conn.execute(select(table).where(table.c.id == rec_id)).first()
    return dict(row._mapping) if row else {"id": rec_id, "name": rec_id}


def case_detail(conn: Connection, case_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(s.cases).where(s.cases.c.id == case_id)).first()
    if row is None or not row.exists:
        return None
    d = dict(row._mapping)
    d.pop("clocks")
    d["tags"] = d["tags"].split() if d["tags"] else []
    d["requester"] = _name(conn, s.customers, d["requester_id"])
    d["organization"] = _name(conn, s.organizations, d["organization_id"])
    d["assignee"] = _name(conn, s.agents, d["assignee_id"])
    d["team"] = _name(conn, s.teams, d["team_id"])
    merged_from = [r for r in conn.execute(
        select(s.cases.c.id, s.cases.c.key).where(s.cases.c.merged_into == case_id))]
    d["merged_from"] = [{"id": r.id, "key": r.key} for r in merged_from]
    if d["merged_into"]:
        d["merged_into_key"] = conn.execute(
            select(s.cases.c.key).where(s.cases.c.id == d["merged_into"])).scalar()
    links = conn.execute(
        select(s.case_links.c.kind, s.case_links.c.other_id, s.cases.c.key, s.cases.c.subject,
               s.cases.c.status)
        .select_from(s.case_links.outerjoin(s.cases, s.cases.c.id == s.case_links.c.other_id))
        .where(s.case_links.c.case_id == case_id, s.case_links.c.present.is_(True)))
    d["links"] = [{"kind": r.kind, "id": r.other_id, "key": r.key, "subject": r.subject,
                   "status": r.status} for r in links]
    d["comments"] = case_comments(conn, [case_id] + [m["id"] for m in d["merged_from"]])
    return d


def case_comments(conn: Connection, case_ids: list[str]) -> list[dict[str, Any]]:
    c = s.comments.c
    rows = conn.execute(
        select(s.comments, s.agents.c.name.label("agent_name"),
               s.customers.c.name.label("customer_name"), s.cases.c.key.label("case_key"))
        .select_from(s.comments.outerjoin(s.agents, s.agents.c.id == c.author)
                     .outerjoin(s.customers, s.customers.c.email == c.author)
                     .join(s.cases, s.cases.c.id == c.case_id))
        .where(c.case_id.in_(case_ids), c.known.is_(True), c.redacted.is_(False))
        .order_by(c.created_ms, c.id))
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["author_name"] = d.pop("agent_name") or d.pop("customer_name", None) or d["author"]
        d.pop("customer_name", None)
        out.append(d)
    return out


def case_history(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """Every event of the case, oldest first, with its time (ms) and the actor's name."""
    from app.core.hlc import hlc_ms

    rows = conn.execute(select(s.events).where(s.events.c.case_id == case_id)
                        .order_by(s.events.c.hlc, s.events.c.id)).all()
    actors = {r.actor for r in rows}
    names: dict[str, str] = {r[0]: r[1] for r in conn.execute(
        select(s.agents.c.id, s.agents.c.name).where(s.agents.c.id.in_(actors)))}
    names.update({r[0]: r[1] for r in conn.execute(
        select(s.customers.c.email, s.customers.c.name).where(s.customers.c.email.in_(actors)))})
    out = []
    for r in rows:
        e = row_event(r)
        out.append({"id": e.id, "type": e.type, "actor": e.actor,
                    "actor_name": names.get(e.actor, e.actor), "hlc": e.hlc,
                    "ms": hlc_ms(e.hlc), "summary": ev.describe(e),
                    "synced": e.server_seq is not None, "payload": e.payload})
    return out


def case_state_row(conn: Connection, case_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(s.cases).where(s.cases.c.id == case_id)).first()
    return dict(row._mapping) if row else None


def directory(conn: Connection, table: str) -> list[dict[str, Any]]:
    t = s.DIRECTORY_TABLES[table]
    return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.name))]


def find_agent(conn: Connection, ref: str) -> dict[str, Any] | None:
    t = s.agents
    ref_l = ref.strip().lower()
    row = conn.execute(select(t).where(or_(func.lower(t.c.id) == ref_l,
                                           func.lower(t.c.email) == ref_l))).first()
    if row is None:
        rows = conn.execute(select(t).where(func.lower(t.c.name).like(f"%{ref_l}%"))).all()
        row = rows[0] if len(rows) == 1 else None
    return dict(row._mapping) if row else None


def find_customer(conn: Connection, email: str) -> dict[str, Any] | None:
    row = conn.execute(select(s.customers).where(
        func.lower(s.customers.c.email) == email.strip().lower())).first()
    return dict(row._mapping) if row else None


def saved_views(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(
        select(s.saved_views).order_by(s.saved_views.c.position, s.saved_views.c.name))]


def outbox(conn: Connection, limit: int = 500,
           unreadable: list[str] | None = None) -> list[ev.Event]:
    """The next events to push, oldest first (refused ones are set aside: sync_error).

    A row this device cannot read back (its payload is not JSON) is skipped and its id put
    in ``unreadable``, for the caller to set aside: one bad row never blocks the rest.
    """
    rows = conn.execute(select(s.events).where(s.events.c.server_seq.is_(None),
                                               s.events.c.sync_error.is_(None))
                        .order_by(s.events.c.seq).limit(limit))
    out: list[ev.Event] = []
    for r in rows:
        try:
            out.append(row_event(r))
        except (ValueError, TypeError, KeyError):
            if unreadable is not None:
                unreadable.append(str(r.id))
    return out


def refused(conn: Connection, case_id: str | None = None) -> list[dict[str, Any]]:
    """Events of this device the server refused (set aside, not retried), oldest first."""
    e = s.events.c
    q = select(e.id, e.case_id, e.type, e.sync_error).where(
        e.server_seq.is_(None), e.sync_error.is_not(None))
    if case_id is not None:
        q = q.where(e.case_id == case_id)
    return [dict(r._mapping) for r in conn.execute(q.order_by(e.seq))]


def refused_counts(conn: Connection) -> dict[str | None, int]:
    """How many refused events each case has (None: events of no case)."""
    e = s.events.c
    rows = conn.execute(select(e.case_id, func.count()).where(
        e.server_seq.is_(None), e.sync_error.is_not(None)).group_by(e.case_id))
    return {r[0]: int(r[1]) for r in rows}


def case_route_team(conn: Connection, case_id: str) -> str | None:
    """The team a case's events travel under, from its latest event that had one: a case
    whose team field was cleared (or never set in its payload) stays with that team on
    the server, so an event with no team would be refused."""
    e = s.events.c
    return conn.execute(select(e.team_id).where(e.case_id == case_id, e.team_id.is_not(None))
                        .order_by(e.seq.desc()).limit(1)).scalar()


def status_counts(conn: Connection) -> dict[str, int]:
    c = s.cases.c
    rows = conn.execute(select(c.status, func.count()).where(
        and_(c.exists.is_(True), c.deleted.is_(False), c.merged_into.is_(None)))
        .group_by(c.status))
    return {r[0]: int(r[1]) for r in rows}


def team_prefixes(conn: Connection) -> dict[str, str]:
    return {r.id: r.prefix for r in conn.execute(select(s.teams.c.id, s.teams.c.prefix))}


def load_json(text: str | None) -> Any:
    return json.loads(text) if text else None

"""The case list's reads and what an edit means for a list: reload, or update rows in place.

Every ``fetch_*``/``refresh_*``/``load_*`` function runs on a reader thread (through
``Bridge.read``/``Bridge.query``); the rest is pure and runs anywhere. A list row is the
tuple ``queries.list_cases`` returns: (id, key, subject, status, priority, requester,
assignee, updated_ms, tags).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from app.core.changes import Changes
from app.core.model import OPEN_STATUSES, PRIORITY_RANK, STATUS_RANK
from app.operations.insights import load_due, load_sla_rows
from app.operations.navigation import BUILTIN_VIEWS, parse_query
from app.store import queries as q
from app.store.queries import CaseFilter as CaseFilter  # the UI types its filters with it

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from app.analytics.model import AnalyticsModel
    from app.store.repo import Store

Row = tuple[Any, ...]
Due = tuple[int | None, str]  # (deadline ms or None while paused, state)
ID, KEY, SUBJECT, STATUS, PRIORITY, REQUESTER, ASSIGNEE, UPDATED, TAGS = range(9)
DUE = 100  # not in the row: the SLA read model's deadlines
PRIORITY_ORDER = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
STATUS_ORDER = {"new": 0, "open": 1, "pending": 2, "on-hold": 3, "solved": 4, "closed": 5}
Source = tuple[str, Any]  # ("sla", view) an SLA queue, ("ids", [...]) a drill-down

# Every case event moves the case's "updated" time: a change always touches this field.
UPDATED_FIELD = "updated"
# The case field each row column shows (sorting by a column sorts by this field).
FIELD_OF_COLUMN = {KEY: "key", SUBJECT: "subject", STATUS: "status", PRIORITY: "priority",
                   REQUESTER: "requester_id", ASSIGNEE: "assignee_id", UPDATED: UPDATED_FIELD,
                   TAGS: "tags"}
# The case field a query sort orders by ("key" sorts by the creation time, which no edit moves).
FIELD_OF_SORT = {"subject": "subject", "status": "status", "priority": "priority",
                 "updated": UPDATED_FIELD, "requester": "requester_id",
                 "assignee": "assignee_id"}
# Fields any list filter can read (what counts use before the saved views are known).
FILTERED_FIELDS = frozenset({"status", "priority", "assignee_id", "tags", "product", "team_id",
                             "type", "subject", "key", "deleted", "merged_into"})


# --- reader-thread functions -------------------------------------------------------------
def fetch_rows(store: Store, flt: CaseFilter | None, sort: str, descending: bool,
               limit: int | None, by: int | None = None,
               analytics: AnalyticsModel | None = None, source: Source | None = None
               ) -> tuple[list[Row], dict[str, Due] | None]:
    """Rows for the list, and (when sorting by the time left, ``by=DUE``) every row's
    deadline. ``by``: sort here by that row field (one the query cannot sort).
    ``source``: rows that are not a case filter (an SLA queue, a drill-down's ids)."""
    now = int(time.time() * 1000)
    if source is not None and source[0] == "sla":
        rows = load_sla_rows(analytics, store, source[1], now) if analytics is not None else []
    elif source is not None and source[0] == "ids":
        rows = refresh_rows(store, [str(x) for x in source[1]])
    else:
        rows = store.read(lambda conn: q.list_cases(conn, flt or CaseFilter(), me=store.actor,
                                                   now_ms=now, sort=sort,
                                                   descending=descending, limit=limit))
    deadlines: dict[str, Due] | None = None
    if by == DUE and analytics is not None:
        deadlines = load_due(analytics, [r[ID] for r in rows], now)
    if by is not None:
        rows = sort_rows(rows, by, descending, deadlines)
    return rows, deadlines


def refresh_rows(store: Store, case_ids: list[str]) -> list[Row]:
    """The rows of just these cases (in pieces: SQLite limits a statement's variables)."""
    rows: list[Row] = []
    for i in range(0, len(case_ids), 500):
        part = case_ids[i:i + 500]
        rows += store.read(lambda conn, p=part: q.list_rows(conn, p))  # type: ignore[misc]
    return rows


def refreshed_list(store: Store, rows: list[Row], case_ids: list[str],
                   order: Callable[[list[Row]], list[Row]] | None) -> list[Row]:
    """``rows`` with the rows of ``case_ids`` read again (one read) and, when the change
    moved the list's sort key, ``order``-ed again in memory (nearly sorted: about linear)."""
    fresh = {r[ID]: r for r in refresh_rows(store, case_ids)}
    merged = [fresh.get(r[ID], r) for r in rows]
    return order(merged) if order is not None else merged


def load_agents(conn: Connection) -> list[tuple[str, str]]:
    return [(str(a["id"]), str(a["name"])) for a in q.directory(conn, "agents")]


def fetch_status(store: Store) -> tuple[int, str | None]:
    """Changes waiting to sync, and the label of the change Ctrl+Z would undo."""
    return store.outbox_count(), store.last_undoable_label()


# --- filters -----------------------------------------------------------------------------
def view_filter(view_id: str, builtin: bool, query: str, text: str) -> CaseFilter:
    """The filter of a view (built-in or saved query) refined by the filter field's
    ``text``; raises ValueError on a query or text that does not parse."""
    if builtin and view_id in BUILTIN_VIEWS:
        base = BUILTIN_VIEWS[view_id][1]
    elif query:
        base = parse_query(query)
    else:
        base = CaseFilter()
    text = text.strip()
    return combine(base, CaseFilter.parse(text)) if text else base


def combine(base: CaseFilter, extra: CaseFilter) -> CaseFilter:
    """The view's filter refined by the filter field: fields typed there win."""
    out = replace(base, statuses=list(base.statuses), priorities=list(base.priorities),
                  tags=list(base.tags))
    if extra.statuses:
        out.statuses = list(extra.statuses)
    if extra.priorities:
        out.priorities = list(extra.priorities)
    for name in ("assignee", "product", "team", "type"):
        if getattr(extra, name):
            setattr(out, name, getattr(extra, name))
    out.tags += [t for t in extra.tags if t not in out.tags]
    if extra.text:
        out.text = f"{out.text} {extra.text}" if out.text else extra.text
    return out


def filter_to_query(flt: CaseFilter) -> str:
    """A CaseFilter back in the filter syntax (for "Save current filter as view")."""
    parts: list[str] = []
    if flt.updated_within_days:
        parts.append(f"updated:<{flt.updated_within_days}d")
    if flt.statuses:
        if set(flt.statuses) == set(OPEN_STATUSES):
            parts.append("is:open")
        else:
            parts.append("status:" + ",".join(flt.statuses))
    if flt.priorities:
        parts.append("priority:" + ",".join(flt.priorities))
    if flt.assignee == "none":
        parts.append("is:unassigned")
    elif flt.assignee:
        parts.append(f"assignee:{flt.assignee}")
    parts += [f"tag:{t}" for t in flt.tags]
    for name in ("product", "team", "type"):
        value = getattr(flt, name)
        if value and " " not in value:
            parts.append(f"{name}:{value}")
    if flt.text:
        parts.append(flt.text)
    return " ".join(parts)


def filter_fields(flt: CaseFilter) -> set[str]:
    """The case fields ``flt`` reads: a change of any of them may move a case in or out."""
    out = {"deleted", "merged_into"}
    for attr, name in (("statuses", "status"), ("priorities", "priority"),
                       ("assignee", "assignee_id"), ("tags", "tags"), ("product", "product"),
                       ("team", "team_id"), ("type", "type"),
                       ("updated_within_days", UPDATED_FIELD)):
        if getattr(flt, attr):
            out.add(name)
    if flt.text:
        out |= {"subject", "key"}
    return out


# --- sorting -----------------------------------------------------------------------------
def sort_rows(rows: list[Row], field: int, descending: bool,
              deadlines: dict[str, Due] | None = None) -> list[Row]:
    """A sorted copy by a row field (the header's columns the query cannot sort). ``DUE``
    sorts by ``deadlines`` (soonest first ascending; cases without a clock last)."""
    if field == DUE:
        far = 1 << 62
        dl = deadlines or {}

        def due_key(row: Row) -> int:
            deadline = dl.get(row[ID], (None, ""))[0]
            return far if deadline is None else deadline

        ordered = sorted(rows, key=due_key)
        if descending:
            with_clock = [r for r in ordered if due_key(r) != far]
            return with_clock[::-1] + [r for r in ordered if due_key(r) == far]
        return ordered

    def key(row: Row) -> Any:
        value = row[field]
        if field == KEY:  # SUP-9 before SUP-10
            prefix, _, number = str(value or "").rpartition("-")
            return (prefix, int(number) if number.isdigit() else 0, str(value or ""))
        if field == PRIORITY:
            return PRIORITY_ORDER.get(value, 0)
        if field == STATUS:
            return STATUS_ORDER.get(value, 0)
        if isinstance(value, str):
            return value.casefold()
        return value or 0

    return sorted(rows, key=key, reverse=descending)


def query_order(sort: str, descending: bool) -> Callable[[list[Row]], list[Row]] | None:
    """The order ``list_cases`` gives ``sort`` (value, then id), done in memory; ``None``
    for a sort the row cannot reproduce (by creation time, which no edit moves)."""
    keys: dict[str, Callable[[Row], Any]] = {
        "updated": lambda r: r[UPDATED] or 0,
        "subject": lambda r: r[SUBJECT] or "",
        "status": lambda r: STATUS_RANK.get(r[STATUS], -1),
        "priority": lambda r: PRIORITY_RANK.get(r[PRIORITY], -1),
        "requester": lambda r: r[REQUESTER] or "",
        "assignee": lambda r: r[ASSIGNEE] or "",
    }
    value = keys.get(sort)
    if value is None:
        return None
    return lambda rows: sorted(rows, key=lambda r: (value(r), r[ID]), reverse=descending)


# --- what a change means for a list ------------------------------------------------------
class Update(Enum):
    NOTHING = "nothing"  # none of the list's cases changed
    ROWS = "rows"  # read the changed rows again, in place (re-sorted in memory if moved)
    RELOAD = "reload"  # the list may gain or lose rows: fetch the view again


def changed_fields(changes: Changes) -> set[str]:
    """The fields a change touched; any case event also moves the case's updated time."""
    return set(changes.fields) | ({UPDATED_FIELD} if changes.case_ids else set())


def plan_update(changes: Changes, *, reads: set[str] | None, in_list: Iterable[str]) -> Update:
    """What a list must do after ``changes``. ``reads``: the fields its filter reads (``None``
    for a list that is not a filter: an SLA queue or a drill-down, whose rows stay theirs);
    ``in_list``: the ids of the cases among ``changes.case_ids`` the list shows now."""
    if changes.rebuilt or changes.created or changes.membership:
        return Update.RELOAD
    if not changes.case_ids:
        return Update.NOTHING
    if reads is not None and reads & changed_fields(changes):
        return Update.RELOAD
    return Update.ROWS if any(True for _ in in_list) else Update.NOTHING


def moves_rows(changes: Changes, sort_field: str | None) -> bool:
    """True when ``changes`` touched the field the list is sorted by."""
    return sort_field is not None and sort_field in changed_fields(changes)


def count_scope(filters: Iterable[CaseFilter]) -> tuple[set[str], list[int]]:
    """What the sidebar's counts read: the fields of ``filters`` (a change of none of them
    moves no count) and their "updated within" windows in days."""
    fields: set[str] = set()
    windows: list[int] = []
    for flt in filters:
        fields |= filter_fields(flt)
        if flt.updated_within_days:
            windows.append(flt.updated_within_days)
    fields.discard(UPDATED_FIELD)  # moved by every edit: judged by the windows instead
    return fields, windows


def counts_change(changes: Changes, fields: set[str], known_recent: Callable[[str], bool]
                  ) -> bool:
    """True when the sidebar's view counts may have changed. ``fields``: what they read
    (:func:`count_scope`); ``known_recent(case_id)``: the case was already updated within
    every counted window, so its new updated time moves no count."""
    if changes.rebuilt or changes.created or changes.membership or changes.views:
        return True
    if not changes.case_ids:
        return False
    if set(changes.fields) & fields:
        return True
    return not all(known_recent(c) for c in changes.case_ids)

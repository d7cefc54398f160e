"""Reads for finding one's way: the sidebar's views and counts, the palette's case search.

Each runs on a reader thread as ``fn(conn, ...)`` (``Bridge.query``); the UI thread never
runs SQL.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection

from app.store import queries as q
from app.store.queries import CaseFilter

BUILTIN_VIEWS: dict[str, tuple[str, CaseFilter, str]] = q.BUILTIN_VIEWS
"""The built-in views: id -> (title, filter, sort)."""


def parse_query(query: str) -> CaseFilter:
    """A saved view's query as a filter; ``search:words`` is a text filter. Raises
    ValueError for a query that does not parse."""
    if query.startswith("search:"):
        return CaseFilter(text=query[len("search:"):].strip() or None)
    return CaseFilter.parse(query)


def load_counts(conn: Connection, me: str) -> dict[str, Any]:
    """Reader thread: counts of every built-in view and the saved views (with their list)."""
    now = int(time.time() * 1000)
    filters = {view_id: flt for view_id, (_title, flt, _sort) in BUILTIN_VIEWS.items()}
    saved = q.saved_views(conn)
    for view in saved:
        if str(view["query"]).startswith("search:"):
            continue  # counted by the search index when it runs, not by the filter
        try:
            filters["saved:" + str(view["name"])] = parse_query(str(view["query"]))
        except ValueError:
            continue  # a view saved by an older build that no longer parses: no count
    counts = q.count_views(conn, filters, me=me, now_ms=now)  # one pass over the cases
    return {"counts": counts, "saved": saved}


def search_cases(conn: Connection, text: str, me: str,
                 limit: int = 12) -> list[tuple[Any, ...]]:
    """Reader thread: cases whose key or subject contains every word of ``text``; the case
    whose key is ``text`` first. Rows are (id, key, subject, status)."""
    rows: list[tuple[Any, ...]] = []
    case_id = q.resolve_case(conn, text) if text.strip() else None
    if case_id:
        exact = q.case_detail(conn, case_id)
        if exact:
            rows.append((exact["id"], exact["key"], exact["subject"], exact["status"]))
    flt = CaseFilter(text=text or None, include_merged=False)
    for r in q.list_cases(conn, flt, me=me, now_ms=int(time.time() * 1000), limit=limit):
        if not rows or r[0] != rows[0][0]:
            rows.append((r[0], r[1], r[2], r[3]))
    return rows[:limit]

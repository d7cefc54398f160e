"""The reads the search index is built from: cases with their people, comments and the
text extracted from attachments, the directory, and the event log's tail.

Plain SQL on SQLite, streamed: a full build reads every case once, so these queries go to
the driver's cursor (no SQLAlchemy row objects). Each case row has the columns of
:data:`CASE_COLUMNS`, in that order; each text row is ``(case_id, text, created_ms, id)``,
ordered by case id then time. The search package turns them into documents; it runs no
SQL of its own.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection

CASE_COLUMNS = ("id", "key", "subject", "description", "status", "priority", "assignee_id",
                "agent_name", "requester_name", "requester_email", "organization_name",
                "product", "tags", "created_ms", "updated_ms")
CHUNK = 500  # ids per IN (...): well under SQLite's 999 bound-parameter limit
DIRECTORY_TABLES = ("customers", "organizations")

_CASES_SQL = """
SELECT c.id, c.key, c.subject, c.description, c.status, c.priority, c.assignee_id, a.name,
       cu.name, cu.email, o.name, c.product, c.tags, c.created_ms, c.updated_ms
FROM cases c
LEFT JOIN customers cu ON cu.id = c.requester_id
LEFT JOIN organizations o ON o.id = COALESCE(c.organization_id, cu.organization_id)
LEFT JOIN agents a ON a.id = c.assignee_id
WHERE c."exists" = 1 AND c.deleted = 0 {where}
ORDER BY c.id
"""
# Comments and the text extracted from attachments (logs, PDFs, emails) are searched alike.
_TEXTS_SQL = """
SELECT case_id, body, created_ms, id FROM comments WHERE known = 1 AND redacted = 0 {where}
UNION ALL
SELECT a.case_id, a.name || char(10) || substr(e.text, 1, 200000), a.created_ms, a.id
FROM attachments a JOIN extracted e ON e.sha256 = a.sha256
WHERE a.known = 1 AND a.removed = 0 {where}
ORDER BY 1, 3, 4
"""
_LIVE = 'FROM cases WHERE "exists" = 1 AND deleted = 0'
_RANGE_CASES_SQL = _CASES_SQL.format(where="AND c.id >= ? AND c.id < ?")
_RANGE_TEXTS_SQL = _TEXTS_SQL.format(where="AND case_id >= ? AND case_id < ?")
_RANGE_KEYS_SQL = "SELECT case_id, key FROM case_keys WHERE case_id >= ? AND case_id < ?"
_DIRECTORY_SQL = {"customers": "SELECT id, name, email FROM customers",
                  "organizations": "SELECT id, name, domain FROM organizations"}


def _marks(ids: list[str]) -> str:
    return ",".join("?" * len(ids))


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    wanted = list(dict.fromkeys(ids))
    for i in range(0, len(wanted), CHUNK):
        yield wanted[i:i + CHUNK]


def _driver(conn: Connection) -> sqlite3.Connection:
    raw: Any = conn.connection.driver_connection
    return raw  # type: ignore[no-any-return]


# --- the event log --------------------------------------------------------------------
def last_event_seq(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SELECT COALESCE(MAX(seq), 0) FROM events").scalar() or 0)


def events_after(conn: Connection, seq: int, limit: int) -> list[tuple[int, str | None, str, str]]:
    """``(seq, case_id, type, payload)`` of the next ``limit`` events after ``seq``."""
    return [(r[0], r[1], r[2], r[3]) for r in conn.exec_driver_sql(
        "SELECT seq, case_id, type, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
        (seq, limit))]


def events_after_count(conn: Connection, seq: int) -> int:
    """How many events come after ``seq`` (what a catch-up has to index)."""
    return int(conn.exec_driver_sql("SELECT COUNT(*) FROM events WHERE seq > ?",
                                    (seq,)).scalar() or 0)


# --- every live case, streamed (a full build) ------------------------------------------
def live_case_count(conn: Connection) -> int:
    return int(conn.exec_driver_sql(f"SELECT COUNT(*) {_LIVE}").scalar() or 0)


def live_case_ids(conn: Connection) -> list[str]:
    """Every live case id, in id order (ids are time-ordered UUIDv7)."""
    return [r[0] for r in conn.exec_driver_sql(f"SELECT id {_LIVE} ORDER BY id")]


def all_case_keys(conn: Connection) -> dict[str, list[str]]:
    """Every key each case has had (a case keeps its old keys after a move)."""
    keys: dict[str, list[str]] = defaultdict(list)
    for case_id, key in conn.exec_driver_sql("SELECT case_id, key FROM case_keys"):
        keys[case_id].append(key)
    return keys


def iter_case_rows(conn: Connection) -> Iterator[tuple[Any, ...]]:
    """Every live case, in id order."""
    return iter(_driver(conn).execute(_CASES_SQL.format(where="")))


def iter_text_rows(conn: Connection) -> Iterator[tuple[Any, ...]]:
    """Every comment and attachment text, in case id order (to merge-join with cases)."""
    return iter(_driver(conn).execute(_TEXTS_SQL.format(where="")))


# --- some cases (a catch-up, a check) ---------------------------------------------------
def case_keys(conn: Connection, ids: Iterable[str]) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        for case_id, key in conn.exec_driver_sql(
                f"SELECT case_id, key FROM case_keys WHERE case_id IN ({_marks(chunk)})",
                tuple(chunk)):
            keys[case_id].append(key)
    return keys


def case_texts(conn: Connection, ids: Iterable[str]) -> dict[str, list[str]]:
    """The comment and attachment texts of each case, oldest first."""
    texts: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        params = tuple(chunk)
        sql = _TEXTS_SQL.format(where=f"AND case_id IN ({_marks(chunk)})")
        for case_id, body, *_ in conn.exec_driver_sql(sql, params + params):
            texts[case_id].append(body)
    return texts


def case_rows(conn: Connection, ids: Iterable[str]) -> list[tuple[Any, ...]]:
    """The rows of those of ``ids`` that are live cases (the others are gone)."""
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(ids):
        sql = _CASES_SQL.format(where=f"AND c.id IN ({_marks(chunk)})")
        rows += [tuple(r) for r in conn.exec_driver_sql(sql, tuple(chunk))]
    return rows


# --- a range of case ids, on a worker process's own sqlite3 connection ------------------
def open_snapshot(db_path: str) -> sqlite3.Connection:
    """A connection of its own in a read transaction: one snapshot for all its reads."""
    db = sqlite3.connect(db_path)
    db.execute("BEGIN")
    return db


def range_case_keys(db: sqlite3.Connection, low: str, high: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for case_id, key in db.execute(_RANGE_KEYS_SQL, (low, high)):
        keys.setdefault(case_id, []).append(key)
    return keys


def range_case_rows(db: sqlite3.Connection, low: str, high: str) -> Iterator[tuple[Any, ...]]:
    """Live cases with ``low <= id < high``, in id order."""
    return iter(db.execute(_RANGE_CASES_SQL, (low, high)))


def range_text_rows(db: sqlite3.Connection, low: str, high: str) -> Iterator[tuple[Any, ...]]:
    return iter(db.execute(_RANGE_TEXTS_SQL, (low, high, low, high)))


def range_directory_rows(db: sqlite3.Connection,
                         table: str) -> Iterator[tuple[str, str | None, str | None]]:
    return iter(db.execute(_DIRECTORY_SQL[table]))


# --- the directory (customers, organizations) -------------------------------------------
def directory_rows(conn: Connection, table: str) -> Iterator[tuple[str, str | None, str | None]]:
    """``(id, name, email or domain)`` of every customer or organization."""
    return iter(conn.exec_driver_sql(_DIRECTORY_SQL[table]))  # type: ignore[arg-type]


def directory_rows_for(conn: Connection, table: str,
                       ids: Iterable[str]) -> list[tuple[str, str | None, str | None]]:
    rows: list[tuple[str, str | None, str | None]] = []
    for chunk in _chunks(ids):
        sql = f"{_DIRECTORY_SQL[table]} WHERE id IN ({_marks(chunk)})"
        rows += [(r[0], r[1], r[2]) for r in conn.exec_driver_sql(sql, tuple(chunk))]
    return rows


def directory_count(conn: Connection, table: str) -> int:
    if table not in _DIRECTORY_SQL:
        raise ValueError(f"not a directory table: {table!r}")
    return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar() or 0)


def cases_showing(conn: Connection, table: str, ids: Iterable[str]) -> list[str]:
    """Cases whose document shows one of these customers, organizations or agents (its
    name changed: the cases are indexed again)."""
    if table == "customers":
        where = "requester_id IN ({})"
        sql = "SELECT id FROM cases WHERE " + where
    elif table == "organizations":
        sql = ("SELECT c.id FROM cases c LEFT JOIN customers cu ON cu.id = c.requester_id "
               "WHERE COALESCE(c.organization_id, cu.organization_id) IN ({})")
    elif table == "agents":
        sql = "SELECT id FROM cases WHERE assignee_id IN ({})"
    else:
        return []
    found: list[str] = []
    for chunk in _chunks(ids):
        found += [r[0] for r in conn.exec_driver_sql(sql.format(_marks(chunk)), tuple(chunk))]
    return found


# --- what a search hit shows ------------------------------------------------------------
HIT_COLUMNS = ("id", "key", "subject", "description", "status", "priority", "assignee_id",
               "updated_ms")


def hit_rows(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[Any, ...]]:
    """The :data:`HIT_COLUMNS` of each case (live or not: the index may lag), by id."""
    rows: dict[str, tuple[Any, ...]] = {}
    for chunk in _chunks(ids):
        for r in conn.exec_driver_sql(
                f"SELECT {', '.join(HIT_COLUMNS)} FROM cases WHERE id IN ({_marks(chunk)})",
                tuple(chunk)):
            rows[r[0]] = tuple(r)
    return rows


def recent_comments(conn: Connection, ids: Iterable[str]) -> dict[str, list[str]]:
    """The readable comments of each case, newest first (where a snippet is looked for)."""
    comments: dict[str, list[str]] = {}
    for chunk in _chunks(ids):
        for case_id, body in conn.exec_driver_sql(
                f"SELECT case_id, body FROM comments WHERE case_id IN ({_marks(chunk)}) AND "
                "known = 1 AND redacted = 0 ORDER BY created_ms DESC, id", tuple(chunk)):
            comments.setdefault(case_id, []).append(body)
    return comments

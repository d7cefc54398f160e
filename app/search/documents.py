"""Search documents read from the store's projections (plain SQL, streamed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection

from app.search.analysis import facet_tokens
from app.search.schema import KIND_CASE, KIND_CUSTOMER, KIND_ORGANIZATION, NONE_TOKEN, facet

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
_COMMENTS_SQL = """
SELECT case_id, body, created_ms, id FROM comments WHERE known = 1 AND redacted = 0 {where}
UNION ALL
SELECT a.case_id, a.name || char(10) || substr(e.text, 1, 200000), a.created_ms, a.id
FROM attachments a JOIN extracted e ON e.sha256 = a.sha256
WHERE a.known = 1 AND a.removed = 0 {where}
ORDER BY 1, 3, 4
"""
CHUNK = 500


def _in(ids: list[str]) -> tuple[str, tuple[str, ...]]:
    return ",".join("?" * len(ids)), tuple(ids)


def case_document(row: Any, keys: list[str], comments: list[str]) -> dict[str, Any]:
    (cid, key, subject, description, status, priority, assignee, agent_name, req_name,
     req_email, org_name, product, tags, created_ms, updated_ms) = row
    all_keys = sorted({k for k in [key, *keys] if k})
    status = status or "new"
    f = [facet("kind", KIND_CASE), facet("status", status),
         facet("priority", priority or "normal")]
    people = (facet_tokens(assignee, split=False) + facet_tokens(agent_name))
    f += [facet("assignee", t) for t in people or [NONE_TOKEN]]
    people = (facet_tokens(req_name) + facet_tokens(req_email, split=False)
              + facet_tokens((req_email or "").partition("@")[0], split=False))
    f += [facet("requester", t) for t in people or [NONE_TOKEN]]
    f += [facet("org", t) for t in facet_tokens(org_name) or [NONE_TOKEN]]
    f += [facet("product", t) for t in facet_tokens(product) or [NONE_TOKEN]]
    f += [facet("tag", t) for t in (tags.split() if tags else [NONE_TOKEN])]
    body = "\n".join(x for x in (description, *comments) if x)
    return {
        "id": cid, "key": " ".join(all_keys), "subject": subject or "", "body": body,
        "pairs": f"{subject or ''}\n{body}", "f": " ".join(dict.fromkeys(f)), "status": status,
        "created": int(created_ms or 0), "updated": int(updated_ms or created_ms or 0),
    }


def iter_all_cases(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every live case as a document, merge-joining cases and comments by case id."""
    keys: dict[str, list[str]] = defaultdict(list)
    for case_id, key in conn.exec_driver_sql("SELECT case_id, key FROM case_keys"):
        keys[case_id].append(key)
    raw: Any = conn.connection.driver_connection
    cases = raw.execute(_CASES_SQL.format(where=""))
    comments = iter(raw.execute(_COMMENTS_SQL.format(where="")))
    pending = next(comments, None)
    for row in cases:
        bodies: list[str] = []
        while pending is not None and pending[0] < row[0]:
            pending = next(comments, None)
        while pending is not None and pending[0] == row[0]:
            bodies.append(pending[1])
            pending = next(comments, None)
        yield case_document(row, keys.get(row[0], []), bodies)


def load_cases(conn: Connection, ids: Iterable[str]) -> tuple[list[dict[str, Any]], set[str]]:
    """Documents for ``ids``; also the ids that are gone (deleted, unknown)."""
    ids = list(dict.fromkeys(ids))
    docs: list[dict[str, Any]] = []
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        marks, params = _in(chunk)
        keys: dict[str, list[str]] = defaultdict(list)
        for case_id, key in conn.exec_driver_sql(
                f"SELECT case_id, key FROM case_keys WHERE case_id IN ({marks})", params):
            keys[case_id].append(key)
        bodies: dict[str, list[str]] = defaultdict(list)
        for case_id, body, *_ in conn.exec_driver_sql(
                _COMMENTS_SQL.format(where=f"AND case_id IN ({marks})"), params + params):
            bodies[case_id].append(body)
        for row in conn.exec_driver_sql(_CASES_SQL.format(where=f"AND c.id IN ({marks})"),
                                        params):
            docs.append(case_document(tuple(row), keys[row[0]], bodies[row[0]]))
    found = {d["id"] for d in docs}
    return docs, set(ids) - found


def iter_directory(conn: Connection) -> Iterator[dict[str, Any]]:
    for cid, name, email in conn.exec_driver_sql("SELECT id, name, email FROM customers"):
        yield {"id": f"customer:{cid}", "f": facet("kind", KIND_CUSTOMER),
               "name": " ".join(x for x in (name, email) if x)}
    for oid, name, domain in conn.exec_driver_sql("SELECT id, name, domain FROM organizations"):
        yield {"id": f"organization:{oid}", "f": facet("kind", KIND_ORGANIZATION),
               "name": " ".join(x for x in (name, domain) if x)}


def load_directory(conn: Connection, table: str, ids: Iterable[str]) -> list[dict[str, Any]]:
    ids = list(ids)
    if not ids:
        return []
    marks, params = _in(ids)
    kind = KIND_CUSTOMER if table == "customers" else KIND_ORGANIZATION
    col = "email" if table == "customers" else "domain"
    rows = conn.exec_driver_sql(f"SELECT id, name, {col} FROM {table} WHERE id IN ({marks})",
                                params)
    return [{"id": f"{kind}:{r[0]}", "f": facet("kind", kind),
             "name": " ".join(x for x in r[1:] if x)}
            for r in rows]


def cases_of(conn: Connection, table: str, ids: Iterable[str]) -> list[str]:
    """Cases whose document shows a directory record (its name changed: re-index them)."""
    ids = list(ids)
    if not ids:
        return []
    marks, params = _in(ids)
    if table == "customers":
        sql = f"SELECT id FROM cases WHERE requester_id IN ({marks})"
    elif table == "organizations":
        sql = (f"SELECT c.id FROM cases c LEFT JOIN customers cu ON cu.id = c.requester_id "
               f"WHERE COALESCE(c.organization_id, cu.organization_id) IN ({marks})")
    elif table == "agents":
        sql = f"SELECT id FROM cases WHERE assignee_id IN ({marks})"
    else:
        return []
    return [r[0] for r in conn.exec_driver_sql(sql, params)]

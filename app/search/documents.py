"""Search documents made from the store's projections (read by ``app.store.search_queries``,
streamed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection

from app.search.analysis import facet_tokens
from app.search.schema import KIND_CASE, KIND_CUSTOMER, KIND_ORGANIZATION, NONE_TOKEN, facet
from app.store import search_queries as sq

_KINDS = {"customers": KIND_CUSTOMER, "organizations": KIND_ORGANIZATION}


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


def merge_cases(cases: Iterable[Any], texts: Iterable[Any],
                keys: dict[str, list[str]]) -> Iterator[dict[str, Any]]:
    """Documents from case rows and text rows both in case id order (a merge join)."""
    comments = iter(texts)
    pending = next(comments, None)
    for row in cases:
        bodies: list[str] = []
        while pending is not None and pending[0] < row[0]:
            pending = next(comments, None)
        while pending is not None and pending[0] == row[0]:
            bodies.append(pending[1])
            pending = next(comments, None)
        yield case_document(row, keys.get(row[0], []), bodies)


def iter_all_cases(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every live case as a document, merge-joining cases and comments by case id."""
    keys = sq.all_case_keys(conn)
    return merge_cases(sq.iter_case_rows(conn), sq.iter_text_rows(conn), keys)


def load_cases(conn: Connection, ids: Iterable[str]) -> tuple[list[dict[str, Any]], set[str]]:
    """Documents for ``ids``; also the ids that are gone (deleted, unknown)."""
    ids = list(dict.fromkeys(ids))
    keys = sq.case_keys(conn, ids)
    texts = sq.case_texts(conn, ids)
    docs = [case_document(row, keys.get(row[0], []), texts.get(row[0], []))
            for row in sq.case_rows(conn, ids)]
    found = {d["id"] for d in docs}
    return docs, set(ids) - found


def directory_document(table: str, row: tuple[str, str | None, str | None]) -> dict[str, Any]:
    kind = _KINDS[table]
    return {"id": f"{kind}:{row[0]}", "f": facet("kind", kind),
            "name": " ".join(x for x in row[1:] if x)}


def directory_documents(rows_of: Any) -> Iterator[dict[str, Any]]:
    """Every customer and organization, ``rows_of(table)`` giving their rows."""
    for table in sq.DIRECTORY_TABLES:
        for row in rows_of(table):
            yield directory_document(table, row)


def iter_directory(conn: Connection) -> Iterator[dict[str, Any]]:
    return directory_documents(lambda table: sq.directory_rows(conn, table))


def load_directory(conn: Connection, table: str, ids: Iterable[str]) -> list[dict[str, Any]]:
    return [directory_document(table, row) for row in sq.directory_rows_for(conn, table, ids)]


def cases_of(conn: Connection, table: str, ids: Iterable[str]) -> list[str]:
    """Cases whose document shows a directory record (its name changed: re-index them)."""
    return sq.cases_showing(conn, table, ids)

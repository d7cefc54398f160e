"""What the case view's JIRA and customer panels read: the case's integrations (links with
their snapshot's age, requests with their state) plus what their dialogs need (the case key,
the requester's e-mail for a Salesforce lookup, the comments a new JIRA issue may include)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from app.operations.integrations import integrations_of
from app.store import schema as s

SNIPPET = 90  # characters of a comment shown in the create dialog's list


def _one_line(text: str) -> str:
    return " ".join(text.split())[:SNIPPET]


def integration_panel(conn: Connection, case_id: str, *,
                      now_ms: int | None = None) -> dict[str, Any]:
    """:func:`integrations_of` for ``case_id`` with ``key``, ``requester_email`` and
    ``comments`` (``[{id, snippet, internal, created_ms}]``, oldest first). A case that
    does not exist (any more) reads as empty, with ``key`` None."""
    c = s.cases.c
    row = conn.execute(select(c.key, c.requester_id, c.exists, c.deleted)
                       .where(c.id == case_id)).first()
    if row is None or not row.exists or row.deleted:
        return {"key": None, "requester_email": None, "comments": [], "links": [],
                "requests": []}
    email = None
    if row.requester_id:
        email = conn.execute(select(s.customers.c.email).where(
            s.customers.c.id == row.requester_id)).scalar()
    m = s.comments.c
    comments = [{"id": r.id, "snippet": _one_line(str(r.body or "")),
                 "internal": bool(r.internal), "created_ms": r.created_ms}
                for r in conn.execute(select(m.id, m.body, m.internal, m.created_ms).where(
                    m.case_id == case_id, m.known.is_(True), m.redacted.is_(False))
                    .order_by(m.created_ms, m.id))]
    data = integrations_of(conn, case_id, now_ms=now_ms)
    data.update(key=row.key or case_id, requester_email=email or None, comments=comments)
    return data

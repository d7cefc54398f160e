"""Drafts: unsent typing kept locally (table ``drafts``), one per case composer and one per
dialog (new case, bulk edit). Never events: a draft is the agent's alone until sent."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, select

from app.store import schema as s

CASE_KINDS = ("reply", "note")
DIALOG_KINDS = ("new_case", "bulk")
KINDS = CASE_KINDS + DIALOG_KINDS


def slot_of(kind: str, case_id: str | None) -> str:
    """The row a draft lives in: a case's reply and note share one (the composer's)."""
    if kind in CASE_KINDS:
        if not case_id:
            raise ValueError(f"A {kind} draft needs its case.")
        return f"case:{case_id}"
    if kind in DIALOG_KINDS:
        return f"{kind}:"
    raise ValueError(f"Unknown draft kind {kind!r}: expected one of {', '.join(KINDS)}.")


def put(conn: Connection, *, slot: str, case_id: str | None, kind: str, text: str, mode: str,
        attachments: list[str], updated_ms: int) -> None:
    conn.execute(s.drafts.insert().prefix_with("OR REPLACE"), {
        "slot": slot, "case_id": case_id, "kind": kind, "text": text, "mode": mode,
        "attachments": json.dumps(attachments), "updated_ms": updated_ms})


def remove(conn: Connection, slot: str) -> bool:
    return bool(conn.execute(delete(s.drafts).where(s.drafts.c.slot == slot)).rowcount)


def _row(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    try:
        refs = json.loads(d["attachments"] or "[]")
    except ValueError:  # a damaged row still gives its text back
        refs = []
    d["attachments"] = [str(r) for r in refs] if isinstance(refs, list) else []
    return d


def get(conn: Connection, slot: str) -> dict[str, Any] | None:
    row = conn.execute(select(s.drafts).where(s.drafts.c.slot == slot)).first()
    return None if row is None else _row(row)


def every(conn: Connection) -> list[dict[str, Any]]:
    """All drafts, newest first, each with its case's key and subject (None for dialogs)."""
    d, c = s.drafts, s.cases
    rows = conn.execute(
        select(d, c.c.key.label("case_key"), c.c.subject.label("case_subject"))
        .select_from(d.outerjoin(c, c.c.id == d.c.case_id))
        .order_by(d.c.updated_ms.desc())).all()
    return [_row(r) for r in rows]

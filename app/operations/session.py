"""The window's session: the case tabs that were open and the view that was selected,
kept locally (a meta setting, no event) when the window closes and restored at start."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.store import schema as s

if TYPE_CHECKING:
    from app.store.repo import Store

SESSION_KEY = "ui.session"
MAX_TABS = 30  # more is a runaway loop, not an agent's desk


def save_session(store: Store, *, tabs: list[str], view: str | None) -> None:
    """Writer thread: remember the open tabs (case ids, in tab order) and the view."""
    ids = [str(t) for t in tabs if isinstance(t, str) and t][:MAX_TABS]
    store.set_meta(SESSION_KEY, json.dumps({"tabs": ids, "view": view or None}))


def load_session(store: Store) -> dict[str, Any]:
    """Reader thread: ``{"tabs": [case ids that still exist], "view": id or None}``; a
    damaged setting gives an empty session."""
    raw = store.get_meta(SESSION_KEY)
    try:
        saved = json.loads(raw) if raw else {}
    except ValueError:
        saved = {}
    if not isinstance(saved, dict):
        saved = {}
    tabs = [t for t in saved.get("tabs") or [] if isinstance(t, str)][:MAX_TABS]
    view = saved.get("view") if isinstance(saved.get("view"), str) else None
    if tabs:
        found = set(store.read(lambda conn: conn.execute(
            select(s.cases.c.id).where(s.cases.c.id.in_(tabs))).scalars().all()))
        tabs = [t for t in tabs if t in found]
    return {"tabs": tabs, "view": view}

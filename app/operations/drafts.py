"""Drafts: what the agent typed and has not sent, saved locally as they type (writer
thread, no events, never synced) and read back after a restart, a crash or a tab closed.

A case's composer has one draft (its mode says reply or note); the new-case and bulk-edit
dialogs have one each. Saving empty text deletes the draft: nothing is left to restore.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from app.store import drafts as dq

if TYPE_CHECKING:
    from app.store.repo import Store

MODES = ("reply", "note")
MAX_TEXT = 1_000_000  # a pasted log is fine; a runaway paste is refused, not truncated


def _check(kind: str, case_id: str | None, mode: str, text: str,
           attachments: list[str]) -> str:
    slot = dq.slot_of(kind, case_id)
    if kind in dq.CASE_KINDS and mode not in MODES:
        raise ValueError(f"Unknown composer mode {mode!r}: expected reply or note.")
    if not isinstance(text, str):
        raise ValueError("A draft's text must be text.")
    if len(text) > MAX_TEXT:
        raise ValueError(f"The draft is too long to keep ({len(text)} characters; "
                         f"at most {MAX_TEXT}).")
    if not all(isinstance(a, str) for a in attachments):
        raise ValueError("A draft's attachments must be references (text).")
    return slot


def save_draft(store: Store, *, case_id: str | None, kind: str, text: str, mode: str = "reply",
               attachments: list[str] | None = None, updated_ms: int | None = None) -> bool:
    """Writer thread: keep (or, for empty text and no attachments, delete) the draft.
    Returns whether a draft is now kept."""
    refs = list(attachments or [])
    slot = _check(kind, case_id, mode, text, refs)
    if not text.strip() and not refs:
        store.write(lambda conn: dq.remove(conn, slot))
        return False
    stamp = int(time.time() * 1000) if updated_ms is None else int(updated_ms)
    store.write(lambda conn: dq.put(conn, slot=slot, case_id=case_id, kind=kind, text=text,
                                    mode=mode, attachments=refs, updated_ms=stamp))
    return True


def delete_draft(store: Store, *, case_id: str | None, kind: str) -> bool:
    """Writer thread: forget the draft (sent, or discarded); whether there was one."""
    slot = dq.slot_of(kind, case_id)
    return bool(store.write(lambda conn: dq.remove(conn, slot)))


def load_draft(store: Store, *, case_id: str | None, kind: str) -> dict[str, Any] | None:
    """Reader thread: the kept draft (text, mode, attachments, updated_ms) or None."""
    slot = dq.slot_of(kind, case_id)
    return store.read(lambda conn: dq.get(conn, slot))


def list_drafts(store: Store) -> list[dict[str, Any]]:
    """Reader thread: every kept draft, newest first, with its case key and subject."""
    return store.read(dq.every)

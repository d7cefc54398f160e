"""Saved views: writes beyond save and delete (which live with the case operations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.operations import cases as ops

if TYPE_CHECKING:
    from app.core.changes import Changes
    from app.store.repo import Store


def rename_view(store: Store, *, old: str, new: str, query: str) -> Changes:
    """Writer thread: save under the new name, then drop the old one."""
    changes: Changes = ops.save_view(store, name=new, query=query)
    if " ".join(new.split()) != old:
        changes.merge(ops.delete_view(store, name=old))
    changes.message = f"Renamed view '{old}' to '{new}'"
    return changes

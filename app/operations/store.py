"""The local store as the UI sees it: its type, its error and how a window opens it.

The UI never imports ``app.store``; this module is its one door to the store's type.
"""

from __future__ import annotations

from pathlib import Path

from app.paths import DB_NAME, db_path
from app.store.db import StoreError
from app.store.repo import Store

__all__ = ["DB_NAME", "Store", "StoreError", "open_store"]


def open_store(data_dir: Path) -> Store:
    """Open (creating the folder if need be) the store of ``data_dir``; raises StoreError."""
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return Store(db_path(folder))

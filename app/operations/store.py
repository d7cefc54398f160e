"""The local store as the UI sees it: its type, its error, how a window opens it, and how
a case key typed or passed on the command line finds its case.

The UI never imports ``app.store``; this module is its one door to the store's type.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from app.paths import DB_NAME, db_path
from app.store import queries as q
from app.store.db import StoreError
from app.store.repo import Store

__all__ = ["DB_NAME", "Store", "StoreError", "open_store", "resolve_case"]


def open_store(data_dir: Path) -> Store:
    """Open (creating the folder if need be) the store of ``data_dir``; raises StoreError."""
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return Store(db_path(folder))


def resolve_case(conn: Connection, ref: str) -> str | None:
    """Reader: the id of the case whose key (current or provisional) or id is ``ref``."""
    return q.resolve_case(conn, ref)

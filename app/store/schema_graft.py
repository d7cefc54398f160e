"""A new first page for a database file whose first page is destroyed.

Page 1 holds the file header and the root of the schema table. When it is gone SQLite reads
nothing, though every table's pages may be intact. The tables the first migration creates
(the event log, meta, the undo stack) have the same root pages in every file this app made:
they are created, in one order, in an empty file. So a page 1 that names just those tables,
at those roots, makes their pages readable again. Tables of later migrations can sit at other
pages in a file that was migrated after it held data, so they are left out.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

GRAFTED = ("events", "meta", "operations")  # created by migration 0001, in an empty file
_PAGE_SIZES = tuple(1 << n for n in range(9, 17))


def page_size(path: Path) -> int:
    """The page size the header says, if it is a plausible one for this file; else 4096."""
    with path.open("rb") as fh:
        head = fh.read(100)
    size = 0
    if len(head) >= 18:
        raw = struct.unpack(">H", head[16:18])[0]
        size = 65536 if raw == 1 else raw
    length = path.stat().st_size
    if size in _PAGE_SIZES and length % size == 0:
        return size
    return 4096


def _layout(folder: Path, size: int) -> list[tuple[str, str, str, int, str]]:
    """The schema rows (type, name, table, root page, sql) of a fresh file at the newest
    revision, for the grafted tables and their indexes."""
    from app.store.db import make_engine, upgrade

    path = folder / "layout.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA page_size={size}")
    con.execute("VACUUM")  # applies the page size to the empty file
    con.close()
    engine = make_engine(path)
    try:
        with engine.connect() as conn:
            upgrade(conn)
    finally:
        engine.dispose()
    con = sqlite3.connect(path)
    try:
        return [(str(t), str(n), str(tb), int(r), s or "") for t, n, tb, r, s in con.execute(
            "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master "
            "WHERE tbl_name IN (?, ?, ?) ORDER BY rowid", GRAFTED)]
    finally:
        con.close()


def _first_page(folder: Path, size: int, rows: list[tuple[str, str, str, int, str]],
                pages: int) -> bytes | None:
    """Page 1 of a file whose schema names ``rows`` at their root pages, with a header
    saying the file has ``pages`` pages."""
    path = folder / "page1.db"
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute(f"PRAGMA page_size={size}")
        con.execute("PRAGMA journal_mode=DELETE")
        for kind, _name, _table, _root, sql in rows:
            if kind == "table" or (kind == "index" and sql):
                con.execute(sql)
        con.execute("PRAGMA writable_schema=ON")
        for _kind, name, _table, root, _sql in rows:
            con.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (root, name))
        con.execute("PRAGMA writable_schema=OFF")
        one_page = con.execute("SELECT count(*) FROM dbstat "
                               "WHERE name IN ('sqlite_schema', 'sqlite_master')"
                               ).fetchone()[0] == 1
    finally:
        con.close()
    if not one_page:
        return None
    page = bytearray(path.read_bytes()[:size])
    page[18:20] = b"\x01\x01"  # rollback journal: no WAL needed to read it
    struct.pack_into(">I", page, 28, pages)  # database size in pages
    struct.pack_into(">II", page, 32, 0, 0)  # no freelist (its pages are unknown)
    counter = struct.unpack(">I", page[24:28])[0]
    struct.pack_into(">I", page, 92, counter)  # the size above is valid for this counter
    return bytes(page)


def graft(damaged: Path, folder: Path) -> Path | None:
    """A copy of ``damaged`` (in ``folder``) with a rebuilt page 1, or None when none can be
    made (an unusual page size or layout)."""
    size = page_size(damaged)
    length = damaged.stat().st_size
    if length < 2 * size:
        return None
    try:
        rows = _layout(folder, size)
        page = _first_page(folder, size, rows, length // size)
    except sqlite3.DatabaseError:
        return None
    if page is None:
        return None
    target = folder / "grafted.db"
    data = bytearray(damaged.read_bytes())
    data[:size] = page
    target.write_bytes(bytes(data))
    return target

"""`smart-support check`: integrity check, projection verification and repair."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from app.paths import db_path
from app.store.db import StoreError, make_engine


def _salvage(path: Path) -> dict[str, Any]:
    """Move a damaged file aside and rebuild a new one from whatever events can be read."""
    from app.store.projector import event_row, row_event  # noqa: F401  (row shape)
    from app.store.repo import Store

    aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    shutil.move(path, aside)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            shutil.move(side, Path(f"{aside}{suffix}"))
    rows: list[tuple[Any, ...]] = []
    lost = 0
    meta: list[tuple[str, str]] = []
    try:
        src = sqlite3.connect(f"file:{aside}?mode=ro", uri=True)
        try:
            meta = list(src.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError:
            pass
        cols = "id, case_id, team_id, type, payload, actor, device_id, hlc, server_seq, op_id"
        last = 0
        while True:  # page by rowid so one bad page loses only its rows
            try:
                batch = list(src.execute(f"SELECT seq, {cols} FROM events WHERE seq > ? "
                                         "ORDER BY seq LIMIT 5000", (last,)))
            except sqlite3.DatabaseError:
                lost += 1
                last += 5000
                if last > 50_000_000:
                    break
                continue
            if not batch:
                break
            rows += [r[1:] for r in batch]
            last = batch[-1][0]
        src.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"nothing could be read from {aside}: {exc}") from exc
    store = Store(path)
    names = ("id", "case_id", "team_id", "type", "payload", "actor", "device_id", "hlc",
             "server_seq", "op_id")

    def tx(conn: Any) -> None:
        from sqlalchemy import insert

        from app.store import schema as s

        for key, value in meta:
            if key in ("device_id", "device_code", "actor", "hlc", "key_counter",
                       "default_team", "demo", "pull_cursor"):
                conn.execute(s.meta.insert().prefix_with("OR REPLACE"),
                             {"key": key, "value": value})
        for i in range(0, len(rows), 20_000):
            conn.execute(insert(s.events).prefix_with("OR IGNORE"),
                         [dict(zip(names, r, strict=True)) for r in rows[i:i + 20_000]])

    store.write(tx)
    store.rebuild()
    store.close()
    return {"moved_to": str(aside), "events_recovered": len(rows), "unreadable_pages": lost}


def check(folder: Path, *, repair: bool = False) -> dict[str, Any]:
    path = db_path(folder)
    report: dict[str, Any] = {"database": str(path), "ok": True, "actions": []}
    if not path.exists():
        report["summary"] = f"no database at {path} (nothing to check)"
        return report
    engine = make_engine(path)
    try:
        with engine.connect() as conn:
            result = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
    except Exception as exc:  # a file that is not a database at all
        result = str(exc)
    finally:
        engine.dispose()
    report["integrity"] = result
    if result != "ok":
        if not repair:
            report["ok"] = False
            report["summary"] = (f"the database is damaged ({result}); run "
                                 "`smart-support check --repair` to rebuild it from the log")
            return report
        report["salvage"] = _salvage(path)
        report["actions"].append("rebuilt the database from the readable event log")
    from app.store.rebuild import rebuild_projections
    from app.store.repo import Store, dump_projections

    store = Store(path)
    try:
        with store.engine.connect().execution_options(write=True) as conn:
            trans = conn.begin()
            before = dump_projections(conn)
            events = rebuild_projections(conn)
            after = dump_projections(conn)
            if before != after or repair:
                trans.commit()
                if before != after:
                    report["actions"].append("projections differed from the log: rebuilt")
            else:
                trans.rollback()
        report["events"] = events
        report["index"] = _check_index(folder, store)
    finally:
        store.close()
    if report["index"]:
        report["actions"].append("search index: " + "; ".join(report["index"]))
    report["summary"] = ("ok: " if report["ok"] else "problems: ") + (
        "; ".join(report["actions"]) or f"{report.get('events', 0):,} events, projections match")
    return report


def _check_index(folder: Path, store: Any) -> list[str]:
    try:
        from app.search.service import SearchService
    except ImportError:
        return []
    service = SearchService(folder, store)
    try:
        problems: list[str] = service.verify()
        if problems:
            service.ensure_index()
            problems.append("rebuilt")
        return problems
    finally:
        service.close()

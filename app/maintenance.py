"""`smart-support check`: integrity check, projection verification and repair."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from app.paths import db_path, private_dir
from app.store.db import make_engine


def _salvage(path: Path) -> dict[str, Any]:
    """Move a damaged file aside and build a new one from every row that can still be read.

    Identity and settings (meta) are kept; after any loss the pull cursor goes back to 0, so
    the next sync brings back everything the server has (ingesting known events is a no-op).
    """
    from app.store.salvage import salvage_file

    stamp = int(time.time())
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    shutil.move(path, aside)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            shutil.move(side, Path(f"{aside}{suffix}"))
    # Read a private copy: opening the WAL needs write access, and the kept file stays as is.
    work = private_dir(path.parent / f".salvage-{stamp}")
    try:
        copy = work / "copy.db"
        shutil.copyfile(aside, copy)
        if Path(f"{aside}-wal").exists():
            shutil.copyfile(Path(f"{aside}-wal"), Path(f"{copy}-wal"))
        found = salvage_file(copy, work)
        meta = found.kept_events.derive_meta(found.meta)
        found.kept_events.close()
        derived = sorted(k for k in meta if meta[k] != found.meta.get(k))
        reset = found.anything_lost
        if reset:
            meta["pull_cursor"] = "0"
        recovered = _new_store(path, meta, found.kept_events.path, found.tables)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    events = found.events
    lost = max(events.expected - recovered, 0)
    if lost:
        _restart_followers(path.parent)
    return {
        "moved_to": str(aside), "events_recovered": recovered,
        "unreadable_pages": events.damaged_ranges,
        "events_lost": lost, "events_expected": events.expected,
        "unsynced_lost": events.unsynced_lost, "counts_exact": events.exact,
        "pull_cursor_reset": reset,
        "kept_meta": sorted(k for k in found.meta if not (reset and k == "pull_cursor")),
        "derived_meta": derived, "meta_lost": found.meta_lost,
        "tables": {name: {"kept": len(found.tables[name]), "lost": found.table_lost[name]}
                   for name in found.tables},
        "unreadable_tables": found.unreadable_tables,
        "anything_lost": found.anything_lost or lost > 0,
    }


def _restart_followers(folder: Path) -> None:
    """After a loss the caches that follow the log by seq may hold what the log lost, and be
    ahead of it (new events reuse the seqs of a lost tail): the search index and the
    analytics read model are rebuilt from the log, and notifications start again from its
    head (their read flags and settings stay)."""
    from app.operations.notifications import FILE_NAME as NOTIFICATIONS
    from app.store.analytics_tables import FILE_NAME as ANALYTICS

    shutil.rmtree(folder / "index", ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{folder / ANALYTICS}{suffix}").unlink(missing_ok=True)
    notifications = folder / NOTIFICATIONS
    if notifications.exists():
        try:
            con = sqlite3.connect(notifications, timeout=5)
            try:
                with con:
                    con.execute("DELETE FROM settings WHERE key = 'last_seq'")
            finally:
                con.close()
        except sqlite3.Error:
            pass  # no such table yet, or damaged too: it starts at the head either way


def _new_store(path: Path, meta: dict[str, str], kept: Path,
               tables: dict[str, list[dict[str, Any]]]) -> int:
    """Build the new database from the salvage; returns how many events it holds."""
    from sqlalchemy import Connection

    from app.store import schema as s
    from app.store.repo import Store
    from app.store.salvage import KeptEvents

    store = Store(path)
    try:
        # The kept events, copied file to file in seq order (never all in memory). A
        # damaged page can repeat an id: the first (lowest seq) copy is kept.
        cols = ", ".join(f'"{c}"' for c in KeptEvents.COLUMNS)
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            con.execute("ATTACH DATABASE ? AS kept", (str(kept),))
            with con:
                con.execute(f"INSERT OR IGNORE INTO main.events ({cols}) "
                            f"SELECT {cols} FROM kept.events ORDER BY seq")
            con.execute("DETACH DATABASE kept")
        finally:
            con.close()

        def tx(conn: Connection) -> None:
            for key, value in meta.items():
                conn.execute(s.meta.insert().prefix_with("OR REPLACE"),
                             {"key": key, "value": value})
            for name, rows in tables.items():
                if rows:
                    conn.execute(getattr(s, name).insert().prefix_with("OR IGNORE"), rows)

        store.write(tx)
        store.rebuild()
        store.write(lambda conn: _bookkeeping(conn, meta))
        return int(store.read(lambda c: c.exec_driver_sql("SELECT count(*) FROM events")
                              .scalar()) or 0)
    finally:
        store.close()


def _bookkeeping(conn: Any, meta: dict[str, str]) -> None:
    from app.store import schema as s

    # Never hand out a provisional key the kept cases already hold.
    code = meta.get("device_code")
    if code:
        keys = conn.exec_driver_sql("SELECT key FROM case_keys WHERE key LIKE ?",
                                    (f"{code}-%",)).scalars()
        numbers = [int(k.rsplit("-", 1)[1]) for k in keys if k.rsplit("-", 1)[1].isdigit()]
        top = max([int(meta.get("key_counter", "0")), *numbers])
        conn.execute(s.meta.insert().prefix_with("OR REPLACE"),
                     {"key": "key_counter", "value": str(top)})
    # Seq values left without an event, so a later salvage can count its losses exactly.
    gaps = conn.exec_driver_sql("SELECT COALESCE(MAX(seq) - COUNT(*), 0) FROM events").scalar()
    conn.execute(s.meta.insert().prefix_with("OR REPLACE"),
                 {"key": "events_seq_gaps", "value": str(int(gaps or 0))})


def _salvage_summary(found: dict[str, Any]) -> str:
    recovered, expected = found["events_recovered"], found["events_expected"]
    about = "" if found["counts_exact"] else "about "
    parts = [f"salvaged the damaged file (kept aside at {found['moved_to']}): kept "
             f"{recovered:,} of {about}{expected:,} events"]
    if "events" in found["unreadable_tables"] and not recovered:
        parts = [f"salvaged the damaged file (kept aside at {found['moved_to']}): the event log "
                 "could not be read at all, so how many events were lost (and how many of "
                 "them had never been synced) is unknown"]
    elif found["events_lost"] or not found["counts_exact"]:
        parts.append(f"{about}{found['events_lost']:,} events could not be read")
        unsynced = found["unsynced_lost"]
        at_least = "" if found["counts_exact"] else "at least "
        parts.append(f"{at_least}{unsynced:,} of them had never been synced and cannot be "
                     "recovered" if unsynced or not found["counts_exact"]
                     else "all of them had been synced")
    lost_rows = {n: t["lost"] for n, t in found["tables"].items() if t["lost"]}
    if lost_rows or found["meta_lost"]:
        lost_rows["meta"] = found["meta_lost"]
        parts.append("unreadable rows: " + ", ".join(f"{n} {c}" for n, c in
                                                      sorted(lost_rows.items()) if c))
    if found["unreadable_tables"]:
        parts.append("unreadable tables: " + ", ".join(found["unreadable_tables"]))
    parts.append(f"kept settings: {', '.join(found['kept_meta']) or 'none'}")
    if found["pull_cursor_reset"]:
        how = ("run `smart-support sync`" if "server_url" in found["kept_meta"]
               else "sign in (`smart-support login`) and sync")
        parts.append(f"the pull cursor was reset: {how} to restore everything the server has")
    return "; ".join(parts)


def check(folder: Path, *, repair: bool = False) -> dict[str, Any]:
    path = db_path(folder)
    report: dict[str, Any] = {"database": str(path), "ok": True, "actions": []}
    if not path.exists():
        report["summary"] = f"no database at {path} (nothing to check)"
        return report
    result = _integrity(path)
    report["integrity"] = result
    if result != "ok":
        if not repair:
            report["ok"] = False
            report["summary"] = (f"the database is damaged ({result}); run "
                                 "`smart-support check --repair` to rebuild it from the log")
            return report
        report["salvage"] = _salvage(path)
        report["actions"].append("rebuilt the database from the readable event log")
        report["actions"].append(_salvage_summary(report["salvage"]))
        if report["salvage"]["anything_lost"]:
            report["ok"] = False  # never "ok" after a loss, even one a sync will undo
    from app.store.repo import Store

    store = Store(path)
    try:
        report["events"] = _refold(store, report, repair=repair)
        report["index"] = _check_index(folder, store)
        from app.operations import sync_health  # held events this build may apply now

        report["reapplied"] = sync_health.reapply_quarantined(store)
        if report["reapplied"]:
            report["actions"].append(f"{report['reapplied']} held events now applied")
        health = sync_health.sync_health(store)
        report["quarantined"], report["refused"] = health.quarantined, health.refused
    finally:
        store.close()
    if report["index"]:
        report["actions"].append("search index: " + "; ".join(report["index"]))
    report["summary"] = ("ok: " if report["ok"] else "problems: ") + (
        "; ".join(report["actions"]) or f"{report.get('events', 0):,} events, projections match")
    return report


def _integrity(path: Path) -> Any:
    """SQLite's integrity_check answer ("ok"), or why the file could not even be asked."""
    engine = make_engine(path)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA integrity_check").scalar()
    except Exception as exc:  # a file that is not a database at all
        return str(exc)
    finally:
        engine.dispose()


def _refold(store: Any, report: dict[str, Any], *, repair: bool) -> int:
    """Rebuild the projections from the log; kept when they differed (or on repair).
    Returns how many events were folded."""
    from app.store.rebuild import rebuild_projections
    from app.store.repo import dump_projections

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
    return int(events)


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

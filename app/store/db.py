"""Opening the local database: pragmas, a quick integrity check, migrations."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DatabaseError, OperationalError

from app.core.errors import AppError

HEAD_REVISION = "0009"
MIGRATIONS = Path(__file__).with_name("migrations")



def _synchronous() -> str:
    # FULL by default. Only the sync simulation lowers it (it kills clients between
    # transactions, not the machine, so fsync adds nothing there but minutes).
    value = os.environ.get("SMART_SUPPORT_SQLITE_SYNCHRONOUS", "FULL").upper()
    return value if value in ("FULL", "NORMAL", "OFF") else "FULL"


class StoreError(AppError):
    """A problem with the local database, with a message meant for the agent."""


class StoreLocked(StoreError):
    pass


class StoreCorrupt(StoreError):
    pass


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # The pysqlite driver's own transaction handling is replaced by explicit BEGINs.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={_synchronous()}")
    cur.execute("PRAGMA foreign_keys=ON")
    # 8 MB of page cache per connection (the app keeps four or five open); the OS file
    # cache holds the rest, so larger caches cost resident memory and buy little.
    cur.execute("PRAGMA cache_size=-8192")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def _on_begin(conn: Any) -> None:
    # Writers take the write lock up front so a busy database waits instead of failing.
    write = conn.get_execution_options().get("write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False,
                                                               "timeout": 5})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def describe_error(exc: BaseException, path: Path) -> StoreError:
    msg = str(exc).lower()
    if "locked" in msg or "busy" in msg:
        return StoreLocked(f"The database {path} is locked by another program (another copy of "
                           "Smart Support Agent?). Close it and try again.")
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return StoreCorrupt(f"The database {path} is damaged ({exc}). Run `smart-support check "
                            "--repair` to rebuild it from the event log.")
    return StoreError(f"The database {path} could not be used: {exc}")


def open_engine(path: Path, *, migrate: bool = True, check: bool = True) -> Engine:
    from app.paths import private_database, private_dir, private_file

    try:
        private_dir(path.parent)
        # Owner-only before SQLite first opens it: it gives the -wal and -shm it creates the
        # database file's mode. Files an older version left looser are tightened here too.
        private_file(path, create=True)
        private_database(path)
    except OSError as exc:
        raise StoreError(f"The database {path} cannot be opened: {exc}") from exc
    engine = make_engine(path)
    try:
        with engine.connect() as conn:
            if check:
                result = conn.exec_driver_sql("PRAGMA quick_check").scalar()
                if result != "ok":
                    raise StoreCorrupt(f"The database {path} failed its integrity check "
                                       f"({result}). Run `smart-support check --repair`.")
            if migrate:
                upgrade(conn)
        private_database(path)
    except (OperationalError, DatabaseError) as exc:
        engine.dispose()
        raise describe_error(exc.orig or exc, path) from exc
    except StoreError:
        engine.dispose()
        raise
    return engine


def current_revision(conn: Any) -> str | None:
    try:
        value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except (OperationalError, DatabaseError):
        conn.rollback()
        return None
    return str(value) if value else None


def upgrade(conn: Any, target: str = "head") -> None:
    """Apply Alembic migrations; skipped (no Alembic import) when already at head."""
    if target == "head" and current_revision(conn) == HEAD_REVISION:
        conn.rollback()
        return
    conn.rollback()
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)
    conn.commit()


def quick_check(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("PRAGMA quick_check")).scalar())

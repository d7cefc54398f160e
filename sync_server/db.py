"""Engines, write transactions and programmatic Alembic migrations for SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import ConnectionPoolEntry

from sync_server.private import private_database, private_dir, sqlite_file

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_KEY = 0x5357_5350  # pg advisory lock id while migrating ("SWSP")
_IMMEDIATE = "smart_support_immediate"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and IMMEDIATE write transactions."""
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            # Owner-only: the file holds password hashes and every team's cases.
            private_dir(path.parent)
            private_database(path, create=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size, max_overflow=20,
        )
        _configure_sqlite(engine, path)
        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine, path: Path | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        if path is not None:  # -wal/-shm an older version (or a restore) left looser
            private_database(path)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def write_tx(engine: Engine) -> AbstractContextManager[Connection]:
    """A transaction that will write: on SQLite it takes the write lock up front.

    (A deferred SQLite transaction that reads first and then writes can fail with
    SQLITE_BUSY_SNAPSHOT without waiting; BEGIN IMMEDIATE waits on the busy timeout instead.)
    """
    return engine.execution_options(**{_IMMEDIATE: True}).begin()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (serialized across processes on PostgreSQL)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

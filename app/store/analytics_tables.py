"""Tables of the analytics read model, kept in a separate SQLite file (``analytics.db``).

The read model follows the event log of the main store by ``events.seq`` (``last_seq`` in
``am_meta``) and can always be rebuilt from it: when :data:`SCHEMA_VERSION` (or the SLA
configuration's fingerprint) changes, every table is dropped and refolded. No Alembic here:
the file is a cache of the log, not a source of truth.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
)

SCHEMA_VERSION = 4
FILE_NAME = "analytics.db"

metadata = MetaData()

am_meta = Table(
    "am_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per case: the fields the reports group by, and the times they measure.
am_cases = Table(
    "am_cases", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("key", String(64)),
    Column("subject", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("team_id", String(64)),
    Column("assignee_id", String(64)),
    Column("organization_id", String(64)),
    Column("product", String(120)),
    Column("created_ms", Integer, nullable=False),
    Column("created_day", Integer, nullable=False),  # UTC day number (ms // 86400000)
    Column("first_response_ms", Integer),  # first public agent reply
    Column("solved_ms", Integer),  # the last move into solved/closed, if solved/closed now
    Column("first_solved_ms", Integer),
    Column("reopens", Integer, nullable=False, default=0),
    Column("next_deadline_ms", Integer),  # the earliest running SLA deadline
    Index("ix_am_cases_open", "is_open", "status", "priority", "team_id", "assignee_id",
          "created_ms"),
    Index("ix_am_cases_created", "created_day", "team_id", "assignee_id"),
    Index("ix_am_cases_deadline", "next_deadline_ms"),
)

am_tags = Table(
    "am_tags", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Index("ix_am_tags_tag", "tag"),
)

# Every move of a case into solved/closed (from an open status), for per-day and per-agent counts.
am_solves = Table(
    "am_solves", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("solved_ms", Integer, nullable=False),
    Column("solved_day", Integer, nullable=False),
    Column("agent_id", String(320)),  # the assignee at that moment (else who solved it)
    Column("team_id", String(64)),
    Index("ix_am_solves_day", "solved_day", "team_id", "agent_id"),
)

# SLA clocks per case and target (first_response, resolution); independent of "now".
am_sla = Table(
    "am_sla", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("target", String(16), primary_key=True),
    Column("policy", Text),
    Column("target_ms", Integer, nullable=False),
    Column("deadline_ms", Integer),  # None while paused (or met without reaching it)
    Column("risk_ms", Integer),  # at risk from here on (running clocks)
    Column("outcome", String(16)),  # met | breached once stopped
    Column("stopped_ms", Integer),
    Column("paused_left_ms", Integer),  # frozen time left while paused
    Column("paused_at_risk", Boolean, nullable=False, default=False),
    Column("case_open", Boolean, nullable=False),
    Column("created_day", Integer, nullable=False),
    Column("team_id", String(64)),
    Column("assignee_id", String(64)),
    Index("ix_am_sla_deadline", "outcome", "deadline_ms"),
    Index("ix_am_sla_created", "created_day"),
)

# Team-shared and personal macros / saved replies, folded from their events.
am_macros = Table(
    "am_macros", metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(8), primary_key=True),  # macro | reply
    Column("name", Text, nullable=False),
    Column("scope", String(80), nullable=False),  # shared | personal
    Column("owner", String(320)),  # the author of a personal one
    Column("team_id", String(64)),
    Column("body", Text, nullable=False),  # JSON: actions (macro) or {"text": ...} (reply)
    Column("clock", String(64), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
)

ALL_TABLES = (am_cases, am_tags, am_solves, am_sla, am_macros)


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute("PRAGMA cache_size=-8192")
    cur.close()


def _on_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def open_analytics_engine(path: Path | None) -> Engine:
    """An engine on ``path`` (``None``: a throw-away temporary file, so that worker threads
    get their own connections, which one shared in-memory connection cannot offer)."""
    if path is None:
        import atexit
        import os
        import tempfile

        fd, name = tempfile.mkstemp(prefix="ssa-readmodel-", suffix=".db")
        os.close(fd)
        path = Path(name)

        def cleanup(p: Path = path) -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{p}{suffix}").unlink(missing_ok=True)

        atexit.register(cleanup)
    else:
        from app.paths import private_database, private_dir, private_file

        private_dir(path.parent)  # owner-only: read models of the cases (notifications.db)
        private_file(path, create=True)
        private_database(path)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def ensure_schema(engine: Engine, fingerprint: str) -> bool:
    """Create the tables; drop and recreate them when the schema version or the SLA
    configuration changed. Returns True when the read model starts empty."""
    wanted = f"{SCHEMA_VERSION}:{fingerprint}"
    with engine.connect() as conn, conn.begin():
        metadata.create_all(conn, tables=[am_meta])
        current = conn.execute(select(am_meta.c.value)
                               .where(am_meta.c.key == "schema")).scalar()
        if current == wanted:
            metadata.create_all(conn)
            return False
        metadata.drop_all(conn, tables=list(ALL_TABLES))
        conn.execute(am_meta.delete())
        metadata.create_all(conn)
        conn.execute(am_meta.insert(), [{"key": "schema", "value": wanted},
                                        {"key": "last_seq", "value": "0"}])
        return True

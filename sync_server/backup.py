"""``backup OUT`` / ``restore IN``: a consistent copy of a running server, and its way back.

SQLite: OUT is a new folder holding the database copied with SQLite's online backup API
(safe while the server writes), the attachment folder and the signing secret. PostgreSQL:
OUT is a ``pg_dump --format=custom`` file and ``restore`` runs ``pg_restore`` into an empty
database (both tools must be on PATH; docs/deploy.md gives the manual steps).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sync_server.private import private_database, private_dir, sqlite_file
from sync_server.settings import SECRET_FILE, Settings

DB_NAME = "server.sqlite3"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; nothing was changed."""


def _libpq_url(url: str) -> str:
    # SQLAlchemy's driver suffix (postgresql+psycopg://) means nothing to the pg tools.
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools "
                          "(see docs/deploy.md, Backup)")
    return found


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {result.stderr.strip()[-500:]}")


def backup(settings: Settings, out: Path) -> str:
    """Write the backup to ``out`` (which must not exist); return what was written."""
    if out.exists():
        raise BackupError(f"{out} already exists: give a new path")
    if settings.is_postgres:
        _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={out}",
              _libpq_url(settings.db_url)])
        return f"PostgreSQL dump written to {out}"
    source = sqlite_file(settings.db_url)
    if source is None or not source.exists():
        raise BackupError(f"no SQLite database at {source}")
    private_dir(out)
    target = out / DB_NAME
    private_database(target, create=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)  # online: a consistent snapshot while the server writes
    finally:
        dst.close()
        src.close()
    blobs = settings.data_dir / "blobs"
    if blobs.is_dir():
        # Blobs are content-addressed and written whole, so a copy after the database
        # holds every blob the copied database names.
        shutil.copytree(blobs, out / "blobs")
    secret = settings.data_dir / SECRET_FILE
    if secret.is_file():
        shutil.copy2(secret, out / SECRET_FILE)
    return f"SQLite backup written to {out}"


def restore(settings: Settings, source: Path) -> str:
    """Restore ``source`` into this server's (empty) database; refuse to overwrite data."""
    if not source.exists():
        raise BackupError(f"no backup at {source}")
    if settings.is_postgres:
        if not source.is_file():
            raise BackupError(f"{source} is not a pg_dump file")
        _run([_pg_tool("pg_restore"), "--no-owner", "--exit-on-error",
              f"--dbname={_libpq_url(settings.db_url)}", str(source)])
        return f"PostgreSQL dump {source} restored"
    copied = source / DB_NAME
    if not source.is_dir() or not copied.is_file():
        raise BackupError(f"{source} is not a backup folder (no {DB_NAME} in it)")
    _check_sqlite(copied)
    target = sqlite_file(settings.db_url)
    if target is None:
        raise BackupError("restore needs a file database")
    if target.exists() and target.stat().st_size > 0:
        raise BackupError(f"{target} already exists: restore into a new --data-dir")
    private_dir(target.parent)
    private_database(target, create=True)
    src = sqlite3.connect(f"file:{copied}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()
    if (source / "blobs").is_dir():
        shutil.copytree(source / "blobs", settings.data_dir / "blobs", dirs_exist_ok=True)
    if (source / SECRET_FILE).is_file() and not (settings.data_dir / SECRET_FILE).exists():
        shutil.copy2(source / SECRET_FILE, settings.data_dir / SECRET_FILE)
    return f"restored {source} into {settings.data_dir}"


def _check_sqlite(path: Path) -> None:
    """A tampered or foreign file fails here, before anything is written."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = connection.execute("PRAGMA integrity_check").fetchone()
            connection.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a Smart Support server database: {exc}") from exc
    if ok is None or ok[0] != "ok":
        raise BackupError(f"{path} is damaged (integrity check: {ok})")

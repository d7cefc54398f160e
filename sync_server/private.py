"""Owner-only folders and files for the server's data (its database, blobs, secret).

The server's own copy of the client's helper (``sync_server`` must not import the client
app): folders 0700, files 0600, set after creation because mkdir's and open's modes are
filtered by the umask, and tightened on start when an older version left them looser.
Modes are left alone on Windows, where chmod cannot express them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` as an owner-only folder, created with any missing parents (owner-only too)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for created in missing:
        _tighten(created, DIR_MODE)
    if _ours(path):
        _tighten(path, DIR_MODE)
    return path


def private_database(path: Path, *, create: bool = False) -> None:
    """An SQLite file and its -wal/-shm owner-only (``create``: make an empty one first, so
    SQLite, which gives the -wal and -shm the database file's mode, never sees it looser)."""
    if create and os.name != "nt":
        try:  # only a new file: an existing one is never opened for writing here
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except FileExistsError:
            pass
    for suffix in ("", "-wal", "-shm", "-journal"):
        _tighten(Path(f"{path}{suffix}"), FILE_MODE)


def sqlite_file(url: str) -> Path | None:
    """The file an ``sqlite:///`` URL names (None for memory databases and other engines)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            name = url[len(prefix):].split("?", 1)[0]
            return Path(name) if name and name != ":memory:" else None
    return None


def _ours(path: Path) -> bool:
    """A folder this user owns and that is not a shared one (sticky, like /tmp): only such
    an existing folder is tightened."""
    if os.name == "nt":
        return False
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & stat.S_ISVTX


def _tighten(path: Path, mode: int) -> None:
    if os.name == "nt":
        return
    try:
        current = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if current & ~mode:
        os.chmod(path, current & mode)

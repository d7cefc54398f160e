"""Where the app keeps its data: platformdirs, overridable by --data-dir or the environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DB_NAME = "smart-support.db"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get("SMART_SUPPORT_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("smart-support", "SmartSupport"))


def db_path(directory: Path) -> Path:
    return directory / DB_NAME


# Owner-only: the data folder holds every case, customer and redaction map of the team.
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can open, created with any missing parents (each
    of them owner-only too); a looser existing folder is tightened. Modes are left alone on
    Windows, where chmod cannot express them."""
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


def private_file(path: Path, *, create: bool = False) -> Path:
    """Make ``path`` owner-only (``create``: an empty file is made, owner-only from the start,
    if there is none)."""
    if create and os.name != "nt":
        try:  # only a new file: an existing one is never opened for writing here
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except FileExistsError:
            pass
    _tighten(path, FILE_MODE)
    return path


def private_database(path: Path) -> None:
    """The database file and its WAL and shared-memory files, owner-only where they exist."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        _tighten(Path(f"{path}{suffix}"), FILE_MODE)


def _ours(path: Path) -> bool:
    """A folder this user owns and that is not a shared one (sticky, like /tmp): only such
    an existing folder is tightened."""
    if os.name == "nt":
        return False
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & stat.S_ISVTX


def _tighten(path: Path, mode: int) -> None:
    # chmod after creation: mkdir's and open's modes are filtered by the umask, and a file
    # made by an older version (or copied in) may be looser than it should be.
    if os.name == "nt":
        return
    try:
        current = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if current & ~mode:
        os.chmod(path, current & mode)

"""A byte-for-byte reproducible .tar.gz of a folder.

Two builds of one commit must give identical archives, so nothing of the build machine
or the moment leaks in: entries sorted, every mtime set to SOURCE_DATE_EPOCH, owner
root:root with no names, no pax headers (GNU format), gzip header without name or time.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path

DEFAULT_EPOCH = 315532800  # 1980-01-01: the zip epoch; used when SOURCE_DATE_EPOCH is unset


def source_date_epoch(env: dict[str, str] | None = None) -> int:
    raw = (env if env is not None else dict(os.environ)).get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return DEFAULT_EPOCH
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"SOURCE_DATE_EPOCH must be whole seconds, not {raw!r}") from exc
    if value < 0:
        raise ValueError("SOURCE_DATE_EPOCH must not be negative")
    return value


def _entries(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        found.extend(base / d for d in dirnames)
        found.extend(base / f for f in sorted(filenames))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _info(path: Path, arcname: str, mtime: int) -> tarfile.TarInfo:
    st = path.lstat()
    info = tarfile.TarInfo(arcname)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
        info.mode = 0o777
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    elif stat.S_ISREG(st.st_mode):
        info.size = st.st_size
        # Only the executable bit survives: umask differences between machines do not.
        info.mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
    else:
        raise ValueError(f"cannot archive {path}: not a file, folder or symlink")
    return info


def deterministic_tar_gz(folder: Path, out: Path, *, prefix: str | None = None,
                         mtime: int | None = None) -> Path:
    """Write ``folder`` as ``out`` (a .tar.gz), its entries under ``prefix/`` (default:
    the folder's name). The same folder content always gives the same bytes."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    when = source_date_epoch() if mtime is None else mtime
    top = prefix if prefix is not None else folder.name
    out.parent.mkdir(parents=True, exist_ok=True)
    # Streamed (a bundle is ~100 MB): tar written straight into a gzip with no name/time.
    with out.open("wb") as fh, \
            gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=when, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_info(folder, top, when))
        for path in _entries(folder):
            arcname = f"{top}/{path.relative_to(folder).as_posix()}"
            info = _info(path, arcname, when)
            if info.isreg():
                with path.open("rb") as src:
                    tar.addfile(info, src)
            else:
                tar.addfile(info)
    return out

"""Where a store keeps its attachment blobs (``<data_dir>/blobs``, with the size limit
the store's meta sets), and files staged there before they become blobs. Used by the
attachment operations and by sync (upload, fetch)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from app.content.attachments import DEFAULT_MAX_BYTES, BlobStore
from app.content.errors import AttachmentTooLarge, IntakeCancelled
from app.content.filenames import safe_filename
from app.paths import private_dir

if TYPE_CHECKING:
    from app.store.repo import Store

MAX_BYTES_META = "attachment_max_bytes"
_CHUNK = 1024 * 1024
_HEAD = 8192  # what intake sniffs a file's kind from
STALE_S = 24 * 3600.0


def data_dir(store: Store) -> Path:
    return Path(store.path).parent


def max_bytes(store: Store) -> int:
    """The attachment size limit: the store's ``attachment_max_bytes``, else 25 MB."""
    raw = store.get_meta(MAX_BYTES_META)
    try:
        value = int(raw) if raw else DEFAULT_MAX_BYTES
    except ValueError:
        value = DEFAULT_MAX_BYTES
    return value if value > 0 else DEFAULT_MAX_BYTES


def blob_store(store: Store) -> BlobStore:
    return BlobStore(data_dir(store) / "blobs", max_bytes(store))


@dataclass(slots=True)
class StagedBlob:
    """A file copied and hashed into its own folder under ``blobs/tmp``, under its
    (safe) name, so intake reads exactly the bytes that will be kept. It is no blob yet:
    :meth:`commit` moves it into place (a rename), :meth:`discard` leaves nothing."""

    blobs: BlobStore
    folder: Path
    path: Path
    sha256: str
    size: int
    head: bytes

    def commit(self) -> bool:
        """Move the file to its content address; True if it made a new blob, False when
        one with these bytes was there already (then the copy goes). Raises
        ``FileNotFoundError`` once discarded."""
        final = self.blobs.path_for(self.sha256)
        if final.is_file():
            self.discard()
            return False
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path.name} was discarded before it was stored")
        private_dir(final.parent)
        os.replace(self.path, final)
        self.discard()
        return True

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class NoStagingFolder(OSError):
    """``blobs/tmp`` or a folder in it could not be made."""


def _staging_folder(blobs: BlobStore) -> Path:
    tmp = blobs.root / "tmp"
    try:
        private_dir(tmp)
        sweep_stale(tmp)
        return Path(tempfile.mkdtemp(prefix="stage-", dir=tmp))
    except OSError as exc:
        raise NoStagingFolder(exc.errno, exc.strerror or str(exc), str(tmp)) from exc


def sweep_stale(tmp: Path, older_than_s: float = STALE_S) -> int:
    """Remove staging folders left by a process that died while attaching (a preparation
    lives seconds, so a day-old one has no owner). Returns how many went."""
    cutoff = time.time() - older_than_s
    gone = 0
    for folder in tmp.glob("stage-*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        except OSError:
            continue  # another process removed it first
    return gone


def stage_stream(blobs: BlobStore, src: BinaryIO, name: str, *,
                 on_progress: Callable[[int], None] | None = None,
                 should_cancel: Callable[[], bool] | None = None) -> StagedBlob:
    """Copy ``src`` into a staging folder, hashing it on the way. ``on_progress`` gets
    the bytes copied; ``should_cancel`` is asked per chunk (``IntakeCancelled``). Raises
    ``AttachmentTooLarge`` (past the limit), ``NoStagingFolder`` and ``OSError``; on any
    failure nothing is left behind."""
    folder = _staging_folder(blobs)
    target = folder / safe_filename(name, "attachment")
    hasher = hashlib.sha256()
    head = b""
    size = 0
    try:
        with target.open("wb") as out:
            while chunk := src.read(_CHUNK):
                if should_cancel is not None and should_cancel():
                    raise IntakeCancelled(f"cancelled after {size} bytes")
                size += len(chunk)
                if size > blobs.max_bytes:  # the file grew since its size was checked
                    raise AttachmentTooLarge(size, blobs.max_bytes, name)
                if len(head) < _HEAD:
                    head += chunk[: _HEAD - len(head)]
                hasher.update(chunk)
                out.write(chunk)
                if on_progress is not None:
                    on_progress(size)
            out.flush()
            os.fsync(out.fileno())  # durable before its rename into place
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StagedBlob(blobs, folder, target, hasher.hexdigest(), size, head)


def stage_bytes(blobs: BlobStore, data: bytes, name: str) -> StagedBlob:
    if len(data) > blobs.max_bytes:
        raise AttachmentTooLarge(len(data), blobs.max_bytes, name)
    return stage_stream(blobs, io.BytesIO(data), name)

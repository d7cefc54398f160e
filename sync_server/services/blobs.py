"""Content-addressed attachment storage: on the filesystem, or in the database (shared)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from sync_server.db import write_tx
from sync_server.tables import blobs


class HashMismatch(ValueError):
    """The uploaded bytes do not hash to the address they were sent to."""


class BlobStore(Protocol):
    def put(self, sha256: str, data: bytes) -> None: ...
    def get(self, sha256: str) -> bytes | None: ...
    def size(self, sha256: str) -> int | None: ...


def check_hash(sha256: str, data: bytes) -> None:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise HashMismatch("the body does not match the sha256 in the address")


class FsBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root  # created on the first upload

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, sha256: str, data: bytes) -> None:
        path = self._path(sha256)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes | None:
        path = self._path(sha256)
        return path.read_bytes() if path.exists() else None

    def size(self, sha256: str) -> int | None:
        path = self._path(sha256)
        return path.stat().st_size if path.exists() else None


class DbBlobStore:
    """Blobs in a table (bytea on PostgreSQL): every server process on one database shares them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, sha256: str, data: bytes) -> None:
        if self.size(sha256) is not None:
            return
        try:
            with write_tx(self.engine) as conn:
                conn.execute(insert(blobs).values(
                    sha256=sha256, size=len(data), data=data, created_at=time.time()
                ))
        except IntegrityError:  # a concurrent upload of the same content won
            pass

    def get(self, sha256: str) -> bytes | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(blobs.c.data).where(blobs.c.sha256 == sha256)).scalar()
        return bytes(value) if value is not None else None

    def size(self, sha256: str) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.coalesce(blobs.c.size, 0))
                                 .where(blobs.c.sha256 == sha256)).scalar()
        return int(value) if value is not None else None

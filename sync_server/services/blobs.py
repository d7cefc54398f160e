"""Content-addressed attachment storage (on the filesystem, or in the database, shared), the
streamed upload that never holds a whole blob in memory, and who may read a blob.

A blob is readable only by members of a team with a ``blob_refs`` row for it: one is written
for every stored ``attachment.added`` event (for the case's team), and again for the new
team when a case moves.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, func, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from sync_server.db import write_tx
from sync_server.limits import BodyTooLarge
from sync_server.private import private_dir
from sync_server.tables import blob_refs, blobs, events

ATTACHMENT_ADDED = "attachment.added"
CASE_UPDATED = "case.updated"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_INCOMING = ".incoming"
CHUNK_BYTES = 1024 * 1024  # one read of a blob being downloaded


class HashMismatch(ValueError):
    """The uploaded bytes do not hash to the address they were sent to."""


class BlobStore(Protocol):
    def put(self, sha256: str, data: bytes) -> None: ...
    def get(self, sha256: str) -> bytes | None: ...
    def size(self, sha256: str) -> int | None: ...
    def spool_dir(self) -> Path: ...
    def adopt(self, sha256: str, spooled: Path) -> None: ...
    def local_path(self, sha256: str) -> Path | None: ...
    def chunks(self, sha256: str) -> Iterator[bytes]: ...


def check_hash(sha256: str, data: bytes) -> None:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise HashMismatch("the body does not match the sha256 in the address")


class FsBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root  # created on the first upload

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def spool_dir(self) -> Path:
        """Uploads are spooled beside the blobs (same file system: the final move is atomic)."""
        return private_dir(self.root / _INCOMING)  # blobs are owner-only: 0700, files 0600

    def adopt(self, sha256: str, spooled: Path) -> None:
        path = self._path(sha256)
        if path.exists():
            spooled.unlink(missing_ok=True)
            return
        private_dir(path.parent)
        os.replace(spooled, path)

    def put(self, sha256: str, data: bytes) -> None:
        if self._path(sha256).exists():
            return
        fd, tmp = tempfile.mkstemp(dir=self.spool_dir(), prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self.adopt(sha256, Path(tmp))
        finally:
            Path(tmp).unlink(missing_ok=True)

    def local_path(self, sha256: str) -> Path | None:
        path = self._path(sha256)
        return path if path.exists() else None

    def get(self, sha256: str) -> bytes | None:
        path = self._path(sha256)
        return path.read_bytes() if path.exists() else None

    def chunks(self, sha256: str) -> Iterator[bytes]:
        with self._path(sha256).open("rb") as handle:
            while block := handle.read(CHUNK_BYTES):
                yield block

    def size(self, sha256: str) -> int | None:
        path = self._path(sha256)
        return path.stat().st_size if path.exists() else None


class DbBlobStore:
    """Blobs in a table (bytea on PostgreSQL): every server process on one database shares them.
    Uploads are spooled to a local temporary folder until complete and verified."""

    def __init__(self, engine: Engine, spool: Path | None = None) -> None:
        self.engine = engine
        self.spool = spool

    def spool_dir(self) -> Path:
        return private_dir(self.spool or Path(tempfile.gettempdir()) / "smart-support-blob-spool")

    def adopt(self, sha256: str, spooled: Path) -> None:
        try:
            if self.size(sha256) is None:
                self.put(sha256, spooled.read_bytes())
        finally:
            spooled.unlink(missing_ok=True)

    def local_path(self, sha256: str) -> Path | None:
        return None

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

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob in slices read one query each, so a download holds one slice in memory."""
        offset = 0
        while True:
            with self.engine.connect() as conn:
                block = conn.execute(select(func.substr(blobs.c.data, offset + 1, CHUNK_BYTES))
                                     .where(blobs.c.sha256 == sha256)).scalar()
            if not block:
                return
            yield bytes(block)
            offset += len(block)

    def size(self, sha256: str) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.coalesce(blobs.c.size, 0))
                                 .where(blobs.c.sha256 == sha256)).scalar()
        return int(value) if value is not None else None


async def receive_blob(store: BlobStore, sha256: str, chunks: AsyncIterator[bytes],
                       max_bytes: int) -> int:
    """Spool an upload to a temporary file while hashing it, then store it; return its size.

    Memory stays at one chunk. The temporary file is removed whatever happens (a hash
    mismatch, the size limit, a stalled or cancelled request). An upload of a blob that
    already exists is read and checked all the same, so its answer says nothing about
    whether someone else stored it.
    """
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=store.spool_dir(), prefix="upload-")
    spooled = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BodyTooLarge(max_bytes)
                digest.update(chunk)
                handle.write(chunk)
            if digest.hexdigest() != sha256:
                raise HashMismatch("the body does not match the sha256 in the address")
            handle.flush()
            await run_in_threadpool(os.fsync, handle.fileno())
        await run_in_threadpool(store.adopt, sha256, spooled)
    finally:
        spooled.unlink(missing_ok=True)
    return size


def readable(engine: Engine, sha256: str, team_ids: Iterable[str]) -> bool:
    """Whether a member of ``team_ids`` may read the blob (a team's event references it)."""
    mine = sorted(team_ids)
    if not mine:
        return False
    with engine.connect() as conn:
        return conn.execute(select(blob_refs.c.sha256).where(
            blob_refs.c.sha256 == sha256, blob_refs.c.team_id.in_(mine)).limit(1)).first() is not None


def _sha_of(payload: str) -> str | None:
    try:
        value = json.loads(payload).get("sha256")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and _SHA.match(value) else None


def _moved_to(payload: str) -> str | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("field") != "team_id":
        return None
    value = data.get("value")
    return value if isinstance(value, str) and value else None


def record_blob_refs(conn: Connection, rows: Iterable[Mapping[str, Any]],
                     case_teams: Mapping[str, str]) -> None:
    """Give the case's team (or the event's, without a case) a read ref to every blob that
    stored ``attachment.added`` rows name, and a moved case's new team refs to every blob
    the case's attachments name. Call after the rows are inserted, in their transaction."""
    wanted: set[tuple[str, str]] = set()
    moved: dict[str, str] = {}
    for row in rows:
        case_id = row.get("case_id")
        team = case_teams.get(case_id, row["team_id"]) if case_id else row["team_id"]
        if row["type"] == ATTACHMENT_ADDED:
            sha = _sha_of(row["payload"])
            if sha is not None:
                wanted.add((sha, team))
        elif row["type"] == CASE_UPDATED and case_id:
            target = _moved_to(row["payload"])
            if target is not None:
                moved[case_id] = case_teams.get(case_id, target)
    if moved:
        query = select(events.c.case_id, events.c.payload).where(
            events.c.case_id.in_(sorted(moved)), events.c.type == ATTACHMENT_ADDED)
        for case_id, payload in conn.execute(query):
            sha = _sha_of(payload)
            if sha is not None:
                wanted.add((sha, moved[case_id]))
    if not wanted:
        return
    pairs = sorted(wanted)
    have: set[tuple[str, str]] = set()
    for start in range(0, len(pairs), 400):
        part = pairs[start:start + 400]
        have.update((r.sha256, r.team_id) for r in conn.execute(
            select(blob_refs.c.sha256, blob_refs.c.team_id)
            .where(tuple_(blob_refs.c.sha256, blob_refs.c.team_id).in_(part))))
    missing = [{"sha256": s, "team_id": t} for s, t in pairs if (s, t) not in have]
    if missing:  # the push holds the event-sequence lock: no concurrent insert of these
        conn.execute(insert(blob_refs), missing)

"""Attachment blobs travel beside the event stream: uploaded after a push, fetched on demand."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import select

from app.paths import private_dir, private_file
from app.store import schema as s
from app.store.blobs import blob_store as _blobs
from app.store.repo import Store
from app.sync.session import SyncSession, session_for

MARKS = ".uploaded"  # one sha256 per line: blobs the server is known to have


def _marked(root: Path) -> set[str]:
    try:
        return set((root / MARKS).read_text().split())
    except FileNotFoundError:
        return set()


def upload_missing(store: Store, session: SyncSession) -> int:
    """Upload every local blob that attachments refer to and the server lacks."""
    blobs = _blobs(store)
    done = _marked(blobs.root)
    wanted = store.read(lambda c: {r[0] for r in c.execute(
        select(s.attachments.c.sha256).where(s.attachments.c.known.is_(True),
                                             s.attachments.c.removed.is_(False)))})
    sent = 0
    for sha in sorted(wanted - done):
        path = blobs.path_for(sha)
        if not path.is_file():
            continue  # someone else's attachment we never downloaded
        def exists(token: str, h: str = sha) -> bool:
            return session.api.has_blob(token, h)

        def upload(token: str, h: str = sha, p: Path = path) -> None:
            session.api.put_blob(token, h, p)

        if not session.call(exists):
            session.call(upload)
            sent += 1
        private_dir(blobs.root)
        with (blobs.root / MARKS).open("a") as fh:
            fh.write(sha + "\n")
        private_file(blobs.root / MARKS)
    return sent


def fetch_blob(store: Store, sha256: str, session: SyncSession | None = None) -> Path:
    """Download a blob another machine attached; verified by its hash before it is kept."""
    blobs = _blobs(store)
    if blobs.has(sha256):
        return blobs.path_for(sha256)
    session = session or session_for(store)
    private_dir(blobs.root)
    fd, name = tempfile.mkstemp(dir=blobs.root, prefix="get-")
    os.close(fd)
    tmp = Path(name)
    try:
        session.call(lambda token: session.api.get_blob(token, sha256, tmp))
        info = blobs.put_file(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    if info.sha256 != sha256.lower():
        from app.sync.api import ApiError

        raise ApiError("the downloaded attachment does not match its hash; not kept")
    return blobs.path_for(sha256)

"""Content-addressed attachment blobs on the filesystem.

A blob lives at ``root/ab/cd/<sha256>``; the same bytes are stored once. Writes go to a
temporary file in ``root/tmp`` that is renamed into place with ``os.replace``, so a crash
never leaves a half-written blob under its final name.
"""

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.content.errors import AttachmentTooLarge
from app.content.sniff import guess_mime

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
_CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class BlobInfo:
    sha256: str
    size: int
    mime: str
    name: str


class BlobStore:
    """Stores attachment bytes under their sha256, refusing blobs over ``max_bytes``."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._tmp = self.root / "tmp"

    def path_for(self, sha256: str) -> Path:
        digest = sha256.lower()
        if not _SHA256.match(digest):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def has(self, sha256: str) -> bool:
        try:
            return self.path_for(sha256).is_file()
        except ValueError:
            return False

    def put_file(self, path: Path) -> BlobInfo:
        path = Path(path)
        size = path.stat().st_size
        if size > self.max_bytes:
            raise AttachmentTooLarge(size, self.max_bytes, path.name)
        with path.open("rb") as src:
            return self._put_stream(src, path.name)

    def put_bytes(self, data: bytes, name: str) -> BlobInfo:
        if len(data) > self.max_bytes:
            raise AttachmentTooLarge(len(data), self.max_bytes, name)
        return self._put_stream(io.BytesIO(data), name)

    def _put_stream(self, src: BinaryIO, name: str) -> BlobInfo:
        from app.paths import private_dir

        private_dir(self._tmp)  # owner-only, like every folder under the data folder
        hasher = hashlib.sha256()
        head = b""
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:  # the file grew since stat()
                        raise AttachmentTooLarge(size, self.max_bytes, name)
                    if len(head) < 2048:
                        head += chunk[: 2048 - len(head)]
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            if self.has(digest):
                tmp.unlink()
            else:
                self._commit(tmp, digest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return BlobInfo(digest, size, guess_mime(name, head), name)

    def _commit(self, tmp: Path, digest: str) -> None:
        final = self.path_for(digest)
        from app.paths import private_dir

        private_dir(final.parent)
        os.replace(tmp, final)

"""Attachment operations: store a file as a content-addressed blob, record it on a case,
and keep what intake found in it (text, error signatures, entities).

Order of work, so that the write lock is held only briefly and a refusal writes nothing:
size check → hash → intake (parsing, off the lock; skipped when this content was read
before) → blob into ``<data_dir>/blobs`` → one short transaction (the ``attachment.added``
event, the ``extracted`` row and the case's ``signatures`` rows).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from app.content.attachments import DEFAULT_MAX_BYTES, BlobInfo, BlobStore
from app.content.dispatch import IntakeResult, intake_file
from app.content.errors import AttachmentTooLarge, IntakeCancelled, IntakeError
from app.content.filenames import safe_filename
from app.content.log_lines import CancelCallback, ProgressCallback
from app.content.sniff import guess_mime
from app.core import events as ev
from app.core.changes import Changes
from app.core.commands import EventFactory
from app.core.fold import CaseState
from app.operations.cases import _guard, _load
from app.operations.errors import NotFound, OperationError
from app.paths import private_dir, private_file
from app.store import intake_queries as iq
from app.store import schema as s
from app.store.repo import Store

MAX_BYTES_META = "attachment_max_bytes"
_PARSED_EXT = {".pdf", ".eml", ".msg", ".har"}
"""Files whose name promises a format intake reads: they must parse (or be forced)."""


# --- what intake made of a blob --------------------------------------------------------
@dataclass(slots=True)
class Extract:
    """One blob, hashed and read: ready to be recorded in one short transaction."""

    sha256: str
    name: str
    size: int
    mime: str
    kind: str
    text: str = ""
    signatures: list[dict[str, Any]] = field(default_factory=list)
    entities: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    known: bool = False  # an ``extracted`` row for this content already exists

    def row(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "kind": self.kind, "text": self.text,
                "signatures": json.dumps(self.signatures, ensure_ascii=False),
                "entities": json.dumps(self.entities, ensure_ascii=False),
                "error": self.error}


def data_dir(store: Store) -> Path:
    return Path(store.path).parent


def max_bytes(store: Store) -> int:
    raw = store.get_meta(MAX_BYTES_META)
    try:
        value = int(raw) if raw else DEFAULT_MAX_BYTES
    except ValueError:
        value = DEFAULT_MAX_BYTES
    return value if value > 0 else DEFAULT_MAX_BYTES


def blob_store(store: Store) -> BlobStore:
    return BlobStore(data_dir(store) / "blobs", max_bytes(store))


def _hash_file(path: Path) -> tuple[str, bytes]:
    hasher = hashlib.sha256()
    head = b""
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            if len(head) < 2048:
                head += chunk[: 2048 - len(head)]
            hasher.update(chunk)
    return hasher.hexdigest(), head


def _reads_as(path: Path, head: bytes) -> str | None:
    """The intake kind of a file, or None for content intake does not read (images,
    archives, other binaries: they are attached as they are)."""
    from app.content.dispatch import _kind

    try:
        return _kind(path, head)
    except IntakeError:
        return None


def _result_fields(result: IntakeResult) -> dict[str, Any]:
    return {
        "kind": result.kind,
        "text": result.text,
        "signatures": [dataclasses.asdict(sig) for sig in result.signatures],
        "entities": dataclasses.asdict(result.entities),
        "notes": list(result.notes),
    }


def read_file(store: Store, path: Path, *, name: str | None = None, force: bool = False,
              on_progress: ProgressCallback | None = None,
              should_cancel: CancelCallback | None = None) -> Extract:
    """Hash and read ``path`` without writing anything (run it off the write lock).

    Raises ``OperationError`` when the file is over the size limit, cannot be read, or
    names a format it does not hold (a ``.pdf`` that is no PDF); ``force`` attaches such a
    file anyway, without extracted text."""
    path = Path(path)
    name = name or path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise OperationError(f"cannot read {name}: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise OperationError(f"{name} is not a file")
    limit = max_bytes(store)
    if size > limit:
        raise OperationError(str(AttachmentTooLarge(size, limit, name))
                             + "; nothing was attached")
    try:
        digest, head = _hash_file(path)
    except OSError as exc:
        raise OperationError(f"cannot read {name}: {exc.strerror or exc}") from exc
    extract = Extract(digest, name, size, guess_mime(name, head), kind="binary")
    known = store.read(lambda c: c.execute(
        select(s.extracted).where(s.extracted.c.sha256 == digest)).first())
    if known is not None:
        extract.known = True
        extract.kind = known.kind
        return extract
    kind = _reads_as(Path(name), head)
    if kind is None:
        return extract
    try:
        result = intake_file(path, on_progress=on_progress, should_cancel=should_cancel)
    except IntakeCancelled as exc:
        raise OperationError(f"reading {name} was cancelled; nothing was attached") from exc
    except IntakeError as exc:
        strict = Path(name).suffix.lower() in _PARSED_EXT or kind in ("pdf", "email")
        if strict and not force:
            raise OperationError(f"{exc}; nothing was attached (attach it anyway, without "
                                 "extracted text, with --force)") from exc
        extract.kind = kind
        extract.error = str(exc)
        return extract
    for name_, value in _result_fields(result).items():
        setattr(extract, name_, value)
    return extract


def put_blob(store: Store, path: Path, extract: Extract) -> BlobInfo:
    try:
        info = blob_store(store).put_file(path)
    except AttachmentTooLarge as exc:
        raise OperationError(f"{exc}; nothing was attached") from exc
    except OSError as exc:
        raise OperationError(f"cannot store {extract.name}: {exc.strerror or exc}") from exc
    if info.sha256 != extract.sha256:
        raise OperationError(f"{extract.name} changed while it was being attached; try again")
    return info


# --- inside the write transaction -------------------------------------------------------
def attachment_events(f: EventFactory, state: CaseState, extract: Extract,
                      comment_id: str | None = None) -> list[ev.Event]:
    payload: dict[str, Any] = {"sha256": extract.sha256, "name": extract.name[:255],
                               "size": extract.size, "mime": extract.mime[:127]}
    if comment_id:
        payload["comment_id"] = comment_id
    return [f.make(ev.ATTACHMENT_ADDED, payload, case_id=state.id,
                   team_id=state.fields.get("team_id"))]


def save_extracts(conn: Connection, case_id: str, extracts: list[Extract],
                  removed_shas: tuple[str, ...] = ()) -> None:
    """Store the ``extracted`` rows (new content only) and recompute the case's
    ``signatures`` from its live attachments plus ``extracts``."""
    for extract in extracts:
        if not extract.known:
            conn.execute(s.extracted.insert().prefix_with("OR REPLACE"), extract.row())
    shas = [sha for sha in iq.live_attachment_shas(conn, case_id) if sha not in removed_shas]
    shas += [x.sha256 for x in extracts]
    iq.replace_case_signatures(conn, case_id, shas)


def _existing(conn: Connection, case_id: str, sha256: str) -> str | None:
    a = s.attachments.c
    found = conn.execute(select(a.id).where(a.case_id == case_id, a.sha256 == sha256,
                                            a.removed.is_(False))).scalar()
    return str(found) if found else None


def _undo_supported(type_: str) -> bool:
    """Whether ``undo`` can revert an event of this type (core's ``inverse`` knows it).
    An operation undo cannot revert is recorded as not undoable rather than as a silent
    no-op in the undo list."""
    from app.core.commands import inverse
    from app.core.hlc import HybridClock

    probe = ev.Event(id="probe", type=type_, payload={"attachment_id": "probe"}, actor="",
                     device_id="", hlc="0", case_id="probe")
    return bool(inverse(EventFactory("", "", HybridClock()), [probe]))


# --- operations -------------------------------------------------------------------------
@_guard
def attach(store: Store, *, case: str, path: Path, comment_id: str | None = None,
           name: str | None = None, force: bool = False,
           on_progress: ProgressCallback | None = None,
           should_cancel: CancelCallback | None = None) -> tuple[str, Changes]:
    """Attach a file to a case. Returns ``(attachment_id, changes)``; the same content
    already on the case returns its attachment and changes nothing."""
    path = Path(path)
    store.read(lambda c: _load(c, case))  # an unknown case fails before any work
    extract = read_file(store, path, name=name, force=force, on_progress=on_progress,
                        should_cancel=should_cancel)
    put_blob(store, path, extract)
    return _record(store, case, [extract], comment_id)


def _record(store: Store, case: str, extracts: list[Extract],
            comment_id: str | None) -> tuple[str, Changes]:
    result: dict[str, str] = {}

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _load(conn, case)
        out: list[ev.Event] = []
        fresh: list[Extract] = []
        for extract in extracts:
            existing = _existing(conn, state.id, extract.sha256)
            if existing:
                result.setdefault("id", existing)
                continue
            events = attachment_events(f, state, extract, comment_id)
            result.setdefault("id", events[0].id)
            out += events
            fresh.append(extract)
        if fresh:
            save_extracts(conn, state.id, fresh)
        return out

    names = ", ".join(x.name for x in extracts)
    changes = store.record(build, label=f"attach {names} to {case}",
                           undoable=_undo_supported(ev.ATTACHMENT_ADDED))
    if not changes.event_ids:
        changes.message = f"{names} is already attached to {case}"
    return result["id"], changes


@_guard
def attach_bytes(store: Store, *, case: str, data: bytes, name: str,
                 comment_id: str | None = None, force: bool = False) -> tuple[str, Changes]:
    """Attach bytes (a pasted screenshot, pasted text) as a file named ``name``."""
    name = safe_filename(name, "pasted")
    limit = max_bytes(store)
    if len(data) > limit:
        raise OperationError(str(AttachmentTooLarge(len(data), limit, name))
                             + "; nothing was attached")
    tmp_root = data_dir(store) / "blobs" / "tmp"
    try:
        private_dir(tmp_root)
        folder = tempfile.TemporaryDirectory(prefix="paste-", dir=tmp_root,
                                             ignore_cleanup_errors=True)
    except OSError as exc:
        raise OperationError(f"cannot make a temporary folder in {tmp_root}: "
                             f"{exc.strerror or exc}; nothing was attached") from exc
    with folder as tmp:
        target = Path(tmp) / name
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise OperationError(f"cannot write {name} to a temporary file: "
                                 f"{exc.strerror or exc}; nothing was attached") from exc
        result: tuple[str, Changes] = attach(store, case=case, path=target,
                                             comment_id=comment_id, name=name, force=force)
        return result


@_guard
def remove(store: Store, *, case: str, attachment_id: str) -> Changes:
    """Remove an attachment from a case (a tombstone event; the blob stays, it may be
    shared with other cases)."""

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _load(conn, case)
        a = s.attachments.c
        row = conn.execute(select(a.sha256, a.removed).where(
            a.id == attachment_id, a.case_id == state.id)).first()
        if row is None or row.removed:
            raise NotFound(f"no attachment '{attachment_id}' on {case}")
        others = conn.execute(select(a.id).where(a.case_id == state.id, a.sha256 == row.sha256,
                                                 a.removed.is_(False),
                                                 a.id != attachment_id)).first()
        save_extracts(conn, state.id, [], removed_shas=() if others else (row.sha256,))
        return [f.make(ev.ATTACHMENT_REMOVED, {"attachment_id": attachment_id},
                       case_id=state.id, team_id=state.fields.get("team_id"))]

    return store.record(build, label=f"remove an attachment of {case}",
                        undoable=_undo_supported(ev.ATTACHMENT_REMOVED))


@_guard
def refresh_signatures(store: Store, *, case: str) -> Changes:
    """Recompute the case's signatures from its live attachments (after an undo or a
    sync that changed its attachments)."""

    def tx(conn: Connection) -> Changes:
        state = _load(conn, case)
        iq.replace_case_signatures(conn, state.id, iq.live_attachment_shas(conn, state.id))
        return Changes(case_ids={state.id}, message=f"signatures of {case} refreshed")

    return store.write(tx)


def open_path(store: Store, sha256: str, name: str | None = None) -> Path:
    """A file the system viewer can open: the blob itself, or (given the attachment's
    ``name``) a link to it under that name in ``<data_dir>/open/`` so the viewer knows
    the type. Raises ``NotFound`` when the blob is not on this machine."""
    blobs = blob_store(store)
    try:
        path = blobs.path_for(sha256)
    except ValueError as exc:
        raise NotFound(str(exc)) from exc
    if not path.is_file():
        # Attached on another machine: fetch it from the sync server on demand.
        from app.sync.api import ApiError
        from app.sync.blobs import fetch_blob

        try:
            path = fetch_blob(store, sha256)
        except ApiError as exc:
            raise NotFound(f"this attachment is not on this machine yet and could not be "
                           f"downloaded ({exc})") from exc
    if not name:
        return path
    safe = safe_filename(name)
    target = data_dir(store) / "open" / sha256.lower()[:16] / safe
    if not target.exists():
        private_dir(target.parent)
        try:
            os.link(path, target)
        except OSError:
            import shutil

            shutil.copyfile(path, target)
            private_file(target)
    return target

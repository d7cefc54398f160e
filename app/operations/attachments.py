"""Attachment operations: store a file as a content-addressed blob, record it on a case,
and keep what intake found in it (text, error signatures, entities).

Attaching is two steps, so that the database writer is held only briefly and a refusal
or a cancel writes nothing:

- :func:`prepare` (any thread but the writer; progress and cancel): size check → copy
  into a staging folder, hashing on the way → intake of the staged copy (parsing; skipped
  when this content was read before).
- :func:`record` (the writer): the staged file renamed into ``<data_dir>/blobs`` and one
  short transaction (the ``attachment.added`` event, the ``extracted`` row and the case's
  ``signatures`` rows). :func:`discard` drops a preparation instead.

:func:`attach` runs both, for callers that are not the UI (CLI, terminal, intake).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from app.content.attachments import BlobInfo
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
from app.store.blobs import (
    MAX_BYTES_META,
    NoStagingFolder,
    StagedBlob,
    blob_store,
    data_dir,
    max_bytes,
    stage_bytes,
    stage_stream,
)
from app.store.repo import Store

__all__ = ["MAX_BYTES_META", "Cancelled", "Extract", "Prepared", "attach", "attach_bytes",
           "blob_store", "case_attachments", "data_dir", "discard", "max_bytes", "open_path", "prepare",
           "prepare_bytes", "read_file", "record", "remove"]
PercentCallback = Callable[[int], None]
"""Told how far a preparation is, 0-100, each time the whole percent changes."""
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


def _checked_size(store: Store, path: Path, name: str) -> int:
    """The file's size; ``OperationError`` when it is no readable file or over the limit."""
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
    return size


def read_file(store: Store, path: Path, *, name: str | None = None, force: bool = False,
              on_progress: ProgressCallback | None = None,
              should_cancel: CancelCallback | None = None) -> Extract:
    """Hash and read ``path`` without writing anything (run it off the write lock).

    Raises ``OperationError`` when the file is over the size limit, cannot be read, or
    names a format it does not hold (a ``.pdf`` that is no PDF); ``force`` attaches such a
    file anyway, without extracted text."""
    path = Path(path)
    name = name or path.name
    size = _checked_size(store, path, name)
    try:
        digest, head = _hash_file(path)
    except OSError as exc:
        raise OperationError(f"cannot read {name}: {exc.strerror or exc}") from exc
    return _extract(store, path, name, digest, head, size, force=force,
                    on_progress=on_progress, should_cancel=should_cancel)


def _extract(store: Store, path: Path, name: str, digest: str, head: bytes, size: int, *,
             force: bool, on_progress: ProgressCallback | None,
             should_cancel: CancelCallback | None) -> Extract:
    """What intake makes of the file ``path`` (already hashed): the ``extracted`` row of
    this content if there is one, else a fresh read."""
    extract = Extract(digest, name, size, guess_mime(name, head[:2048]), kind="binary")
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
        raise Cancelled(f"reading {name} was cancelled; nothing was attached") from exc
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
class Cancelled(OperationError):
    """The caller cancelled a preparation; nothing was stored or recorded."""


@dataclass(slots=True)
class Prepared:
    """A file staged and read by :func:`prepare`, waiting for :func:`record` (or
    :func:`discard`). Nothing of it is in the store or among the blobs yet."""

    case: str
    extract: Extract
    staged: StagedBlob
    comment_id: str | None = None


class _Percent:
    """Maps the bytes copied (first tenth) and the bytes parsed (the rest) to 0-99, and
    tells ``report`` only when the whole percent changes (a log reports every MiB)."""

    def __init__(self, report: PercentCallback | None, size: int) -> None:
        self.report = report
        self.size = max(size, 1)
        self.last = -1

    def _tell(self, percent: int) -> None:
        percent = max(0, min(99, percent))
        if self.report is not None and percent != self.last:
            self.last = percent
            self.report(percent)

    def copied(self, n: int) -> None:
        self._tell(10 * n // self.size)

    def parsed(self, n: int) -> None:
        self._tell(10 + 89 * n // self.size)


def _check(should_cancel: CancelCallback | None, name: str) -> None:
    if should_cancel is not None and should_cancel():
        raise Cancelled(f"attaching {name} was cancelled; nothing was attached")


def _staged(name: str, stage: Callable[[], StagedBlob]) -> StagedBlob:
    """Run ``stage`` with its failures as the agent's messages."""
    try:
        return stage()
    except IntakeCancelled as exc:
        raise Cancelled(f"attaching {name} was cancelled; nothing was attached") from exc
    except AttachmentTooLarge as exc:
        raise OperationError(f"{exc}; nothing was attached") from exc
    except NoStagingFolder as exc:
        raise OperationError(f"cannot make a temporary folder in {exc.filename}: "
                             f"{exc.strerror}; nothing was attached") from exc
    except OSError as exc:
        raise OperationError(f"cannot store {name}: {exc.strerror or exc}; "
                             "nothing was attached") from exc


@_guard
def prepare(store: Store, *, case: str, path: Path, name: str | None = None,
            comment_id: str | None = None, force: bool = False,
            on_progress: PercentCallback | None = None,
            should_cancel: CancelCallback | None = None) -> Prepared:
    """The slow part of attaching, off the database writer: stage and read ``path``.
    ``on_progress`` gets 0-99; ``should_cancel`` is asked per MiB and per PDF page (then
    ``Cancelled``, with nothing left behind). Refusals as :func:`read_file`."""
    path = Path(path)
    name = name or path.name
    store.read(lambda c: _load(c, case))  # an unknown case fails before any work
    size = _checked_size(store, path, name)
    percent = _Percent(on_progress, size)
    blobs = blob_store(store)
    try:
        source = path.open("rb")
    except OSError as exc:
        raise OperationError(f"cannot read {name}: {exc.strerror or exc}") from exc
    with source:
        staged = _staged(name, lambda: stage_stream(
            blobs, source, name, on_progress=percent.copied, should_cancel=should_cancel))
    try:
        extract = _extract(store, staged.path, name, staged.sha256, staged.head, staged.size,
                           force=force, on_progress=percent.parsed,
                           should_cancel=should_cancel)
        _check(should_cancel, name)
    except BaseException:
        staged.discard()
        raise
    return Prepared(case, extract, staged, comment_id)


@_guard
def prepare_bytes(store: Store, *, case: str, data: bytes, name: str,
                  comment_id: str | None = None, force: bool = False) -> Prepared:
    """:func:`prepare` for bytes (a pasted screenshot, pasted text) named ``name``."""
    name = safe_filename(name, "pasted")
    store.read(lambda c: _load(c, case))
    limit = max_bytes(store)
    if len(data) > limit:
        raise OperationError(str(AttachmentTooLarge(len(data), limit, name))
                             + "; nothing was attached")
    blobs = blob_store(store)
    staged = _staged(name, lambda: stage_bytes(blobs, data, name))
    try:
        extract = _extract(store, staged.path, name, staged.sha256, staged.head, staged.size,
                           force=force, on_progress=None, should_cancel=None)
    except BaseException:
        staged.discard()
        raise
    return Prepared(case, extract, staged, comment_id)


@_guard
def record(store: Store, *, prepared: Prepared) -> tuple[str, Changes]:
    """The short step of attaching, on the writer: the staged file becomes its blob (a
    rename) and one transaction records it. Returns ``(attachment_id, changes)``; the same
    content already on the case returns its attachment and changes nothing."""
    name = prepared.extract.name
    try:
        placed = prepared.staged.commit()
    except OSError as exc:
        prepared.staged.discard()
        raise OperationError(f"cannot store {name}: {exc.strerror or exc}; "
                             "nothing was attached") from exc
    try:
        return _record(store, prepared.case, [prepared.extract], prepared.comment_id)
    except BaseException:
        if placed:  # no event refers to it: a refused record keeps no blob either
            blob_store(store).path_for(prepared.extract.sha256).unlink(missing_ok=True)
        raise


def discard(prepared: Prepared) -> None:
    """Drop a preparation that will not be recorded (cancelled after it was read)."""
    prepared.staged.discard()


@_guard
def attach(store: Store, *, case: str, path: Path, comment_id: str | None = None,
           name: str | None = None, force: bool = False,
           on_progress: PercentCallback | None = None,
           should_cancel: CancelCallback | None = None) -> tuple[str, Changes]:
    """Attach a file to a case: :func:`prepare` then :func:`record`, on this thread."""
    prepared = prepare(store, case=case, path=path, name=name, comment_id=comment_id,
                       force=force, on_progress=on_progress, should_cancel=should_cancel)
    result: tuple[str, Changes] = record(store, prepared=prepared)
    return result


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
    prepared = prepare_bytes(store, case=case, data=data, name=name, comment_id=comment_id,
                             force=force)
    result: tuple[str, Changes] = record(store, prepared=prepared)
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


# --- reads for the UI --------------------------------------------------------------------
def case_attachments(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """The live attachments of a case, oldest first, with what intake made of each one
    (for ``Bridge.query``)."""
    return iq.case_attachments(conn, case_id)


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

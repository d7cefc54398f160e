"""Intake operations: an e-mail (.eml / .msg) becomes a case or a customer comment on
the case it answers; pasted log text becomes an attachment with its error signatures.

An e-mail finds its case by the key in its subject (``[SUP-1042]``) or in our thread
headers (``<case-SUP-1042.…@smart-support>``). Its text is stored sanitised (plain text,
quoted history and signature folded into ``<details>`` blocks: see ``fold_sections``);
its attachments and inline images are attached. Importing the same message twice
(same Message-ID) changes nothing the second time.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from app.content.email_intake import EmailAttachment, ParsedEmail, parse_email_file
from app.content.errors import IntakeError, human_bytes
from app.content.filenames import safe_filename
from app.content.mail_limits import MailLimits, limits_from_env
from app.core import commands as cmd
from app.core import events as ev
from app.core.changes import Changes
from app.core.commands import EventFactory
from app.core.fold import CaseState
from app.core.model import MAX_SUBJECT, MAX_TEXT
from app.operations import attachments as att
from app.operations.cases import _guard, _load, _requester_events
from app.operations.errors import OperationError
from app.paths import private_dir
from app.store import queries as q
from app.store import schema as s
from app.store.projector import load_case
from app.store.repo import Store

_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|rv)\s*(\[\d+\])?\s*:\s*)+", re.I)
_DETAILS = re.compile(r"<details>\s*<summary>(?P<summary>.*?)</summary>\s*\n(?P<body>.*?)\n?</details>",
                      re.S)
REOPEN_ON_REPLY = ("pending", "solved")
MAIL_MAX_BYTES_META = "mail_max_bytes"
"""Settings key: the largest e-mail file taken in (``SMART_SUPPORT_MAX_MAIL_BYTES`` wins)."""
PASTE_MAX_BYTES_ENV = "SMART_SUPPORT_MAX_PASTE_BYTES"
DEFAULT_MAX_PASTE_BYTES = 10 * 1024 * 1024


def mail_limits(store: Store) -> MailLimits:
    """The bounds on one e-mail: the settings key, then the environment."""
    raw = store.get_meta(MAIL_MAX_BYTES_META)
    try:
        value = int(raw) if raw else None
    except ValueError:
        value = None
    return limits_from_env(value if value and value > 0 else None)


def paste_limit() -> int:
    """The most text one paste may hold (UTF-8 bytes; ``SMART_SUPPORT_MAX_PASTE_BYTES``).
    The UI checks it against what the clipboard offers before copying the text."""
    raw = os.environ.get(PASTE_MAX_BYTES_ENV, "").strip()
    try:
        value = int(raw) if raw else DEFAULT_MAX_PASTE_BYTES
    except ValueError:
        value = DEFAULT_MAX_PASTE_BYTES
    return value if value > 0 else DEFAULT_MAX_PASTE_BYTES


def paste_too_large(size: int, limit: int) -> str:
    """The message for a paste over the limit (the UI and ``add_text`` say the same)."""
    return (f"the pasted text is {size:,} bytes ({human_bytes(size)}), over the limit of "
            f"{limit:,} bytes ({human_bytes(limit)}) for a paste ({PASTE_MAX_BYTES_ENV}); "
            "nothing was attached: attach it as a file instead")


@dataclass(slots=True)
class EmailImport:
    key: str
    created: bool
    changes: Changes
    attachment_ids: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Attachments that were not stored (over the size limit, unreadable), with why."""
    duplicate: bool = False


# --- the body of an imported mail -------------------------------------------------------
def _details(summary: str, text: str) -> str:
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())
    return f"<details>\n<summary>{summary}</summary>\n\n{quoted}\n\n</details>"


def compose_body(mail: ParsedEmail, skipped: Sequence[str] = ()) -> str:
    """The new text of the mail, then its signature and quoted history as collapsed
    sections, then a note about attachments that were not stored."""
    main = mail.text_body.strip() or "(no text)"
    parts = [main]
    if mail.signature.strip():
        parts.append(_details("Signature", mail.signature.strip()))
    if mail.quoted_history.strip():
        lines = len(mail.quoted_history.strip().splitlines())
        parts.append(_details(f"Quoted history ({lines} lines)", mail.quoted_history.strip()))
    if skipped:
        parts.append("Attachments not stored: " + "; ".join(skipped))
    if mail.notes:
        parts.append("Cut on import: " + "; ".join(mail.notes))
    body = "\n\n".join(parts)
    if len(body) > MAX_TEXT:
        cut = f"\n\n[… {len(body) - MAX_TEXT + 200} characters cut on import …]"
        body = body[: MAX_TEXT - len(cut) - 200] + cut
    return body


def fold_sections(body: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a comment into its main text and its ``<details>`` sections
    ``(summary, text)`` (quote markers removed), for views that show them collapsed."""
    sections: list[tuple[str, str]] = []

    def take(m: re.Match[str]) -> str:
        text = "\n".join(line[2:] if line.startswith("> ") else line.lstrip(">")
                         for line in m.group("body").strip("\n").splitlines())
        sections.append((m.group("summary").strip(), text))
        return ""

    main = _DETAILS.sub(take, body)
    return re.sub(r"\n{3,}", "\n\n", main).strip(), sections


def _subject(mail: ParsedEmail) -> str:
    subject = _REPLY_PREFIX.sub("", mail.subject or "").strip()
    subject = " ".join(subject.split()) or "(no subject)"
    return subject[:MAX_SUBJECT]


# --- attachments of a mail --------------------------------------------------------------
def _read_attachments(store: Store, mail: ParsedEmail,
                      folder: Path) -> tuple[list[att.Extract], list[str]]:
    """Hash, read and store each attachment and inline image, one at a time (no database
    write). Spooled attachments are read where they lie; the others are written to
    ``folder`` first (the caller removes it, on success or failure alike)."""
    extracts: list[att.Extract] = []
    skipped: list[str] = []
    limit = att.max_bytes(store)
    inline = set(mail.inline_images.values())
    for i, item in enumerate(mail.attachments, start=1):
        name = safe_filename(item.filename)
        if item.nbytes > limit:
            skipped.append(f"{name} ({item.nbytes:,} bytes: over the limit of {limit:,})")
            continue
        try:
            path = item.path or _write_part(folder / f"part-{i}", name, item)
            try:
                extract = att.read_file(store, path, name=name, force=True)
                att.put_blob(store, path, extract)
            finally:
                path.unlink(missing_ok=True)  # free the disk before the next one
        except OperationError as exc:
            skipped.append(f"{name} ({exc})")
            continue
        except OSError as exc:
            skipped.append(f"{name} (cannot be stored: {exc.strerror or exc})")
            continue
        if name in inline and not extract.mime.startswith("image/"):
            extract.mime = item.mime or extract.mime
        extracts.append(extract)
    return extracts, skipped


def _write_part(folder: Path, name: str, item: EmailAttachment) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(item.content)
    return path


def _already_imported(conn: Connection, message_id: str) -> str | None:
    """The case an e-mail with this Message-ID was already imported into."""
    if not message_id:
        return None
    needle = json.dumps(message_id, ensure_ascii=False)
    rows = conn.execute(select(s.events.c.case_id, s.events.c.payload).where(
        s.events.c.type.in_((ev.CASE_CREATED, ev.COMMENT_ADDED)),
        s.events.c.payload.contains(f'"message_id":{needle}', autoescape=True)))
    for case_id, payload in rows:
        if json.loads(payload).get("message_id") == message_id:
            return str(case_id)
    return None


def _target(conn: Connection, hint: str | None) -> CaseState | None:
    """The live case a key points to (following a merge to the case it went into)."""
    if not hint:
        return None
    case_id = q.resolve_case(conn, hint)
    for _ in range(5):
        state = load_case(conn, case_id) if case_id else None
        if state is None or not state.exists or state.fields.get("deleted"):
            return None
        into = state.fields.get("merged_into")
        if not into:
            return state
        case_id = str(into)
    return None


# --- operations -------------------------------------------------------------------------
@_guard
def receive_email(store: Store, path: Path) -> EmailImport:
    """Import one e-mail file; see the module docstring. Malformed input raises
    ``OperationError`` and writes nothing to the case store."""
    path = Path(path)
    if not path.is_file():
        raise OperationError(f"no file {path}")
    limits = mail_limits(store)
    tmp_root = att.data_dir(store) / "blobs" / "tmp"
    try:
        private_dir(tmp_root)
        spool = tempfile.TemporaryDirectory(prefix="mail-", dir=tmp_root,
                                            ignore_cleanup_errors=True)
    except OSError as exc:
        raise OperationError(f"cannot make a temporary folder in {tmp_root}: "
                             f"{exc.strerror or exc}; nothing was imported") from exc
    with spool as folder:
        return _receive(store, path, limits, Path(folder))


def _attach_new(conn: Connection, f: EventFactory, state: CaseState,
                extracts: list[att.Extract], comment_id: str | None, *,
                new_case: bool) -> tuple[list[ev.Event], list[str]]:
    """The events attaching each file the case does not hold yet (once each), and the new
    attachments' ids."""
    out: list[ev.Event] = []
    ids: list[str] = []
    fresh: list[att.Extract] = []
    for extract in extracts:
        if not new_case and att._existing(conn, state.id, extract.sha256):
            continue
        if extract.sha256 in {x.sha256 for x in fresh}:
            continue
        events = att.attachment_events(f, state, extract, comment_id)
        ids.append(events[0].id)
        fresh.append(extract)
        out += events
    if fresh:
        att.save_extracts(conn, state.id, fresh)
    return out, ids


def _receive(store: Store, path: Path, limits: MailLimits, folder: Path) -> EmailImport:
    try:
        mail = parse_email_file(path, limits=limits, spool_dir=folder)
    except IntakeError as exc:
        raise OperationError(f"{exc}; nothing was imported") from exc
    sender = (mail.from_email or "").strip()
    if "@" not in sender:
        raise OperationError(f"{path.name} has no sender address (From); nothing was imported")
    duplicate = store.read(lambda c: _already_imported(c, mail.message_id))
    if duplicate:
        key = store.read(lambda c: _load(c, duplicate).fields.get("key"))
        return EmailImport(str(key), False, Changes(message=f"{path.name} was already "
                                                            f"imported into {key}"),
                           duplicate=True)
    extracts, skipped = _read_attachments(store, mail, folder)
    body = compose_body(mail, skipped)
    result: dict[str, Any] = {}

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        # Every event is the signed-in agent's (the server refuses any other actor); the
        # sender is the payload's ``author``, which the fold shows as the comment's author.
        authored = {"author": sender}
        if mail.message_id:
            authored["message_id"] = mail.message_id
        cust_id, org_id, out = _requester_events(conn, f, sender, mail.from_name or None)
        state = _target(conn, mail.case_key_hint)
        comment_id: str | None = None
        if state is not None:
            comment = cmd.comment(f, state, body=body, internal=False,
                                  author_kind="customer", extra=authored)
            comment_id = comment[0].id
            out += comment
            if state.fields.get("status") in REOPEN_ON_REPLY:
                out += cmd.set_fields(f, state, {"status": "open"})
            result.update(key=state.fields.get("key"), created=False)
        else:
            fields: dict[str, Any] = {"subject": _subject(mail), "description": body,
                                      "requester_id": cust_id,
                                      "team_id": store.get_default_team(conn)}
            if org_id:
                fields["organization_id"] = org_id
            key = store.next_provisional_key(conn)
            created = cmd.new_case(f, key=key, fields=fields)
            created[0].payload.update(authored)
            out += created
            state = CaseState(id=str(created[0].case_id))
            state.exists = True
            state.fields.update(key=key, team_id=fields["team_id"])
            result.update(key=key, created=True)
        attached, result["ids"] = _attach_new(conn, f, state, extracts, comment_id,
                                              new_case=bool(result["created"]))
        return out + attached

    label = f"import e-mail '{_subject(mail)[:40]}'"
    changes = store.record(build, label=label)
    return EmailImport(str(result["key"]), bool(result["created"]), changes,
                       result.get("ids", []), skipped)


def import_email(store: Store, path: Path) -> tuple[str, bool]:
    """``smart-support import FILE.eml|FILE.msg``: ``(case key, created)``."""
    done = receive_email(store, path)
    return done.key, done.created


@_guard
def add_text(store: Store, *, case: str, text: str,
             name: str = "pasted.txt") -> tuple[str, Changes]:
    """Pasted log text becomes an attachment of the case, with its error signatures."""
    result: tuple[str, Changes] = att.record(
        store, prepared=prepare_text(store, case=case, text=text, name=name))
    return result


@_guard
def prepare_text(store: Store, *, case: str, text: str,
                 name: str = "pasted.txt") -> att.Prepared:
    """:func:`add_text` up to its short write (``att.record``): checked, staged and read,
    off the database writer."""
    limit = paste_limit()
    if len(text) > limit:  # before encoding: a character is at least one byte
        raise OperationError(paste_too_large(len(text), limit))
    if not text.strip():
        raise OperationError("there is no text to add")
    name = safe_filename(name, "pasted.txt")
    if "." not in name:
        name += ".txt"
    data = text.encode("utf-8", errors="replace")
    if len(data) > limit:
        raise OperationError(paste_too_large(len(data), limit))
    prepared: att.Prepared = att.prepare_bytes(store, case=case, data=data, name=name)
    return prepared

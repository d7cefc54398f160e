"""Bulk import of cases from JSON Lines or CSV (the field names are in docs/search.md).

Each case becomes events built like the core's ``new_case`` (validated by the same field
parsers), written in batches: one transaction per batch appends the events and adds their
projection rows. Every event is authored by the store's agent (``store.actor``: the server
stores only events of the signed-in user) and belongs to the default team; who wrote the
words (requester, comment author) is kept in the payload's ``author``.

Resumable and idempotent: a case's id and its events' ids are derived from the line's
identity (its ``id``/``external_id`` when given, else its content and how often that content
occurred before in the file) and this device's id, so a rerun of a killed or finished import
finds the cases already there and adds only the rest; a kill loses at most the open batch.

Every imported event is about a new case or a new directory record, so the batch is folded
in memory with the store's own fold (``rebuild.Folded``, the code a rebuild uses) and
inserted in bulk: ``apply_events`` gives the same rows but reads and writes them one
statement at a time (about 13 statements per case, 5x too slow for 100,000 cases). A bad line
is reported with its number and skipped before anything is written, so a case is never
half-imported; a batch the database refuses is retried case by case.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from app.core import events as ev
from app.core.hlc import Timestamp
from app.core.ids import uuid7
from app.core.model import InvalidValue, normalize_tag, parse_datetime, parse_field
from app.store import schema as s
from app.store.projector import apply_events, event_row
from app.store.rebuild import Folded

BATCH = 2000
ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]
CASE_FIELDS = ("subject", "description", "status", "priority", "type", "product")
# The server refuses clocks before 2000 (app/core/event_schema.py): refuse them here, by line.
EARLIEST_MS = 946_684_800_000
MAX_EXTERNAL_ID = 200
# A batch that fails is retried case by case; this many failures in a row (a full disk, not
# a bad line) ends the retries for the rest of the batch.
SINGLE_RETRIES = 20


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    skipped: int = 0  # lines with errors (listed in ``errors``)
    already: int = 0  # cases of this file an earlier run imported: not added again
    errors: list[tuple[int, str]] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"imported": self.imported, "skipped": self.skipped,
                "already_imported": self.already,
                "errors": [list(e) for e in self.errors], "cancelled": self.cancelled,
                "seconds": round(self.seconds, 2)}


@dataclass(slots=True)
class CaseSpec:
    line: int
    fields: dict[str, Any]
    tags: list[str]
    created_ms: int
    requester: tuple[str, str] | None  # (email, name)
    organization: str | None
    comments: list[dict[str, Any]]
    external_id: str | None = None
    dated: bool = True  # created_at was given (so the id's time part can use it)
    seed: bytes = b""  # the line's identity on this device: the ids are derived from it


# --- reading ----------------------------------------------------------------------------
def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open("r", encoding="utf-8-sig") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield no, f"not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            except ValueError as exc:
                yield no, f"not valid JSON ({exc})"
                continue
            if not isinstance(record, dict):
                yield no, "a line must hold a JSON object"
            elif "\\u" in line and not _encodable(record):
                yield no, "holds a lone surrogate escape (\\ud800-\\udfff): not valid Unicode"
            else:
                yield no, record


def _encodable(record: dict[str, Any]) -> bool:
    """JSON escapes can spell lone surrogates, which no UTF-8 database column can hold."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _csv(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, f"unreadable CSV ({exc})"
                continue
            if None in row:
                yield start, "the row has more columns than the header"
                continue
            record: dict[str, Any] = {k.strip(): v for k, v in row.items() if k and v}
            if "requester_email" in record or "requester_name" in record:
                record["requester"] = {"email": record.pop("requester_email", None),
                                       "name": record.pop("requester_name", None)}
            if "tags" in record:
                record["tags"] = [t for t in record["tags"].replace(";", ",").split(",")
                                  if t.strip()]
            if "comments" in record:
                try:
                    record["comments"] = json.loads(record["comments"])
                except ValueError:
                    yield start, "the comments column is not a JSON list"
                    continue
            yield start, record


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    if path.suffix.lower() == ".csv":
        return _csv(path)
    return _jsonl(path)


def _count(path: Path) -> int:
    with path.open("rb") as f:
        return max(0, sum(1 for line in f if line.strip()) - (path.suffix.lower() == ".csv"))


# --- validating --------------------------------------------------------------------------
def _ms(value: Any, what: str, now_ms: int) -> int:
    iso = parse_datetime(value)
    if iso is None:
        return now_ms
    from datetime import datetime

    ms = int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    if ms > now_ms:
        raise InvalidValue(f"{what} {value!r} is in the future")
    if ms < EARLIEST_MS:
        raise InvalidValue(f"{what} {value!r} is before 2000")
    return ms


def _external_id(record: dict[str, Any]) -> str | None:
    """The source system's id of the case (``external_id``, else ``id``), if the line has one."""
    for name in ("external_id", "id"):
        value = record.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidValue(f"{name} must be a string or a number")
        text = str(value).strip()
        if not text or len(text) > MAX_EXTERNAL_ID or not text.isprintable():
            raise InvalidValue(f"{name} {value!r} is empty, too long or holds control characters")
        return text
    return None


def line_identity(record: dict[str, Any], external_id: str | None) -> str:
    """What makes a line the same line on a rerun: its external id, else its whole content."""
    if external_id is not None:
        return "id:" + external_id
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return "content:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _email(value: Any) -> str:
    email = str(value or "").strip()
    if "@" not in email or " " in email or len(email) > 320:
        raise InvalidValue(f"requester email {value!r} is not an email address")
    return email


def _author(value: Any, i: int) -> str | None:
    if value in (None, ""):
        return None
    text = " ".join(str(value).split())
    if len(text) > 320 or not text.isprintable():
        raise InvalidValue(f"comment {i}: the author is longer than 320 characters or holds "
                           "control characters")
    return text or None


def validate(line: int, record: dict[str, Any], now_ms: int) -> CaseSpec:
    """A case to import from one record; raises InvalidValue with a message for the agent."""
    external_id = _external_id(record)
    fields = _fields(record)
    tags = _tags(record.get("tags") or [])
    created = _ms(record.get("created_at"), "created_at", now_ms)
    requester = _requester(record.get("requester"))
    org = record.get("organization")
    organization = " ".join(str(org).split())[:200] if org else None
    raw_comments = record.get("comments") or []
    if not isinstance(raw_comments, list):
        raise InvalidValue("comments must be a list")
    comments = []
    last = created
    for i, c in enumerate(raw_comments, 1):
        comment = _comment(i, c, after=last, created=created, requester=requester,
                           now_ms=now_ms)
        last = comment["ms"]
        comments.append(comment)
    return CaseSpec(line, fields, tags, created, requester, organization, comments,
                    external_id=external_id, dated=bool(parse_datetime(record.get("created_at"))))


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in CASE_FIELDS:
        if record.get(name) not in (None, ""):
            fields[name] = parse_field(name, record[name])
    if not fields.get("subject"):
        raise InvalidValue("subject is missing")
    if record.get("assignee"):
        fields["assignee_id"] = parse_field("assignee_id", record["assignee"])
    return fields


def _tags(raw_tags: Any) -> list[str]:
    if isinstance(raw_tags, str):
        raw_tags = raw_tags.replace(";", ",").split(",")
    if not isinstance(raw_tags, list):
        raise InvalidValue("tags must be a list")
    return sorted({normalize_tag(str(t)) for t in raw_tags if str(t).strip()})


def _requester(req: Any) -> tuple[str, str] | None:
    """(email, name) from an address or an object with name and email."""
    if isinstance(req, str):
        req = {"email": req}
    if isinstance(req, dict) and (req.get("email") or req.get("name")):
        email = _email(req.get("email"))
        return email, str(req.get("name") or email.split("@")[0]).strip()
    if req not in (None, {}):
        raise InvalidValue("requester must be an object with name and email")
    return None


def _comment(i: int, c: Any, *, after: int, created: int, requester: tuple[str, str] | None,
             now_ms: int) -> dict[str, Any]:
    """Comment ``i``; one without a time comes a second ``after`` the one before it."""
    if not isinstance(c, dict):
        raise InvalidValue(f"comment {i} must be an object")
    body = str(c.get("body") or "")
    if not body.strip():
        raise InvalidValue(f"comment {i} has no body")
    if "\x00" in body or len(body) > 100_000:
        raise InvalidValue(f"comment {i}: the body is too long or holds a NUL character")
    at = _ms(c.get("created_at"), f"comment {i} created_at", now_ms) \
        if c.get("created_at") else after + 1000
    at = max(at, created)
    author = _author(c.get("author"), i) or (requester[0] if requester else None)
    public = c.get("public", True)
    if not isinstance(public, bool):
        raise InvalidValue(f"comment {i}: public must be true or false")
    kind = ("customer" if requester and author and author.lower() == requester[0].lower()
            else "agent")
    return {"author": author, "ms": at, "body": body, "internal": not public,
            "author_kind": kind}


# --- writing -----------------------------------------------------------------------------
class _Builder:
    """Turns validated cases into events; remembers the directory records it creates."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.counter = 0
        customers, orgs = store.read(lambda c: (
            {str(r[1]).lower(): (r[0], r[2]) for r in c.exec_driver_sql(
                "SELECT id, email, organization_id FROM customers WHERE email IS NOT NULL")},
            {str(r[1]).lower(): r[0] for r in c.exec_driver_sql(
                "SELECT id, name FROM organizations")}))
        self.customers: dict[str, tuple[str, str | None]] = customers
        self.orgs: dict[str, str] = orgs
        self.team = store.read(store.get_default_team)

    def event(self, type_: str, payload: dict[str, Any], ms: int, actor: str,
              case_id: str | None = None, team: str | None = None,
              event_id: str | None = None) -> ev.Event:
        self.counter = (self.counter + 1) % 1_000_000
        return ev.Event(id=event_id or uuid7(), type=type_, payload=payload, actor=actor,
                        device_id=self.store.device_id, hlc=Timestamp(ms, self.counter).encode(),
                        case_id=case_id, team_id=team)

    @staticmethod
    def id_of(spec: CaseSpec, part: str) -> str:
        # Undated lines are created "now", which differs per run: their ids carry no time.
        return derived_id(spec.created_ms if spec.dated else 0, spec.seed, part)

    def build(self, spec: CaseSpec, key: str, now_ms: int,
              new_dir: dict[str, Any]) -> list[ev.Event]:
        out: list[ev.Event] = []
        actor = self.store.actor
        org_id = None
        if spec.organization:
            org_id = self.orgs.get(spec.organization.lower())
            if org_id is None:
                org_id = uuid7()
                self.orgs[spec.organization.lower()] = org_id
                new_dir.setdefault("orgs", []).append(spec.organization.lower())
                out.append(self.event(ev.ORGANIZATION_UPSERTED, {
                    "id": org_id, "name": spec.organization, "domain": None}, now_ms, actor,
                    team=self.team))
        fields = dict(spec.fields)
        fields.setdefault("status", "new")
        fields.setdefault("priority", "normal")
        fields.setdefault("type", "question")
        if spec.requester:
            email, name = spec.requester
            found = self.customers.get(email.lower())
            if found is None:
                cust_id = uuid7()
                found = (cust_id, org_id)
                self.customers[email.lower()] = found
                new_dir.setdefault("customers", []).append(email.lower())
                out.append(self.event(ev.CUSTOMER_UPSERTED, {
                    "id": cust_id, "name": name, "email": email, "organization_id": org_id,
                    "phone": None}, now_ms, actor, team=self.team))
            fields["requester_id"] = found[0]
            org_id = org_id or found[1]
        if org_id:
            fields["organization_id"] = org_id
        fields["team_id"] = self.team
        fields["key"] = key
        case_id = self.id_of(spec, "case")
        created: dict[str, Any] = {"fields": fields, "tags": spec.tags,
                                   "created_ms": spec.created_ms,
                                   "import_key": spec.seed.hex()[:32]}
        if spec.external_id is not None:
            created["external_id"] = spec.external_id
        if spec.requester:
            created["author"] = spec.requester[0]
        out.append(self.event(ev.CASE_CREATED, created, spec.created_ms, actor, case_id,
                              self.team, self.id_of(spec, "case.created")))
        for i, c in enumerate(spec.comments):
            payload = {"body": c["body"], "internal": c["internal"],
                       "author_kind": c["author_kind"]}
            if c["author"]:
                payload["author"] = c["author"]  # shown as the comment's author (core fold)
            out.append(self.event(ev.COMMENT_ADDED, payload, c["ms"], actor, case_id,
                                  self.team, self.id_of(spec, f"comment:{i}")))
        return out

    def forget(self, new_dir: dict[str, Any]) -> None:
        """A batch failed: the directory records it would have created do not exist."""
        for email in new_dir.get("customers", []):
            self.customers.pop(email, None)
        for name in new_dir.get("orgs", []):
            self.orgs.pop(name, None)


def derived_id(ms: int, seed: bytes, part: str) -> str:
    """A UUIDv7-shaped id: time bits from ``ms``, the rest from sha256(seed, part).

    The same line imported again on the same device gets the same ids, so a rerun finds
    what an earlier run wrote (and the events table's primary key refuses a second copy)."""
    raw = bytearray((ms & 0xFFFF_FFFF_FFFF).to_bytes(6, "big")
                    + hashlib.sha256(seed + b"\0" + part.encode()).digest()[:10])
    raw[6] = 0x70 | (raw[6] & 0x0F)  # version 7
    raw[8] = 0x80 | (raw[8] & 0x3F)  # RFC 9562 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def line_seed(device_id: str, identity: str, occurrence: int) -> bytes:
    return hashlib.sha256(f"{device_id}\n{identity}\n{occurrence}".encode()).digest()


def _already_there(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        found.update(conn.execute(
            select(s.events.c.id).where(s.events.c.id.in_(ids[i:i + 500]))).scalars())
    return found


def _write_batch(store: Any, builder: _Builder, specs: list[CaseSpec], now_ms: int,
                 fast: bool = True) -> int:
    """Write the cases of ``specs`` not already imported; returns how many were written."""
    new_dir: dict[str, Any] = {}

    def tx(conn: Connection) -> int:
        created = {builder.id_of(spec, "case.created"): spec for spec in specs}
        done = _already_there(conn, list(created))
        fresh = [spec for eid, spec in created.items() if eid not in done]
        if not fresh:
            return 0
        value = conn.exec_driver_sql(
            "SELECT value FROM meta WHERE key = 'key_counter'").scalar()
        n = int(value or 0)
        events: list[ev.Event] = []
        for spec in fresh:
            n += 1
            events += builder.build(spec, f"{store.device_code}-{n}", now_ms, new_dir)
        store._set_meta(conn, "key_counter", str(n))
        conn.execute(insert(s.events), [event_row(e) for e in events])
        if fast:
            folded = Folded()
            for e in events:
                folded.add(e)
            folded.write(conn)
        else:
            apply_events(conn, events)
        top = max(e.hlc for e in events)
        store.clock.observe(top)
        store._set_meta(conn, "hlc", store.clock.last)
        return len(fresh)

    try:
        return int(store.write(tx))
    except BaseException:
        builder.forget(new_dir)
        raise


def import_file(store: Any, path: Path, progress: ProgressFn | None = None,
                cancel: CancelFn | None = None, *, batch: int = BATCH,
                fast: bool = True) -> ImportReport:
    """Import every case of ``path`` (.jsonl/.json/.ndjson or .csv). Never half-imports a case.

    Cases an earlier run of the same file imported on this store are counted in
    ``report.already`` and not added again (see the module docstring)."""
    started = time.perf_counter()
    path = Path(path)
    run = _ImportRun(store, _Builder(store), int(time.time() * 1000), fast, progress,
                     _count(path))
    for line, record in _records(path):
        spec = run.spec_of(line, record)
        if spec is None:
            continue
        run.pending.append(spec)
        if len(run.pending) >= batch:
            run.flush()
            if cancel and cancel():
                run.report.cancelled = True
                break
    if not run.report.cancelled:
        run.flush()
    run.report.errors.sort(key=lambda e: e[0])  # write errors come at their batch's end
    run.report.seconds = time.perf_counter() - started
    return run.report


class _ImportRun:
    """One import: the lines validated so far, the batch waiting to be written, the report."""

    def __init__(self, store: Any, builder: _Builder, now_ms: int, fast: bool,
                 progress: ProgressFn | None, total: int) -> None:
        self.store, self.builder, self.now_ms, self.fast = store, builder, now_ms, fast
        self.progress, self.total = progress, total
        self.report = ImportReport()
        self.pending: list[CaseSpec] = []
        self.seen: dict[str, int] = {}  # line identity -> occurrences so far (or an id's line)

    def skip(self, line: int, reason: str) -> None:
        self.report.errors.append((line, reason))
        self.report.skipped += 1

    def spec_of(self, line: int, record: dict[str, Any] | str) -> CaseSpec | None:
        """The case of one line, its ids' seed set; None (and the reason reported) when the
        line cannot be imported."""
        if isinstance(record, str):
            self.skip(line, record)
            return None
        try:
            spec = validate(line, record, self.now_ms)
        except (InvalidValue, TypeError, ValueError) as exc:
            self.skip(line, str(exc))
            return None
        identity = line_identity(record, spec.external_id)
        if spec.external_id is not None and identity in self.seen:
            self.skip(line, f"the id {spec.external_id!r} was already used on "
                            f"line {self.seen[identity]}")
            return None
        # Identical lines are distinct cases: the nth copy is the nth copy on a rerun too.
        occurrence = 0 if spec.external_id is not None else self.seen.get(identity, 0)
        self.seen[identity] = line if spec.external_id is not None else occurrence + 1
        spec.seed = line_seed(self.store.device_id, identity, occurrence)
        return spec

    def _write(self, specs: list[CaseSpec]) -> None:
        written = _write_batch(self.store, self.builder, specs, self.now_ms, self.fast)
        self.report.imported += written
        self.report.already += len(specs) - written

    def flush(self) -> None:
        if not self.pending:
            return
        try:
            self._write(self.pending)
        except Exception:  # noqa: BLE001 - one bad case must not cost its whole batch
            self._write_one_by_one(self.pending)
        self.pending.clear()
        if self.progress:
            r = self.report
            self.progress(r.imported + r.already + r.skipped, self.total)

    def _write_one_by_one(self, specs: list[CaseSpec]) -> None:
        """Each case alone; after SINGLE_RETRIES failures in a row the rest are not tried."""
        failures = 0
        for spec in specs:
            try:
                if failures < SINGLE_RETRIES:
                    self._write([spec])
                    failures = 0
                    continue
                reason = (f"not saved: the {SINGLE_RETRIES} cases before it could not be "
                          "saved either (is the disk full?)")
            except Exception as exc:  # noqa: BLE001 - reported per line, the import goes on
                failures += 1
                reason = f"not saved: {exc}"
            self.skip(spec.line, reason)

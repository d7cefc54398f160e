"""Reading what can still be read from a damaged database file, row by row.

SQLite walks a table's b-tree from its root, so one damaged page makes every query that
touches it fail. Reading by rowid ranges and bisecting a failing range down to single rows
loses only the rows whose own path is damaged. Rows are read through the table's rowid
b-tree only (``NOT INDEXED``); the indexes are read separately (covering scans) to learn
which rowids existed and which of them had never reached the server.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core import events as ev
from app.core.hlc import MAX_AHEAD_MS, Timestamp

WINDOW = 256  # rowids a range read asks for; a failing range is bisected
_STOP_AFTER_EMPTY = 64  # windows without a row ending a scan whose end is unknown
Row = tuple[Any, ...]
Sink = Callable[[int, dict[str, Any]], None]
Validator = Callable[[dict[str, Any]], dict[str, Any] | None]

# Columns of each table salvage carries over, with the value used when a column is absent
# (an older file) or unreadable. ``None`` as a default means: the row cannot be kept
# without it.
EVENT_COLUMNS: dict[str, Any] = {
    "id": None, "case_id": "", "team_id": "", "type": None, "payload": None, "actor": None,
    "device_id": None, "hlc": None, "server_seq": "", "op_id": "", "sync_error": "", "v": 1,
}
TABLE_COLUMNS: dict[str, dict[str, Any]] = {
    "meta": {"key": None, "value": None},
    "saved_views": {"id": None, "name": None, "query": None, "position": 0},
    "operations": {"id": None, "label": None, "event_ids": None, "created_ms": None,
                   "undone": False},
    "conflicts": {"id": None, "case_id": None, "field": None, "local_value": "",
                  "remote_value": "", "remote_actor": None, "local_event_id": None,
                  "remote_event_id": None, "created_ms": None, "resolved": False},
    "quarantine": {"id": None, "server_seq": "", "case_id": "", "type": "", "raw": None,
                   "reason": None, "received_ms": None, "app_version": None},
}
# An empty-string default above stands for SQL NULL (a nullable column): see _fill.


@dataclass
class TableRead:
    """What a row-by-row read of one table found."""

    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # rowid -> values (no sink)
    kept: set[int] = field(default_factory=set)  # rowids of the rows that held together
    failed: set[int] = field(default_factory=set)  # rowids whose own lookup failed
    rejected: dict[int, dict[str, Any]] = field(default_factory=dict)  # read, but invalid
    max_rowid: int | None = None  # from the table b-tree; None when that read failed
    readable: bool = True  # False when not even the table's schema could be read


@dataclass
class EventIndexes:
    """Rowids the events table's indexes hold (covering scans, no table page read)."""

    ids: set[int] = field(default_factory=set)
    ids_complete: bool = False
    unsynced: set[int] = field(default_factory=set)  # server_seq IS NULL
    unsynced_complete: bool = False
    other: set[int] = field(default_factory=set)


@dataclass
class EventsSalvage:
    kept: int  # rows that were read and hold together (sent to the sink)
    expected: int
    lost: int
    unsynced_lost: int
    exact: bool
    damaged_ranges: int  # runs of consecutive unreadable rowids (about one per bad page)


def connect(path: str) -> sqlite3.Connection:
    """A connection that reads all it can and writes nothing."""
    con = sqlite3.connect(path, isolation_level=None)
    # writable_schema: a damaged schema entry of one table is skipped instead of failing
    # every statement (query_only still refuses any write). No cell_size_check: it rejects
    # a whole page for one bad cell, and each row read is validated anyway.
    for pragma in ("query_only=ON", "writable_schema=ON", "mmap_size=0"):
        try:
            con.execute(f"PRAGMA {pragma}")
        except sqlite3.DatabaseError:
            pass
    return con


def _columns(con: sqlite3.Connection, table: str) -> list[str] | None:
    """The table's columns; [] when the file has no such table, None when its schema cannot
    be read."""
    try:
        return [str(r[1]) for r in con.execute(f'PRAGMA table_info("{table}")')]
    except sqlite3.DatabaseError:
        return None


def _scalar(con: sqlite3.Connection, sql: str) -> Any:
    try:
        row = con.execute(sql).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def read_table(con: sqlite3.Connection, table: str, wanted: Iterable[str],
               validate: Validator | None = None, *, hint_max: int = 0,
               cap: int = 1 << 40, sink: Sink | None = None) -> TableRead:
    """Every row of ``table`` that can be read, keyed by rowid.

    Rowid windows are read through the table b-tree; a failing window is bisected down to
    single rows. Rowids inside the scanned span that no successful read returned are looked
    up one by one at the end, so nothing a single-row lookup can read is missed. With a
    ``sink`` the kept rows go to it instead of ``rows`` (a log of millions of events).
    """
    result = TableRead()
    present = _columns(con, table)
    if present is None:
        result.readable = False
        return result
    if not present:  # an older file without this table: nothing to read, nothing lost
        result.max_rowid = 0
        return result
    reader = _TableReader(con, table, [c for c in wanted if c in present], result,
                          validate, cap, sink)
    result.max_rowid = reader.reported_end()
    if result.max_rowid is not None and result.max_rowid > cap:
        result.max_rowid = None  # a damaged rightmost path: more rows than the file can hold
    end = max(result.max_rowid or 0, hint_max if hint_max <= cap else 0)
    start = 1
    while start <= end:
        reader.read_span(start, min(start + WINDOW - 1, end))
        start += WINDOW
    if result.max_rowid is None:
        # The table's end is unknown: go on until a long stretch yields nothing.
        empty = 0
        while empty < _STOP_AFTER_EMPTY:
            empty = 0 if reader.read_span(start, start + WINDOW - 1) else empty + 1
            start += WINDOW
        result.failed = {r for r in result.failed if r <= max(result.kept, default=end)}
    reader.read_tail(max(max(result.kept, default=0), end))
    reader.read_gaps(min(max(max(result.kept, default=0), end), cap))
    result.failed -= result.kept | set(result.rejected)
    return result


class _TableReader:
    """The reads :func:`read_table` makes of one table, and the rows they keep."""

    def __init__(self, con: sqlite3.Connection, table: str, cols: list[str],
                 result: TableRead, validate: Validator | None, cap: int,
                 sink: Sink | None) -> None:
        self.con, self.table, self.cols, self.result = con, table, cols, result
        self.validate, self.cap, self.sink = validate, cap, sink
        self.select = ", ".join(f'"{c}"' for c in cols)
        self.by_range = (f'SELECT rowid, {self.select} FROM "{table}" NOT INDEXED '
                         "WHERE rowid BETWEEN ? AND ?")
        self.by_one = f'SELECT rowid, {self.select} FROM "{table}" NOT INDEXED WHERE rowid = ?'

    def reported_end(self) -> int | None:
        """max(rowid) as the file tells it; 0 for an empty table, None when unknown."""
        top = _scalar(self.con, f'SELECT max(rowid) FROM "{self.table}" NOT INDEXED')
        if isinstance(top, int):
            return top
        if _scalar(self.con, f'SELECT count(*) FROM (SELECT 1 FROM "{self.table}" '
                             "NOT INDEXED LIMIT 1)") == 0:
            return 0  # max() was NULL: an empty table, not a failed read
        return None

    def keep(self, raw: Row) -> None:
        result = self.result
        rowid, values = int(raw[0]), dict(zip(self.cols, raw[1:], strict=True))
        if rowid in result.kept and not self._the_row_of(rowid, raw):
            return
        checked = None
        if 0 < rowid <= self.cap:
            checked = self.validate(values) if self.validate else values
        if checked is None:
            result.rejected[rowid] = values
            return
        result.kept.add(rowid)
        if self.sink is None:
            result.rows[rowid] = checked
        else:
            self.sink(rowid, checked)
        result.rejected.pop(rowid, None)

    def _the_row_of(self, rowid: int, raw: Row) -> bool:
        """Two cells with one rowid (a damaged rowid in another cell): the one a lookup of
        the rowid finds is the row; the other is left out."""
        try:
            found = self.con.execute(self.by_one, (rowid,)).fetchall()
        except sqlite3.DatabaseError:
            return False
        return bool(found) and tuple(found[0]) == tuple(raw)

    def read_span(self, lo: int, hi: int) -> bool:
        """Read [lo, hi]; True when at least one row came back."""
        found = False
        stack = [(lo, hi)]
        while stack:
            a, b = stack.pop()
            try:
                # one row by equality: a range read steps on to the next row, which may sit
                # on the damaged page even when this one does not
                rows = (self.con.execute(self.by_one, (a,)) if a == b
                        else self.con.execute(self.by_range, (a, b))).fetchall()
            except sqlite3.DatabaseError:
                if a == b:
                    self.result.failed.add(a)
                else:
                    mid = (a + b) // 2
                    stack += [(mid + 1, b), (a, mid)]
                continue
            for raw in rows:
                self.keep(raw)
            found = found or bool(rows)
        return found

    def read_tail(self, last: int) -> None:
        """Rows past the end max() reported (a damaged rightmost path can under-report it)."""
        while True:
            try:
                tail = self.con.execute(
                    f'SELECT rowid, {self.select} FROM "{self.table}" NOT INDEXED '
                    "WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, WINDOW)).fetchall()
            except sqlite3.DatabaseError:
                return
            if not tail:
                return
            for raw in tail:
                self.keep(raw)
            last = int(tail[-1][0])

    def read_gaps(self, span: int) -> None:
        """Anything in [1, span] no read returned: one lookup each (normally none or a few)."""
        result = self.result
        seen = result.kept | set(result.rejected)
        for rowid in range(1, span + 1):
            if rowid in seen or rowid in result.failed:
                continue
            try:
                one = self.con.execute(self.by_one, (rowid,)).fetchall()
            except sqlite3.DatabaseError:
                result.failed.add(rowid)
                continue
            for raw in one:
                self.keep(raw)


def _fill(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any] | None:
    """Column values with defaults for absent ones; None when a required one is missing."""
    out: dict[str, Any] = {}
    for name, default in defaults.items():
        value = values.get(name)
        if value is None:
            if default is None:
                return None
            value = None if default == "" else default
        out[name] = value
    return out


def _text(value: Any, limit: int, *, required: bool = True) -> bool:
    if value is None:
        return not required
    return isinstance(value, str) and (bool(value) or not required) and len(value) <= limit


def _int(value: Any, *, required: bool = False) -> bool:
    if value is None:
        return not required
    return isinstance(value, int) and not isinstance(value, bool)


def parse_event(values: dict[str, Any]) -> dict[str, Any] | None:
    """The insertable event row for a row read from a damaged file, or None when it does not
    hold together (wrong types, a payload that is not a JSON object, a bad clock, or a payload
    the projections cannot fold)."""
    if "v" in values and not _int(values.get("v")):
        values = {**values, "v": None}  # an unreadable version: the default (1)
    row = _fill(values, EVENT_COLUMNS)
    if row is None:
        return None
    if not (_text(row["id"], 36) and _text(row["type"], 64) and _text(row["actor"], 320)
            and _text(row["device_id"], 64) and _text(row["hlc"], 24)
            and _text(row["case_id"], 36, required=False)
            and _text(row["team_id"], 64, required=False)
            and _text(row["op_id"], 36, required=False)
            and _text(row["sync_error"], 1 << 20, required=False)
            and _int(row["server_seq"]) and isinstance(row["payload"], str)):
        return None
    if row["v"] < 1:
        row["v"] = 1
    try:
        Timestamp.decode(row["hlc"])
        payload = json.loads(row["payload"])
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    event = ev.Event(id=row["id"], type=row["type"], payload=payload, actor=row["actor"],
                     device_id=row["device_id"], hlc=row["hlc"], case_id=row["case_id"],
                     team_id=row["team_id"], server_seq=row["server_seq"], op_id=row["op_id"],
                     v=row["v"])
    if not _folds(event):
        return None
    return row


def _folds(event: ev.Event) -> bool:
    # A payload damaged into another valid JSON object can still break the fold: try it
    # alone, so the rebuild after the salvage cannot fail on it.
    from app.store.rebuild import Folded

    try:
        Folded().add(event)
    except Exception:  # noqa: BLE001  (any failure means: this row cannot be applied)
        return False
    return True


def _validator(table: str) -> Validator:
    defaults = TABLE_COLUMNS[table]
    ints = {"position", "created_ms", "received_ms", "server_seq"}
    bools = {"undone", "resolved"}

    def check(values: dict[str, Any]) -> dict[str, Any] | None:
        row = _fill(values, defaults)
        if row is None:
            return None
        for name, value in row.items():
            if value is None:
                continue
            if name in ints or name in bools:
                if not _int(value):
                    return None
            elif not isinstance(value, str):
                return None
        if table == "operations":
            try:
                ids = json.loads(row["event_ids"])
            except ValueError:
                return None
            if not isinstance(ids, list):
                return None
        return row

    return check


def read_indexes(con: sqlite3.Connection) -> EventIndexes:
    """The rowids each index of ``events`` holds (the table's pages are never read)."""
    found = EventIndexes()
    try:
        names = [str(r[0]) for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")]
    except sqlite3.DatabaseError:
        return found
    for name in names:
        try:
            rows = con.execute(f'SELECT seq FROM events INDEXED BY "{name}"').fetchall()
        except sqlite3.DatabaseError:
            continue  # a damaged index tells nothing for sure
        rowids = {int(r[0]) for r in rows if isinstance(r[0], int)}
        if name == "sqlite_autoindex_events_1":  # UNIQUE (id): one entry for every event
            found.ids, found.ids_complete = rowids, True
        found.other |= rowids
    if "ix_events_server_seq" in names:
        # NULLs sort first: the unsynced part of the index is a few pages at its start, so
        # it usually reads whole even when other pages of the index are damaged.
        try:
            found.unsynced = {int(r[0]) for r in con.execute(
                "SELECT seq FROM events INDEXED BY ix_events_server_seq "
                "WHERE server_seq IS NULL") if isinstance(r[0], int)}
            found.unsynced_complete = True
        except sqlite3.DatabaseError:
            pass
    return found


def salvage_events(con: sqlite3.Connection, sink: Sink, *,
                   prior_gaps: int | None) -> EventsSalvage:
    """The readable events and exact (or, when said so, estimated) counts of the lost ones.

    ``prior_gaps`` is the number of seq values a previous salvage left without an event (read
    from meta; None when meta could not say).
    """
    indexes = read_indexes(con)
    cap = max_rows(con)
    hint = max((r for r in indexes.other if r <= cap), default=0)
    unsynced_kept: set[int] = set()

    def keep(rowid: int, row: dict[str, Any]) -> None:
        if row["server_seq"] is None:
            unsynced_kept.add(rowid)
        else:
            unsynced_kept.discard(rowid)
        sink(rowid, row)

    read = read_table(con, "events", ["seq", *EVENT_COLUMNS], parse_event, hint_max=hint,
                      cap=cap, sink=keep)
    kept = read.kept
    if read.failed or read.max_rowid is None:
        # Rows under a damaged interior page are out of the b-tree's reach: read the leaves.
        limit = read.max_rowid if read.max_rowid is not None else (hint or cap)
        for rowid, row in carve_events(con, limit, skip=kept):
            keep(rowid, row)
            kept.add(rowid)
    lost_ids = (read.failed | set(read.rejected)) - kept
    if read.max_rowid is not None and prior_gaps is not None:
        # seq is dense (no event is ever deleted) but for the gaps a previous salvage left
        top = max(read.max_rowid, max(kept, default=0))
        expected, exact = max(top - prior_gaps, len(kept)), True
    elif indexes.ids_complete:  # the UNIQUE (id) index names every event that existed
        top = max(hint, max(kept, default=0))
        existed = indexes.ids | kept | lost_ids
        # trusted only when it agrees with every row the table gave
        expected, exact = len(existed), kept <= indexes.ids
        lost_ids = existed - kept
    else:  # assume each unreadable rowid held an event
        top = max(hint, max(kept, default=0), max(lost_ids, default=0))
        expected, exact = len(kept) + len(lost_ids), False
    lost = max(expected - len(kept), 0)
    if lost == 0:
        unsynced_lost, unsynced_exact = 0, True
    elif indexes.unsynced_complete:
        unsynced_lost = len({r for r in indexes.unsynced if r <= top} - kept)
        # trusted only when it agrees with the sync state of every row the table gave
        unsynced_exact = indexes.unsynced & kept == unsynced_kept
    else:  # what the damaged rows themselves still say, at least
        unsynced_lost = sum(1 for r in read.rejected.values() if r.get("server_seq") is None)
        unsynced_exact = False
    return EventsSalvage(kept=len(kept), expected=expected, lost=lost,
                         unsynced_lost=unsynced_lost, exact=exact and unsynced_exact,
                         damaged_ranges=_runs(lost_ids))


_CARVED_COLUMNS = ("seq", *EVENT_COLUMNS)


def carve_events(con: sqlite3.Connection, limit: int, *, skip: set[int]
                 ) -> list[tuple[int, dict[str, Any]]]:
    """Event rows read from the file's leaf pages directly (app/store/carve.py), for rowids
    up to ``limit`` not in ``skip``. Of two copies of one row (a stale copy on a freed page),
    the one the server has acknowledged wins."""
    from app.store.carve import table_leaf_rows
    from app.store.schema_graft import page_size

    files = [str(r[2]) for r in _rows(con, "PRAGMA database_list") if r[1] == "main"]
    if not files or not files[0]:
        return []
    path = Path(files[0])
    size = _scalar(con, "PRAGMA page_size")
    size = size if isinstance(size, int) and size >= 512 else page_size(path)
    found: dict[int, dict[str, Any]] = {}
    for rowid, values in table_leaf_rows(path, size):
        if rowid in skip or not 0 < rowid <= limit or not 11 <= len(values) <= 13 \
                or values[0] is not None:  # seq is the rowid: stored as NULL
            continue
        row = parse_event(dict(zip(_CARVED_COLUMNS, values, strict=False)))
        if row is not None and (rowid not in found or found[rowid]["server_seq"] is None):
            found[rowid] = row
    return sorted(found.items())


def _rows(con: sqlite3.Connection, sql: str) -> list[Row]:
    try:
        return list(con.execute(sql))
    except sqlite3.DatabaseError:
        return []


def max_rows(con: sqlite3.Connection) -> int:
    """An upper bound on the rows a table of this file can hold (to ignore absurd rowids)."""
    pages = _scalar(con, "PRAGMA page_count")
    size = _scalar(con, "PRAGMA page_size")
    if not isinstance(pages, int) or not isinstance(size, int) or pages <= 0:
        return 1 << 40
    return pages * max(size // 8, 1)


def _runs(rowids: set[int]) -> int:
    ordered = sorted(rowids)
    return sum(1 for i, r in enumerate(ordered) if i == 0 or ordered[i - 1] != r - 1)


def salvage_rows(con: sqlite3.Connection, table: str
                 ) -> tuple[list[dict[str, Any]], int, bool]:
    """The readable rows of a local table, how many of its rowids could not be read, and
    whether the table could be read at all."""
    read = read_table(con, table, list(TABLE_COLUMNS[table]), _validator(table))
    rows = [read.rows[k] for k in sorted(read.rows)]
    return rows, len(read.failed) + len(read.rejected), read.readable


# --- meta ------------------------------------------------------------------------------
_NOT_CARRIED = {"clean_shutdown", "last_check_ms"}  # the new store's own session state


def usable_meta(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Meta values that can be trusted enough to carry over (a clock that parses, numbers)."""
    meta: dict[str, str] = {}
    for row in rows:
        key, value = row["key"], row["value"]
        if key in _NOT_CARRIED or not key:
            continue
        if key == "hlc":
            try:
                Timestamp.decode(value)
            except ValueError:
                continue
        if key in ("key_counter", "pull_cursor", "events_seq_gaps") and not value.isdigit():
            continue
        meta[key] = value
    return meta


_PROVISIONAL = re.compile(r"^([A-Z0-9]{4})-[0-9]+$")


class KeptEvents:
    """The kept event rows, staged in an SQLite file of their own (not in memory: a log can
    hold millions), ready to be copied into the new database in seq order."""

    COLUMNS = ("seq", *EVENT_COLUMNS)

    def __init__(self, path: Path) -> None:
        self.path = path
        path.unlink(missing_ok=True)
        self._con = sqlite3.connect(path, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=OFF")
        self._con.execute("PRAGMA synchronous=OFF")
        cols = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
        self._con.execute(f"CREATE TABLE events (seq INTEGER PRIMARY KEY, {cols})")
        names = ", ".join(f'"{c}"' for c in self.COLUMNS)
        self._sql = (f"INSERT OR REPLACE INTO events ({names}) "
                     f"VALUES ({', '.join('?' for _ in self.COLUMNS)})")
        self._batch: list[tuple[Any, ...]] = []

    def add(self, rowid: int, row: dict[str, Any]) -> None:
        self._batch.append((rowid, *(row[c] for c in EVENT_COLUMNS)))
        if len(self._batch) >= 5000:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            with self._con:
                self._con.executemany(self._sql, self._batch)
            self._batch = []

    def close(self) -> None:
        self.flush()
        self._con.close()

    def derive_meta(self, meta: dict[str, str]) -> dict[str, str]:
        """Fill identity the meta table lost from the kept events; never set the clock back.

        Unsynced events are this device's own: they name its device id and actor. A
        teammate's clock far in the future must not move ours.
        """
        self.flush()
        out = dict(meta)
        limit = Timestamp(int(time.time() * 1000) + MAX_AHEAD_MS, 0).encode()
        newest = self._con.execute("SELECT max(hlc) FROM events WHERE hlc <= ?",
                                   (limit,)).fetchone()[0]
        if newest:
            out["hlc"] = max(newest, out.get("hlc", ""))
        if "device_id" not in out:
            row = self._con.execute(
                "SELECT device_id FROM events WHERE server_seq IS NULL GROUP BY device_id "
                "ORDER BY count(*) DESC, device_id DESC LIMIT 1").fetchone()
            if row:
                out["device_id"] = row[0]
        if "actor" not in out:
            row = self._con.execute("SELECT actor FROM events WHERE server_seq IS NULL "
                                    "ORDER BY hlc DESC LIMIT 1").fetchone()
            if row:
                out["actor"] = row[0]
        if "device_code" not in out and "device_id" in out:
            # The code is the prefix of the provisional keys this device gave its cases
            # (a new code would do too, but the key counter then restarts for nothing).
            for (key,) in self._con.execute(
                    "SELECT json_extract(payload, '$.fields.key') FROM events "
                    "WHERE type = ? AND device_id = ? ORDER BY seq DESC LIMIT 50",
                    (ev.CASE_CREATED, out["device_id"])):
                match = _PROVISIONAL.match(str(key or ""))
                if match:
                    out["device_code"] = match.group(1)
                    break
        return out


@dataclass
class Salvaged:
    """Everything read from a damaged file, ready to be written into a new one."""

    events: EventsSalvage
    kept_events: KeptEvents  # the rows themselves (closed; derive_meta still works)
    meta: dict[str, str]  # usable values, as read
    meta_lost: int  # meta rows that could not be read or did not hold together
    tables: dict[str, list[dict[str, Any]]]
    table_lost: dict[str, int]
    unreadable_tables: list[str]  # not even their schema could be read

    @property
    def anything_lost(self) -> bool:
        return bool(self.events.lost or not self.events.exact or self.meta_lost
                    or any(self.table_lost.values()) or self.unreadable_tables)


def salvage(con: sqlite3.Connection, kept: KeptEvents,
            tables: Iterable[str] = ("saved_views", "operations", "conflicts", "quarantine"),
            ) -> Salvaged:
    unreadable = [t for t in ("meta", "events") if not _columns(con, t)]  # never absent
    meta_read = read_table(con, "meta", ["key", "value"], _validator("meta"))
    meta_lost = len(meta_read.failed) + len(meta_read.rejected)
    if "meta" in unreadable or meta_read.max_rowid is None:
        meta_lost = max(meta_lost, 1)  # how much is unknown; something is
    meta = usable_meta([meta_read.rows[k] for k in sorted(meta_read.rows)])
    gaps = meta.get("events_seq_gaps")
    prior_gaps = int(gaps) if gaps is not None else (None if meta_lost else 0)
    events = salvage_events(con, kept.add, prior_gaps=prior_gaps)
    kept.flush()
    if "events" in unreadable:
        events.exact = False  # how many there were is unknown
    found: dict[str, list[dict[str, Any]]] = {}
    lost: dict[str, int] = {}
    for table in tables:
        found[table], lost[table], readable = salvage_rows(con, table)
        if not readable:
            unreadable.append(table)
    return Salvaged(events=events, kept_events=kept, meta=meta, meta_lost=meta_lost,
                    tables=found, table_lost=lost, unreadable_tables=unreadable)


def salvage_file(path: Path, work: Path) -> Salvaged:
    """Salvage the file at ``path`` (a private copy; ``work`` a private scratch folder).

    When not even the schema of the event log or meta can be read (page 1 destroyed), the
    file is read again through a rebuilt page 1 (app/store/schema_graft.py), and whichever
    read kept more is used.
    """
    con = connect(str(path))
    try:
        found = salvage(con, KeptEvents(work / "kept.db"))
    finally:
        con.close()
    if not {"events", "meta"} & set(found.unreadable_tables):
        return found
    from app.store.schema_graft import GRAFTED, graft

    grafted = graft(path, work)
    if grafted is None:
        return found
    con = connect(str(grafted))
    try:
        other = salvage(con, KeptEvents(work / "kept-grafted.db"),
                        tables=[t for t in found.tables if t in GRAFTED])
    finally:
        con.close()
    if other.events.kept + len(other.meta) <= found.events.kept + len(found.meta):
        other.kept_events.close()
        return found
    found.kept_events.close()
    other.unreadable_tables += [t for t in found.tables if t not in other.tables]
    return other

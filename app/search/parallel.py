"""A full build split over worker processes, each writing its own segment.

Each worker opens the database itself and indexes one contiguous range of case ids (ids are
time-ordered UUIDv7), so no document is pickled between processes (Whoosh's ``MpWriter``
pickles every document from the parent). The parent then commits all the segments at once.
"""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.writing import SegmentWriter

from app.search import documents as docs

_RANGE_SQL = docs._CASES_SQL.replace("{where}", "AND c.id >= ? AND c.id < ?")
_COMMENTS_SQL = docs._COMMENTS_SQL.replace("{where}", "AND case_id >= ? AND case_id < ?")
_KEYS_SQL = "SELECT case_id, key FROM case_keys WHERE case_id >= ? AND case_id < ?"
HIGH = "\uffff"
SEGMENT_CASES = 12_500  # cases per segment: its postings sort in memory without spilling


def split_ids(conn: Any, parts: int) -> list[tuple[str, str]]:
    """``parts`` contiguous [low, high) id ranges holding about as many cases each."""
    ids = [r[0] for r in conn.exec_driver_sql(
        'SELECT id FROM cases WHERE "exists" = 1 AND deleted = 0 ORDER BY id')]
    if not ids:
        return [("", HIGH)]
    bounds = [""] + [ids[len(ids) * i // parts] for i in range(1, parts)] + [HIGH]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


def _cases(db: sqlite3.Connection, low: str, high: str) -> Iterator[dict[str, Any]]:
    keys: dict[str, list[str]] = {}
    for case_id, key in db.execute(_KEYS_SQL, (low, high)):
        keys.setdefault(case_id, []).append(key)
    comments = iter(db.execute(_COMMENTS_SQL, (low, high, low, high)))
    pending = next(comments, None)
    for row in db.execute(_RANGE_SQL, (low, high)):
        bodies: list[str] = []
        while pending is not None and pending[0] < row[0]:
            pending = next(comments, None)
        while pending is not None and pending[0] == row[0]:
            bodies.append(pending[1])
            pending = next(comments, None)
        yield docs.case_document(row, keys.get(row[0], []), bodies)


def _worker(db_path: str, index_dir: str, ranges: list[tuple[str, str]], directory: bool,
            limitmb: int, done: Any, stop: Any, results: Any) -> None:
    """Index ``ranges`` one after the other, one segment each (small enough to sort in RAM)."""
    db = sqlite3.connect(db_path)
    db.execute("BEGIN")
    ix = windex.open_dir(index_dir)
    segments = []
    try:
        for low, high in ranges:
            writer = SegmentWriter(ix, _lk=False, limitmb=limitmb)
            n = 0
            for doc in _cases(db, low, high):
                writer.add_document(**doc)
                n += 1
                if n % 500 == 0:
                    with done.get_lock():
                        done.value += 500
                    if stop.is_set():
                        writer.cancel()
                        results.put(None)
                        return
            with done.get_lock():
                done.value += n % 500
            if directory:
                directory = False
                for doc in _directory(db):
                    writer.add_document(**doc)
            segments.append(writer._finalize_segment())
        results.put(segments)
    except BaseException:
        results.put(None)
        raise
    finally:
        db.close()


def _directory(db: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    class _Conn:  # documents.iter_directory wants exec_driver_sql
        def exec_driver_sql(self, sql: str) -> Any:
            return db.execute(sql)

    return docs.iter_directory(_Conn())  # type: ignore[arg-type]


def build_parallel(db_path: Path, index_dir: Path, ranges: list[tuple[str, str]], total: int,
                   *, workers: int, progress: Any, cancelled: Any, limitmb: int) -> bool:
    """Index every range in its own process; False if cancelled (nothing committed)."""
    ctx = mp.get_context("spawn")
    done = ctx.Value("q", 0)
    stop = ctx.Event()
    results = ctx.Queue()
    workers = max(1, min(workers, len(ranges)))
    procs = [ctx.Process(target=_worker, args=(str(db_path), str(index_dir), ranges[i::workers],
                                               i == 0, limitmb, done, stop, results))
             for i in range(workers)]
    for p in procs:
        p.start()
    segments: list[Any] = []
    try:
        while len(segments) < len(procs):
            try:
                segments.append(results.get(timeout=0.25))
            except Exception:  # noqa: BLE001 - queue.Empty: report progress, check cancel
                if progress:
                    progress(min(done.value, total), total)
                if cancelled():
                    stop.set()
                if not any(p.is_alive() for p in procs) and results.empty():
                    break
    finally:
        for p in procs:
            p.join(timeout=30)
    if stop.is_set() or len(segments) < len(procs) or any(s is None for s in segments):
        if stop.is_set():
            return False
        raise RuntimeError("a search indexing worker failed")
    ix = windex.open_dir(str(index_dir))
    writer = ix.writer()
    writer._close_segment()
    writer._commit_toc([seg for batch in segments for seg in batch])
    writer._finish()
    ix.close()
    return True

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
from app.search.pool import install
from app.store import search_queries as sq

HIGH = "\uffff"
SEGMENT_CASES = 12_500  # cases per segment: its postings sort in memory without spilling


def split_ids(conn: Any, parts: int) -> list[tuple[str, str]]:
    """``parts`` contiguous [low, high) id ranges holding about as many cases each."""
    ids = sq.live_case_ids(conn)
    if not ids:
        return [("", HIGH)]
    bounds = [""] + [ids[len(ids) * i // parts] for i in range(1, parts)] + [HIGH]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


def _cases(db: sqlite3.Connection, low: str, high: str) -> Iterator[dict[str, Any]]:
    return docs.merge_cases(sq.range_case_rows(db, low, high), sq.range_text_rows(db, low, high),
                            sq.range_case_keys(db, low, high))


def _worker(db_path: str, index_dir: str, ranges: list[tuple[str, str]], directory: bool,
            limitmb: int, done: Any, stop: Any, results: Any) -> None:
    """Index ``ranges`` one after the other, one segment each (small enough to sort in RAM)."""
    db = sq.open_snapshot(db_path)
    ix = windex.open_dir(index_dir)
    segments = []
    try:
        for low, high in ranges:
            writer = install(SegmentWriter(ix, _lk=False, limitmb=limitmb))
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
    return docs.directory_documents(lambda table: sq.range_directory_rows(db, table))


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

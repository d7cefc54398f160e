"""The search service the rest of the app calls. Nothing outside ``app.search`` imports Whoosh.

Threads: any number of reader threads call ``search`` (each keeps its own Whoosh searcher,
refreshed when the index changes); one background writer calls ``ensure_index``/``catch_up``.
Term postings and filter doc sets are cached per segment (:mod:`app.search.engine`) and
shared by all readers; a catch-up adds a small segment, so only that one is read afresh.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import query as wq
from whoosh.index import Index
from whoosh.searching import Searcher

from app.search import indexer, postings
from app.search.compiler import Compiled, compile_query
from app.search.engine import Engine
from app.search.help import HELP_TEXT
from app.search.querylang import ParsedQuery, parse
from app.search.schema import facet
from app.search.snippets import MARK_CLOSE, MARK_OPEN, best_snippet
from app.search.state import IndexState
from app.search.verify import verify_index
from app.store import search_queries as sq

REBUILD_BEHIND = 200_000  # events; further behind than this, rebuild instead of catching up

__all__ = ["HELP_TEXT", "SearchResult", "SearchService", "MARK_OPEN", "MARK_CLOSE"]


@dataclass(slots=True)
class SearchResult:
    query: str
    hits: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    took_ms: float = 0.0
    notes: list[str] = field(default_factory=list)
    suggestion: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "hits": self.hits, "total": self.total,
                "took_ms": round(self.took_ms, 2), "notes": self.notes,
                "suggestion": self.suggestion}


class SearchService:
    def __init__(self, data_dir: Path, store: Any, *, procs: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.index_dir = self.data_dir / "index"
        self.store = store
        self.procs = procs if procs is not None else min(2, os.cpu_count() or 1)
        self._ix: Index | None = None
        self._state: IndexState | None = None
        self._gen = 0
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._searchers: list[Searcher] = []
        self._searchers_lock = threading.Lock()
        self._engine = Engine(index_dir=self.index_dir)
        self.last_build_seconds: float | None = None

    # --- writing (one background thread) ----------------------------------------------
    def ensure_index(self, progress: indexer.ProgressFn | None = None,
                     cancel: indexer.CancelFn | None = None) -> None:
        """Open the index (rebuilding it when missing, damaged or outdated), then catch up."""
        with self._write_lock:
            if self._ix is None:
                opened = indexer.open_index(self.index_dir)
                if opened is None:
                    self._rebuild(progress, cancel)
                else:
                    self._ix, self._state = opened
                    _write_postings(self._ix)  # an index from before the arrays: once
                    self._bump()
                    behind = self.store.read(indexer.last_seq) - self._state.seq
                    if behind > REBUILD_BEHIND:  # e.g. after a big import: a build is faster
                        self._rebuild(progress, cancel)
            self.catch_up(progress)

    def rebuild(self, progress: indexer.ProgressFn | None = None,
                cancel: indexer.CancelFn | None = None) -> None:
        with self._write_lock:
            self._rebuild(progress, cancel)
            self.catch_up()

    def _rebuild(self, progress: indexer.ProgressFn | None,
                 cancel: indexer.CancelFn | None) -> None:
        started = time.perf_counter()
        ix, state = indexer.build_index(self.store, self.index_dir, progress=progress,
                                        cancel=cancel, procs=self.procs)
        _write_postings(ix)
        old, self._ix, self._state = self._ix, ix, state
        self._bump()
        if old is not None:
            old.close()
        self.last_build_seconds = time.perf_counter() - started

    def catch_up(self, progress: indexer.ProgressFn | None = None) -> int:
        """Index the events recorded since the last indexed seq; returns how many.
        ``progress(events done, events behind)`` follows each committed batch."""
        with self._write_lock:
            if self._ix is None or self._state is None:
                self.ensure_index()
                return 0
            try:
                ix = self._ix

                def committed(done: int, behind: int) -> None:
                    # A batch is committed: searches see it now, not after the last batch.
                    _write_postings(ix)
                    self._bump()
                    if progress:
                        progress(done, behind)

                count = indexer.catch_up(ix, self.store, self._state, self.index_dir,
                                         progress=committed)
            except indexer.IndexCancelled:
                raise
            except Exception:  # noqa: BLE001 - a damaged index is rebuilt, never fatal
                self._rebuild(None, None)
                return indexer.catch_up(self._ix, self.store, self._state, self.index_dir)
            if count:
                _write_postings(self._ix)
                self._bump()
            return count

    def _bump(self) -> None:
        self._gen += 1
        if self._ix is not None:
            with self._ix.searcher() as s:
                self._engine.forget_others(s)

    @property
    def indexed_seq(self) -> int:
        return self._state.seq if self._state else 0

    # --- reading (any thread) ---------------------------------------------------------
    def _searcher(self) -> tuple[Searcher, int]:
        loc = self._local
        gen = self._gen
        if getattr(loc, "gen", None) != gen or loc.searcher is None:
            if self._ix is None:
                self.ensure_index()
            assert self._ix is not None
            old = getattr(loc, "searcher", None)
            loc.searcher = self._ix.searcher()
            loc.gen = gen
            with self._searchers_lock:
                self._searchers.append(loc.searcher)
                if old is not None and old in self._searchers:
                    self._searchers.remove(old)
            if old is not None:
                old.close()
        return loc.searcher, loc.gen

    def search(self, query: str, *, me: str, limit: int = 50) -> SearchResult:
        started = time.perf_counter()
        now_ms = int(time.time() * 1000)
        parsed = parse(query, now_ms=now_ms)
        result = SearchResult(query=query, notes=list(parsed.notes))
        if parsed.groups:
            searcher, _gen = self._searcher()
            compiled = compile_query(parsed, me=me, reader=searcher.reader())
            ranked, result.total = self._run(searcher, compiled, limit, now_ms)
            result.hits = self._hits(ranked, compiled)
            if result.total == 0 and parsed.words():
                result.suggestion = self._suggest(searcher, parsed, me)
        result.took_ms = (time.perf_counter() - started) * 1000
        return result

    def _run(self, searcher: Searcher, c: Compiled, limit: int,
             now_ms: int) -> tuple[list[tuple[float, dict[str, Any]]], int]:
        if limit <= 0 or (not c.plan.groups and not c.allow and not c.plan.deny):
            return [], 0
        top, total = self._engine.run(searcher, c.plan, c.allow, limit, now_ms)
        return [(score, searcher.stored_fields(d)) for score, d in top], total

    def _hits(self, ranked: list[tuple[float, dict[str, Any]]],
              c: Compiled) -> list[dict[str, Any]]:
        if not ranked:
            return []
        ids = [stored["id"] for _, stored in ranked]

        def load(conn: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
            rows = sq.hit_rows(conn, ids)
            need = [i for i in ids if i in rows and c.highlight
                    and not _has_match(rows[i], c)]
            return rows, sq.recent_comments(conn, need) if need else {}

        rows, comments = self.store.read(load)
        hits = []
        for score, stored in ranked:
            row = rows.get(stored["id"])
            if row is None:
                continue  # gone since the index last caught up
            fields = [("subject", row[2] or ""), ("description", row[3] or "")]
            fields += [("comment", body) for body in comments.get(row[0], [])]
            source, snippet = best_snippet(fields, c.highlight, c.prefix)
            hits.append({"id": row[0], "key": row[1], "subject": row[2], "status": row[4],
                         "priority": row[5], "assignee": row[6], "updated_ms": row[7],
                         "snippet": snippet, "snippet_source": source,
                         "score": round(score, 4)})
        return hits

    def _suggest(self, searcher: Searcher, parsed: ParsedQuery, me: str) -> str | None:
        reader = searcher.reader()
        from app.search.analysis import stem

        text = parsed.text
        changed = False
        # Subject words and directory names (customers, organizations): a misspelt
        # requester or company is as common as a misspelt subject word.
        correctors = [searcher.corrector("subject"), searcher.corrector("name")]
        for word in parsed.words():
            low = word.lower()
            if (("body", stem(low)) in reader or ("subject", stem(low)) in reader
                    or ("f", facet("requester", low)) in reader):
                continue
            # The closest word first (one edit before two), the subject's before a name's.
            best = next((found[0] for dist in (1, 2) for c in correctors
                         if (found := c.suggest(low, limit=1, maxdist=dist))), None)
            if best and best != low:
                text = _replace_word(text, word, best)
                changed = True
        if not changed:
            return None
        again = self.search(text, me=me, limit=1)
        return text.strip() if again.total else None

    # --- checks and directory ---------------------------------------------------------
    def verify(self) -> list[str]:
        with self._write_lock:
            if self._ix is None:
                opened = indexer.open_index(self.index_dir)
                if opened is None:
                    return ["the search index is missing, damaged or outdated; it will be "
                            "rebuilt"]
                self._ix, self._state = opened
                self._bump()
            return verify_index(self._ix, self._state, self.store)

    def search_directory(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """Customers and organizations whose name or address matches ``text``."""
        searcher, _gen = self._searcher()
        words = [w for w in text.lower().split() if w]
        if not words:
            return []
        q = wq.And([wq.Prefix("name", w) for w in words])
        return [{"id": h["id"].partition(":")[2], "kind": h["id"].partition(":")[0],
                 "name": h["name"]} for h in searcher.search(q, limit=limit)]

    def close(self) -> None:
        with self._write_lock:
            with self._searchers_lock:
                for s in self._searchers:
                    s.close()
                self._searchers = []
            self._local = threading.local()
            if self._ix is not None:
                self._ix.close()
            self._ix = None
            self._state = None
            self._bump()


def _write_postings(ix: Index) -> None:
    """The new segments' arrays; on failure (disk full) they are read through Whoosh."""
    try:
        postings.write_missing(ix)
    except OSError:
        pass


def _has_match(row: Any, c: Compiled) -> bool:
    from app.search.snippets import highlight

    return any(highlight(text or "", c.highlight, c.prefix) for text in (row[2], row[3]))


def _replace_word(text: str, word: str, new: str) -> str:
    import re

    return re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", new, text, count=1)

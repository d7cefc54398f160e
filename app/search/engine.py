"""Query evaluation over cached per-segment postings (the fast path behind ``search``).

Whoosh's matcher trees walk every matching posting in Python on every search; with 100,000
cases a common word matches tens of thousands of them. Here each term's postings are read
once per segment into two NumPy arrays (sorted docnums, BM25F scores) and kept (segments
are immutable; deletions are subtracted at query time), so a query is vectorised array
work: intersections for AND, unions with summed scores for OR, exact totals, and scoring
only the matching documents. Arrays take ~12 bytes a posting where a dict took ~70, so the
bounded cache holds five times as much.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import query as wq
from whoosh.searching import Searcher

from app.core.model import OPEN_STATUSES
from app.search import postings
from app.search.schema import KIND_CASE, facet

Docs = npt.NDArray[np.int64]  # sorted, unique segment-local docnums
OPEN_BOOST = 0.15  # an open case scores 15% above a solved one with the same text
RECENCY_BOOST = 0.15  # up to 15% for a case updated just now, halving every 30 days
RECENCY_HALF_LIFE_DAYS = 30.0
FACTOR_TTL_S = 600.0  # recency factors are recomputed every 10 minutes
# Cached postings, filters and clause results together hold at most this many entries
# (~16 bytes each: ~50 MB at most), least recently used dropped first. A day of searches
# would otherwise keep every term ever searched for (and every "updated:<7d" filter, whose
# bound moves each minute) for as long as the app runs. The 34 queries of
# bench/search_latency.py need ~1.3 million entries at 100,000 cases; an LRU smaller than a
# repeated cycle of queries re-reads every posting.
CACHE_ENTRIES = 3_000_000


@dataclass(frozen=True, slots=True)
class Item:
    """One clause of a group: terms (any field; scores add up), pairs (all), or a filter."""

    kind: str  # "terms" | "pairs" | "filter"
    terms: tuple[tuple[str, str], ...] = ()
    key: tuple[Any, ...] = ()


@dataclass(slots=True)
class Plan:
    groups: list[list[Item]] = field(default_factory=list)  # AND of (OR of items)
    deny: list[list[Item]] = field(default_factory=list)  # NOT (OR of items)


def filter_query(key: tuple[Any, ...]) -> wq.Query:
    name = key[0]
    if name == "or":
        return wq.Or([filter_query(k) for k in key[1:]])
    if name in ("created", "updated"):
        return wq.NumericRange(name, key[1], None if key[2] is None else key[2] - 1)
    return wq.Term("f", facet(name, key[1]))


class _Lru:
    """Values with a size (their ``len``), least recently used evicted beyond ``budget``
    entries in all. A value larger than the budget is returned but not kept."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[tuple[Any, ...], Sized] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        value = make()  # outside the lock: reading postings is the slow part
        cost = len(value)
        with self._lock:
            if key in self._items or cost > self.budget:
                return value
            self._items[key] = value
            self.size += cost
            while self.size > self.budget:
                _, old = self._items.popitem(last=False)
                self.size -= len(old)
        return value

    def forget(self, keep: Callable[[tuple[Any, ...]], bool]) -> None:
        with self._lock:
            for key in [k for k in self._items if not keep(k)]:
                self.size -= len(self._items.pop(key))

    def __len__(self) -> int:
        return len(self._items)


class _Leaf:
    """One segment (local docnums): its id for the shared cache, its own columns."""

    def __init__(self, sid: str, arrays: postings.SegmentPostings | None = None) -> None:
        self.sid = sid
        self.arrays = arrays  # the segment's postings written at index time, if any
        self.updated: npt.NDArray[np.int64] | None = None
        self.factors: tuple[float, npt.NDArray[np.float64]] | None = None


class Engine:
    def __init__(self, cache_entries: int = CACHE_ENTRIES,
                 index_dir: Path | None = None) -> None:
        self.index_dir = index_dir  # where :mod:`app.search.postings` wrote its arrays
        self._leaves: dict[str, _Leaf] = {}
        self._lock = threading.Lock()
        self.cache = _Lru(cache_entries)

    def _leaf(self, sub: Searcher) -> tuple[_Leaf, set[int]] | None:
        seg = sub.reader().segment()
        if seg is None:  # an empty index
            return None
        sid = seg.segment_id()
        leaf = self._leaves.get(sid)
        if leaf is None:
            arrays = None
            if self.index_dir is not None:
                arrays = postings.load(self.index_dir, sid, sub.reader().doc_count_all())
            with self._lock:
                leaf = self._leaves.setdefault(sid, _Leaf(sid, arrays))
        deleted = set(seg.deleted_docs()) if seg.deleted_count() else set()
        return leaf, deleted

    def forget_others(self, searcher: Searcher) -> None:
        """Drop caches of segments the current index no longer has (merged away)."""
        segments = [sub.reader().segment() for sub, _ in searcher.leaf_searchers()]
        live = {seg.segment_id() for seg in segments if seg is not None}
        with self._lock:
            for sid in list(self._leaves):
                if sid not in live:
                    del self._leaves[sid]
        self.cache.forget(lambda key: key[0] in live)

    # --- per-segment building blocks -------------------------------------------------
    def _term(self, leaf: _Leaf, sub: Searcher, fieldname: str, text: str) -> Scores:
        def read() -> Scores:
            arrays = leaf.arrays
            found = arrays.find(fieldname, text) if arrays is not None \
                and fieldname in postings.FIELDS else None
            if arrays is not None and found is not None:  # else rare or absent: Whoosh
                kept, weights = found
                lengths = arrays.lengths.get(fieldname)
                return Scores(kept.astype(np.int64),
                              postings.scores(sub, fieldname, text, kept, weights, lengths))
            if (fieldname, text) not in sub.reader():
                return Scores.empty()
            m = wq.Term(fieldname, text).matcher(sub)
            ids, score, nxt, active = m.id, m.score, m.next, m.is_active
            docs: list[int] = []
            scores: list[float] = []
            while active():
                docs.append(ids())
                scores.append(score())
                nxt()
            return Scores(np.asarray(docs, dtype=np.int64), np.asarray(scores))

        return self.cache.get((leaf.sid, "term", fieldname, text), read)  # type: ignore[no-any-return]

    def _filter(self, leaf: _Leaf, sub: Searcher, key: tuple[Any, ...]) -> Docs:
        return self.cache.get(  # type: ignore[no-any-return]
            (leaf.sid, "filter", key), lambda: _docs(filter_query(key).docs(sub)))

    def _item(self, leaf: _Leaf, sub: Searcher, item: Item) -> Scores:
        if item.kind == "filter":
            docs = self._filter(leaf, sub, item.key)
            return Scores(docs, np.zeros(len(docs)))
        parts = [self._term(leaf, sub, f, t) for f, t in item.terms]
        if item.kind == "pairs":
            return _intersect(parts)
        return _union(parts)

    def _group(self, leaf: _Leaf, sub: Searcher, group: list[Item]) -> Scores:
        if len(group) == 1 and group[0].kind != "filter" and len(group[0].terms) == 1:
            return self._item(leaf, sub, group[0])  # the term's own cached postings
        return self.cache.get(  # type: ignore[no-any-return]
            (leaf.sid, "group", tuple(group)),
            lambda: _union([self._item(leaf, sub, item) for item in group]))

    def _factors(self, leaf: _Leaf, sub: Searcher, now_ms: int) -> npt.NDArray[np.float64]:
        now = time.monotonic()
        if leaf.factors is None or now - leaf.factors[0] > FACTOR_TTL_S:
            updated = self._updated(leaf, sub)
            opened = np.zeros(len(updated), dtype=bool)
            opened[self._filter(leaf, sub, ("or", *[("status", s)
                                                    for s in sorted(OPEN_STATUSES)]))] = True
            half = RECENCY_HALF_LIFE_DAYS * 86_400_000
            age = np.maximum(0, now_ms - updated).astype(np.float64)
            factors = (1 + OPEN_BOOST * opened) * (1 + RECENCY_BOOST * np.power(0.5, age / half))
            leaf.factors = (now, factors)
        return leaf.factors[1]

    @staticmethod
    def _updated(leaf: _Leaf, sub: Searcher) -> npt.NDArray[np.int64]:
        if leaf.updated is None:
            reader = sub.reader()
            if reader.has_column("updated"):
                # Unsigned 64-bit; documents without the field (not cases) hold its default,
                # up to 2**64 - 1: clamped, they are never results anyway.
                column = np.fromiter(reader.column_reader("updated"), dtype=np.uint64)
                leaf.updated = np.minimum(column, np.uint64(2**62)).astype(np.int64)
            else:
                leaf.updated = np.zeros(reader.doc_count_all(), dtype=np.int64)
        return leaf.updated

    # --- a whole query ----------------------------------------------------------------
    def run(self, searcher: Searcher, plan: Plan, allow_keys: list[tuple[Any, ...]],
            limit: int, now_ms: int) -> tuple[list[tuple[float, int]], int]:
        """Top ``limit`` (score, global docnum) and the exact number of matching cases."""
        best: list[tuple[float, int]] = []
        total = 0
        for sub, offset in searcher.leaf_searchers():
            found = self._leaf(sub)
            if found is None:
                continue
            leaf, deleted = found
            allowed = self._filter(leaf, sub, ("kind", KIND_CASE))
            for key in allow_keys:
                allowed = np.intersect1d(allowed, self._filter(leaf, sub, key),
                                         assume_unique=True)
            if not len(allowed):
                continue
            deny = _docs(deleted) if deleted else np.empty(0, dtype=np.int64)
            for group in plan.deny:
                deny = np.union1d(deny, self._group(leaf, sub, group).docs)
            if plan.groups:
                matched = _intersect([self._group(leaf, sub, g) for g in plan.groups])
                keep = np.isin(matched.docs, allowed, assume_unique=True)
                if len(deny):
                    keep &= ~np.isin(matched.docs, deny, assume_unique=True)
                docs = matched.docs[keep]
                values = matched.scores[keep] * self._factors(leaf, sub, now_ms)[docs]
            else:  # filters only: the most recently updated first
                docs = np.setdiff1d(allowed, deny, assume_unique=True) if len(deny) \
                    else allowed
                values = self._updated(leaf, sub)[docs].astype(np.float64)
            total += len(docs)
            best.extend((float(v), int(d) + offset) for v, d in _top(docs, values, limit))
        best.sort(key=lambda x: -x[0])  # stable: segment order, then each segment's own
        if not plan.groups:
            return [(0.0, d) for _, d in best[:limit]], total
        return best[:limit], total


@dataclass(frozen=True, slots=True)
class Scores:
    """Sorted unique docnums and their summed scores (parallel arrays)."""

    docs: Docs
    scores: npt.NDArray[np.float64]

    @staticmethod
    def empty() -> Scores:
        return Scores(np.empty(0, dtype=np.int64), np.empty(0))

    def __len__(self) -> int:
        return len(self.docs)


def _docs(values: Iterable[int]) -> Docs:
    return np.unique(np.fromiter(values, dtype=np.int64))


def _intersect(parts: list[Scores]) -> Scores:
    """Documents in every part, scores added (AND; a phrase's word pairs)."""
    if not parts:
        return Scores.empty()
    parts = sorted(parts, key=len)
    docs, scores = parts[0].docs, parts[0].scores
    for other in parts[1:]:
        docs, mine, theirs = np.intersect1d(docs, other.docs, assume_unique=True,
                                            return_indices=True)
        scores = scores[mine] + other.scores[theirs]
    return Scores(docs, scores)


def _top(docs: Docs, values: npt.NDArray[np.float64], limit: int
         ) -> list[tuple[float, int]]:
    """The ``limit`` largest (value, doc) pairs, largest first (ties: the larger doc)."""
    if limit <= 0 or not len(docs):
        return []
    if len(docs) > limit:
        kth = np.partition(values, len(values) - limit)[len(values) - limit]
        keep = values >= kth  # all ties at the cut, ordered exactly below
        docs, values = docs[keep], values[keep]
    order = np.lexsort((-docs, -values))[:limit]
    return list(zip(values[order].tolist(), docs[order].tolist(), strict=True))


def _union(parts: list[Scores]) -> Scores:
    """Documents in any part, scores added (OR; a word in several fields)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Scores.empty()
    if len(parts) == 1:
        return parts[0]
    docs, inverse = np.unique(np.concatenate([p.docs for p in parts]), return_inverse=True)
    scores = np.bincount(inverse, weights=np.concatenate([p.scores for p in parts]),
                         minlength=len(docs))
    return Scores(docs, scores)

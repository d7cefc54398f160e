"""Query evaluation over cached per-segment postings (the fast path behind ``search``).

Whoosh's matcher trees walk every matching posting in Python on every search; with 100,000
cases a common word matches tens of thousands of them. Here each term's postings are read
once per segment into ``{docnum: BM25F score}`` and kept (segments are immutable; deletions
are subtracted at query time), so a query is C-speed set/dict work: intersections for AND,
unions for OR, exact totals, and scoring only the matching documents.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from typing import Any

from whoosh import query as wq
from whoosh.searching import Searcher

from app.core.model import OPEN_STATUSES
from app.search.schema import KIND_CASE, facet

Scores = dict[int, float]
OPEN_BOOST = 0.15  # an open case scores 15% above a solved one with the same text
RECENCY_BOOST = 0.15  # up to 15% for a case updated just now, halving every 30 days
RECENCY_HALF_LIFE_DAYS = 30.0
FACTOR_TTL_S = 600.0  # recency factors are recomputed every 10 minutes
# Cached postings, filters and clause results together hold at most this many entries
# (~70 bytes each: ~100 MB at most), least recently used dropped first. A day of searches
# would otherwise keep every term ever searched for (and every "updated:<7d" filter, whose
# bound moves each minute) for as long as the app runs. The 34 queries of
# bench/search_latency.py need ~1.3 million entries at 100,000 cases; an LRU smaller than a
# repeated cycle of queries re-reads every posting.
CACHE_ENTRIES = 1_500_000


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

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.updated: list[int] | None = None
        self.factors: tuple[float, list[float]] | None = None


class Engine:
    def __init__(self, cache_entries: int = CACHE_ENTRIES) -> None:
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
            with self._lock:
                leaf = self._leaves.setdefault(sid, _Leaf(sid))
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
            found: Scores = {}
            if (fieldname, text) in sub.reader():
                m = wq.Term(fieldname, text).matcher(sub)
                ids, score, nxt, active = m.id, m.score, m.next, m.is_active
                while active():
                    found[ids()] = score()
                    nxt()
            return found

        return self.cache.get((leaf.sid, "term", fieldname, text), read)  # type: ignore[no-any-return]

    def _filter(self, leaf: _Leaf, sub: Searcher, key: tuple[Any, ...]) -> frozenset[int]:
        return self.cache.get(  # type: ignore[no-any-return]
            (leaf.sid, "filter", key), lambda: frozenset(filter_query(key).docs(sub)))

    def _item(self, leaf: _Leaf, sub: Searcher, item: Item) -> Scores:
        if item.kind == "filter":
            return dict.fromkeys(self._filter(leaf, sub, item.key), 0.0)
        dicts = [self._term(leaf, sub, f, t) for f, t in item.terms]
        if item.kind == "pairs":
            if not dicts:
                return {}
            if len(dicts) == 1:
                return dicts[0]
            dicts.sort(key=len)
            keys = set(dicts[0]).intersection(*dicts[1:])
            return {d: sum(x[d] for x in dicts) for d in keys}
        return _union(dicts)

    def _group(self, leaf: _Leaf, sub: Searcher, group: list[Item]) -> Scores:
        if len(group) == 1 and group[0].kind != "filter" and len(group[0].terms) == 1:
            return self._item(leaf, sub, group[0])  # the term's own cached postings
        return self.cache.get(  # type: ignore[no-any-return]
            (leaf.sid, "group", tuple(group)),
            lambda: _union([self._item(leaf, sub, item) for item in group]))

    def _factors(self, leaf: _Leaf, sub: Searcher, now_ms: int) -> list[float]:
        now = time.monotonic()
        if leaf.factors is None or now - leaf.factors[0] > FACTOR_TTL_S:
            updated = self._updated(leaf, sub)
            opened = self._filter(leaf, sub, ("or", *[("status", s)
                                                     for s in sorted(OPEN_STATUSES)]))
            half = RECENCY_HALF_LIFE_DAYS * 86_400_000
            factors = [(1 + (OPEN_BOOST if d in opened else 0.0))
                       * (1 + RECENCY_BOOST * math.pow(0.5, max(0, now_ms - u) / half))
                       for d, u in enumerate(updated)]
            leaf.factors = (now, factors)
        return leaf.factors[1]

    @staticmethod
    def _updated(leaf: _Leaf, sub: Searcher) -> list[int]:
        if leaf.updated is None:
            reader = sub.reader()
            if reader.has_column("updated"):
                leaf.updated = list(reader.column_reader("updated"))
            else:
                leaf.updated = [0] * reader.doc_count_all()
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
            allowed: set[int] | frozenset[int] = self._filter(leaf, sub, ("kind", KIND_CASE))
            for key in allow_keys:
                allowed = allowed & self._filter(leaf, sub, key)
            if not allowed:
                continue
            deny: set[int] = set(deleted)
            for group in plan.deny:
                deny.update(self._group(leaf, sub, group))
            if plan.groups:
                scored = sorted((self._group(leaf, sub, g) for g in plan.groups), key=len)
                keys = set(scored[0]).intersection(*scored[1:])
                keys &= allowed
                keys -= deny
                factors = self._factors(leaf, sub, now_ms)
                total += len(keys)
                top = heapq.nlargest(limit, ((sum(s[d] for s in scored) * factors[d], d)
                                            for d in keys))
            else:  # filters only: the most recently updated first
                keys = set(allowed) - deny
                total += len(keys)
                updated = self._updated(leaf, sub)
                top = heapq.nlargest(limit, ((float(updated[d]), d) for d in keys))
            best.extend((score, d + offset) for score, d in top)
        best.sort(key=lambda x: -x[0])
        if not plan.groups:
            return [(0.0, d) for _, d in best[:limit]], total
        return best[:limit], total


def _union(dicts: list[Scores]) -> Scores:
    dicts = [d for d in dicts if d]
    if not dicts:
        return {}
    if len(dicts) == 1:
        return dicts[0]
    dicts.sort(key=len, reverse=True)
    out = dict(dicts[0])
    for d in dicts[1:]:
        for k, v in d.items():
            out[k] = out.get(k, 0.0) + v
    return out

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
GROUP_CACHE = 256  # combined clause results kept per segment


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


class _Leaf:
    """Caches of one segment (local docnums)."""

    def __init__(self) -> None:
        self.terms: dict[tuple[str, str], Scores] = {}
        self.filters: dict[tuple[Any, ...], frozenset[int]] = {}
        self.updated: list[int] | None = None
        self.factors: tuple[float, list[float]] | None = None
        self.groups: dict[tuple[Item, ...], Scores] = {}


class Engine:
    def __init__(self) -> None:
        self._leaves: dict[str, _Leaf] = {}
        self._lock = threading.Lock()

    def _leaf(self, sub: Searcher) -> tuple[_Leaf, set[int]] | None:
        seg = sub.reader().segment()
        if seg is None:  # an empty index
            return None
        sid = seg.segment_id()
        leaf = self._leaves.get(sid)
        if leaf is None:
            with self._lock:
                leaf = self._leaves.setdefault(sid, _Leaf())
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

    # --- per-segment building blocks -------------------------------------------------
    @staticmethod
    def _term(leaf: _Leaf, sub: Searcher, fieldname: str, text: str) -> Scores:
        key = (fieldname, text)
        found = leaf.terms.get(key)
        if found is None:
            found = {}
            if (fieldname, text) in sub.reader():
                m = wq.Term(fieldname, text).matcher(sub)
                ids, score, nxt, active = m.id, m.score, m.next, m.is_active
                while active():
                    found[ids()] = score()
                    nxt()
            leaf.terms[key] = found
        return found

    @staticmethod
    def _filter(leaf: _Leaf, sub: Searcher, key: tuple[Any, ...]) -> frozenset[int]:
        found = leaf.filters.get(key)
        if found is None:
            found = frozenset(filter_query(key).docs(sub))
            leaf.filters[key] = found
        return found

    def _item(self, leaf: _Leaf, sub: Searcher, item: Item) -> Scores:
        if item.kind == "filter":
            return dict.fromkeys(self._filter(leaf, sub, item.key), 0.0)
        dicts = [self._term(leaf, sub, f, t) for f, t in item.terms]
        if item.kind == "pairs":
            if not dicts:
                return {}
            dicts.sort(key=len)
            keys = set(dicts[0]).intersection(*dicts[1:])
            return {d: sum(x[d] for x in dicts) for d in keys}
        return _union(dicts)

    def _group(self, leaf: _Leaf, sub: Searcher, group: list[Item]) -> Scores:
        key = tuple(group)
        found = leaf.groups.get(key)
        if found is None:
            found = _union([self._item(leaf, sub, item) for item in group])
            if len(leaf.groups) >= GROUP_CACHE:
                leaf.groups.clear()
            leaf.groups[key] = found
        return found

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

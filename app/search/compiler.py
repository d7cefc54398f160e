"""Parsed queries → Whoosh queries (scored text) and filter keys (cached doc sets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from whoosh import query as wq
from whoosh.analysis import STOP_WORDS

from app.core.model import OPEN_STATUSES
from app.search.analysis import analyze, facet_key, pairs, stem
from app.search.querylang import Clause, ParsedQuery
from app.search.schema import NONE_TOKEN, facet

PREFIX_MIN = 2
PREFIX_EXPANSIONS = 6
PREFIX_SCAN = 300
# Free words also find a case by its requester, organization, assignee and product names.
PEOPLE_FACETS = ("requester", "org", "assignee", "product")
FilterKey = tuple[Any, ...]


@dataclass(slots=True)
class Compiled:
    scored: list[wq.Query] = field(default_factory=list)  # AND of these, BM25F-scored
    allow: list[FilterKey] = field(default_factory=list)  # doc sets to intersect
    deny: list[FilterKey] = field(default_factory=list)  # doc sets to subtract
    deny_queries: list[wq.Query] = field(default_factory=list)  # negated words / phrases
    highlight: set[str] = field(default_factory=set)  # stems and words to mark
    prefix: str | None = None


def filter_query(key: FilterKey) -> wq.Query:
    """The Whoosh query behind a filter key (``("status", "open")`` …)."""
    name = key[0]
    if name == "or":
        return wq.Or([filter_query(k) for k in key[1:]])
    if name in ("created", "updated"):
        return wq.NumericRange(name, key[1], None if key[2] is None else key[2] - 1)
    return wq.Term("f", facet(name, key[1]))


def clause_filter(c: Clause, me: str) -> FilterKey:
    name, value = c.field, c.value
    if name in ("created", "updated"):
        return (name, c.low, c.high)
    if name in ("status", "priority"):
        values = value.split(",")
        keys = [(name, v) for v in values]
        return keys[0] if len(keys) == 1 else ("or", *keys)
    if name == "is":
        if value.lower() == "unassigned":
            return ("assignee", NONE_TOKEN)
        return ("or", *[("status", s) for s in sorted(OPEN_STATUSES)])
    if name == "assignee":
        low = value.lower()
        if low == "me":
            return ("assignee", facet_key(me) if "@" not in me else me.lower())
        if low in ("none", "nobody", "-"):
            return ("assignee", NONE_TOKEN)
        return ("assignee", low if "@" in low else facet_key(value))
    if name == "tag":
        return ("tag", value.lower().lstrip("#"))
    if name == "requester":
        low = value.lower()
        return ("requester", low if "@" in low else facet_key(value))
    return (name, facet_key(value))


def _expand(reader: Any, fieldname: str, prefix: str) -> list[str]:
    """The most frequent terms starting with ``prefix`` (a few: each one costs a matcher)."""
    found: list[str] = []
    for term in reader.expand_prefix(fieldname, prefix):
        found.append(term.decode("utf-8") if isinstance(term, bytes) else term)
        if len(found) >= PREFIX_SCAN:
            break
    if len(found) > PREFIX_EXPANSIONS:
        found.sort(key=lambda t: -reader.doc_frequency(fieldname, t))
    return found[:PREFIX_EXPANSIONS]


def word_query(word: str, reader: Any, prefix: bool) -> wq.Query | None:
    low = word.lower()
    subqueries: list[wq.Query] = [wq.Term("key", low)]
    subqueries += [wq.Term("f", facet(name, low)) for name in PEOPLE_FACETS]
    if low not in STOP_WORDS:
        s = stem(low)
        subqueries += [wq.Term("subject", s), wq.Term("body", s)]
    elif not prefix:
        return None  # a stop word alone matches nothing useful
    if prefix and len(low) >= PREFIX_MIN:
        for name in ("subject", "body", "key"):
            subqueries += [wq.Term(name, t) for t in _expand(reader, name, low)]
        subqueries += [wq.Term("f", t) for t in _expand(reader, "f", facet("requester", low))]
    return wq.Or(subqueries)


def phrase_query(text: str) -> wq.Query | None:
    terms = analyze(text)
    if not terms:
        return None
    if len(terms) == 1:
        return wq.Or([wq.Term("subject", terms[0]), wq.Term("body", terms[0])])
    return wq.And([wq.Term("pairs", p) for p in dict.fromkeys(pairs(text))])


def _text_query(c: Clause, reader: Any) -> wq.Query | None:
    if c.kind == "word":
        return word_query(c.value, reader, c.prefix)
    return phrase_query(c.value)


def compile_query(parsed: ParsedQuery, *, me: str, reader: Any) -> Compiled:
    out = Compiled()
    for group in parsed.groups:
        for c in group:
            if c.kind == "word":
                out.highlight.add(c.value.lower())
                out.highlight.add(stem(c.value.lower()))
                if c.prefix:
                    out.prefix = c.value.lower()
            elif c.kind == "phrase":
                out.highlight.update(analyze(c.value))
        if all(c.kind == "filter" for c in group):
            keys = [clause_filter(c, me) for c in group]
            key = keys[0] if len(keys) == 1 else ("or", *keys)
            if len(group) == 1 and group[0].negated:
                out.deny.append(key)
            else:
                out.allow.append(key)
            continue
        if len(group) == 1 and group[0].negated:
            q = _text_query(group[0], reader)
            if q is not None:
                out.deny_queries.append(q)
            continue
        parts: list[wq.Query] = []
        for c in group:
            if c.kind == "filter":
                parts.append(wq.ConstantScoreQuery(filter_query(clause_filter(c, me)), 0.0))
            else:
                q = _text_query(c, reader)
                if q is not None:
                    parts.append(q)
        if parts:
            out.scored.append(parts[0] if len(parts) == 1 else wq.Or(parts))
    return out

"""Parsed queries → an evaluation plan for :mod:`app.search.engine` and highlight terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from whoosh.analysis import STOP_WORDS

from app.core.model import OPEN_STATUSES
from app.search.analysis import analyze, facet_key, pairs, stem
from app.search.engine import Item, Plan
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
    plan: Plan = field(default_factory=Plan)
    allow: list[FilterKey] = field(default_factory=list)  # doc sets to intersect
    highlight: set[str] = field(default_factory=set)  # stems and words to mark
    prefix: str | None = None


def clause_filter(c: Clause, me: str) -> FilterKey:
    name, value = c.field, c.value
    if name in ("created", "updated"):
        return (name, c.low, c.high)
    if name in ("status", "priority"):
        keys = [(name, v) for v in value.split(",")]
        return keys[0] if len(keys) == 1 else ("or", *keys)
    if name == "is":
        if value.lower() == "unassigned":
            return ("assignee", NONE_TOKEN)
        return ("or", *[("status", s) for s in sorted(OPEN_STATUSES)])
    low = value.lower()
    if name == "assignee":
        if low == "me":
            return ("assignee", me.lower() if "@" in me else facet_key(me))
        if low in ("none", "nobody", "-"):
            return ("assignee", NONE_TOKEN)
        return ("assignee", low if "@" in low else facet_key(value))
    if name == "tag":
        return ("tag", low.lstrip("#"))
    if name == "requester":
        return ("requester", low if "@" in low else facet_key(value))
    return (name, facet_key(value))


def _expand(reader: Any, fieldname: str, prefix: str) -> list[str]:
    """The most frequent terms starting with ``prefix`` (a few: each one costs a lookup)."""
    found: list[str] = []
    for term in reader.expand_prefix(fieldname, prefix):
        found.append(term.decode("utf-8") if isinstance(term, bytes) else term)
        if len(found) >= PREFIX_SCAN:
            break
    if len(found) > PREFIX_EXPANSIONS:
        found.sort(key=lambda t: -reader.doc_frequency(fieldname, t))
    return found[:PREFIX_EXPANSIONS]


def word_item(word: str, reader: Any, prefix: bool) -> Item | None:
    low = word.lower()
    terms: list[tuple[str, str]] = [("key", low)]
    terms += [("f", facet(name, low)) for name in PEOPLE_FACETS]
    if low not in STOP_WORDS:
        s = stem(low)
        terms += [("subject", s), ("body", s)]
    elif not prefix:
        return None  # a stop word alone matches nothing useful
    if prefix and len(low) >= PREFIX_MIN:
        for name in ("subject", "body", "key"):
            terms += [(name, t) for t in _expand(reader, name, low)]
        terms += [("f", t) for t in _expand(reader, "f", facet("requester", low))]
    return Item("terms", tuple(dict.fromkeys(terms)))


def phrase_item(text: str) -> Item | None:
    terms = analyze(text)
    if not terms:
        return None
    if len(terms) == 1:
        return Item("terms", (("subject", terms[0]), ("body", terms[0])))
    return Item("pairs", tuple(("pairs", p) for p in dict.fromkeys(pairs(text))))


def _item(c: Clause, reader: Any, me: str) -> Item | None:
    if c.kind == "filter":
        return Item("filter", key=clause_filter(c, me))
    if c.kind == "word":
        return word_item(c.value, reader, c.prefix)
    return phrase_item(c.value)


def compile_query(parsed: ParsedQuery, *, me: str, reader: Any) -> Compiled:
    out = Compiled()
    for group in parsed.groups:
        for c in group:
            if c.negated:
                continue
            if c.kind == "word":
                out.highlight.update((c.value.lower(), stem(c.value.lower())))
                if c.prefix:
                    out.prefix = c.value.lower()
            elif c.kind == "phrase":
                out.highlight.update(analyze(c.value))
        if all(c.kind == "filter" for c in group) and not group[0].negated:
            keys = [clause_filter(c, me) for c in group]
            out.allow.append(keys[0] if len(keys) == 1 else ("or", *keys))
            continue
        items = [i for i in (_item(c, reader, me) for c in group) if i is not None]
        if not items:
            continue
        if len(group) == 1 and group[0].negated:
            out.plan.deny.append(items)
        else:
            out.plan.groups.append(items)
    return out

"""The search query language, parsed without Whoosh: words, "phrases", field filters,
negation, OR, dates. Parsing never raises; whatever is ignored is said in ``notes``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

MAX_QUERY = 500
FILTER_FIELDS = ("status", "priority", "assignee", "tag", "requester", "org", "product", "is",
                 "created", "updated")
ALIASES = {"tags": "tag", "organization": "org", "organisation": "org", "assigned": "assignee",
           "from": "requester", "prio": "priority"}
STATUSES = ("new", "open", "pending", "on-hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
IS_VALUES = ("open", "unassigned")
_TOKEN = re.compile(r'(-?)([A-Za-z_]+):("([^"]*)"|\S*)|(-?)"([^"]*)"|(\S+)')
_DATE = re.compile(r"^(>=|<=|>|<|=)?(.+)$")
_RELATIVE = re.compile(r"^(\d{1,5})([dwmy])$")
_UNITS = {"d": 1, "w": 7, "m": 30, "y": 365}
DAY_MS = 86_400_000


@dataclass(slots=True)
class Clause:
    kind: str  # "word" | "phrase" | "filter"
    value: str
    field: str = ""
    negated: bool = False
    prefix: bool = False  # the last word, still being typed
    low: int | None = None  # date filters: ms range [low, high)
    high: int | None = None


@dataclass(slots=True)
class ParsedQuery:
    groups: list[list[Clause]] = field(default_factory=list)  # AND of ORs
    notes: list[str] = field(default_factory=list)
    text: str = ""

    def words(self) -> list[str]:
        return [c.value for g in self.groups for c in g if c.kind == "word" and not c.negated]

    def phrases(self) -> list[str]:
        return [c.value for g in self.groups for c in g if c.kind == "phrase" and not c.negated]


def _parse_date(expr: str, now_ms: int) -> tuple[int | None, int | None] | None:
    """``>2026-01-01`` / ``<7d`` / ``2026-01-05`` → a [low, high) range in ms, or None."""
    m = _DATE.match(expr.strip())
    if not m or not m.group(2):
        return None
    op, value = m.group(1) or "=", m.group(2).strip().lower()
    rel = _RELATIVE.match(value)
    if rel:
        moment = now_ms - int(rel.group(1)) * _UNITS[rel.group(2)] * DAY_MS
        moment -= moment % 60_000  # a minute's grain keeps filter caches useful
        # "<7d": less than 7 days ago (newer); ">7d": more than 7 days ago (older)
        if op in ("<", "<="):
            return moment, None
        if op in (">", ">="):
            return None, moment
        return moment, moment + DAY_MS
    try:
        day = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    if day.tzinfo is None:
        day = day.replace(tzinfo=UTC)
    start = int(day.timestamp() * 1000)
    has_time = "t" in value or " " in value
    end = start + (60_000 if has_time else DAY_MS)
    return {"=": (start, end), ">": (end, None), ">=": (start, None),
            "<": (None, start), "<=": (None, end)}[op]


def _filter_clause(name: str, value: str, negated: bool, now_ms: int,
                   notes: list[str]) -> Clause | None:
    raw = f"{name}:{value}"
    if not value:
        notes.append(f"'{raw}' has no value and was ignored")
        return None
    low = value.lower()
    if name in ("created", "updated"):
        rng = _parse_date(value, now_ms)
        if rng is None:
            notes.append(f"'{raw}' is not a date (use YYYY-MM-DD, or 7d / 2w / 3m with < or >) "
                         "and was ignored")
            return None
        return Clause("filter", low, name, negated, low=rng[0], high=rng[1])
    if name in ("status", "priority"):
        allowed = STATUSES if name == "status" else PRIORITIES
        values = [v for v in low.split(",") if v]
        bad = [v for v in values if v not in allowed]
        if bad:
            notes.append(f"'{raw}': {', '.join(bad)} is not a {name} "
                         f"({', '.join(allowed)}); ignored")
            values = [v for v in values if v in allowed]
            if not values:
                return None
        return Clause("filter", ",".join(values), name, negated)
    if name == "is" and low not in IS_VALUES:
        notes.append(f"'{raw}' is not known (is:open, is:unassigned) and was ignored")
        return None
    return Clause("filter", value.strip(), name, negated)


def parse(query: str, *, now_ms: int | None = None) -> ParsedQuery:
    """Parse ``query``. Never raises: bad parts become plain words or are ignored, with notes."""
    now_ms = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    out = ParsedQuery()
    text, cut = _bounded(query or "", out.notes)
    out.text = text
    typing = bool(text) and not cut and not text[-1].isspace()
    clauses: list[Clause | str] = []  # "OR" markers between clauses
    for m in _TOKEN.finditer(text):
        clauses += _token_clauses(m, now_ms, out.notes)
    if typing and clauses and isinstance(clauses[-1], Clause):
        final = clauses[-1]
        if final.kind == "word" and not final.negated:
            final.prefix = True
    out.groups = _group(clauses, out.notes)
    return out


def _bounded(text: str, notes: list[str]) -> tuple[str, bool]:
    """The query cut to MAX_QUERY (at a word's end) and without an unbalanced quote; True
    when it was cut."""
    cut = len(text) > MAX_QUERY
    if cut:
        notes.append(f"the query is {len(text)} characters long; only the first "
                     f"{MAX_QUERY} were searched")
        cut_at = MAX_QUERY
        if not text[MAX_QUERY].isspace() and " " in text[:MAX_QUERY]:
            cut_at = text.rfind(" ", 0, MAX_QUERY)  # never search half a word
        text = text[:cut_at]
    if text.count('"') % 2:
        notes.append("an unbalanced quote (\") was ignored")
        last = text.rfind('"')
        text = text[:last] + " " + text[last + 1:]
    return text, cut


def _token_clauses(m: re.Match[str], now_ms: int, notes: list[str]) -> list[Clause | str]:
    """The clauses (or an "OR" marker) one token of the query stands for."""
    fneg, fname, fval, fquoted, pneg, phrase, word = m.groups()
    if fname is not None:
        name = ALIASES.get(fname.lower(), fname.lower())
        value = fquoted if fquoted is not None else fval
        if name not in FILTER_FIELDS:
            notes.append(f"'{fname}:' is not a search field; searched as words "
                         f"(fields: {', '.join(FILTER_FIELDS)})")
            return [Clause("word", w, negated=bool(fneg))
                    for w in re.findall(r"\w+(?:[-.@]\w+)*", f"{fname} {value}")]
        clause = _filter_clause(name, value, bool(fneg), now_ms, notes)
        return [clause] if clause else []
    if phrase is not None:
        return [Clause("phrase", phrase.strip(), negated=bool(pneg))] if phrase.strip() else []
    if word == "OR":
        return ["OR"]
    if not word:
        return []
    negated = word.startswith("-") and len(word) > 1
    value = word[1:] if negated else word
    return [Clause("word", value, negated=negated)] if re.search(r"\w", value) else []


def _group(items: list[Clause | str], notes: list[str]) -> list[list[Clause]]:
    groups: list[list[Clause]] = []
    join = False
    for item in items:
        if item == "OR":
            join = bool(groups)
            continue
        assert isinstance(item, Clause)
        if join and groups:
            groups[-1].append(item)
        else:
            groups.append([item])
        join = False
    for g in groups:
        if len(g) > 1 and any(c.negated for c in g):
            notes.append("a negated part inside OR was treated as a plain part")
            for c in g:
                c.negated = False
    return groups


def relative_days(ms: int, now_ms: int) -> float:
    return max(0.0, (now_ms - ms) / DAY_MS)


__all__ = ["Clause", "ParsedQuery", "parse", "MAX_QUERY", "FILTER_FIELDS"]

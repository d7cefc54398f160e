"""Snippets with matched terms marked « » (plain text; the UI may style the marks)."""

from __future__ import annotations

import re
from functools import lru_cache

from app.search.analysis import TOKEN_RE, parts, stem

MARK_OPEN = "«"
MARK_CLOSE = "»"
WIDTH = 160
_TOKEN_CHAR = re.compile(r"[\w\-.@+/]")  # what a token (analysis.TOKEN_PATTERN) holds


def _matches(token: str, terms: set[str], prefix: str | None) -> bool:
    low = token.lower()
    if low in terms or stem(low) in terms:
        return True
    if prefix and low.startswith(prefix):
        return True
    return any(p in terms or stem(p) in terms for p in parts(low))


def _root(term: str) -> str:
    """A prefix every word whose stem is ``term`` starts with: Porter rewrites at most the
    last two letters it keeps (y → i, ation → ate, biliti → ble), never the start."""
    return term[:len(term) - 2] if len(term) >= 5 else term[:max(1, len(term) - 1)]


@lru_cache(maxsize=256)
def _finder(terms: frozenset[str], prefix: str | None) -> re.Pattern[str] | None:
    """One regex of every query term's root: where a matched token can be, found at C
    speed; each place is then checked exactly (:func:`_matches`) on its own token."""
    roots = {_root(t) for t in terms if t} | ({prefix} if prefix else set())
    if not roots:
        return None
    # Longest first, so a root that extends another is not cut short at the same place.
    return re.compile("|".join(re.escape(r) for r in sorted(roots, key=lambda r: -len(r))),
                      re.IGNORECASE)


def _token_start(text: str, pos: int) -> int:
    """A place at or before ``pos`` where no token runs across (tokenizing from there gives
    the same tokens as from the start of the text)."""
    i = pos
    while i > 0 and _TOKEN_CHAR.match(text, i - 1):
        i -= 1
    return i


def _spans(text: str, start: int, end: int, terms: set[str], prefix: str | None
           ) -> list[tuple[int, int]]:
    """Matched tokens lying wholly inside ``text[start:end]``: only the tokens the regex
    points to are checked."""
    finder = _finder(frozenset(terms), prefix)
    out: list[tuple[int, int]] = []
    if finder is None:
        return out
    checked = _token_start(text, start)  # a boundary: no token runs across it
    for hit in finder.finditer(text, start, end):
        for m in TOKEN_RE.finditer(text, max(_token_start(text, hit.start()), checked)):
            if m.start() > hit.end() or m.start() >= end:
                break
            checked = max(checked, m.end())
            if (m.end() > hit.start() and m.start() >= start and m.end() <= end
                    and _matches(m.group(), terms, prefix)):
                out.append((m.start(), m.end()))
    return out


def _first(text: str, terms: set[str], prefix: str | None) -> int | None:
    """Where the first matched token starts, looking only at the tokens the regex points
    to (a text without any query root costs one regex scan)."""
    finder = _finder(frozenset(terms), prefix)
    if finder is None:
        return None
    checked = -1  # tokens ending at or before this were already looked at
    for hit in finder.finditer(text):
        from_ = max(_token_start(text, hit.start()), checked)
        for m in TOKEN_RE.finditer(text, from_):
            if m.start() > hit.end():
                break
            checked = max(checked, m.end())
            if m.end() > hit.start() and _matches(m.group(), terms, prefix):
                return m.start()
    return None


def highlight(text: str, terms: set[str], prefix: str | None,
              width: int = WIDTH) -> str | None:
    """A window of ``text`` around its first matched term, with matches marked; None if none.
    Only the window's own tokens are checked: the rest of a long comment is never stemmed."""
    first = _first(text, terms, prefix)
    if first is None:
        return None
    start = max(0, first - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + width)
    out: list[str] = ["…" if start else ""]
    pos = start
    for a, b in _spans(text, start, end, terms, prefix):
        out += [text[pos:a], MARK_OPEN, text[a:b], MARK_CLOSE]
        pos = b
    out.append(text[pos:end])
    if end < len(text):
        out.append("…")
    return " ".join("".join(out).split())


def best_snippet(fields: list[tuple[str, str]], terms: set[str],
                 prefix: str | None) -> tuple[str, str]:
    """(source, snippet) from the field whose snippet shows the most distinct query words;
    on a tie the earlier field (the subject) wins. "printer offline" thus shows the line of
    the description that has both words rather than a subject that has one."""
    best: tuple[int, str, str] | None = None
    for name, text in fields:
        if text:
            found = highlight(text, terms, prefix)
            if found:
                shown = {w.casefold() for w in re.findall(
                    re.escape(MARK_OPEN) + "(.*?)" + re.escape(MARK_CLOSE), found)}
                if best is None or len(shown) > best[0]:
                    best = (len(shown), name, found)
    if best is not None:
        return best[1], best[2]
    for name, text in fields[1:]:
        if text:
            plain = " ".join(text.split())
            return name, plain[:WIDTH] + ("…" if len(plain) > WIDTH else "")
    return "subject", fields[0][1] if fields else ""

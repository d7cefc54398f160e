"""Snippets with matched terms marked « » (plain text; the UI may style the marks)."""

from __future__ import annotations

import re

from app.search.analysis import TOKEN_RE, parts, stem

MARK_OPEN = "«"
MARK_CLOSE = "»"
WIDTH = 160


def _matches(token: str, terms: set[str], prefix: str | None) -> bool:
    low = token.lower()
    if low in terms or stem(low) in terms:
        return True
    if prefix and low.startswith(prefix):
        return True
    return any(p in terms or stem(p) in terms for p in parts(low))


def highlight(text: str, terms: set[str], prefix: str | None,
              width: int = WIDTH) -> str | None:
    """A window of ``text`` around its first matched term, with matches marked; None if none."""
    spans = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)
             if _matches(m.group(), terms, prefix)]
    if not spans:
        return None
    first = spans[0][0]
    start = max(0, first - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + width)
    out: list[str] = ["…" if start else ""]
    pos = start
    for a, b in spans:
        if a < start or b > end:
            continue
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

"""Text analysis shared by the indexer, the query compiler and the snippet highlighter.

One tokenizer does the whole chain (words, lowercase, stop words, compound parts, Porter
stems) in a single generator: the chained Whoosh filters cost twice as much per token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from whoosh.analysis import STOP_WORDS, Tokenizer
from whoosh.analysis.acore import Token
from whoosh.lang.porter import stem as _porter

# Words, plus codes and addresses kept whole: ERR-1042, ana.silva@acme.example, v4.2.1.
TOKEN_PATTERN = r"\w+(?:[-.@+/]\w+)*"
TOKEN_RE = re.compile(TOKEN_PATTERN, re.UNICODE)
COMPOUND_SPLIT = re.compile(r"[-.@+/]")
_SEPARATORS = frozenset("-.@+/")
_STEMS: dict[str, str] = {}
_STEM_CACHE_MAX = 500_000


def stem(word: str) -> str:
    """The Porter stem of a lowercase word (cached)."""
    found = _STEMS.get(word)
    if found is None:
        found = _porter(word)
        if len(_STEMS) < _STEM_CACHE_MAX:
            _STEMS[word] = found
    return found


def _same(word: str) -> str:
    return word


def words(text: str) -> list[str]:
    """Lowercase tokens of ``text`` (compounds whole), as the tokenizer sees them."""
    return [m.lower() for m in TOKEN_RE.findall(text)]


def parts(word: str) -> list[str]:
    """The pieces of a compound token (``err-1042`` → ``err``, ``1042``); [] for a plain word."""
    if not _SEPARATORS.intersection(word):
        return []
    return [p for p in COMPOUND_SPLIT.split(word) if p and p != word]


class TextTokenizer(Tokenizer):  # type: ignore[misc]
    """Tokens, lowercase, stop words removed, compound parts at the token's position, stems."""

    def __init__(self, stemming: bool = True, stops: bool = True) -> None:
        self.stemming = stemming
        self.stops = stops
        self.is_morph = stemming

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TextTokenizer) and other.stemming == self.stemming
                and other.stops == self.stops)

    def __hash__(self) -> int:
        return hash((self.stemming, self.stops))

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        fn = stem if self.stemming and not kwargs.get("no_morph") else _same
        stops = STOP_WORDS if self.stops and removestops else frozenset()
        pos = start_pos
        for m in TOKEN_RE.finditer(value):
            word = m.group().lower()
            if word in stops:
                continue
            t.text = fn(word)
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = word
            if positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + m.start()
                t.endchar = start_char + m.end()
            yield t
            if _SEPARATORS.intersection(word):
                for part in COMPOUND_SPLIT.split(word):
                    if part and part != word:
                        t.text = fn(part)
                        yield t
            pos += 1


class PairTokenizer(Tokenizer):  # type: ignore[misc]
    """Adjacent word pairs (``log file``) per line: phrase search without positions."""

    is_morph = True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PairTokenizer)

    def __hash__(self) -> int:
        return hash("PairTokenizer")

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for line in value.split("\n"):
            prev = None
            for m in TOKEN_RE.finditer(line):
                word = m.group().lower()
                if word in STOP_WORDS:
                    continue
                cur = stem(word)
                if prev is not None:
                    t.text = f"{prev} {cur}"
                    t.boost = 1.0
                    t.stopped = False
                    if positions:
                        t.pos = pos
                        pos += 1
                    yield t
                prev = cur


def pairs(text: str) -> list[str]:
    """The pair terms of a phrase, as :class:`PairTokenizer` indexes them."""
    terms = analyze(text)
    return [f"{a} {b}" for a, b in zip(terms, terms[1:], strict=False)]


def text_analyzer() -> TextTokenizer:
    """English text: the full chain with Porter stems."""
    return TextTokenizer(stemming=True)


def plain_analyzer() -> TextTokenizer:
    """Names and addresses: tokens and lowercase, no stems, no stop words."""
    return TextTokenizer(stemming=False, stops=False)


def analyze(text: str, *, stemming: bool = True) -> list[str]:
    """Index terms of ``text`` (whole tokens only, no compound parts)."""
    out = []
    for word in words(text):
        if stemming and word in STOP_WORDS:
            continue
        out.append(stem(word) if stemming else word)
    return out


def facet_tokens(value: str | None, *, split: bool = True) -> list[str]:
    """A value used as a filter (organization, product, name) as terms: whole and words."""
    if not value:
        return []
    ws = words(value)
    whole = "-".join(ws)
    out = [whole] if whole else []
    if split:
        out += [w for w in ws if w != whole]
    return out


def facet_key(value: str) -> str:
    """The filter term a user's ``org:"Acme Logistics"`` value looks up."""
    return "-".join(words(value))

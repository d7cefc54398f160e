"""Snippets: the regex-guided highlighter marks exactly what the word-by-word one did (kept
here as the reference), over many generated texts and queries, long ones included."""

from __future__ import annotations

import random

import pytest

from app.search import snippets
from app.search.analysis import TOKEN_RE, analyze, parts, stem
from app.search.snippets import MARK_CLOSE, MARK_OPEN, WIDTH, best_snippet, highlight

WORDS = ("relational relate happy happiness replies replied sync syncing synced printers "
         "printer offline timeout timeouts gateway upstream crashed crashing restart "
         "possibility possible generalization general nginx worker pods kubernetes deadlock "
         "invoice invoices charged refund refunds okta saml certificates rotated export "
         "exported exporting ability able hopeful hopefulness formalize formal log logs "
         "logging the a of to").split()
CODES = ["ERR-1042", "err-1042", "HTTP/1.1", "v4.2.1", "ops@acme.example", "Re:", "INV-7",
         "x-request-id", "__init__", "Ünïcode", "naïve"]
PUNCT = [" ", " ", " ", "  ", ", ", ". ", "\n", "\n> ", " (", ") ", " -- ", "/", ": "]


def _reference(text: str, terms: set[str], prefix: str | None, width: int = WIDTH
               ) -> str | None:
    """The highlighter as it was: every token of the text checked."""
    def matches(token: str) -> bool:
        low = token.lower()
        if low in terms or stem(low) in terms:
            return True
        if prefix and low.startswith(prefix):
            return True
        return any(p in terms or stem(p) in terms for p in parts(low))

    spans = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text) if matches(m.group())]
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


def _text(rng: random.Random) -> str:
    n = rng.choice([3, 10, 40, 200, 800])
    out = []
    for _ in range(n):
        word = rng.choice(WORDS) if rng.random() < 0.85 else rng.choice(CODES)
        if rng.random() < 0.15:
            word = word.upper() if rng.random() < 0.5 else word.capitalize()
        out += [word, rng.choice(PUNCT)]
    return "".join(out)


def _query(rng: random.Random) -> tuple[set[str], str | None]:
    terms: set[str] = set()
    for word in rng.sample(WORDS + [c.lower() for c in CODES], rng.randint(1, 3)):
        if rng.random() < 0.3:  # a phrase: stems only
            terms.update(analyze(word))
        else:
            terms.update((word, stem(word)))
    prefix = None
    if rng.random() < 0.3:
        word = rng.choice(WORDS)
        prefix = word[:rng.randint(1, len(word))]
    return terms, prefix


@pytest.mark.parametrize("seed", range(4))
def test_highlight_marks_what_the_word_by_word_highlighter_did(seed: int) -> None:
    rng = random.Random(seed)
    found = 0
    for _ in range(500):
        text = _text(rng)
        terms, prefix = _query(rng)
        expected = _reference(text, terms, prefix)
        assert highlight(text, terms, prefix) == expected, (terms, prefix, text[:200])
        found += expected is not None
    assert 100 < found < 500  # both kinds of answers were exercised


def test_match_far_into_a_long_text_is_found_and_windowed() -> None:
    text = "nothing to see here. " * 2000 + "then the gateway timed out, retry the gateway"
    got = highlight(text, {"gateway", stem("gateway")}, None)
    assert got is not None and got.startswith("…")
    assert got.count(MARK_OPEN + "gateway" + MARK_CLOSE) == 2
    assert highlight(text, {"printer", stem("printer")}, None) is None


def test_window_starting_inside_a_long_token_marks_no_part_of_it() -> None:
    # No space before the match: the window starts inside "xxx…xsync", right at its
    # "sync", which is not a token of its own and must stay unmarked.
    text = "(" + "x" * 70 + "sync" + ")" * 49 + "sync"
    terms = {"sync", stem("sync")}
    got = highlight(text, terms, None)
    assert got == _reference(text, terms, None)
    assert got is not None and got.count(MARK_OPEN) == 1 and got.endswith(MARK_OPEN + "sync" + MARK_CLOSE)


def test_compound_parts_and_stems_are_marked() -> None:
    got = highlight("Sync failed: ERR-1042 while syncing replies", {"1042", stem("reply")}, None)
    assert got == f"Sync failed: {MARK_OPEN}ERR-1042{MARK_CLOSE} while syncing " \
                  f"{MARK_OPEN}replies{MARK_CLOSE}"


def test_best_snippet_prefers_the_field_showing_more_query_words() -> None:
    fields = [("subject", "Printer problem"), ("description", "the printer is offline")]
    terms = {"printer", stem("printer"), "offline", stem("offline")}
    assert best_snippet(fields, terms, None) == (
        "description", f"the {MARK_OPEN}printer{MARK_CLOSE} is {MARK_OPEN}offline{MARK_CLOSE}")
    assert snippets.best_snippet([("subject", "x")], {"zzz"}, None) == ("subject", "x")

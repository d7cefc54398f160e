"""Redact personal data and secrets before text leaves the laptop, and restore it after.

``redact`` replaces e-mail addresses, phone numbers, payment cards (Luhn-checked), IBANs
(mod-97-checked), IP addresses, secrets (API keys, tokens, JWTs, ``Bearer``, values
after key/token/secret/password), postal addresses, and the people and customer
organizations named by the caller with stable placeholders (``[EMAIL_1]`` ...). Spans are given in the OUTPUT text.
"""

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.llm import pii_recognisers
from app.llm.pii_detectors import KINDS, all_candidates, name_pattern, organization_pattern
from app.llm.redaction_map import PLACEHOLDER, RedactionMap

_PRIORITY = {kind: i for i, kind in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    kind: str
    placeholder: str


@dataclass(frozen=True, slots=True)
class Found:
    """A redacted value in the INPUT text."""

    start: int
    end: int
    kind: str
    value: str


@dataclass(slots=True)
class RedactionResult:
    text: str
    spans: list[Span]
    redaction_map: RedactionMap
    found: list[Found] = field(default_factory=list)


@dataclass(slots=True)
class RestoreResult:
    text: str
    warnings: list[str]
    unknown: list[str]


def _select(candidates: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Non-overlapping candidates: higher-priority kind first, then the longer one."""
    ordered = sorted(candidates, key=lambda c: (_PRIORITY[c[2]], -(c[1] - c[0]), c[0]))
    # taken spans never overlap, so sorted starts and ends let bisect find the neighbours
    starts: list[int] = []
    ends: list[int] = []
    taken: list[tuple[int, int, str]] = []
    for cand in ordered:
        start, end, _ = cand
        if end <= start:
            continue
        i = bisect.bisect_right(starts, start)
        if (i and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
            continue
        starts.insert(i, start)
        ends.insert(i, end)
        taken.append(cand)
    return sorted(taken)


def _existing_placeholders(text: str, redaction_map: RedactionMap) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text) if m.group(0) in redaction_map]


class Redactor:
    """Redacts with one ``RedactionMap`` so the same value keeps its placeholder."""

    def __init__(self, names: Sequence[str] = (), redaction_map: RedactionMap | None = None,
                 organizations: Sequence[str] = (), phone_regions: Sequence[str] | None = None) -> None:
        self.redaction_map = redaction_map if redaction_map is not None else RedactionMap()
        self._regions = tuple(phone_regions) if phone_regions is not None else pii_recognisers.phone_regions()
        self._names = name_pattern(names)
        self._orgs = organization_pattern(organizations)

    def redact(self, text: str) -> RedactionResult:
        protected = _existing_placeholders(text, self.redaction_map)
        candidates = [
            c for c in all_candidates(text, self._names, self._orgs, self._regions) if all(c[1] <= s or c[0] >= e for s, e in protected)
        ]
        out: list[str] = []
        spans: list[Span] = []
        found: list[Found] = []
        pos = 0
        length = 0
        for start, end, kind in _select(candidates):
            value = text[start:end]
            placeholder = self.redaction_map.placeholder_for(kind, value)
            out.append(text[pos:start])
            length += start - pos
            spans.append(Span(length, length + len(placeholder), kind, placeholder))
            found.append(Found(start, end, kind, value))
            out.append(placeholder)
            length += len(placeholder)
            pos = end
        out.append(text[pos:])
        return RedactionResult("".join(out), spans, self.redaction_map, found)

    def redact_more(self, text: str, start: int, end: int, kind: str = "SECRET") -> RedactionResult:
        """Redact a selection of already redacted ``text`` (e.g. a name the detectors
        missed) and every other exact occurrence of the same value. A selection that cuts
        a placeholder is widened to cover it; placeholders inside it are restored first so
        that the new placeholder stands for the original text."""
        if not (0 <= start <= end <= len(text)):
            raise ValueError(f"selection {start}:{end} is outside the text (length {len(text)})")
        for s, e in _existing_placeholders(text, self.redaction_map):
            if s < end and e > start:
                start, end = min(start, s), max(end, e)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            return RedactionResult(text, self.spans_in(text), self.redaction_map)
        selected = text[start:end]
        original = restore(selected, self.redaction_map).text
        placeholder = self.redaction_map.placeholder_for(kind, original)
        protected = [(s, e) for s, e in _existing_placeholders(text, self.redaction_map) if not (s >= start and e <= end)]
        pieces: list[str] = []
        pos = 0
        for m in re.finditer(re.escape(selected), text):
            if m.start() != start and any(m.start() < e and m.end() > s for s, e in protected):
                continue
            pieces.append(text[pos : m.start()])
            pieces.append(placeholder)
            pos = m.end()
        pieces.append(text[pos:])
        new_text = "".join(pieces)
        return RedactionResult(new_text, self.spans_in(new_text), self.redaction_map)

    def spans_in(self, text: str) -> list[Span]:
        """Spans of every placeholder this map issued that appears in ``text``."""
        spans = []
        for m in PLACEHOLDER.finditer(text):
            if m.group(0) in self.redaction_map:
                spans.append(Span(m.start(), m.end(), self.redaction_map.kind_of(m.group(0)), m.group(0)))
        return spans


def redact(text: str, names: Sequence[str] = (), redaction_map: RedactionMap | None = None) -> RedactionResult:
    return Redactor(names, redaction_map).redact(text)


def redact_more(
    text: str, start: int, end: int, redaction_map: RedactionMap, kind: str = "SECRET"
) -> RedactionResult:
    return Redactor((), redaction_map).redact_more(text, start, end, kind)


def restore(text: str, redaction_map: RedactionMap, _depth: int = 0) -> RestoreResult:
    """Put the originals back. A placeholder this map never issued (``[EMAIL_9]``) is
    left as it is and reported in ``warnings``/``unknown``."""
    unknown: list[str] = []

    def put_back(m: re.Match[str]) -> str:
        original = redaction_map.original(m.group(0))
        if original is None:
            if m.group(0) not in unknown:
                unknown.append(m.group(0))
            return m.group(0)
        return original

    restored = PLACEHOLDER.sub(put_back, text)
    warnings = [f"{p} was never issued by this redaction: left as it is" for p in unknown]
    return RestoreResult(restored, warnings, unknown)

"""Recognisers built on maintained libraries (``phonenumbers``, ``python-stdnum``) and the
shapes issue 18 found leaking: internationalised/obfuscated e-mails, any-separator cards
and IBANs, whole passwords, MAC addresses, more postal shapes. Each yields candidates
``(start, end, kind)`` like ``pii_detectors``."""

import os
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn as std_luhn

Candidate = tuple[int, int, str]

# Regions whose national formats are tried (E.164 numbers with + are found whatever this is).
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "RU", "PL", "IN", "BR", "JP", "AU")
PHONE_REGIONS_ENV = "SMART_SUPPORT_PHONE_REGIONS"


class PhoneRegionsError(ValueError):
    """The configured phone regions are not all region codes libphonenumber knows."""


def phone_regions(raw: str | None = None) -> tuple[str, ...]:
    """The regions whose national phone formats are recognised: ``raw`` (or the
    ``SMART_SUPPORT_PHONE_REGIONS`` variable), comma-separated ISO codes such as
    ``DE,AT,CH``; empty means the defaults. An unknown code is an error rather than a
    silently weaker redaction."""
    raw = os.environ.get(PHONE_REGIONS_ENV, "") if raw is None else raw
    codes = [c.strip().upper() for c in raw.split(",") if c.strip()]
    if not codes:
        return DEFAULT_PHONE_REGIONS
    unknown = [c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise PhoneRegionsError(f"{PHONE_REGIONS_ENV}: unknown region code(s) {', '.join(unknown)} "
                         "(use ISO 3166 codes such as DE,AT,CH)")
    return tuple(dict.fromkeys(codes))

# Digit runs that could be a phone number: only these windows go to the (slow) matcher.
_PHONE_WINDOW = re.compile(r"(?=[+(\d])(?:\+|\b00|\()?\d[\d \u00a0().\-/]{5,22}\d")
_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}$|\d+\.\d+\.\d+")

_SEP = r"[ \u00a0\u202f.\-]"
# not the tail of an IBAN ("DE89 3704 ...") nor part of a longer run of digit groups
_CARD = re.compile(
    rf"(?=[2-6])(?<![\w.,+\-])(?<![A-Za-z]{{2}}\d{{2}}{_SEP})[2-6]\d(?:{_SEP}{{0,2}}\d){{11,17}}(?!{_SEP}{{0,2}}\d(?!\d/\d))"
)
_IBAN = re.compile(rf"(?<![A-Za-z0-9])[A-Za-z]{{2}}\d{{2}}(?:{_SEP}?[A-Za-z0-9]){{11,30}}(?![A-Za-z0-9])")

_DOMAIN = r"[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}"
_EMAIL_UNICODE = re.compile(rf"(?<![\w.%+-])[\w.%+-]+@{_DOMAIN}(?![\w-])")
_EMAIL_QUOTED = re.compile(rf'"[^"\n@]{{1,64}}"@{_DOMAIN}(?![\w-])')
_EMAIL_LOCALHOST = re.compile(r"(?<![\w.%+-])[\w.%+-]+@localhost(?![\w-]|\.\w)", re.I)
_EMAIL_PERCENT = re.compile(rf"(?<![\w.%+-])[\w.+-]+%40{_DOMAIN}(?![\w-])", re.I)
_AT = r"\s*(?:\[at\]|\(at\)|\{at\}|<at>)\s*"
_DOT = r"\s*(?:\[dot\]|\(dot\)|\{dot\}|<dot>)\s*"
_EMAIL_SPELLED = re.compile(
    rf"(?<![\w.+-])[\w.+-]+(?:{_AT}[\w-]+(?:(?:{_DOT}|\.)[\w-]+)+|\s+at\s+[\w-]+(?:{_DOT}[\w-]+)+)", re.I
)

_PASSWORD = re.compile(
    r"(?=[pPmMcCsS])(?i:(?<![A-Za-z])(?:password|passwort|passwd|pwd|passphrase|pass|mot de passe|contraseña|senha))"
    r"[\"']?\s*(?:[:=]|=>|\bis\b|\bwas\b)\s*(?:(?P<q>[\"'])(?P<qv>[^\"'\n]{1,200})(?P=q)|(?P<v>[^\s\"']{3,200}))"
)
_PIN = re.compile(r"(?i:\bpin(?:\s*code)?)\s*(?:[:=]|\bis\b|\bwas\b)\s*(?P<v>\d{4,8})\b")
_MAC = re.compile(
    r"(?=[0-9A-Fa-f])(?<![\w:.-])(?:[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![\w:.-])"
)

_LOWER_STREET = re.compile(
    r"(?=\d)(?<![\w.-])\d{1,5}[a-z]?\s+(?!(?:the|on|a|of|to|in|at|for|and|min|ms|minutes|hours|days)\b)"
    r"(?:[a-z][a-z'’-]+\s+){1,3}(?:street|avenue|road|boulevard|lane|drive|terrace|crescent|square|place)\b"
)
_PO_BOX = re.compile(r"(?i)(?<!\w)(?:P\.?\s?O\.?\s?Box|Post(?:al)?\s+Office\s+Box|Postfach|Apartado)\s*#?\s*\d{1,7}\b")
# three numbers (chome-block-house): "2-3 Business days" is not an address
_JP_BLOCK = re.compile(r"(?<![\w.-])\d{1,4}-\d{1,4}-\d{1,4}\s+[A-Z][a-z]+(?:-(?:ku|shi|cho|machi))?\b")
_JP_POSTCODE = re.compile(r"(?=[〒A-Z])(?:〒\s?\d{3}-\d{4}|(?<![\w-])[A-Z][a-z]+(?:-(?:ku|shi|to|fu|ken))?,?\s+\d{3}-\d{4}(?![\d-]))")


@lru_cache(maxsize=4096)
def _phone_spans(chunk: str, regions: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Phone spans in one digit window (cached: a case repeats its numbers)."""
    if chunk.startswith(("+", "00")):
        tried: tuple[str, ...] = ("ZZ",) if chunk.startswith("+") else regions
    else:
        tried = regions
    found: dict[tuple[int, int], None] = {}
    for region in tried:
        for match in phonenumbers.PhoneNumberMatcher(chunk, region, leniency=phonenumbers.Leniency.VALID):
            found[(match.start, match.end)] = None  # every region: the longest reading wins later
    if not found and chunk.startswith(("+", "00")):
        # lenient pass: an international prefix makes any *possible* number a phone
        lenient = chunk if chunk.startswith("+") else "+" + chunk[2:]
        shift = 0 if chunk.startswith("+") else 1
        for match in phonenumbers.PhoneNumberMatcher(lenient, "ZZ", leniency=phonenumbers.Leniency.POSSIBLE):
            found[(match.start + shift if match.start else 0, match.end + shift)] = None
    return tuple(found)


def phones(text: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> Iterator[Candidate]:
    """Valid numbers of the configured regions (overlaps resolve to the longest), then a lenient pass that takes any *possible* number with an international
    prefix. Only digit windows of 7-15 digits go to the (slow) matcher."""
    key = tuple(regions)
    for window in _PHONE_WINDOW.finditer(text):
        chunk = window.group(0)
        digits = sum(ch.isdigit() for ch in chunk)
        if not 7 <= digits <= 15 or _DATE_LIKE.match(chunk.strip("( ")):
            continue
        # a bare digit run (timestamp, VAT or order number) is a phone only with a + or 00
        if chunk.isdigit() and not chunk.startswith("00"):
            continue
        if window.start() and text[window.start() - 1].isalpha():
            continue
        for start, end in _phone_spans(chunk, key):
            yield window.start() + start, window.start() + end, "PHONE"


def cards(text: str) -> Iterator[Candidate]:
    """13-19 digits with any separators (spaces, no-break spaces, dots, dashes, any
    grouping), Luhn-valid."""
    for m in _CARD.finditer(text):
        value = m.group(0)
        digits = re.sub(r"\D", "", value)
        # the whole run only: a Luhn-valid prefix of a longer number is chance, not a card
        if 13 <= len(digits) <= 19 and std_luhn.is_valid(digits):
            yield m.start(), m.end(), "CARD"


def ibans(text: str) -> Iterator[Candidate]:
    """Checksum-valid IBANs in any case, with spaces, dashes or dots between characters."""
    for m in _IBAN.finditer(text):
        value = m.group(0)
        ends = [i + 1 for i, ch in enumerate(value) if ch.isalnum()]
        for end in reversed(ends):
            compact = re.sub(r"[^A-Za-z0-9]", "", value[:end]).upper()
            if len(compact) < 15:
                break
            if std_iban.is_valid(compact):
                yield m.start(), m.start() + end, "IBAN"
                break


def emails(text: str) -> Iterator[Candidate]:
    lower = text.lower()
    # the rarer spellings are looked for only when their marker is there at all (speed)
    patterns = [_EMAIL_UNICODE, _EMAIL_QUOTED] if "@" in text else []
    if "@localhost" in lower:
        patterns.append(_EMAIL_LOCALHOST)
    if "%40" in text:
        patterns.append(_EMAIL_PERCENT)
    if "at]" in lower or "at)" in lower or "at}" in lower or "at>" in lower or "dot" in lower:
        patterns.append(_EMAIL_SPELLED)
    for rx in patterns:
        for m in rx.finditer(text):
            yield m.start(), m.end(), "EMAIL"


def passwords(text: str) -> Iterator[Candidate]:
    """A password runs to the end of its value: a closing quote, or whitespace (a
    sentence's final comma or full stop is not part of it)."""
    for m in _PASSWORD.finditer(text):
        if m.group("qv") is not None:
            yield m.start("qv"), m.end("qv"), "SECRET"
            continue
        start, end = m.start("v"), m.end("v")
        while end > start + 3 and text[end - 1] in ".,;":
            end -= 1
        if text[start:end].lower() in {"expired", "reset", "changed", "wrong", "incorrect", "required"}:
            continue
        yield start, end, "SECRET"


def pins(text: str) -> Iterator[Candidate]:
    for m in _PIN.finditer(text):
        yield m.start("v"), m.end("v"), "SECRET"


def macs(text: str) -> Iterator[Candidate]:
    # A MAC identifies a customer's device; it is redacted with the IP kind (network identifiers).
    for m in _MAC.finditer(text):
        yield m.start(), m.end(), "IP"


def addresses(text: str) -> Iterator[Candidate]:
    lower = text.lower()
    patterns = [_LOWER_STREET, _JP_BLOCK, _JP_POSTCODE]
    if "box" in lower or "postfach" in lower or "apartado" in lower:
        patterns.append(_PO_BOX)
    for rx in patterns:
        for m in rx.finditer(text):
            yield m.start(), m.end(), "ADDRESS"


def all_candidates(text: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> Iterator[Candidate]:
    yield from passwords(text)
    yield from pins(text)
    yield from emails(text)
    yield from ibans(text)
    yield from cards(text)
    yield from macs(text)
    yield from phones(text, regions)
    yield from addresses(text)

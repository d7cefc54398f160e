"""Detectors of personal data and secrets for redaction: each yields candidate spans
``(start, end, kind)`` in the input text; ``redaction.py`` resolves overlaps."""

import ipaddress
import re
from collections.abc import Iterator, Sequence

from app.llm import pii_identifiers, pii_recognisers
from app.llm.person_names import fold, people_in_text

Candidate = tuple[int, int, str]

# Kinds in priority order: when two candidates overlap, the earlier kind wins.
KINDS = ("SECRET", "EMAIL", "IBAN", "ID", "CARD", "IP", "PHONE", "ADDRESS", "ORG", "PERSON")

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")

_TOKEN_PATTERNS = [
    r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]+?-----END (?:[A-Z]+ )*PRIVATE KEY-----",
    r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}",
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
    r"\bgithub_pat_[A-Za-z0-9_]{22,}",
    r"\bglpat-[A-Za-z0-9_-]{20,}",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    r"\bAIza[0-9A-Za-z_-]{35}",
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",
    r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}",
    r"\b(?:SG|shpat|shpss)[._][A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]{20,})?",
]
# the lookahead on the patterns' first characters lets most positions fail at once
_TOKENS = re.compile("(?=[-srpAgxeS])(?:" + "|".join(f"(?:{p})" for p in _TOKEN_PATTERNS) + ")")
_BEARER = re.compile(r"(?=[bBtT])(?i:\b(?:bearer|basic|token))\s+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)")
_KEYWORD = (
    r"(?:api[_-]?key|apikey|x-api-key|access[_-]?key(?:[_-]?id)?|secret(?:[_-]?(?:access[_-]?)?key)?|"
    r"client[_-]?secret|(?:access|auth|refresh|session|csrf|id)?[_-]?token|password|passwd|pwd|"
    r"passphrase|private[_-]?key|signing[_-]?key|webhook[_-]?secret)"
)
_ASSIGNED = re.compile(
    rf"(?i:(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_-])*{_KEYWORD})[\"']?\s*(?:[:=]|=>|\bis\b)\s*[\"']?(?P<v>[^\s\"',;&<>)\]}}]{{4,}})"
)
_LONG_HEX = re.compile(r"^[0-9a-fA-F]{24,}$")
_LONG_B64 = re.compile(r"^[A-Za-z0-9+/_=-]{20,}$")

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,9}(?![A-Za-z0-9])")
_CARD = re.compile(
    r"(?<![\d+\-.])(?:\d{4}(?P<s>[ -]?)\d{4}(?P=s)\d{4}(?P=s)\d{1,7}|\d{4}(?P<t>[ -]?)\d{6}(?P=t)\d{4,5})(?![\d\-]|\.\d)"
)
_IPV4 = re.compile(
    r"(?=\d)(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:/\d{1,2})?(?!\.?\d)(?![\w])"
)
_IPV6 = re.compile(
    r"(?=[0-9A-Fa-f:])(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w.]+)?(?![\w:])"
)
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|\bversion|\bver\.?|\bbuild|\brelease)\s*$")
_PHONE_INTL = re.compile(
    r"(?=[+0])(?<![\w+])(?<!\d )(?:\+|00)[1-9]\d{0,2}(?:[ .\-/]?\(\d{1,4}\)|[ .\-/]?\d{1,5}){2,7}(?:\s*(?:ext\.?|x)\s*\d{1,5})?(?![\w])"
)
_PHONE_US = re.compile(
    r"(?=[\d(])(?<![\w+\-.])(?<!\d )(?:1[ .-])?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?:\s*(?:ext\.?|x)\s*\d{1,5})?(?![\w\-])"
)
_PHONE_NATIONAL = re.compile(r"(?=0)(?<![\w+\-./])(?<!\d )0[1-9]\d{0,4}(?:[ /.\-]\d{2,8}){1,4}(?![\w\-/]|\.\d)")
_PHONE_CONTEXT = re.compile(r"(?i)(?=[ptmcfsw])(?:phone|tel|mobile|cell|call|fax|sms|whatsapp|mob|ph)\b\.?\s*[:#]?\s*(?P<v>\d[\d .\-/]{6,16}\d)")

_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Parkway|Pkwy|Square|Sq|Highway|Hwy|Circle|Cir|Trail|Close|Crescent|Row|Mews)"
)
_STREET_EN = re.compile(
    rf"(?<![\w-])\d{{1,5}}[A-Za-z]?(?:-\d{{1,4}})?\s+(?:[A-Z][\w'.-]*\s+){{1,4}}{_STREET_SUFFIX}\b\.?"
    r"(?:,?\s+(?:Suite|Ste\.?|Apt\.?|Unit|Floor|Fl\.?)\s*#?\s*\w+)?"
)
# "Hauptstraße 12": found from a number after a word, whose word must end in a street suffix,
# then widened back to the word's start (one regex starting at every letter is far slower).
_NUMBER_AFTER_WORD = re.compile(r"(?=\s)(?<=[^\W\d_]|\.)\s+\d{1,4}[a-z]?\b", re.I)
_EU_SUFFIX_END = re.compile(
    r"(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|laan|straat|gracht|plein|vej|gatan)\Z", re.I
)
_EU_WORD_START = re.compile(r"[A-ZÄÖÜ]", re.I)
_STREET_EU = re.compile(
    r"(?=[rabcpv])(?<![\w-])(?:Rue|Avenue|Boulevard|Chemin|Place|Calle|Avenida|Via|Viale|Piazza)"
    r"(?:\s+(?:de la|de|du|des|del|della|di)?\s*[A-Z][\w'-]*){1,3}\s+\d{1,4}[a-z]?\b"
    r"|(?=\d)(?<![\w-])\d{1,4}(?:bis|ter)?,?\s+(?:rue|avenue|boulevard|chemin|place|allée|impasse|quai)(?:\s+[\w'-]+){1,4}",
    re.I,
)


def _eu_suffix_streets(text: str) -> Iterator[tuple[int, int]]:
    for m in _NUMBER_AFTER_WORD.finditer(text):
        suffix = _EU_SUFFIX_END.search(text, max(0, m.start() - 7), m.start())
        if suffix is None:
            continue
        back = suffix.start()
        while back > 0 and (text[back - 1].isalnum() or text[back - 1] in "_.-"):
            back -= 1
        # leftmost start: a letter not preceded by a word character or hyphen
        for start in range(back, suffix.start()):
            if _EU_WORD_START.match(text, start) and (start == 0 or not (text[start - 1].isalnum()
                                                                     or text[start - 1] in "_-")):
                yield start, m.end()
                break


_POSTCODE_CITY = re.compile(
    # a postcode and its city share a line: "4567\nRingstraße" is a phone's end and a street
    # every alternative starts with a capital or a digit: one lookahead lets the rest fail at once
    r"(?=[A-Z\d])(?:(?<![\w-])(?:[A-Z]{1,2}-)?\d{4,5}[ \t]+[A-ZÄÖÜÉ][a-zäöüßéèàç]+(?:[ -][A-ZÄÖÜÉ][a-zäöüßéèàç]+)?(?!\w)"
    r"|(?<![\w-])[A-Z][a-z]+(?: [A-Z][a-z]+)*,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?(?!\w)"
    r"|(?<![\w-])[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}[ \t]+[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?(?!\w)"  # NL
    r"|(?<![\w-])(?:[A-Z][a-z]+\s+)?[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}(?![\w]))"
)

_COMMON_WORD_NAMES = frozenset(
    """will may mark bill rose grace hope joy faith summer april june art frank sue pat ray dawn
    rich chase hunter king long young white black brown green price case page april august
    jack max rob don guy gene sky iris ivy jade amber ruby pearl lily daisy violet holly
    hazel autumn winter river storm angel baby bean bell cook cash gray grey hall hill
    lane love mason miles moon nash park reed rock rusty sage shore stone wade ward
    wells west wood woods""".split()
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    if not (15 <= len(iban) <= 34) or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


# Every _KEYWORD contains one of these: _ASSIGNED is tried only around them (speed).
_KEYWORD_CORE = re.compile(r"(?=[kstpKSTP])(?i:key|secret|token|pass|pwd)")


def _assignments(text: str) -> Iterator[re.Match[str]]:
    seen = -1
    for core in _KEYWORD_CORE.finditer(text):
        if core.start() < seen:
            continue
        start = core.start()
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
            start -= 1
        m = _ASSIGNED.search(text, start, core.end() + 260)
        if m is not None and m.start() <= core.start():
            seen = m.end()
            yield m


def secrets(text: str) -> Iterator[Candidate]:
    for m in _TOKENS.finditer(text):
        yield m.start(), m.end(), "SECRET"
    for m in _BEARER.finditer(text):
        yield m.start("v"), m.end("v"), "SECRET"
    for m in _assignments(text):
        value = m.group("v")
        keyword = m.group(0).lower()
        is_password = any(w in keyword[: m.start("v") - m.start()] for w in ("pass", "pwd"))
        strong = _LONG_HEX.match(value) or (_LONG_B64.match(value) and any(c.isdigit() for c in value))
        if is_password or strong or (len(value) >= 8 and any(c.isdigit() for c in value)):
            yield m.start("v"), m.end("v"), "SECRET"


def emails(text: str) -> Iterator[Candidate]:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "EMAIL"


def ibans(text: str) -> Iterator[Candidate]:
    for m in _IBAN.finditer(text):
        tokens = m.group(0).split(" ")
        # the match may run into following words: try the longest prefix that checks out
        for k in range(len(tokens), 0, -1):
            if iban_ok("".join(tokens[:k])):
                yield m.start(), m.start() + len(" ".join(tokens[:k])), "IBAN"
                break


def cards(text: str) -> Iterator[Candidate]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            yield m.start(), m.end(), "CARD"


def ips(text: str) -> Iterator[Candidate]:
    for m in _IPV4.finditer(text):
        if _VERSION_BEFORE.search(text[max(0, m.start() - 12) : m.start()]):
            continue
        yield m.start(), m.end(), "IP"
    for m in _IPV6.finditer(text):
        value = m.group(0)
        while value.endswith(":") and not value.endswith("::"):
            value = value[:-1]
        if value.count(":") < 2:
            continue
        try:
            ipaddress.IPv6Address(value.split("%")[0])
        except ValueError:
            continue
        yield m.start(), m.start() + len(value), "IP"


def _digit_count(value: str) -> int:
    return sum(ch.isdigit() for ch in value)


def phones(text: str) -> Iterator[Candidate]:
    for m in _PHONE_INTL.finditer(text):
        if 7 <= _digit_count(m.group(0)) <= 17:
            yield m.start(), m.end(), "PHONE"
    for m in _PHONE_US.finditer(text):
        yield m.start(), m.end(), "PHONE"
    for m in _PHONE_NATIONAL.finditer(text):
        value = m.group(0)
        if 9 <= _digit_count(value) <= 12 and not re.fullmatch(r"\d{2}[./-]\d{2}[./-]\d{2,4}", value):
            yield m.start(), m.end(), "PHONE"
    for m in _PHONE_CONTEXT.finditer(text):
        if 7 <= _digit_count(m.group("v")) <= 15:
            yield m.start("v"), m.end("v"), "PHONE"


def addresses(text: str) -> Iterator[Candidate]:
    found = sorted(
        [(m.start(), m.end()) for rx in (_STREET_EN, _STREET_EU, _POSTCODE_CITY) for m in rx.finditer(text)]
        + list(_eu_suffix_streets(text))
    )
    merged: list[list[int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1] + 3 and re.fullmatch(r"[\s,]*", text[merged[-1][1] : start] if start > merged[-1][1] else ""):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        yield start, end, "ADDRESS"


def name_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for the directory: full names and their parts, case-insensitive on word
    boundaries, except parts that are everyday words ("Will", "May", "Grace"), which
    match only when capitalised."""
    loose: set[str] = set()
    strict: set[str] = set()
    for name in names:
        # folded like the text it runs over: "José Müller" also matches "Jose Muller"
        parts = [p for p in re.split(r"\s+", fold(name).strip()) if p]
        if not parts:
            continue
        if len(parts) > 1:
            loose.add(r"\s+".join(re.escape(p) for p in parts))
        for part in parts:
            part = part.strip(".,")
            if len(part) < 2:
                continue
            (strict if part.lower() in _COMMON_WORD_NAMES else loose).add(re.escape(part))
    alternatives = [f"(?i:{p})" for p in sorted(loose, key=len, reverse=True)]
    alternatives += [f"(?:{p[0].upper()}{p[1:]}|{p.upper()})" for p in sorted(strict, key=len, reverse=True)]
    if not alternatives:
        return None
    return re.compile(r"(?<![\w@.])(?:" + "|".join(alternatives) + r")(?![\w@]|\.\w)")


def organization_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for customer organizations: whole names only (case-insensitive, any run
    of spaces), since their parts are everyday words ("Acme Logistics": "Logistics")."""
    full = {r"[\s_-]+".join(re.escape(p) for p in fold(name).split()) for name in names
            if len(name.strip()) >= 3}
    if not full:
        return None
    return re.compile(r"(?<![\w@.])(?i:" + "|".join(sorted(full, key=len, reverse=True))
                      + r")(?![\w@]|\.\w)")


def organizations(text: str, pattern: re.Pattern[str] | None) -> Iterator[Candidate]:
    if pattern is None:
        return
    for m in pattern.finditer(text):
        yield m.start(), m.end(), "ORG"


def people(text: str, pattern: re.Pattern[str] | None) -> Iterator[Candidate]:
    if pattern is None:
        return
    for m in pattern.finditer(text):
        yield m.start(), m.end(), "PERSON"


def all_candidates(text: str, names: re.Pattern[str] | None,
                   orgs: re.Pattern[str] | None = None,
                   phone_regions: Sequence[str] = pii_recognisers.DEFAULT_PHONE_REGIONS) -> Iterator[Candidate]:
    folded = fold(text)  # same length as text: spans found in it are spans of text
    yield from secrets(text)
    yield from emails(text)
    yield from ibans(text)
    yield from cards(text)
    yield from ips(text)
    yield from phones(text)
    yield from addresses(text)
    yield from pii_recognisers.all_candidates(text, phone_regions)
    yield from pii_identifiers.all_candidates(text)
    yield from organizations(folded, orgs)
    yield from people(folded, names)
    yield from people_in_text(text, folded)

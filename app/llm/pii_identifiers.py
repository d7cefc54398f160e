"""Identifiers a support case also carries (issue 18): national identity and tax numbers
(``python-stdnum`` checksums), passport numbers, dates of birth and licence plates where
the text marks them, crypto wallet addresses (checksummed), and secrets of more services
(Twilio, Mailgun, npm, Slack webhooks, PGP key blocks, AWS secret keys, passwords inside
connection strings, ``.env`` secrets). Each yields ``(start, end, kind)`` candidates.

A bare digit run is an identifier only when the text marks it ("SSN", "BSN", "PESEL"...)
or when its format is specific and its checksum holds (``123.456.789-09`` CPF): order
numbers, versions and build numbers carry no checksum and no marker, so they stay."""

import re
from collections.abc import Callable, Iterator
from importlib import import_module

from stdnum import bitcoin

Candidate = tuple[int, int, str]


def _validator(module: str) -> Callable[[str], bool]:
    checker: Callable[[str], bool] = import_module(f"stdnum.{module}").is_valid
    return checker


# National identity and tax numbers python-stdnum validates (number, checksum, dates inside).
_NATIONAL = [_validator(m) for m in (
    "us.ssn", "us.itin", "gb.nhs", "de.idnr", "de.stnr", "fr.nir", "fr.nif", "nl.bsn", "be.nn",
    "es.dni", "es.nie", "es.nif", "pt.nif", "pt.cc", "it.codicefiscale", "pl.pesel", "pl.nip", "cz.rc",
    "se.personnummer", "dk.cpr", "fi.hetu", "no.fodselsnummer", "is_.kennitala", "ee.ik", "lt.asmens",
    "lv.pvn", "ro.cnp", "bg.egn", "gr.amka", "hu.anum", "at.vnr", "ch.ssn", "ie.pps", "br.cpf",
    "br.cnpj", "ar.dni", "ar.cuit", "cl.rut", "co.nit", "mx.curp", "mx.rfc", "in_.aadhaar", "in_.pan",
    "cn.ric", "kr.rrn", "tw.ubn", "za.idnr", "il.idnr", "tr.tckimlik", "ca.sin", "au.tfn", "nz.ird",
    "my.nric", "th.pin", "id.npwp", "eg.tn",
)]
_GB_NINO = re.compile(r"(?=[A-Z])(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
                      r"[ ]?\d{2}[ ]?\d{2}[ ]?\d{2}[ ]?[A-D](?![A-Za-z0-9])")

# Formats specific enough that a valid checksum alone makes them an identifier; each is
# checked only by its own countries' validators (a 13-digit timestamp is no tax number).
_SPECIFIC_FORMATS: list[tuple[str, tuple[str, ...]]] = [
    (r"\d{3}-\d{2}-\d{4}", ("us.ssn", "us.itin")),
    (r"\d{3}\.\d{3}\.\d{3}-\d{2}", ("br.cpf",)),
    (r"\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}", ("br.cnpj",)),
    (r"756\.\d{4}\.\d{4}\.\d{2}", ("ch.ssn",)),
    (r"\d{8}-?[A-Z]|[XYZ]-?\d{7}-?[A-Z]", ("es.dni", "es.nie")),
    (r"[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]", ("it.codicefiscale",)),
    (r"[A-Z]{4}\d{6}[HM][A-Z]{5}[0-9A-Z]\d", ("mx.curp",)),
    (r"[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z]", ("in_.pan",)),
    (r"\d{4} \d{4} \d{4}", ("in_.aadhaar",)),
    (r"\d{6}[-+]\d{4}", ("se.personnummer", "dk.cpr")),
    (r"\d{6}[-+A]\d{3}[0-9A-Y]", ("fi.hetu",)),
    (r"\d{6}-\d{7}", ("kr.rrn",)),
    (r"[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}", ("fr.nir",)),
    (r"\d{17}[\dX]", ("cn.ric",)),
    (r"\d{3} \d{3} \d{3}", ("ca.sin",)),
    (r"\d{13}", ("za.idnr",)),
]
_SPECIFIC = re.compile(
    # the lookahead on the first character lets most positions fail at once (speed)
    r"(?=[0-9A-Z])(?<![\w.\-/])(?<!\d[ .\-])(?:"
    + "|".join(f"(?P<f{i}>{rx})" for i, (rx, _) in enumerate(_SPECIFIC_FORMATS))
    + r")(?![\w\-/]|[ .\-]\d)"
)
_SPECIFIC_CHECKS = {f"f{i}": [_validator(m) for m in mods] for i, (_, mods) in enumerate(_SPECIFIC_FORMATS)}
_ID_MARKER = re.compile(
    r"(?i:\b(?:ssn|social security(?: number| no\.?)?|national (?:id|identity|insurance)(?: number| no\.?)?|nino|"
    r"id(?:entity)?(?: card)? (?:number|no\.?|nr\.?)|tax (?:id|number|code)|tin|itin|bsn|burgerservicenummer|pesel|"
    r"nip|nif|nie|dni|cpf|cnpj|curp|rfc|aadhaar|pan|steuer-?id|steuer-?nummer|steueridentifikationsnummer|"
    r"personalausweis(?:nummer)?|personnummer|cpr|henkil[oö]tunnus|hetu|f[oø]dselsnummer|kennitala|codice fiscale|"
    r"nir|num[eé]ro de s[eé]curit[eé] sociale|s[eé]curit[eé] sociale|insee|sin|tfn|ird|pps|ahv|avs|rrn|"
    r"tc kimlik(?: no)?|kimlik|cnp|egn|amka|rut|cuit|nric|mykad|emirates id|iqama|sofinummer|rijksregisternummer))"
    r"\b[\"']?\s*(?:#|no\.?|nr\.?|number)?\s*(?:[:=]|\bis\b|\bwas\b)?\s*[\"']?"
)
# a space goes on the value only before a digit: "SSN 536-90-4399 please" stops at the number
_MARKED_VALUE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|[.\-/](?=[A-Za-z0-9])| (?=\d)){4,24}")

_PASSPORT = re.compile(
    r"(?i:\b(?:passport|reisepass|passeport|pasaporte|passaporto|paspoort|pass(?:nummer|nr\.?)))"
    r"(?:\s+(?i:number|no\.?|nr\.?|#|num[eé]ro|n[uú]mero))?\s*[:#=]?\s*(?:is\s+)?"
    r"(?P<v>[A-Z0-9]{1,3}[ -]?[A-Z0-9]{4,9})(?![A-Za-z0-9])"
)
_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|januar|februar|m[aä]rz|mai|juni|juli|"
           r"oktober|dezember|janvier|f[eé]vrier|mars|avril|juin|juillet|ao[uû]t|septembre|octobre|novembre|"
           r"d[eé]cembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)")
_DATE = (rf"(?:\d{{4}}[./-]\d{{1,2}}[./-]\d{{1,2}}|\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}"
         rf"|\d{{1,2}}(?:st|nd|rd|th)?\.?\s+(?:of\s+|de\s+)?{_MONTHS}\.?,?\s+(?:de\s+)?\d{{4}}"
         rf"|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{4}}年\d{{1,2}}月\d{{1,2}}日)")
_DOB = re.compile(
    rf"(?i:\b(?:d\.?o\.?b\.?|date of birth|birth ?date|birthday|born(?: on)?|geboren(?: am)?|geburtsdatum|"
    rf"n[eé]e? le|date de naissance|fecha de nacimiento|nacid[oa] el|data di nascita|nato il|nata il|"
    rf"geboortedatum|data de nascimento|f[oø]dselsdato|生年月日|出生日期))\s*[:=]?\s*(?P<v>{_DATE})",
    re.I,
)
_PLATE = re.compile(
    r"(?i:\b(?:licen[cs]e plate|number plate|plate(?: number| no\.?)?|(?:vehicle |car )?registration (?:number|no\.?|plate)|"
    r"car reg(?:istration)?|reg\.? (?:no|number)|kennzeichen|immatriculation|matr[ií]cula|targa|"
    r"kenteken|rekisterinumero|registreringsnummer))\s*[:#=]?\s*(?:is\s+)?"
    r"(?P<v>(?=[A-Z0-9 \-·]*\d)(?=[A-Z0-9 \-·]*[A-Z])[A-Z0-9]{1,8}(?:[ \-·][A-Z0-9]{1,7}){0,3})(?![A-Za-z0-9])"
)

_BTC = re.compile(r"(?=[13bB])(?<![A-Za-z0-9])(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|(?i:bc1[02-9ac-hj-np-z]{11,71}))(?![A-Za-z0-9])")
_ETH = re.compile(r"(?=0)(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")

_SERVICE_TOKENS = re.compile(
    r"(?=[ASknwxhg-])(?<![A-Za-z0-9])(?:"
    r"(?:AC|SK)[0-9a-f]{32}"                               # Twilio account / API key sid
    r"|key-[0-9a-f]{32}"                                   # Mailgun
    r"|npm_[A-Za-z0-9]{36}"                                # npm
    r"|whsec_[A-Za-z0-9]{24,}"                             # Stripe webhook secret
    r"|xox[abeoprs]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}"  # Slack
    r"|https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"
    r"|https://discord(?:app)?\.com/api/webhooks/\d+/[\w-]{30,}"
    r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{22,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|SG\.[\w-]{16,}\.[\w-]{16,}"                         # SendGrid
    r"|-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----"
    r")"
)
# AWS secret access keys are 40 characters of base64 with nothing to mark them: only near
# an access key id or an aws_secret label.
_AWS_HINT = re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}|(?i:aws.{0,20}secret|secret.?access.?key)")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_CONN_PASSWORD = re.compile(
    r"(?i:\b[a-z][a-z0-9+.-]{1,20})://[^\s:/@]{1,64}:(?P<v>[^\s@/]{1,128})@[\w.-]+"
)
# "$POSTGRES_PASSWORD", "${DB_PASS}": a reference to the secret, not the secret
_REFERENCE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$")
_ENV_SECRET = re.compile(
    r"(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z0-9_]*(?i:secret|token|password|passwd|pwd|api_?key|private_?key|"
    r"access_?key|credentials?|auth|salt|dsn)[A-Za-z0-9_]*[ \t]*=[ \t]*(?P<q>[\"']?)(?P<v>[^\s\"'#][^\n\"']*?)"
    r"(?P=q)[ \t]*(?:#.*)?$"
)


# The words each marked pattern can start with: ``str.find`` over the lower-cased text finds
# them far faster than the regexes' alternations scanning every position.
_ID_STARTS = ("ssn", "social security", "national ", "nino", "id", "tax ", "tin", "itin", "bsn", "burgerservice",
              "pesel", "nip", "nif", "nie", "dni", "cpf", "cnpj", "curp", "rfc", "aadhaar", "pan", "steuer",
              "personalausweis", "personnummer", "cpr", "henkil", "hetu", "fodsels", "f\u00f8dsels", "kennitala",
              "codice fiscale", "nir", "num\u00e9ro", "numero", "s\u00e9curit\u00e9", "securite", "insee", "sin", "tfn", "ird", "pps",
              "ahv", "avs", "rrn", "tc ", "kimlik", "cnp", "egn", "amka", "rut", "cuit", "nric", "mykad", "emirates",
              "iqama", "sofinummer", "rijksregisternummer")
_PASSPORT_STARTS = ("passport", "reisepass", "passeport", "pasaporte", "passaporto", "paspoort", "pass")
_DOB_STARTS = ("d.o.b", "dob", "date of birth", "date de naissance", "birth", "born", "geboren", "geburtsdatum",
               "n\u00e9 le", "n\u00e9e le", "ne le", "nee le", "fecha de nacimiento", "nacid", "data di nascita", "nato", "nata", "geboortedatum",
               "data de nascimento", "f\u00f8dselsdato", "fodselsdato", "\u751f\u5e74\u6708\u65e5",
               "\u51fa\u751f\u65e5\u671f")
_PLATE_STARTS = ("licen", "number plate", "plate", "vehicle", "car reg", "registration", "reg", "kennzeichen",
                 "immatriculation", "matr\u00edcula", "matricula", "targa", "kenteken", "rekisterinumero", "registreringsnummer")


def _marked(text: str, starts: tuple[str, ...], rx: re.Pattern[str]) -> Iterator[re.Match[str]]:
    """Matches of ``rx`` (which starts with its marker word) tried only where a marker word starts."""
    lower = text.lower()
    if len(lower) != len(text):  # a few characters lower-case to two: scan the plain way
        yield from rx.finditer(text)
        return
    positions: set[int] = set()
    for word in starts:
        # a short word must be whole ("sin", not "since"); longer ones may start a word ("steuer-id")
        whole = len(word) <= 4 and word.isalpha()
        pos = lower.find(word)
        while pos >= 0:
            after = pos + len(word)
            if (pos == 0 or not lower[pos - 1].isalnum()) and not (
                    whole and after < len(lower) and lower[after].isalpha()):
                positions.add(pos)
            pos = lower.find(word, after)
    end = -1
    for pos in sorted(positions):
        if pos < end:
            continue
        m = rx.match(text, pos)
        if m is not None:
            end = m.end()
            yield m


def national_ids(text: str) -> Iterator[Candidate]:
    for m in _SPECIFIC.finditer(text):
        checks = _SPECIFIC_CHECKS[m.lastgroup or ""]
        if any(valid(m.group(0)) for valid in checks):
            yield m.start(), m.end(), "ID"
    for m in _GB_NINO.finditer(text):
        yield m.start(), m.end(), "ID"
    for marker in _marked(text, _ID_STARTS, _ID_MARKER):
        value = _MARKED_VALUE.match(text, marker.end())
        if value is None:
            continue
        raw = value.group(0)
        # marked: any number with enough digits goes (a checksum is not needed when the text says so)
        if sum(ch.isdigit() for ch in raw) >= 5 or any(valid(raw) for valid in _NATIONAL):
            yield value.start(), value.end(), "ID"


def passports(text: str) -> Iterator[Candidate]:
    for m in _marked(text, _PASSPORT_STARTS, _PASSPORT):
        if any(ch.isdigit() for ch in m.group("v")):
            yield m.start("v"), m.end("v"), "ID"


def birth_dates(text: str) -> Iterator[Candidate]:
    for m in _marked(text, _DOB_STARTS, _DOB):
        yield m.start("v"), m.end("v"), "ID"


def plates(text: str) -> Iterator[Candidate]:
    for m in _marked(text, _PLATE_STARTS, _PLATE):
        yield m.start("v"), m.end("v"), "ID"


def wallets(text: str) -> Iterator[Candidate]:
    for m in _BTC.finditer(text):
        if bitcoin.is_valid(m.group(0)):
            yield m.start(), m.end(), "ID"
    for m in _ETH.finditer(text):
        yield m.start(), m.end(), "ID"


def service_secrets(text: str) -> Iterator[Candidate]:
    for m in _SERVICE_TOKENS.finditer(text):
        yield m.start(), m.end(), "SECRET"
    lower = text.lower()
    hinted = "AKIA" in text or "ASIA" in text or ("secret" in lower and ("aws" in lower or "access" in lower))
    hints = [h.start() for h in _AWS_HINT.finditer(text)] if hinted else []
    if hints:
        for m in _AWS_SECRET.finditer(text):
            value = m.group(0)
            mixed = any(c.isdigit() for c in value) and any(c.isupper() for c in value) and any(c.islower() for c in value)
            if mixed and any(abs(m.start() - h) <= 300 for h in hints):
                yield m.start(), m.end(), "SECRET"
    if "://" in text:
        for m in _CONN_PASSWORD.finditer(text):
            if not _REFERENCE.match(m.group("v")):
                yield m.start("v"), m.end("v"), "SECRET"
    for m in _ENV_SECRET.finditer(text) if "=" in text else ():
        value = m.group("v").rstrip()
        if value and value.lower() not in {"true", "false", "none", "null", "changeme", "xxx"} \
                and not _REFERENCE.match(value):
            yield m.start("v"), m.start("v") + len(value), "SECRET"


def all_candidates(text: str) -> Iterator[Candidate]:
    yield from service_secrets(text)
    yield from national_ids(text)
    yield from passports(text)
    yield from birth_dates(text)
    yield from plates(text)
    yield from wallets(text)

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
_GB_NINO = re.compile(r"(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
                      r"[ ]?\d{2}[ ]?\d{2}[ ]?\d{2}[ ]?[A-D](?![A-Za-z0-9])")

# Formats specific enough that a valid checksum alone makes them an identifier.
_SPECIFIC = re.compile(
    r"(?<![\w.\-/])(?<!\d[ .\-])(?:"
    r"\d{3}-\d{2}-\d{4}"                                  # US SSN
    r"|\d{3}\.\d{3}\.\d{3}-\d{2}"                         # BR CPF
    r"|\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}"                   # BR CNPJ
    r"|756\.\d{4}\.\d{4}\.\d{2}"                          # CH AHV
    r"|\d{8}-?[A-Z]|[XYZ]-?\d{7}-?[A-Z]"                  # ES DNI / NIE
    r"|[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]"     # IT codice fiscale
    r"|[A-Z]{4}\d{6}[HM][A-Z]{5}[0-9A-Z]\d"               # MX CURP
    r"|[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z]"               # IN PAN
    r"|\d{4} \d{4} \d{4}"                                 # IN Aadhaar (Verhoeff)
    r"|\d{6}[-+]\d{4}"                                    # SE personnummer / DK CPR
    r"|\d{6}[-+A]\d{3}[0-9A-Y]"                           # FI henkilötunnus
    r"|\d{6}-\d{7}"                                       # KR RRN
    r"|[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}"    # FR NIR
    r"|\d{17}[\dX]"                                       # CN resident id
    r"|\d{3} \d{3} \d{3}"                                 # CA SIN (Luhn)
    r")(?![\w\-/]|[ .\-]\d)"
)
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
    r"(?P<v>(?=[A-Z0-9 \-·]*\d)(?=[A-Z0-9 \-·]*[A-Z])[A-Z0-9]{1,4}(?:[ \-·][A-Z0-9]{1,4}){0,3})(?![A-Za-z0-9])"
)

_BTC = re.compile(r"(?<![A-Za-z0-9])(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|(?i:bc1[02-9ac-hj-np-z]{11,71}))(?![A-Za-z0-9])")
_ETH = re.compile(r"(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")

_SERVICE_TOKENS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
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
_ENV_SECRET = re.compile(
    r"(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z0-9_]*(?i:secret|token|password|passwd|pwd|api_?key|private_?key|"
    r"access_?key|credentials?|auth|salt|dsn)[A-Za-z0-9_]*[ \t]*=[ \t]*(?P<q>[\"']?)(?P<v>[^\s\"'#][^\n\"']*?)"
    r"(?P=q)[ \t]*(?:#.*)?$"
)


def national_ids(text: str) -> Iterator[Candidate]:
    for m in _SPECIFIC.finditer(text):
        compact = m.group(0)
        if any(valid(compact) for valid in _NATIONAL):
            yield m.start(), m.end(), "ID"
    for m in _GB_NINO.finditer(text):
        yield m.start(), m.end(), "ID"
    for marker in _ID_MARKER.finditer(text):
        value = _MARKED_VALUE.match(text, marker.end())
        if value is None:
            continue
        raw = value.group(0)
        # marked: any number with enough digits goes (a checksum is not needed when the text says so)
        if sum(ch.isdigit() for ch in raw) >= 5 or any(valid(raw) for valid in _NATIONAL):
            yield value.start(), value.end(), "ID"


def passports(text: str) -> Iterator[Candidate]:
    for m in _PASSPORT.finditer(text):
        if any(ch.isdigit() for ch in m.group("v")):
            yield m.start("v"), m.end("v"), "ID"


def birth_dates(text: str) -> Iterator[Candidate]:
    for m in _DOB.finditer(text):
        yield m.start("v"), m.end("v"), "ID"


def plates(text: str) -> Iterator[Candidate]:
    for m in _PLATE.finditer(text):
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
    hints = [h.start() for h in _AWS_HINT.finditer(text)]
    if hints:
        for m in _AWS_SECRET.finditer(text):
            value = m.group(0)
            mixed = any(c.isdigit() for c in value) and any(c.isupper() for c in value) and any(c.islower() for c in value)
            if mixed and any(abs(m.start() - h) <= 300 for h in hints):
                yield m.start(), m.end(), "SECRET"
    if "://" in text:
        for m in _CONN_PASSWORD.finditer(text):
            yield m.start("v"), m.end("v"), "SECRET"
    for m in _ENV_SECRET.finditer(text):
        value = m.group("v").rstrip()
        if value and value.lower() not in {"true", "false", "none", "null", "changeme", "xxx"}:
            yield m.start("v"), m.start("v") + len(value), "SECRET"


def all_candidates(text: str) -> Iterator[Candidate]:
    yield from service_secrets(text)
    yield from national_ids(text)
    yield from passports(text)
    yield from birth_dates(text)
    yield from plates(text)
    yield from wallets(text)

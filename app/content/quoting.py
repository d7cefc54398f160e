"""Fold quoted history and signatures out of a mail's text."""

import re
from dataclasses import dataclass

_ON_WROTE = re.compile(r"^\s*(On|Am|Le|El|Il|Op)\s.+(wrote|schrieb|a écrit|escribió|ha scritto|schreef)\s*:\s*$", re.I)
_ON_START = re.compile(r"^\s*(On|Am|Le|El|Il|Op)\s.{4,}", re.I)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|Forwarded message)\s*-{2,}\s*$", re.I)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|Von|De)\s*:\*?\s+\S", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Gesendet|Envoyé|To|An|Subject|Betreff)\s*:", re.I)
_SIG_DASHES = re.compile(r"^--\s?$")
_SIGN_OFF = re.compile(
    r"^\s*(best regards|kind regards|warm regards|regards|best wishes|best|many thanks|"
    r"thanks(?: again| a lot| in advance)?|thank you(?: very much)?|cheers|sincerely|"
    r"yours sincerely|yours truly|br|mit freundlichen grüßen|viele grüße|gruß|"
    r"cordialement|bien à vous|saludos|un saludo|cordiali saluti|met vriendelijke groet)"
    r"\s*[,.!]?\s*$",
    re.I,
)
_MAX_SIGNATURE_LINES = 10


@dataclass(frozen=True, slots=True)
class SplitBody:
    main: str
    quoted_history: str
    signature: str


def _history_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _ORIGINAL.match(line) or _ON_WROTE.match(line):
            return i
        if _ON_START.match(line) and i + 1 < len(lines) and _ON_WROTE.match(line + " " + lines[i + 1]):
            return i
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1 : i + 4]):
            return i
    return None


def _signature_start(lines: list[str]) -> int | None:
    for i in range(len(lines) - 1, -1, -1):
        if _SIG_DASHES.match(lines[i]):
            return i
    tail_from = max(0, len(lines) - _MAX_SIGNATURE_LINES)
    for i in range(len(lines) - 1, tail_from - 1, -1):
        if _SIGN_OFF.match(lines[i]) and i > 0:
            return i
    return None


def split_body(text: str) -> SplitBody:
    """Main text, quoted history ("On ... wrote:", "-----Original Message-----", "> ")
    and signature ("-- ", or a sign-off such as "Best regards," near the end)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    history: list[str] = []
    start = _history_start(lines)
    if start is not None:
        history = lines[start:]
        lines = lines[:start]
    kept: list[str] = []
    quoted: list[str] = []
    for line in lines:
        (quoted if line.lstrip().startswith(">") else kept).append(line)
    history = quoted + ([""] if quoted and history else []) + history
    while kept and not kept[-1].strip():
        kept.pop()
    signature: list[str] = []
    sig = _signature_start(kept)
    if sig is not None:
        signature = kept[sig:]
        kept = kept[:sig]
        if signature and _SIG_DASHES.match(signature[0]):
            signature = signature[1:]
    return SplitBody(
        main="\n".join(kept).strip("\n"),
        quoted_history="\n".join(history).strip("\n"),
        signature="\n".join(signature).strip("\n"),
    )

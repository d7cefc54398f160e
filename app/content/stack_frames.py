"""Recognise stack-trace lines of Python, Java, JavaScript (V8 and Firefox/Safari) and .NET
and normalise frames (no line or column numbers) so that the same failure always gets the
same key, whichever browser wrote it."""

import re

PY_TRACEBACK = "Traceback (most recent call last)"
PY_FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line \d+(?:, in (?P<func>.+))?\s*$')
PY_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")
EXCEPTION_HEAD = re.compile(
    r"(?<![\w$.])(?P<type>(?:[A-Za-z_$][\w$]*\.)*[\w$]*?(?:Exception|Error|Throwable|Fault))"
    r"(?::\s+(?P<msg>.*?)|:)?\s*$"
)
_JAVA_FRAME = re.compile(r"^\s*at\s+(?P<where>[\w$./<>@:-]+?)\((?P<src>[^()]*)\)\s*$")
_DOTNET_FRAME = re.compile(r"^\s*at\s+(?P<where>[^(]+?)\((?P<args>[^)]*)\)(?:\s+in\s+(?P<file>.+?):line\s+\d+)?\s*$")
_JS_FRAME = re.compile(
    r"^\s*at\s+(?:async\s+)?(?:(?P<func>[^(]+?)\s+\((?P<loc1>[^()]+)\)|(?P<loc2>\S+))\s*$"
)
_JS_LOC = re.compile(r":\d+(?::\d+)?$")
# Firefox and Safari: ``handleClick@https://app/static/main.js:2:1234`` (``@url`` when
# anonymous; ``async*f@``, ``f/<@`` for async and inner functions).
_GECKO_FRAME = re.compile(
    r"^\s*(?P<func>(?:global|module|eval) code|[^@\s]*)@(?P<loc>(?:[a-z][\w+.-]*://|/)?\S*?"
    r"\.(?:m?js|cjs|jsx|tsx?|vue|svelte)(?:\?\S*)?):\d+:\d+\s*$"
)
_JAVA_SRC = re.compile(r"\.(?:java|kt|scala|groovy|clj)(?::\d+)?$|^(?:Native Method|Unknown Source)$")
CONTINUATION = re.compile(
    r"^\s*(?:\.\.\. \d+ (?:more|common frames omitted)|--- End of (?:inner exception )?stack trace"
    r"|--- End of stack trace from previous location)"
)
CAUSE = re.compile(
    r"^\s*(?:Caused by:|--->|Suppressed:)\s*(?P<type>(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*)(?::\s*(?P<msg>.*))?$"
)


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path.split("?")[0].rstrip("/\\"))[-1]


def python_frame(line: str) -> str | None:
    match = PY_FRAME.match(line)
    if not match:
        return None
    parts = [p for p in re.split(r"[\\/]", match.group("file")) if p]
    return f"{'/'.join(parts[-2:])}:{(match.group('func') or '?').strip()}"


def classify_frame(line: str) -> tuple[str, str] | None:
    """``(language, normalised frame)`` for a ``   at ...`` line (or a Firefox/Safari
    ``func@url:line:col`` line), or None."""
    stripped = line.lstrip()
    if not stripped.startswith("at "):
        if "@" in stripped and (match := _GECKO_FRAME.match(line)):
            func = match.group("func").rsplit("*", 1)[-1].replace("/<", "").strip("/")
            file = _basename(match.group("loc"))
            return "javascript", f"{func}@{file}" if func else file
        return None
    if match := _JAVA_FRAME.match(line):
        src = match.group("src")
        if _JAVA_SRC.search(src):
            where = match.group("where").split("/")[-1]  # drop java.base/ module prefix
            return "java", where
    if " in " in line and ":line " in line:
        if match := _DOTNET_FRAME.match(line):
            return "dotnet", match.group("where").strip()
    if match := _JS_FRAME.match(line):
        loc = match.group("loc1") or match.group("loc2") or ""
        if _JS_LOC.search(loc):
            func = (match.group("func") or "").strip()
            file = _basename(_JS_LOC.sub("", loc))
            return "javascript", f"{func}@{file}" if func else file
    if match := _DOTNET_FRAME.match(line):
        return "dotnet", match.group("where").strip()
    return None


def language_of_type(exc_type: str) -> str | None:
    if exc_type.startswith(("System.", "Microsoft.")):
        return "dotnet"
    if re.match(r"(?:java|javax|jakarta|org|com|net|io|kotlin|scala)\.", exc_type):
        return "java"
    return None

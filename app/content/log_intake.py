"""Error signatures in logs and pasted text: stack traces (Python, Java, JavaScript,
.NET), HTTP error statuses (also from HAR files) and error codes.

Everything streams: a file is read line by line with bounded memory (at most
``max_signatures`` distinct signatures, each with at most ``max_sample_lines`` sample lines)
and the caller can follow progress and cancel. Line numbers are 1-based; for a HAR file
they are entry numbers (1-based) instead.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from app.content.errors import IntakeCancelled, IntakeError
from app.content.log_lines import CancelCallback, ProgressCallback, iter_lines
from app.content.patterns import ACCESS_LOG, ERROR_CODE, HTTP_STATUS_LINE
from app.content.stack_frames import (
    CAUSE,
    CONTINUATION,
    EXCEPTION_HEAD,
    PY_EXCEPTION,
    PY_TRACEBACK,
    classify_frame,
    language_of_type,
    python_frame,
)

TOP_FRAMES = 3
MAX_TRACE_LINES = 200
MAX_HAR_BYTES = 256 * 1024 * 1024


@dataclass(slots=True)
class Signature:
    kind: str
    """python | java | javascript | dotnet | exception (no frames) | http | error_code"""
    key: str
    """Stable: exception type + top frames without line numbers, status, or code."""
    title: str
    count: int
    first_line: int
    last_line: int
    sample_lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Trace:
    kind: str
    exc_type: str
    message: str
    start: int
    end: int
    frames: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)
    line_count: int = 0


def _normalise_message(message: str) -> str:
    message = re.sub(r"0x[0-9a-fA-F]+", "0x#", message)
    message = re.sub(r"\d+", "#", message)
    message = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", message)
    return message.strip()[:80]


class LogScanner:
    """Feed numbered lines, then read ``signatures()``."""

    def __init__(self, max_signatures: int = 1000, max_sample_lines: int = 20) -> None:
        self.max_signatures = max_signatures
        self.max_sample_lines = max_sample_lines
        self.dropped = 0
        """Occurrences of new signatures not kept because ``max_signatures`` was reached."""
        self.lines = 0
        self._found: dict[str, Signature] = {}
        self._trace: _Trace | None = None
        self._head: tuple[int, str, str, str] | None = None  # line, type, message, text

    # -- recording -------------------------------------------------------------------
    def _record(self, kind: str, key: str, title: str, first: int, last: int, lines: list[str]) -> None:
        sig = self._found.get(key)
        if sig is None:
            if len(self._found) >= self.max_signatures:
                self.dropped += 1
                return
            sample = [line[:500] for line in lines[: self.max_sample_lines]]
            self._found[key] = Signature(kind, key, title[:200], 1, first, last, sample)
        else:
            sig.count += 1
            sig.last_line = max(sig.last_line, last)

    def _finish_trace(self) -> None:
        trace, self._trace = self._trace, None
        if trace is None:
            return
        frames = trace.frames[-TOP_FRAMES:][::-1] if trace.kind == "python" else trace.frames[:TOP_FRAMES]
        key = "|".join([f"{trace.kind}:{trace.exc_type}", *frames])
        title = f"{trace.exc_type}: {trace.message}" if trace.message else trace.exc_type
        if trace.causes:
            title += f" (caused by {trace.causes[-1]})"
        self._record(trace.kind, key, title, trace.start, trace.end, trace.lines)

    def _finish_head(self) -> None:
        head, self._head = self._head, None
        if head is None:
            return
        lineno, exc_type, message, text = head
        kind = "exception"
        key = f"{kind}:{exc_type}:{_normalise_message(message)}"
        title = f"{exc_type}: {message}" if message else exc_type
        self._record(kind, key, title, lineno, lineno, [text])

    # -- feeding ---------------------------------------------------------------------
    def feed(self, lineno: int, line: str) -> None:
        self.lines = max(self.lines, lineno)
        if line.lstrip().startswith("{") and "\\n" in line and len(line) < 1_000_000:
            values = _json_multiline_values(line)
            if values:  # a JSON log record with a stack trace inside: read the trace
                for sub in values:
                    for part in sub.split("\n"):
                        self._feed(lineno, part.rstrip("\r"))
                self._finish_trace()
                self._finish_head()
                return
        self._feed(lineno, line)

    def _feed(self, lineno: int, line: str) -> None:
        if self._trace is not None and self._continue_trace(lineno, line):
            return
        head = self._head
        if head is not None:
            self._head = None
            frame = classify_frame(line)
            if frame is not None:
                lang = language_of_type(head[1]) if frame[0] == "dotnet" else frame[0]
                self._trace = _Trace(lang or frame[0], head[1], head[2], head[0], lineno, [frame[1]], [head[3], line])
                return
            self._head = head
            self._finish_head()
        self._scan_idle(lineno, line)

    def _continue_trace(self, lineno: int, line: str) -> bool:
        """True when ``line`` belongs to the current trace."""
        trace = self._trace
        assert trace is not None
        trace.line_count += 1
        if trace.line_count > MAX_TRACE_LINES:
            self._finish_trace()
            return False
        if trace.kind == "python":
            frame = python_frame(line)
            if frame is not None:
                trace.frames.append(frame)
            elif line[:1].isspace() or not line:
                pass  # source line or caret line under a frame
            else:
                match = PY_EXCEPTION.match(line)
                if match is None:
                    self._finish_trace()
                    return False
                trace.exc_type = match.group("type")
                trace.message = (match.group("msg") or "").strip()
                self._append(trace, lineno, line)
                self._finish_trace()
                return True
            self._append(trace, lineno, line)
            return True
        classified = classify_frame(line)
        if classified is not None:
            if len(trace.frames) < TOP_FRAMES and not trace.causes:
                trace.frames.append(classified[1])
            self._append(trace, lineno, line)
            return True
        cause = CAUSE.match(line)
        if cause is not None:
            trace.causes.append(cause.group("type"))
            self._append(trace, lineno, line)
            return True
        if CONTINUATION.match(line):
            self._append(trace, lineno, line)
            return True
        self._finish_trace()
        return False

    def _append(self, trace: _Trace, lineno: int, line: str) -> None:
        trace.end = lineno
        if len(trace.lines) < self.max_sample_lines:
            trace.lines.append(line)

    def _scan_idle(self, lineno: int, line: str) -> None:
        if PY_TRACEBACK in line:
            self._trace = _Trace("python", "Traceback", "", lineno, lineno, lines=[line])
            return
        if "Error" in line or "Exception" in line or "Throwable" in line or "Fault" in line:
            match = EXCEPTION_HEAD.search(line)
            if match is not None:
                self._head = (lineno, match.group("type"), (match.group("msg") or "").strip(), line)
        if "HTTP/" in line:
            self._scan_http(lineno, line)
        if "0x" in line or "E" in line:
            for code in ERROR_CODE.finditer(line):
                value = code.group(0)
                value = value.upper() if not value.startswith("0x") else "0x" + value[2:].upper()
                self._record("error_code", f"error_code:{value}", f"Error code {value}", lineno, lineno, [line])

    def _scan_http(self, lineno: int, line: str) -> None:
        access = ACCESS_LOG.search(line)
        if access is not None:
            status = int(access.group(3))
            if status >= 400:
                path = _normalise_path(access.group(2))
                key = f"http:{status} {access.group(1)} {path}"
                self._record("http", key, f"HTTP {status} on {access.group(1)} {path}", lineno, lineno, [line])
            return
        match = HTTP_STATUS_LINE.search(line)
        if match is not None and int(match.group(1)) >= 400:
            code = match.group(1)
            reason = (match.group(2) or "").strip()
            self._record("http", f"http:{code}", f"HTTP {code} {reason}".strip(), lineno, lineno, [line])

    def record(self, kind: str, key: str, title: str, lineno: int, lines: list[str]) -> None:
        """Count one occurrence of a signature found by the caller (e.g. a HAR entry)."""
        self._record(kind, key, title, lineno, lineno, lines)

    def close(self) -> None:
        self._finish_trace()
        self._finish_head()

    def signatures(self) -> list[Signature]:
        return sorted(self._found.values(), key=lambda s: (-s.count, s.first_line, s.key))


def _normalise_path(url: str) -> str:
    parts = urlsplit(url)
    path = re.sub(r"/\d+(?=/|$)", "/#", parts.path or "/")
    path = re.sub(r"/[0-9a-fA-F-]{16,}(?=/|$)", "/#", path)
    return f"{parts.netloc}{path}"


def _json_multiline_values(line: str) -> Iterable[str]:
    try:
        value = json.loads(line)
    except ValueError:
        return []
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "\n" in item:
            out.append(item)
    return out


def scan_lines(lines: Iterable[tuple[int, str]], max_signatures: int = 1000) -> list[Signature]:
    scanner = LogScanner(max_signatures=max_signatures)
    for lineno, line in lines:
        scanner.feed(lineno, line)
    scanner.close()
    return scanner.signatures()


def scan_text(text: str, max_signatures: int = 1000) -> list[Signature]:
    """Signatures in pasted text."""
    return scan_lines(enumerate(text.splitlines(), start=1), max_signatures)


def scan_file(
    path: Path,
    *,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCallback | None = None,
    max_signatures: int = 1000,
) -> list[Signature]:
    """Signatures in a ``.log``/``.txt``/``.json``/``.har`` file, read as a stream.

    Raises ``IntakeCancelled`` when ``should_cancel()`` turns true, ``IntakeError`` when the
    file cannot be read or a ``.har`` is not valid HAR JSON."""
    path = Path(path)
    if path.suffix.lower() == ".har":
        return scan_har(path, on_progress=on_progress, should_cancel=should_cancel)
    try:
        with path.open("rb") as stream:
            return scan_lines(iter_lines(stream, on_progress, should_cancel), max_signatures)
    except OSError as exc:
        raise IntakeError(f"cannot read {path.name}: {exc.strerror or exc}") from exc


def scan_har(
    path: Path,
    *,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCallback | None = None,
) -> list[Signature]:
    """HTTP failures in a HAR file: entries with status >= 400, or 0 (no response at all),
    plus stack traces found in the bodies of those responses."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_HAR_BYTES:
            raise IntakeError(f"{path.name} is {size} bytes: HAR files over {MAX_HAR_BYTES} bytes are not read")
        har = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except OSError as exc:
        raise IntakeError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise IntakeError(f"{path.name} is not valid HAR: not JSON ({exc})") from exc
    entries = har.get("log", {}).get("entries") if isinstance(har, dict) else None
    if not isinstance(entries, list):
        raise IntakeError(f"{path.name} is not valid HAR: no log.entries list")
    if on_progress is not None:
        on_progress(size)
    scanner = LogScanner()
    for index, entry in enumerate(entries, start=1):
        if should_cancel is not None and index % 500 == 0 and should_cancel():
            raise IntakeCancelled(f"cancelled at HAR entry {index}")
        if not isinstance(entry, dict):
            continue
        request = entry.get("request") or {}
        response = entry.get("response") or {}
        try:
            status = int(response.get("status", 0))
        except (TypeError, ValueError):
            continue
        if 0 < status < 400:
            continue
        method = str(request.get("method", "GET"))
        url = str(request.get("url", ""))
        reason = str(response.get("statusText") or ("no response" if status == 0 else ""))
        path_key = _normalise_path(url)
        sample = f"{method} {url} -> {status} {reason}".strip()
        title = " ".join(f"HTTP {status} {reason} on {method} {path_key}".split())
        scanner.record("http", f"http:{status} {method} {path_key}", title, index, [sample])
        body = (response.get("content") or {}).get("text")
        if isinstance(body, str) and len(body) < 256 * 1024:
            for line in body.splitlines():
                scanner.feed(index, line)
            scanner.close()
    scanner.close()
    return scanner.signatures()

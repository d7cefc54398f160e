import json
import tracemalloc
from pathlib import Path
from types import ModuleType

import pytest

from app.content.errors import IntakeCancelled, IntakeError
from app.content.log_intake import LogScanner, scan_file, scan_har, scan_text
from app.content.log_lines import context_lines, context_lines_text


def _by_kind(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sig in scan_text(text):
        out.setdefault(sig.kind, []).append(sig.key)
    return out


def test_python_traceback(sample_logs: ModuleType) -> None:
    [sig] = [s for s in scan_text(sample_logs.PYTHON_TRACE) if s.kind == "python"]
    assert sig.key == "python:ValueError|sync/codec.py:encode|httpx/_client.py:post|sync/client.py:_post"
    assert sig.title == "ValueError: bad event 0192f3a1"
    assert (sig.first_line, sig.last_line) == (3, 12)
    assert sig.sample_lines[0].startswith("Traceback") and sig.sample_lines[-1].startswith("ValueError")


def test_java_trace_with_caused_by(sample_logs: ModuleType) -> None:
    [sig] = [s for s in scan_text(sample_logs.JAVA_TRACE) if s.kind == "java"]
    assert sig.key == (
        "java:java.lang.IllegalStateException|com.acme.billing.OrderService.total"
        "|com.acme.billing.OrderController.checkout|jdk.internal.reflect.NativeMethodAccessorImpl.invoke0"
    )
    assert "caused by java.lang.NullPointerException" in sig.title
    assert (sig.first_line, sig.last_line) == (2, 9)


def test_javascript_trace(sample_logs: ModuleType) -> None:
    [sig] = [s for s in scan_text(sample_logs.JS_TRACE) if s.kind == "javascript"]
    assert sig.key == "javascript:TypeError|renderList@List.js|Object.handler@orders.js|layer.js"
    assert sig.title.startswith("TypeError: Cannot read properties of undefined")


def test_firefox_and_chrome_traces_of_one_failure_share_a_signature() -> None:
    chrome = ("TypeError: Cannot read properties of undefined (reading 'map')\n"
              "    at renderList (https://app.example.com/static/js/List.js:10:5)\n"
              "    at async handler (https://app.example.com/static/js/orders.js:44:12)\n"
              "    at https://app.example.com/static/js/layer.js:95:5\n")
    firefox = ("TypeError: can't access property \"map\", e is undefined\n"
               "renderList@https://app.example.com/static/js/List.js:10:17\n"
               "async*handler@https://app.example.com/static/js/orders.js:44:3\n"
               "@https://app.example.com/static/js/layer.js:95:1\n"
               "then the log goes on\n")
    [a] = [s for s in scan_text(chrome) if s.kind == "javascript"]
    [b] = [s for s in scan_text(firefox) if s.kind == "javascript"]
    assert a.key == b.key == "javascript:TypeError|renderList@List.js|handler@orders.js|layer.js"
    assert (b.first_line, b.last_line) == (1, 4)  # the prose line after it is not a frame
    safari = "Error: boom\nglobal code@file:///C:/app/index.js:3:1\n"
    assert [s.key for s in scan_text(safari) if s.kind == "javascript"] == [
        "javascript:Error|global code@index.js"]


def test_an_email_address_with_numbers_is_not_a_frame() -> None:
    from app.content.stack_frames import classify_frame

    assert classify_frame("contact bob@example.com:22:33") is None
    assert classify_frame("see https://example.com/page@v2:1:2") is None


def test_dotnet_trace(sample_logs: ModuleType) -> None:
    [sig] = [s for s in scan_text(sample_logs.DOTNET_TRACE) if s.kind == "dotnet"]
    assert sig.key.startswith("dotnet:System.NullReferenceException|Acme.Helpdesk.CaseService.Save|Acme.Helpdesk.CaseController.Post|")
    assert (sig.first_line, sig.last_line) == (2, 5)


def test_http_and_error_codes(sample_logs: ModuleType) -> None:
    sigs = {s.key: s for s in scan_text(sample_logs.HTTP_AND_CODES)}
    assert sigs["http:503"].title == "HTTP 503 Service Unavailable"
    assert "http:200" not in sigs
    assert sigs["http:404 GET /api/orders/#"].count == 2
    assert sigs["error_code:ERR-1042"].count == 2
    assert (sigs["error_code:ERR-1042"].first_line, sigs["error_code:ERR-1042"].last_line) == (5, 7)
    assert "error_code:0x80070005" in sigs and "error_code:E1234" in sigs


def test_same_failure_same_key_despite_line_numbers(sample_logs: ModuleType) -> None:
    moved = sample_logs.JAVA_TRACE.replace("OrderService.java:42", "OrderService.java:57")
    sigs = [s for s in scan_text(sample_logs.JAVA_TRACE + moved) if s.kind == "java"]
    assert len(sigs) == 1 and sigs[0].count == 2


def test_all_styles_in_one_log(fixture_files: dict[str, Path]) -> None:
    kinds = {s.kind for s in scan_file(fixture_files["all_styles.log"])}
    assert {"python", "java", "javascript", "dotnet", "http", "error_code"} <= kinds


def test_exception_without_frames_and_json_lines() -> None:
    line = json.dumps({"level": "error", "msg": "boom", "stack": "TypeError: x is undefined\n    at f (a.js:1:2)\n    at g (b.js:3:4)"})
    sigs = _by_kind("2024 WARN got java.io.IOException: Broken pipe\n" + line + "\n")
    assert sigs["exception"] == ["exception:java.io.IOException:Broken pipe"]
    assert sigs["javascript"] == ["javascript:TypeError|f@a.js|g@b.js"]


def test_har(fixture_files: dict[str, Path]) -> None:
    sigs = {s.key: s for s in scan_har(fixture_files["session.har"])}
    assert sigs["http:404 GET portal.example.com/api/cases/#/attachments"].count == 2
    assert sigs["http:500 POST portal.example.com/api/cases/#/comments"].first_line == 2
    assert "http:0 GET cdn.example.com/app.js" in sigs
    assert not any(k.startswith("http:200") for k in sigs)
    assert any(k.startswith("dotnet:System.InvalidOperationException") for k in sigs)


def test_bad_har(tmp_path: Path) -> None:
    bad = tmp_path / "x.har"
    bad.write_text("{not json")
    with pytest.raises(IntakeError, match="not valid HAR"):
        scan_file(bad)
    bad.write_text('{"log": {}}')
    with pytest.raises(IntakeError, match="no log.entries"):
        scan_file(bad)


def test_bad_encoding_and_utf16(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"ok\n\xff\xfe\xfa broken ERR-77 \xc3\n")
    [sig] = scan_file(path)
    assert sig.key == "error_code:ERR-77" and "\ufffd" in sig.sample_lines[0]
    path.write_bytes("ok\r\nfailed with ERR-1042\r\n".encode("utf-16"))
    assert [s.key for s in scan_file(path)] == ["error_code:ERR-1042"]


def test_context_lines(tmp_path: Path) -> None:
    text = "\n".join(f"line {i}" for i in range(1, 21))
    path = tmp_path / "c.log"
    path.write_text(text)
    assert context_lines(path, 10, before=2, after=1) == [(8, "line 8"), (9, "line 9"), (10, "line 10"), (11, "line 11")]
    assert context_lines_text(text, 1, before=3, after=1) == [(1, "line 1"), (2, "line 2")]
    assert context_lines(path, 20, before=0, after=5) == [(20, "line 20")]


def test_signature_cap() -> None:
    scanner = LogScanner(max_signatures=5)
    for i in range(50):
        scanner.feed(i + 1, f"failed with ERR-{1000 + i}")
    scanner.close()
    assert len(scanner.signatures()) == 5 and scanner.dropped == 45


def _write_big_log(path: Path, sample_logs: ModuleType, megabytes: int) -> int:
    noise = "".join(
        f"2024-05-02 10:{i % 60:02d}:00,000 INFO  [worker-{i % 8}] processed request id={i} user=u{i} in {i % 97}ms "
        f"path=/api/cases/{i}/comments status=200\n"
        for i in range(6000)
    )
    block = (noise + sample_logs.ALL_STYLES).encode("utf-8")
    with path.open("wb") as out:
        written = 0
        while written < megabytes * 1024 * 1024:
            out.write(block)
            written += len(block)
    return written


def test_big_log_bounded_memory_and_progress(tmp_path: Path, sample_logs: ModuleType) -> None:
    path = tmp_path / "big.log"
    size = _write_big_log(path, sample_logs, 50)
    seen: list[int] = []
    tracemalloc.start()
    try:
        sigs = scan_file(path, on_progress=seen.append)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte log"
    assert seen[-1] == size and seen == sorted(seen) and len(seen) >= 50
    python = [s for s in sigs if s.kind == "python"]
    assert len(python) == 1 and python[0].count > 10
    assert len(python[0].sample_lines) <= 20


def test_big_log_cancellation(tmp_path: Path, sample_logs: ModuleType) -> None:
    path = tmp_path / "big.log"
    _write_big_log(path, sample_logs, 20)
    progress: list[int] = []
    with pytest.raises(IntakeCancelled):
        scan_file(path, on_progress=progress.append, should_cancel=lambda: len(progress) >= 3)
    assert progress[-1] <= 4 * 1024 * 1024  # stopped after about three 1 MiB chunks


def test_very_long_line_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "long.log"
    path.write_bytes(b"x" * (3 * 1024 * 1024) + b" ERR-55 tail\nnext ERR-66\n")
    tracemalloc.start()
    try:
        sigs = scan_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [s.key for s in sigs] == ["error_code:ERR-66"]  # the cut part of line 1 is not read
    assert sigs[0].first_line == 2
    assert peak < 12 * 1024 * 1024

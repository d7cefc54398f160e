"""Intake that never ends or eats memory: the audit's hostile inputs, generated here, each
with a time bound. Each of the audit's six cases hangs, errors or overspends on the code
before the bounds (see the commit that added this file)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text as sql_text

from app.content.email_intake import parse_email_file, parse_eml
from app.content.errors import IntakeError
from app.content.filenames import safe_filename
from app.content.html_text import flatten_deep, html_to_text, sanitize_html
from app.content.mail_limits import MAIL_MAX_BYTES_ENV, MailLimits
from app.content.mime_stream import split_addresses
from app.operations import attachments as att
from app.operations import intake
from app.operations.errors import OperationError
from app.paths import private_dir
from tests.support.stores import Seed

ROOT = Path(__file__).resolve().parents[2]
HEAD = (b"From: Maria Schneider <maria@acme.example>\r\nSubject: Printer down\r\n"
        b"Message-ID: <m-%d@acme.example>\r\nMIME-Version: 1.0\r\n")


@pytest.fixture
def store_seed() -> Seed:
    return Seed(cases=3)


def _tmp_listing(store: Any) -> list[str]:
    tmp = att.data_dir(store) / "blobs" / "tmp"
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")) if tmp.exists() else []


def _case_text(store: Any, key: str) -> str:
    from sqlalchemy import select

    from app.store import schema as s

    def read(conn: Any) -> str:
        rows = conn.execute(select(s.events.c.payload).where(
            s.events.c.type.in_(("case.created", "comment.added")))).all()
        return "\n".join(r.payload for r in rows if key in r.payload or "Printer" in r.payload)

    return store.read(read)  # type: ignore[no-any-return]


# --- 1. 200,000 addresses ---------------------------------------------------------------
@pytest.mark.timeout(30)
def test_200k_addresses_are_cut_to_1000_before_the_address_parser() -> None:
    addresses = ",\r\n ".join(f'"User {i}, Team" <u{i}@example.com>' for i in range(200_000))
    raw = HEAD % 1 + f"To: {addresses}\r\nCc: a@example.com\r\n\r\nhello\r\n".encode()
    started = time.monotonic()
    mail = parse_eml(raw)
    assert time.monotonic() - started < 10
    assert len(mail.to) == 1000
    assert mail.to[0].email == "u0@example.com" and mail.to[0].name == "User 0, Team"
    assert mail.to[-1].email == "u999@example.com"
    assert [m.email for m in mail.cc] == ["a@example.com"]
    assert "the To header was cut at 64.0 KiB" in mail.notes
    assert any(n.startswith("To: only the first 1,000 of ") for n in mail.notes), mail.notes
    assert mail.text_body == "hello"


@pytest.mark.timeout(30)
def test_address_bomb_in_an_attached_mail_is_bounded_too(store: Any, tmp_path: Path) -> None:
    # an attached message's headers are re-folded by the stdlib: they get the same bounds
    bomb = ", ".join(f"u{i}@example.com" for i in range(200_000))
    raw = (HEAD % 2 + b"To: support@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n"
           b"\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee the forwarded mail\r\n--B\r\n"
           b"Content-Type: message/rfc822\r\n\r\nFrom: x@example.com\r\n"
           + f"To: {bomb}\r\nSubject: inner\r\n\r\ninner body\r\n--B--\r\n".encode())
    path = tmp_path / "forward.eml"
    path.write_bytes(raw)
    done = intake.receive_email(store, path)
    assert done.created and len(done.attachment_ids) == 1


# --- 2. 200,000 nested <div> --------------------------------------------------------------
@pytest.mark.timeout(30)
def test_200k_nested_divs_are_flattened_before_nh3() -> None:
    html = "<html><body>" + "<div>" * 200_000 + "deep text" + "</div>" * 200_000 + "</body></html>"
    raw = HEAD % 3 + b"To: s@example.com\r\nContent-Type: text/html\r\n\r\n" + html.encode()
    started = time.monotonic()
    mail = parse_eml(raw)
    assert time.monotonic() - started < 20
    assert mail.text_body == "deep text"
    assert mail.html_body_sanitized.count("<div>") <= 100


def test_flatten_deep_keeps_shallow_html_and_the_text_of_deep_html() -> None:
    shallow = '<div><p>one<p>two<ul><li>a<li>b</ul><img src="cid:x"><br></div>'
    assert flatten_deep(shallow, 3) == shallow
    deep = "<b>" * 10 + "x" + "</b>" * 10 + "<i>after</i>"
    flat = flatten_deep(deep, 3)
    assert flat == "<b><b><b>x</b></b></b><i>after</i>"
    assert html_to_text(sanitize_html("<div>" * 500 + "hi" + "</div>" * 500)) == "hi"
    assert "<!-- <div> -->" in flatten_deep("<div><!-- <div> --></div>", 1)


# --- 3. a 100 MB attachment: memory ----------------------------------------------------------
_MEASURE = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    from app.operations import intake
    from app.store.repo import Store

    store = Store(Path(sys.argv[1]))
    store.set_meta("attachment_max_bytes", str(300 << 20))
    store.set_meta("mail_max_bytes", str(300 << 20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    done = intake.receive_email(store, Path(sys.argv[2]))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store.close()
    print(json.dumps({"grew_kib": after - before, "ids": done.attachment_ids,
                      "skipped": done.skipped}))
""")


@pytest.mark.timeout(60)
def test_a_mail_with_a_100mb_attachment_takes_less_than_3x_its_size(store: Any,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "big.eml"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        out.write(HEAD % 4 + b"To: s@example.com\r\nContent-Type: multipart/mixed; boundary=XX\r\n"
                  b"\r\n--XX\r\nContent-Type: text/plain\r\n\r\nthe dump is attached\r\n--XX\r\n"
                  b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
                  b"Content-Disposition: attachment; filename=core.dump\r\n\r\n")
        for _ in range(134):  # 134 x 768 KiB = 100.5 MiB, base64 in whole 3-byte groups
            chunk = os.urandom(768 * 1024)
            digest.update(chunk)
            out.write(base64.encodebytes(chunk).replace(b"\n", b"\r\n"))
        out.write(b"--XX--\r\n")
    size = path.stat().st_size
    db = Path(store.path)
    store.close()  # the measuring process opens it
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(db), str(path)], env=env,
                          capture_output=True, text=True, timeout=55, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["skipped"] == [] and len(result["ids"]) == 1
    grew = result["grew_kib"] * 1024
    assert grew < 3 * size, f"{grew / 1e6:.0f} MB for a {size / 1e6:.0f} MB mail"
    blob = att.data_dir(store) / "blobs" / digest.hexdigest()[:2] / digest.hexdigest()[2:4]
    assert (blob / digest.hexdigest()).stat().st_size == 134 * 768 * 1024
    assert time.monotonic() - started < 45


# --- 4. a 5,000-character attachment name ------------------------------------------------------
@pytest.mark.timeout(30)
def test_a_5000_character_attachment_name_is_shortened(store: Any, tmp_path: Path) -> None:
    long_name = "Quarterly report " + "x" * 5000 + ".pdf"
    raw = (HEAD % 5 + b"To: s@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
           b"--B\r\nContent-Type: text/plain\r\n\r\nsee the report\r\n--B\r\n"
           b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
           + f'Content-Disposition: attachment; filename="{long_name}"\r\n\r\n'.encode()
           + base64.encodebytes(b"%PDF-1.4 not really a pdf") + b"--B--\r\n")
    path = tmp_path / "long-name.eml"
    path.write_bytes(raw)
    before = _tmp_listing(store)
    done = intake.receive_email(store, path)
    assert done.created
    assert _tmp_listing(store) == before
    names = store.read(lambda c: [r.name for r in c.execute(
        sql_text("select name from attachments"))])
    stored = [n for n in names if n.startswith("Quarterly")]
    assert len(stored) == 1
    assert stored[0].endswith(".pdf") and len(stored[0].encode()) <= 200


def test_safe_filename() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\x\\evil.exe") == "evil.exe"
    assert safe_filename("a\x00b\x07c\r\n.txt") == "abc.txt"
    assert safe_filename("   ") == "attachment"
    assert safe_filename("..") == "attachment"
    long = safe_filename("é" * 300 + ".tar.gz")
    assert long.endswith("….gz") and len(long.encode()) <= 200
    assert safe_filename("y" * 300).startswith("y") and len(safe_filename("y" * 300).encode()) <= 200
    assert safe_filename("report.pdf") == "report.pdf"


# --- 5. a NUL byte ------------------------------------------------------------------------------
@pytest.mark.timeout(30)
def test_nul_bytes_are_removed_not_fatal(store: Any, tmp_path: Path) -> None:
    raw = (b"From: Maria\x00 <maria@acme.example>\r\nTo: s@example.com\r\n"
           b"Subject: Printer\x00 down\r\nMessage-ID: <nul@acme.example>\r\n\r\n"
           b"It shows ERR\x00-1042\r\n")
    mail = parse_eml(raw)
    assert mail.subject == "Printer down" and mail.text_body == "It shows ERR-1042"
    path = tmp_path / "nul.eml"
    path.write_bytes(raw)
    done = intake.receive_email(store, path)
    assert done.created
    text = _case_text(store, done.key)
    assert "ERR-1042" in text and "\\u0000" not in text


# --- 6. a 350 MB paste ----------------------------------------------------------------------------
@pytest.mark.timeout(30)
def test_a_paste_over_the_limit_is_refused_before_it_is_encoded(store: Any) -> None:
    key = store.read(lambda c: c.execute(sql_text(
        "select key from cases limit 1")).scalar())
    text = "log line ERROR 42\n" * (12 * 1024 * 1024 // 18)  # 12 MB: over 10, under 25
    tracemalloc.start()
    try:
        with pytest.raises(OperationError, match=r"over the limit of 10,485,760 bytes"):
            intake.add_text(store, case=key, text=text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # the text was neither encoded nor copied
    assert _tmp_listing(store) == []


def test_the_paste_limit_follows_its_environment_variable(monkeypatch: pytest.MonkeyPatch,
                                                          store: Any) -> None:
    key = store.read(lambda c: c.execute(sql_text(
        "select key from cases limit 1")).scalar())
    monkeypatch.setenv(intake.PASTE_MAX_BYTES_ENV, "1000")
    assert intake.paste_limit() == 1000
    with pytest.raises(OperationError, match="1,000 bytes"):
        intake.add_text(store, case=key, text="é" * 600)  # 600 characters, 1,200 bytes
    intake.add_text(store, case=key, text="fine " * 100)
    monkeypatch.setenv(intake.PASTE_MAX_BYTES_ENV, "junk")
    assert intake.paste_limit() == intake.DEFAULT_MAX_PASTE_BYTES


# --- size cap, header caps, deadline ---------------------------------------------------------------
@pytest.mark.timeout(30)
def test_a_mail_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 store: Any) -> None:
    path = tmp_path / "huge.eml"
    with path.open("wb") as out:
        out.write(HEAD % 6 + b"To: s@example.com\r\n\r\n")
        out.truncate(51 * 1024 * 1024)  # sparse: 51 MB on paper, nothing on disk
    tracemalloc.start()
    try:
        with pytest.raises(IntakeError, match=r"over the limit of 52,428,800 bytes"):
            parse_email_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
    monkeypatch.setenv(MAIL_MAX_BYTES_ENV, "4096")
    with pytest.raises(OperationError, match=r"4,096 bytes.*nothing was imported"):
        intake.receive_email(store, path)
    monkeypatch.delenv(MAIL_MAX_BYTES_ENV)
    store.set_meta(intake.MAIL_MAX_BYTES_META, "2048")
    with pytest.raises(OperationError, match=r"2,048 bytes"):
        intake.receive_email(store, path)


@pytest.mark.timeout(30)
def test_huge_headers_are_cut() -> None:
    raw = (HEAD % 7 + b"To: s@example.com\r\nX-Junk: " + b"j" * (2 * 1024 * 1024) + b"\r\n"
           + b"".join(b"X-Many-%d: " % i + b"v" * 1000 + b"\r\n" for i in range(2000))
           + b"\r\nbody\r\n")
    mail = parse_eml(raw)
    assert mail.subject == "Printer down" and mail.text_body == "body"
    assert "the X-Junk header was cut at 64.0 KiB" in mail.notes
    assert "headers beyond 1.0 MiB were dropped" in mail.notes


def test_a_mail_that_takes_too_long_is_given_up() -> None:
    raw = HEAD % 8 + b"To: s@example.com\r\n\r\n" + b"line\r\n" * 20_000
    with pytest.raises(IntakeError, match="took longer than"):
        parse_eml(raw, limits=MailLimits(max_seconds=1e-9))


def test_split_addresses_respects_quotes_comments_and_brackets() -> None:
    value = b'"Doe, John" <j@x>, (a, comment) k@x, <odd,@x>, "q\\", still" <q@x>,, z@x'
    assert [a.strip() for a in split_addresses(value)] == [
        b'"Doe, John" <j@x>', b"(a, comment) k@x", b"<odd,@x>", b'"q\\", still" <q@x>', b"z@x"]


# --- every error path cleans up -------------------------------------------------------------------
def test_failing_intakes_leave_no_temp_folder(store: Any, tmp_path: Path) -> None:
    key = store.read(lambda c: c.execute(sql_text(
        "select key from cases limit 1")).scalar())
    truncated = tmp_path / "cut.eml"
    truncated.write_bytes(HEAD % 9 + b"To: s@example.com\r\nContent-Type: multipart/mixed; "
                          b"boundary=B\r\n\r\n--B\r\nContent-Transfer-Encoding: base64\r\n"
                          b"Content-Type: image/png\r\n\r\n" + base64.encodebytes(b"x" * 5000))
    private_dir(att.data_dir(store) / "blobs" / "tmp")
    before = _tmp_listing(store)
    with pytest.raises(OperationError, match="nothing was imported"):
        intake.receive_email(store, truncated)
    with pytest.raises(OperationError, match="nothing was attached"):
        att.attach_bytes(store, case=key, data=b"not a pdf", name="x" * 5000 + ".pdf")
    assert _tmp_listing(store) == before == []


def test_a_filesystem_error_becomes_a_clear_intake_error(store: Any, tmp_path: Path) -> None:
    blobs = att.data_dir(store) / "blobs"
    if blobs.exists():
        import shutil

        shutil.rmtree(blobs)
    blobs.write_text("a file where the blob folder should be")
    path = tmp_path / "ok.eml"
    path.write_bytes(HEAD % 10 + b"To: s@example.com\r\n\r\nhello\r\n")
    with pytest.raises(OperationError, match="cannot make a temporary folder"):
        intake.receive_email(store, path)
    key = store.read(lambda c: c.execute(sql_text(
        "select key from cases limit 1")).scalar())
    with pytest.raises(OperationError, match="cannot make a temporary folder"):
        att.attach_bytes(store, case=key, data=b"hello", name="hello.txt")

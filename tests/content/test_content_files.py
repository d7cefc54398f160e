import os
from pathlib import Path
from types import ModuleType

import pytest

from app.content.attachments import BlobStore
from app.content.dispatch import intake_file
from app.content.entities import extract_entities
from app.content.errors import AttachmentTooLarge, IntakeError
from app.content.pdf_intake import extract_pdf_text
from app.content.sniff import guess_mime


def test_blob_store_put_file_is_content_addressed(tmp_path: Path, make: ModuleType) -> None:
    store = BlobStore(tmp_path / "blobs")
    src = tmp_path / "invoice.pdf"
    src.write_bytes(make.text_pdf())
    info = store.put_file(src)
    assert info.size == src.stat().st_size and info.mime == "application/pdf" and info.name == "invoice.pdf"
    assert store.has(info.sha256)
    path = store.path_for(info.sha256)
    assert path.read_bytes() == src.read_bytes()
    assert path.relative_to(tmp_path / "blobs").parts[:2] == (info.sha256[:2], info.sha256[2:4])
    mtime = path.stat().st_mtime_ns
    again = store.put_bytes(src.read_bytes(), "copy.bin")
    assert again.sha256 == info.sha256 and path.stat().st_mtime_ns == mtime
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []  # no temp files left behind
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert files == [path]


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (b"\x89PNG\r\n\x1a\nrest", "noext", "image/png"),
        (b"\xff\xd8\xff\xe0rest", "photo.bin", "image/jpeg"),
        (b"GIF89arest", "x", "image/gif"),
        (b"%PDF-1.7\n", "scan", "application/pdf"),
        (b"PK\x03\x04rest", "logs", "application/zip"),
        (b"PK\x03\x04rest", "report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (b"Received: from x\r\nFrom: a@b\r\n", "forwarded", "message/rfc822"),
        (b"plain words", "notes.txt", "text/plain"),
        (b"\x00\x01", "blob", "application/octet-stream"),
    ],
)
def test_mime_sniffing(data: bytes, name: str, mime: str) -> None:
    assert guess_mime(name, data) == mime


def test_blob_store_refuses_large(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=1000)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(AttachmentTooLarge, match=r"1001 bytes.*limit of 1000 bytes"):
        store.put_file(big)
    with pytest.raises(AttachmentTooLarge, match="1001 bytes"):
        store.put_bytes(b"x" * 1001, "b.bin")
    assert store.put_bytes(b"x" * 1000, "ok.bin").size == 1000
    assert not store.has("0" * 64) and not store.has("nothex")
    with pytest.raises(ValueError):
        store.path_for("../../etc/passwd")


def test_blob_store_leaves_no_temp_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = BlobStore(tmp_path / "s")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.put_bytes(b"data", "d.txt")
    assert list((tmp_path / "s" / "tmp").iterdir()) == []
    assert not store.has("3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7")


def test_pdf_text(fixture_files: dict[str, Path]) -> None:
    pdf = extract_pdf_text(fixture_files["text.pdf"])
    assert pdf.page_count == 1
    assert "Invoice INV-2024-0042" in pdf.text and "ERR-1042" in pdf.text


@pytest.mark.parametrize(("name", "message"), [("not_a_pdf.pdf", "not a PDF"), ("encrypted.pdf", "encrypted")])
def test_pdf_errors(fixture_files: dict[str, Path], name: str, message: str) -> None:
    with pytest.raises(IntakeError, match=message):
        extract_pdf_text(fixture_files[name])


def test_corrupt_pdf(tmp_path: Path, make: ModuleType) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF")
    with pytest.raises(IntakeError, match="corrupt PDF"):
        extract_pdf_text(bad)


def test_entities() -> None:
    text = (
        "Contact Maria.Schneider@acme-corp.com or maria.schneider@ACME-corp.com, see https://portal.example.com/cases/1042?tab=log). "
        "Error ERR-1042 and 0x80070005 on v2.3.1; also version 4.10 and Version 4.10. "
        "Order ORD-123456, order #12345, invoice INV-2024-0042 and Order number: 777123. ORD-123456 again."
    )
    e = extract_entities(text)
    assert e.emails == ["Maria.Schneider@acme-corp.com"]
    assert e.urls == ["https://portal.example.com/cases/1042?tab=log"]
    assert e.error_codes == ["ERR-1042", "0x80070005"]
    assert e.versions == ["2.3.1", "4.10"]
    assert e.orders == ["ORD-123456", "#12345", "#777123"]
    assert e.invoices == ["INV-2024-0042"]


def test_dispatch(fixture_files: dict[str, Path], tmp_path: Path) -> None:
    mail = intake_file(fixture_files["multipart.eml"])
    assert mail.kind == "email" and mail.email is not None and "ERR-1042" in mail.entities.error_codes
    assert mail.notes  # attachments are listed, not read recursively
    msg = intake_file(fixture_files["outlook.msg"])
    assert msg.kind == "email" and "0x80070005" in msg.entities.error_codes
    pdf = intake_file(fixture_files["text.pdf"])
    assert pdf.kind == "pdf" and pdf.entities.invoices == ["INV-2024-0042"]
    log = intake_file(fixture_files["all_styles.log"])
    assert log.kind == "log" and {"python", "java"} <= {s.kind for s in log.signatures}
    har = intake_file(fixture_files["session.har"])
    assert har.kind == "har" and any(s.key.startswith("http:500") for s in har.signatures)
    unnamed = tmp_path / "download"
    unnamed.write_bytes(fixture_files["text.pdf"].read_bytes())
    assert intake_file(unnamed).kind == "pdf"
    mail_noext = tmp_path / "mail"
    mail_noext.write_bytes(fixture_files["reply.eml"].read_bytes())
    assert intake_file(mail_noext).kind == "email"
    with pytest.raises(IntakeError, match="not a PDF"):
        intake_file(fixture_files["not_a_pdf.pdf"])
    binary = tmp_path / "blob.dat"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(IntakeError, match="not supported"):
        intake_file(binary)
    with pytest.raises(IntakeError, match="cannot read"):
        intake_file(tmp_path / "missing.log")

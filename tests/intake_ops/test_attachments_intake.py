"""Attachments, e-mail import and pasted text on a real seeded store."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from app.operations import attachments as att
from app.operations import intake
from app.operations.errors import NotFound, OperationError
from app.store import intake_queries as iq
from app.store import queries as q
from app.store import schema as s
from tests.intake_ops.conftest import case_id, snapshot


def blobs(data_dir: Path) -> list[Path]:
    root = data_dir / "blobs"
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "tmp"]


def test_attach_stores_blob_records_event_and_signatures(store: Any, files: dict[str, Path],
                                                         data_dir: Path) -> None:
    aid, changes = att.attach(store, case="SUP-3", path=files["all_styles.log"])
    cid = case_id(store, "SUP-3")
    assert changes.case_ids == {cid} and changes.event_ids == [aid]
    rows = store.read(lambda c: iq.case_attachments(c, cid))
    assert [(r["name"], r["kind"]) for r in rows] == [("all_styles.log", "log")]
    assert rows[0]["size"] == files["all_styles.log"].stat().st_size
    assert len(blobs(data_dir)) == 1
    sigs = store.read(lambda c: iq.case_signatures(c, cid))
    keys = {sig["key"] for sig in sigs}
    assert "error_code:ERR-1042" in keys
    assert any(k.startswith("java:java.lang.IllegalStateException") for k in keys)
    err = next(sig for sig in sigs if sig["key"] == "error_code:ERR-1042")
    assert err["count"] == 2 and err["attachment"] == "all_styles.log"
    history = store.read(lambda c: q.case_history(c, cid))
    assert history[-1]["type"] == "attachment.added"
    assert history[-1]["payload"]["sha256"] == rows[0]["sha256"]


def test_identical_content_is_stored_once(store: Any, files: dict[str, Path], data_dir: Path,
                                          tmp_path: Path) -> None:
    aid, _ = att.attach(store, case="SUP-3", path=files["all_styles.log"])
    again, changes = att.attach(store, case="SUP-3", path=files["all_styles.log"])
    assert again == aid and not changes.event_ids  # same case: nothing new
    copy = tmp_path / "copy-of-the-log.txt"
    copy.write_bytes(files["all_styles.log"].read_bytes())
    other, changes = att.attach(store, case="SUP-4", path=copy)
    assert other != aid and changes.event_ids
    assert len(blobs(data_dir)) == 1  # one blob for both cases
    extracted = store.read(lambda c: c.execute(select(s.extracted.c.sha256)).all())
    assert len(extracted) == 1


def test_size_limit_refusal_writes_nothing(store: Any, tmp_path: Path, data_dir: Path) -> None:
    store.set_meta(att.MAX_BYTES_META, "1000")
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * 1001)
    before = snapshot(store)
    with pytest.raises(OperationError, match="over the limit of 1000 bytes"):
        att.attach(store, case="SUP-3", path=big)
    with pytest.raises(OperationError, match="over the limit"):
        att.attach_bytes(store, case="SUP-3", data=b"y" * 2000, name="shot.png")
    assert snapshot(store) == before
    assert blobs(data_dir) == []


def test_a_2_gb_log_is_refused_at_once(store: Any, tmp_path: Path, data_dir: Path) -> None:
    huge = tmp_path / "huge.log"
    with huge.open("wb") as f:  # sparse: no 2 GB written to the test disk
        f.truncate(2 * 1024**3)
    before = snapshot(store)
    with pytest.raises(OperationError, match=r"2\.0 GiB.*nothing was attached"):
        att.attach(store, case="SUP-3", path=huge)
    assert snapshot(store) == before and blobs(data_dir) == []


def test_not_a_pdf_is_refused_unless_forced(store: Any, files: dict[str, Path],
                                            data_dir: Path) -> None:
    before = snapshot(store)
    with pytest.raises(OperationError, match="not a PDF file.*--force"):
        att.attach(store, case="SUP-3", path=files["not_a_pdf.pdf"])
    assert snapshot(store) == before and blobs(data_dir) == []
    aid, _ = att.attach(store, case="SUP-3", path=files["not_a_pdf.pdf"], force=True)
    rows = store.read(lambda c: iq.case_attachments(c, case_id(store, "SUP-3")))
    assert rows[0]["id"] == aid and "not a PDF" in rows[0]["error"]


def test_pdf_and_pasted_screenshot(store: Any, files: dict[str, Path], make: ModuleType) -> None:
    att.attach(store, case="SUP-5", path=files["text.pdf"])
    shot_id, _ = att.attach_bytes(store, case="SUP-5", data=make.PNG_1PX, name="screenshot.png")
    cid = case_id(store, "SUP-5")
    rows = {r["name"]: r for r in store.read(lambda c: iq.case_attachments(c, cid))}
    assert rows["screenshot.png"]["mime"] == "image/png"
    assert rows["text.pdf"]["kind"] == "pdf"
    entities = store.read(lambda c: iq.case_entities(c, cid))
    assert "INV-2024-0042" in entities["invoices"] and "2.3.1" in entities["versions"]
    path = att.open_path(store, rows["screenshot.png"]["sha256"], "screenshot.png")
    assert path.name == "screenshot.png" and path.read_bytes() == make.PNG_1PX
    with pytest.raises(NotFound):
        att.open_path(store, "0" * 64)


def test_remove_updates_signatures(store: Any, files: dict[str, Path]) -> None:
    aid, _ = att.attach(store, case="SUP-3", path=files["all_styles.log"])
    cid = case_id(store, "SUP-3")
    assert store.read(lambda c: iq.case_signatures(c, cid))
    att.remove(store, case="SUP-3", attachment_id=aid)
    assert store.read(lambda c: iq.case_attachments(c, cid)) == []
    assert store.read(lambda c: iq.case_signatures(c, cid)) == []
    with pytest.raises(NotFound):
        att.remove(store, case="SUP-3", attachment_id=aid)


def test_related_cases_by_signature(store: Any, files: dict[str, Path], tmp_path: Path) -> None:
    att.attach(store, case="SUP-3", path=files["all_styles.log"])
    for key in ("SUP-4", "SUP-6"):
        intake.add_text(store, case=key, text="10:00 sync failed with ERR-1042\n"
                                              "10:01 retry failed with ERR-1042\n")
    cid = case_id(store, "SUP-3")
    groups = store.read(lambda c: iq.related_by_signature(c, cid))
    err = next(g for g in groups if g["key"] == "error_code:ERR-1042")
    assert err["total"] == 2
    assert {o["key"] for o in err["cases"]} == {"SUP-4", "SUP-6"}
    assert err["summary"].startswith("2 other cases show ERR-1042")
    ids = [case_id(store, k) for k in ("SUP-4", "SUP-6")]
    products = {store.read(lambda c, i=i: q.case_detail(c, i))["product"] for i in ids}
    assert set(err["products"]) == products
    assert all(p in err["summary"] for p in products)  # "... on DataFlow" / "on A and B"
    by_case = store.read(lambda c: iq.related_cases(c, cid))
    assert {o["key"] for o in by_case} == {"SUP-4", "SUP-6"}
    # the context lines of a signature come from the blob
    sig = next(x for x in store.read(lambda c: iq.case_signatures(c, cid))
               if x["key"] == "error_code:ERR-1042")
    lines = iq.signature_context(store.path.parent, sig["sha256"], sig["first_line"], radius=1)
    assert [n for n, _ in lines] == [sig["first_line"] - 1, sig["first_line"],
                                     sig["first_line"] + 1]
    assert "ERR-1042" in dict(lines)[sig["first_line"]]


def test_add_text_refuses_empty(store: Any) -> None:
    with pytest.raises(OperationError):
        intake.add_text(store, case="SUP-3", text="   \n")


# --- e-mail -----------------------------------------------------------------------------
def test_import_email_creates_a_case(store: Any, files: dict[str, Path]) -> None:
    key, created = intake.import_email(store, files["multipart.eml"])  # SUP-1042: not here
    assert created
    cid = case_id(store, key)
    d = store.read(lambda c: q.case_detail(c, cid))
    assert d["subject"] == "[SUP-1042] Printer down on floor 3"
    assert d["requester"]["email"] == "maria.schneider@acme-corp.com"
    assert d["requester"]["name"] == "Maria Schneider"
    assert "still shows ERR-1042" in d["description"]
    main, sections = intake.fold_sections(d["description"])
    assert "Best regards" not in main and ("Signature", "Best regards,\nMaria") in sections
    names = sorted(r["name"] for r in store.read(lambda c: iq.case_attachments(c, cid)))
    assert names == ["invoice INV-2024-0042.pdf", "screenshot.png"]  # inline image too
    assert "INV-2024-0042" in store.read(lambda c: iq.case_entities(c, cid))["invoices"]
    # the same message again changes nothing
    before = snapshot(store)
    assert intake.import_email(store, files["multipart.eml"]) == (key, False)
    assert snapshot(store) == before


def test_import_email_adds_a_customer_comment_by_subject_key(store: Any, make: ModuleType,
                                                             tmp_path: Path) -> None:
    mail = tmp_path / "reply.eml"
    mail.write_bytes(make.multipart_alternative_eml().replace(b"[SUP-1042]", b"[SUP-7]"))
    before = store.read(lambda c: q.case_detail(c, case_id(store, "SUP-7")))
    key, created = intake.import_email(store, mail)
    assert (key, created) == ("SUP-7", False)
    d = store.read(lambda c: q.case_detail(c, case_id(store, "SUP-7")))
    assert len(d["comments"]) == len(before["comments"]) + 1
    last = d["comments"][-1]
    assert last["author"] == "maria.schneider@acme-corp.com"
    assert last["author_kind"] == "customer" and not last["internal"]
    assert last["author_name"] == "Maria Schneider"  # created in the directory
    atts = store.read(lambda c: iq.case_attachments(c, d["id"]))
    assert {a["comment_id"] for a in atts} == {last["id"]}


def test_import_email_by_thread_header(store: Any, make: ModuleType, tmp_path: Path) -> None:
    mail = tmp_path / "thread.eml"
    mail.write_bytes(make.reply_eml().replace(b"case-SUP-1042.", b"case-SUP-8."))
    assert intake.import_email(store, mail) == ("SUP-8", False)
    d = store.read(lambda c: q.case_detail(c, case_id(store, "SUP-8")))
    body = d["comments"][-1]["body"]
    main, sections = intake.fold_sections(body)
    assert main.startswith("Hi,") and "still fails" in main
    titles = [t for t, _ in sections]
    assert "Signature" in titles and any(t.startswith("Quoted history") for t in titles)
    assert "Could you restart the printer" in dict(sections)[titles[-1]]
    if before_status := {"pending", "solved"} & {d["status"]}:
        pytest.fail(f"a customer reply should reopen the case, not leave it {before_status}")


def test_import_outlook_msg(store: Any, files: dict[str, Path]) -> None:
    key, created = intake.import_email(store, files["outlook.msg"])
    assert created
    cid = case_id(store, key)
    names = [r["name"] for r in store.read(lambda c: iq.case_attachments(c, cid))]
    assert names == ["vpn.log"]


@pytest.mark.parametrize("name", ["truncated.eml", "not_a_pdf.pdf"])
def test_malformed_email_writes_nothing(store: Any, files: dict[str, Path], data_dir: Path,
                                        name: str) -> None:
    before = snapshot(store)
    with pytest.raises(OperationError, match="nothing was imported"):
        intake.import_email(store, files[name])
    assert snapshot(store) == before and blobs(data_dir) == []


def test_redaction_maps_are_owner_only(store: Any) -> None:
    from app.operations import llm

    built = llm.build(store, case="SUP-3", template="summarize")
    path = llm.maps_dir(store) / f"{built.sha256}.json"
    assert path.is_file()
    if os.name == "posix":
        assert path.stat().st_mode & 0o077 == 0
    assert json.loads(path.read_text())["template"] == "summarize"


def test_prompt_redacts_the_customers_organization(store: Any) -> None:
    from app.operations import llm
    from app.store import queries as q

    detail = store.read(lambda c: q.case_detail(c, q.resolve_case(c, "SUP-3")))
    org = (detail["organization"] or {}).get("name")
    assert org  # demo cases have one
    built = llm.build(store, case="SUP-3", template="summarize")
    assert org.lower() not in built.text.lower()
    placeholder = next(p for p, v in built.redaction_map.items() if v == org)
    assert placeholder.startswith("[ORG_") and placeholder in built.text
    assert any(s.kind == "ORG" for s in built.spans)

"""Bulk import from JSON Lines and CSV: all-or-nothing per case, errors by line number."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from app.search.service import SearchService
from app.store import schema as s
from app.store.importer import import_file
from app.store.repo import Store, dump_projections
from tests.search.conftest import CORPUS, ME, write_jsonl


def _count(store: Store, table: s.Table) -> int:
    return int(store.read(lambda c: c.execute(select(func.count()).select_from(table)).scalar()))


def test_jsonl_happy_path_builds_directory_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    ticks: list[tuple[int, int]] = []
    report = import_file(store, write_jsonl(tmp_path / "in.jsonl", CORPUS),
                         progress=lambda d, t: ticks.append((d, t)), batch=4)
    assert (report.imported, report.skipped, report.errors) == (10, 0, [])
    assert ticks[-1] == (10, 10) and len(ticks) == 3
    assert _count(store, s.cases) == 10
    assert _count(store, s.comments) == 7
    # Ana Silva and Farid Haddad and Grace Kim appear twice: one customer each
    assert _count(store, s.customers) == 7
    assert _count(store, s.organizations) == 7
    keys = store.read(lambda c: [r[0] for r in c.execute(select(s.cases.c.key))])
    assert sorted(keys) == sorted(f"{store.device_code}-{n}" for n in range(1, 11))
    # the projections written by the import equal a fold of the log
    before = store.read(dump_projections)
    store.rebuild()
    assert store.read(dump_projections) == before
    # a second import reuses the directory records and continues the key counter
    import_file(store, write_jsonl(tmp_path / "again.jsonl", CORPUS[:1]))
    assert _count(store, s.customers) == 7
    assert f"{store.device_code}-11" in store.read(
        lambda c: [r[0] for r in c.execute(select(s.cases.c.key))])


def test_comment_details_are_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    import_file(store, write_jsonl(tmp_path / "in.jsonl", [CORPUS[1]]))
    rows = store.read(lambda c: c.execute(
        select(s.comments.c.author, s.comments.c.internal, s.comments.c.author_kind,
               s.comments.c.created_ms).order_by(s.comments.c.created_ms)).all())
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("ben@globex.example", False, "customer"), ("jo@support.example", True, "agent")]
    ten = int(datetime(2026, 1, 15, 10, tzinfo=UTC).timestamp() * 1000)
    assert rows[0][3] == ten
    case = store.read(lambda c: c.execute(select(s.cases)).first())
    assert case.created_ms == ten - 3_600_000
    assert case.updated_ms == ten + 2 * 3_600_000
    assert (case.status, case.priority, case.tags) == ("new", "urgent", "bug sync")


def test_bad_lines_are_reported_and_nothing_is_half_imported(tmp_path: Path) -> None:
    good = {"subject": "Fine", "requester": {"name": "X", "email": "x@y.example"}}
    lines = [
        json.dumps(good),                                              # 1
        "{not json",                                                   # 2
        json.dumps({"description": "no subject"}),                     # 3
        "",                                                            # 4 (blank: skipped)
        json.dumps({**good, "status": "sleeping"}),                    # 5
        json.dumps({**good, "comments": [{"body": "ok"}, {"body": ""}]}),  # 6
        json.dumps({"subject": "New person", "organization": "Newco",
                    "requester": {"email": "not-an-email"}}),          # 7
        json.dumps({**good, "tags": ["Bad Tag!"]}),                    # 8
        json.dumps({**good, "created_at": "yesterday"}),               # 9
        json.dumps(["a list"]),                                        # 10
        json.dumps({**good, "subject": "Second fine", "comments": [{"body": "hi"}]}),  # 11
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    store = Store(tmp_path / "store.db")
    report = import_file(store, path)
    assert report.imported == 2 and report.skipped == 8
    assert [no for no, _ in report.errors] == [2, 3, 5, 6, 7, 8, 9, 10]
    messages = dict(report.errors)
    assert "not valid JSON" in messages[2]
    assert "subject" in messages[3]
    assert "sleeping" in messages[5]
    assert "comment 2" in messages[6]
    assert "email" in messages[7]
    assert "tag" in messages[8]
    assert "date" in messages[9]
    # nothing of the bad lines exists: no comment of line 6, no organization of line 7
    assert _count(store, s.cases) == 2
    assert _count(store, s.comments) == 1
    assert _count(store, s.organizations) == 0
    assert _count(store, s.customers) == 1


def test_csv_with_tags_and_comments_column(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["subject", "description", "status", "priority", "requester_name",
                    "requester_email", "organization", "product", "tags", "created_at",
                    "comments"])
        w.writerow(["Scanner jams", "Paper\nstuck", "open", "high", "Ana Silva",
                    "ana@acme.example", "Acme", "PrintHub", "vip;hardware",
                    "2026-01-02T10:00:00Z",
                    json.dumps([{"author": "ana@acme.example", "body": "Any news on the "
                                 "scanner?", "created_at": "2026-01-03T10:00:00Z"}])])
        w.writerow(["", "no subject", "", "", "", "", "", "", "", "", ""])
        w.writerow(["Second", "", "", "", "", "", "", "", "a,b", "", "[broken"])
        w.writerow(["Third", "", "solved", "", "Ana Silva", "ana@acme.example", "", "", "",
                    "", ""])
    store = Store(tmp_path / "store.db")
    store.set_actor(ME)
    report = import_file(store, path)
    assert report.imported == 2
    assert [no for no, _ in report.errors] == [4, 5]  # the first row spans lines 2-3
    svc = SearchService(tmp_path, store, procs=1)
    svc.ensure_index()
    hit = svc.search("tag:vip tag:hardware scanner", me=ME).hits
    assert [h["subject"] for h in hit] == ["Scanner jams"]
    assert svc.search("requester:ana@acme.example", me=ME).total == 2
    assert svc.search("org:acme", me=ME).total == 2  # Third inherits Ana's organization
    svc.close()


def test_cancel_stops_between_batches(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    records = [{"subject": f"Case {i}"} for i in range(10)]
    report = import_file(store, write_jsonl(tmp_path / "in.jsonl", records), batch=3,
                         cancel=lambda: True)
    assert report.cancelled and report.imported == 3
    assert _count(store, s.cases) == 3

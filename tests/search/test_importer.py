"""Bulk import from JSON Lines and CSV: all-or-nothing per case, errors by line number."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.search.service import SearchService
from app.store import schema as s
from app.store.importer import import_file
from app.store.repo import Store, dump_projections
from tests.search.conftest import CORPUS, ME, OTHER, write_jsonl


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
    # a second import reuses the directory records and continues the key counter; the
    # line imported before is recognised and not added again
    again = import_file(store, write_jsonl(tmp_path / "again.jsonl", [
        CORPUS[0], {**CORPUS[0], "subject": "A new one from Ana"}]))
    assert (again.imported, again.already, again.skipped) == (1, 1, 0)
    assert _count(store, s.customers) == 7
    assert _count(store, s.cases) == 11
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


TEAM = "team-support"


def _events(store: Store) -> list[tuple[str, str, str | None, dict[str, object]]]:
    return store.read(lambda c: [(r.type, r.actor, r.team_id, json.loads(r.payload))
                                 for r in c.execute(select(s.events).order_by(s.events.c.seq))])


def test_signed_in_import_is_the_agents_in_the_default_team(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    store.set_actor(ME)
    store.set_meta("default_team", TEAM)
    import_file(store, write_jsonl(tmp_path / "in.jsonl", CORPUS))
    events = _events(store)
    # the server stores only the signed-in user's events, each in one of their teams
    assert {actor for _, actor, _, _ in events} == {ME}
    assert {team for _, _, team, _ in events} == {TEAM}
    created = [p for t, _, _, p in events if t == "case.created"]
    assert {p["fields"]["team_id"] for p in created} == {TEAM}  # type: ignore[index]
    # who wrote it is kept in the payload, and a comment shows its real author
    assert "ben@globex.example" in {p.get("author") for p in created}
    rows = store.read(lambda c: set(c.execute(select(s.comments.c.author,
                                                     s.comments.c.author_kind)).all()))
    assert ("ben@globex.example", "customer") in rows and (OTHER, "agent") in rows


def _legacy_import(store: Store) -> str:
    """An event as the old importer wrote it: authored by the customer, refused by the server."""
    from app.core import events as ev
    from app.core.hlc import Timestamp
    from app.core.ids import uuid7
    from app.store.projector import apply_events, event_row

    case_id = store.read(lambda c: c.execute(select(s.cases.c.id)).scalars().first())
    assert case_id
    e = ev.Event(id=uuid7(), type="comment.added", payload={
        "body": "legacy", "internal": False, "author_kind": "customer"},
        actor="old@customer.example", device_id=store.device_id,
        hlc=Timestamp(1_750_000_000_000, 7).encode(), case_id=case_id)
    # a creation with no team field at all, then an edit: the team lands where a rebuild puts it
    other = uuid7()
    bare = [ev.Event(id=uuid7(), type="case.created", payload={
        "fields": {"subject": "No team field", "key": f"{store.device_code}-900"}, "tags": []},
        actor="old@customer.example", device_id=store.device_id,
        hlc=Timestamp(1_750_000_000_000, 8).encode(), case_id=other),
        ev.Event(id=uuid7(), type="case.updated", payload={
            "field": "priority", "value": "high", "prev": "normal"}, actor="me@localhost",
            device_id=store.device_id, hlc=Timestamp(1_750_000_000_000, 9).encode(),
            case_id=other)]

    def tx(conn: object) -> None:
        conn.execute(s.events.insert(), [event_row(x) for x in [e, *bare]])  # type: ignore[attr-defined]
        apply_events(conn, [e, *bare])  # type: ignore[arg-type]
        conn.execute(s.events.update().where(s.events.c.id == e.id)  # type: ignore[attr-defined]
                     .values(sync_error="actor must be the signed-in user"))

    store.write(tx)
    return e.id


def test_first_sign_in_rewrites_unsent_work_and_keeps_projections_a_fold(
        tmp_path: Path) -> None:
    from app.operations import cases as ops

    store = Store(tmp_path / "store.db")
    import_file(store, write_jsonl(tmp_path / "in.jsonl", CORPUS))
    case_id, key, _ = ops.create_case(store, subject="Typed before signing in")
    ops.comment(store, case=key, body="my own reply")
    legacy = _legacy_import(store)
    count = len(_events(store))
    store.set_actor(ME)
    store.adopt_teamless(TEAM, actor=ME, first_sign_in=True)
    events = _events(store)
    assert len(events) == count  # the team went into the events: no extra updates
    assert {actor for _, actor, _, _ in events} == {ME}
    assert {team for _, _, team, _ in events} == {TEAM}
    assert all(p["fields"]["team_id"] == TEAM  # type: ignore[index]
               for t, _, _, p in events if t == "case.created")
    assert store.read(lambda c: set(c.execute(select(s.cases.c.team_id)).scalars())) == {TEAM}
    authors = dict(store.read(lambda c: c.execute(
        select(s.comments.c.body, s.comments.c.author)).all()))
    assert authors["We restarted twice, file log attached."] == "ben@globex.example"
    assert authors["my own reply"] == ME  # typed by the agent before signing in
    assert authors["legacy"] == "old@customer.example"
    legacy_row = store.read(lambda c: c.execute(
        select(s.events).where(s.events.c.id == legacy)).one())
    assert legacy_row.sync_error is None  # refused for its actor: it goes again
    assert json.loads(legacy_row.payload)["offline_actor"] == "old@customer.example"
    state = store.read(dump_projections)
    store.rebuild()
    assert store.read(dump_projections) == state


def test_later_sign_in_rewrites_only_the_placeholders_work(tmp_path: Path) -> None:
    from app.operations import cases as ops

    store = Store(tmp_path / "store.db")
    store.set_actor("first@support.example")
    ops.create_case(store, subject="By the first agent")
    store.set_actor("me@localhost")
    ops.create_case(store, subject="Before signing in")
    store.set_actor(ME)
    store.adopt_teamless(TEAM, actor=ME)
    actors = {p["fields"]["subject"]: a  # type: ignore[index]
              for t, a, _, p in _events(store) if t == "case.created"}
    assert actors == {"By the first agent": "first@support.example", "Before signing in": ME}


def test_rerun_and_edited_lines(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    rows = [{"id": "Z-1", "subject": "Has an id"}, {"subject": "No id"},
            {"subject": "No id"},  # an identical line is a second case
            {"external_id": 7, "subject": "Numeric id", "created_at": "2025-01-01T00:00:00Z"}]
    first = import_file(store, write_jsonl(tmp_path / "in.jsonl", rows))
    assert (first.imported, first.already) == (4, 0)
    edited = [{**rows[0], "subject": "Has an id, edited"}, rows[1], rows[2],
              {**rows[1], "subject": "No id, edited"}, rows[3], {"id": "Z-1", "subject": "Dup"}]
    again = import_file(store, write_jsonl(tmp_path / "renamed.jsonl", edited))
    # the same id is the same case (its edit is not applied); edited content is a new case
    assert (again.imported, again.already) == (1, 4)
    assert again.errors == [(6, "the id 'Z-1' was already used on line 1")]
    subjects = store.read(lambda c: sorted(c.execute(select(s.cases.c.subject)).scalars()))
    assert subjects == ["Has an id", "No id", "No id", "No id, edited", "Numeric id"]


def test_old_dates_and_bad_ids_are_refused_by_line(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    rows = [{"subject": "Old", "created_at": "1999-12-31T23:00:00Z"},
            {"subject": "Bad id", "id": {"x": 1}},
            {"subject": "Fine", "comments": [{"body": "hi", "author": "a\x00b"}]}]
    report = import_file(store, write_jsonl(tmp_path / "in.jsonl", rows))
    assert report.imported == 0 and [n for n, _ in report.errors] == [1, 2, 3]
    assert "before 2000" in report.errors[0][1] and "id" in report.errors[1][1]


def test_a_failed_batch_loses_only_itself_and_a_rerun_completes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.store import importer

    store = Store(tmp_path / "store.db")
    path = write_jsonl(tmp_path / "in.jsonl", [{"subject": f"Case {i}"} for i in range(10)])
    real, calls = importer.Folded.write, []

    def dying(self: importer.Folded, conn: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # like Ctrl+C inside the second batch's transaction
        real(self, conn)  # type: ignore[arg-type]

    monkeypatch.setattr(importer.Folded, "write", dying)
    with pytest.raises(KeyboardInterrupt):
        import_file(store, path, batch=4)
    assert _count(store, s.cases) == 4
    monkeypatch.setattr(importer.Folded, "write", real)
    report = import_file(store, path, batch=4)
    assert (report.imported, report.already) == (6, 4)
    subjects = store.read(lambda c: sorted(c.execute(select(s.cases.c.subject)).scalars()))
    assert subjects == sorted(f"Case {i}" for i in range(10))


def test_cli_rerun_reports_what_was_already_imported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    path = write_jsonl(tmp_path / "in.jsonl", CORPUS[:3] + [{"description": "no subject"}])
    args = ["--data-dir", str(tmp_path / "data"), "import", str(path)]
    assert main([*args, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["imported"], first["already_imported"], first["skipped"]) == (3, 0, 1)
    assert main(args) == 0  # nothing new is not a failure
    out = capsys.readouterr().out
    assert "imported 0 cases, skipped 3 already imported, skipped 1 with errors" in out


def test_one_unsavable_case_costs_only_its_line(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from app.store import importer

    real = importer._Builder.build

    def build(self: importer._Builder, spec: importer.CaseSpec, *args: object) -> object:
        if spec.fields["subject"] == "Poison":
            raise ValueError("refused by the database")
        return real(self, spec, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importer._Builder, "build", build)
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"subject": f"Case {i}"}) + "\n" for i in range(3))
                    + json.dumps({"subject": "Poison"}) + "\n"
                    + '{"subject": "Lone \\ud800 surrogate"}\n'
                    + json.dumps({"subject": "Last"}) + "\n", "utf-8")
    store = Store(tmp_path / "store.db")
    report = import_file(store, path, batch=10)
    assert report.imported == 4
    assert [n for n, _ in report.errors] == [4, 5]
    assert "refused by the database" in report.errors[0][1]
    assert "surrogate" in report.errors[1][1]
    assert _count(store, s.cases) == 4


def test_imported_and_adopted_events_pass_the_event_schema(tmp_path: Path) -> None:
    import time

    from app.core.event_schema import validate_wire
    from app.store.projector import row_event

    store = Store(tmp_path / "store.db")
    import_file(store, write_jsonl(tmp_path / "in.jsonl", CORPUS))
    store.set_actor(ME)
    store.adopt_teamless(TEAM, actor=ME, first_sign_in=True)
    now = int(time.time() * 1000)
    events = store.read(lambda c: [row_event(r) for r in c.execute(select(s.events))])
    for e in events:
        validate_wire(e.to_wire(), now_ms=now)  # raises InvalidEvent with the reason
    assert len(events) > len(CORPUS)

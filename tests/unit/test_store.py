from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from app.core import events as ev
from app.core.hlc import Timestamp
from app.core.ids import uuid7
from app.operations import cases as ops
from app.operations.errors import NotFound, OperationError
from app.store import queries as q
from app.store.db import HEAD_REVISION, StoreCorrupt, make_engine, upgrade
from app.store.repo import Store, dump_projections


def test_pragmas_wal_full_sync_foreign_keys(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_upgrade_from_first_schema_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(path)
    with engine.connect() as conn:
        upgrade(conn, "0001")
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('actor', 'old@x')"))
        conn.commit()
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    engine.dispose()
    store = Store(path)
    assert store.actor == "old@x"
    assert store.get_meta("actor") == "old@x"
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            == HEAD_REVISION
        assert conn.execute(text("SELECT count(*) FROM saved_views")).scalar() == 0
    store.close()


def test_migrations_produce_the_declared_schema(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.store.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_corrupt_file_gives_clear_error_and_repair_recovers(data_dir: Path) -> None:
    from app.maintenance import check
    from app.paths import db_path
    from app.store.demo import seed_demo

    path = db_path(data_dir)
    s = Store(path)
    seed_demo(s, cases=30, seed=3)
    s.close()
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorrupt, match="check --repair"):
        Store(path)
    report = check(data_dir)
    assert not report["ok"] and "--repair" in report["summary"]


def test_repair_salvages_events_from_damaged_pages(data_dir: Path) -> None:
    from app.maintenance import check
    from app.paths import db_path
    from app.store.demo import seed_demo

    path = db_path(data_dir)
    s = Store(path)
    seed_demo(s, cases=40, seed=3)
    before = s.read(dump_projections)
    s.close()
    # Damage an index page of the cases projection: the log survives, projections don't.
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name='ix_cases_status'"
                       ).fetchone()[0]
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    with path.open("r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(b"\xff" * page)
    report = check(data_dir, repair=True)
    assert report["ok"], report
    assert report["salvage"]["events_recovered"] > 0
    s = Store(path)
    assert s.read(dump_projections) == before
    s.close()


def test_locked_database_gives_clear_message(store: Store) -> None:
    other = sqlite3.connect(store.path, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    store.engine.dispose()
    try:
        with pytest.raises(OperationError, match="locked"):
            # shorten the wait for the test
            import app.store.db as dbmod  # noqa: F401

            with store.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA busy_timeout=100")
            ops.create_case(store, subject="x")
    finally:
        other.rollback()
        other.close()


def test_case_keys_keep_resolving_after_server_key(demo_store: Store) -> None:
    case_id, key, _ = ops.create_case(demo_store, subject="Offline case")
    assigned = ev.Event(uuid7(), ev.CASE_KEY_ASSIGNED, {"key": "SUP-9001"}, "system", "server",
                        Timestamp(10**12 * 3, 0).encode(), case_id, "support", server_seq=5)
    demo_store.ingest([assigned])
    assert demo_store.read(lambda c: q.resolve_case(c, key)) == case_id
    assert demo_store.read(lambda c: q.resolve_case(c, "sup-9001")) == case_id
    assert demo_store.read(lambda c: q.case_detail(c, case_id))["key"] == "SUP-9001"


def test_provisional_keys_are_device_scoped(tmp_path: Path) -> None:
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    ka = ops.create_case(a, subject="x")[1]
    kb = ops.create_case(b, subject="y")[1]
    assert ka.endswith("-1") and kb.endswith("-1") and ka != kb
    assert any(ch.isdigit() for ch in a.device_code)
    a.close()
    b.close()


def test_two_devices_with_one_code_agree_which_case_a_key_opens(tmp_path: Path) -> None:
    # Regression (the sync simulation, once in CI): two devices drew the same device code and
    # both handed out "CODE-1". Each device kept the first claim it happened to receive, so
    # "CODE-1" opened different cases on different devices. The earliest claim by the merge
    # order now wins everywhere, incrementally and in a rebuild.
    from sqlalchemy import select

    from app.store import schema as s
    from app.store.projector import row_event
    from app.store.rebuild import rebuild_projections

    a, b, c = (Store(tmp_path / f"{n}.db") for n in "abc")
    b.set_meta("device_code", a.device_code)
    b.device_code = a.device_code
    first = ops.create_case(a, subject="first")
    second = ops.create_case(b, subject="second")
    assert first[1] == second[1]  # the same provisional key, two cases

    def events(store: Store) -> list[ev.Event]:
        return [row_event(r) for r in store.read(lambda conn: conn.execute(
            select(s.events).order_by(s.events.c.seq)).all())]

    ea, eb = events(a), events(b)
    a.ingest(eb)  # a: its own claim, then b's
    b.ingest(ea)  # b: its own claim, then a's
    c.ingest(eb)
    c.ingest(ea)  # c: b's claim first
    earliest = min((ea[0], eb[0]), key=lambda e: e.clock).case_id
    for store in (a, b, c):
        assert store.read(lambda conn: q.resolve_case(conn, first[1])) == earliest
    assert a.read(dump_projections) == b.read(dump_projections) == c.read(dump_projections)
    before = c.read(dump_projections)
    c.write(lambda conn: rebuild_projections(conn))
    assert c.read(dump_projections) == before
    for store in (a, b, c):
        store.close()


def test_ingest_is_idempotent_and_sets_server_seq(demo_store: Store, tmp_path: Path) -> None:
    case_id, key, ch = ops.create_case(demo_store, subject="Sync me")
    assert demo_store.outbox_count() == 1
    other = Store(tmp_path / "other.db")
    from sqlalchemy import select

    from app.store import schema as s
    from app.store.projector import row_event

    rows = demo_store.read(lambda c: c.execute(select(s.events).where(
        s.events.c.case_id == case_id)).all())
    events = [row_event(r) for r in rows]
    for i, e in enumerate(events):
        e.server_seq = 100 + i
    other.ingest(events)
    other.ingest(events)  # a duplicate delivery changes nothing
    demo_store.ingest(events)  # our own events come back with their server_seq
    assert demo_store.outbox_count() == 0
    assert other.read(lambda c: q.case_detail(c, case_id))["subject"] == "Sync me"
    assert len(other.read(lambda c: q.case_history(c, case_id))) == 1
    other.close()


def test_undo_reverts_the_last_operation(demo_store: Store) -> None:
    case_id, key, _ = ops.create_case(demo_store, subject="Undo me", priority="low")
    ops.set_fields(demo_store, case=key, changes={"priority": "urgent", "status": "pending"})
    ops.undo(demo_store)
    d = demo_store.read(lambda c: q.case_detail(c, case_id))
    assert (d["priority"], d["status"]) == ("low", "new")
    ops.undo(demo_store)  # undo the creation: the case disappears from lists
    d = demo_store.read(lambda c: q.case_detail(c, case_id))
    assert d["deleted"]
    history = demo_store.read(lambda c: q.case_history(c, case_id))
    assert len(history) == 6  # create, 2 edits, 2 reverts, delete: nothing is erased


def test_merge_carries_comments_and_closes_source(demo_store: Store) -> None:
    src = demo_store.read(lambda c: q.case_detail(c, q.resolve_case(c, "SUP-1")))
    dst_id = demo_store.read(lambda c: q.resolve_case(c, "SUP-2"))
    ops.merge(demo_store, source="SUP-1", target="SUP-2")
    dst = demo_store.read(lambda c: q.case_detail(c, dst_id))
    src_after = demo_store.read(lambda c: q.case_detail(c, src["id"]))
    assert src_after["status"] == "closed" and src_after["merged_into"] == dst_id
    ids = {c["id"] for c in dst["comments"]}
    assert {c["id"] for c in src["comments"]} <= ids
    assert any("Merged SUP-1" in c["body"] for c in dst["comments"])
    with pytest.raises(OperationError, match="already merged"):
        ops.merge(demo_store, source="SUP-1", target="SUP-3")


def test_split_creates_linked_case(demo_store: Store) -> None:
    d = demo_store.read(lambda c: q.case_detail(c, q.resolve_case(c, "SUP-4")))
    comment = d["comments"][0]
    new_id, new_key, _ = ops.split(demo_store, case="SUP-4", comment_id=comment["id"])
    new = demo_store.read(lambda c: q.case_detail(c, new_id))
    assert new["description"] == comment["body"]
    assert [lk["key"] for lk in new["links"]] == ["SUP-4"]


def test_bulk_set_is_all_or_nothing(demo_store: Store) -> None:
    before = demo_store.read(dump_projections)
    with pytest.raises(NotFound):
        ops.bulk_set(demo_store, cases=["SUP-1", "NOPE-9"], changes={"priority": "urgent"})
    with pytest.raises(OperationError):
        ops.bulk_set(demo_store, cases=["SUP-1", "SUP-2"], changes={"priority": "asap"})
    preview, _ = ops.bulk_set(demo_store, cases=["SUP-1", "SUP-2"],
                              changes={"priority": "urgent"}, dry_run=True)
    assert demo_store.read(dump_projections) == before
    assert {k for k, *_ in preview.changes} <= {"SUP-1", "SUP-2"}


def test_bad_input_writes_nothing(demo_store: Store) -> None:
    before = demo_store.read(dump_projections)
    for bad in ({"status": "bogus"}, {"subject": ""}, {"due_at": "yesterday"},
                {"subject": "x" * 300}, {"nosuchfield": 1}, {"assignee": "ghost@nowhere"}):
        with pytest.raises(OperationError):
            ops.set_fields(demo_store, case="SUP-1", changes=bad)
    with pytest.raises(OperationError):
        ops.comment(demo_store, case="SUP-1", body="   ")
    with pytest.raises(OperationError):
        ops.create_case(demo_store, subject="ok", requester_email="not-an-email")
    assert demo_store.read(dump_projections) == before


def test_views_filter_by_assignee_and_status(demo_store: Store) -> None:
    import time

    now = int(time.time() * 1000)
    mine = demo_store.read(lambda c: q.list_cases(c, q.BUILTIN_VIEWS["my-open"][1],
                                                  me=demo_store.actor, now_ms=now))
    assert mine and all(r[3] in ("new", "open", "pending", "on-hold") for r in mine)
    unassigned = demo_store.read(lambda c: q.list_cases(c, q.CaseFilter.parse("is:unassigned"),
                                                        me=demo_store.actor, now_ms=now))
    assert all(r[6] is None for r in unassigned)
    counts = demo_store.read(q.status_counts)
    assert sum(counts.values()) == 120


def test_unclean_shutdown_triggers_integrity_check_on_open(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    s = Store(path)
    ops.create_case(s, subject="before the crash")
    s.engine.dispose()  # the process dies: close() never runs
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name='ix_cases_status'"
                       ).fetchone()[0]
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    with path.open("r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(b"\xff" * page)
    with pytest.raises(StoreCorrupt, match="integrity check"):
        Store(path)


def test_count_views_matches_individual_counts(demo_store: Store) -> None:
    import time

    now = int(time.time() * 1000)
    filters = {k: v[1] for k, v in q.BUILTIN_VIEWS.items()}
    together = demo_store.read(lambda c: q.count_views(c, filters, me=demo_store.actor,
                                                       now_ms=now))
    for name, flt in filters.items():
        alone = demo_store.read(lambda c, f=flt: q.count_cases(c, f, me=demo_store.actor,
                                                               now_ms=now))
        assert together[name] == alone


def test_list_paging_name_sort_and_rows(demo_store: Store) -> None:
    import time

    now = int(time.time() * 1000)
    flt = q.CaseFilter()
    full = demo_store.read(lambda c: q.list_cases(c, flt, me="x", now_ms=now, sort="requester",
                                                  descending=False))
    names = [r[5] for r in full]
    assert names == sorted(names)
    page2 = demo_store.read(lambda c: q.list_cases(c, flt, me="x", now_ms=now,
                                                   sort="requester", descending=False,
                                                   limit=10, offset=10))
    assert page2 == full[10:20]
    rows = demo_store.read(lambda c: q.list_rows(c, [full[3][0]]))
    assert rows == [full[3]]
    recent = q.CaseFilter.parse("updated:<7d")
    assert recent.updated_within_days == 7
    with pytest.raises(Exception, match="updated:<7d"):
        q.CaseFilter.parse("updated:soon")


def test_all_expected_errors_share_one_base() -> None:
    from app.core.errors import AppError
    from app.core.model import InvalidValue
    from app.store.db import StoreError

    assert issubclass(OperationError, AppError) and issubclass(StoreError, AppError)
    assert issubclass(InvalidValue, AppError)


def test_priority_and_status_sort_by_rank_not_alphabet(demo_store: Store) -> None:
    import time

    from app.core.model import PRIORITY_RANK, STATUS_RANK

    now = int(time.time() * 1000)
    rows = demo_store.read(lambda c: q.list_cases(c, q.CaseFilter(), me="x", now_ms=now,
                                                  sort="priority", descending=True))
    ranks = [PRIORITY_RANK[r[4]] for r in rows]
    assert ranks == sorted(ranks, reverse=True)
    rows = demo_store.read(lambda c: q.list_cases(c, q.CaseFilter(), me="x", now_ms=now,
                                                  sort="status", descending=False))
    ranks = [STATUS_RANK[r[3]] for r in rows]
    assert ranks == sorted(ranks)

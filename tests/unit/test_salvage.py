"""`check --repair` keeps every row it can read, counts exactly what it lost, keeps the
device's identity and server, and resets the pull cursor so a sync brings the rest back.

The damaged files are real: a seeded store whose bytes are flipped or pages zeroed. What
"can be read" is decided independently of the salvage, by looking each rowid up alone
(``SELECT ... WHERE rowid = ?``) in the damaged copy.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from app.maintenance import check
from app.operations import cases as ops
from app.paths import db_path
from app.store.repo import Store
from app.store.salvage import EVENT_COLUMNS, parse_event

COLS = ["seq", *EVENT_COLUMNS]
SERVER_URL = "https://sync.example.com"
EMAIL = "ana@example.com"


@dataclass
class Seeded:
    folder: Path
    rows: dict[int, tuple[Any, ...]]  # seq -> the event row as stored
    unsynced: set[int]  # seqs of events never pushed
    meta: dict[str, str]


def _events(path: Path) -> dict[int, tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        cols = ", ".join(f'"{c}"' for c in COLS)
        return {r[0]: tuple(r) for r in con.execute(f"SELECT {cols} FROM events ORDER BY seq")}
    finally:
        con.close()


def _meta(path: Path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT key, value FROM meta"))
    finally:
        con.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """A store with a couple of thousand events: pushed ones (the demo data carries server
    seqs) and, last, this device's unsynced cases, replies, undo steps and a saved view."""
    from app.store.demo import seed_demo

    folder = tmp_path_factory.mktemp("seeded") / "data"
    store = Store(db_path(folder))
    seed_demo(store, cases=300, seed=5)
    for i in range(40):
        _, key, _ = ops.create_case(store, subject=f"Offline case {i}", priority="high")
        ops.comment(store, case=key, body=f"Reply {i}: " + "details " * 30)
    ops.save_view(store, name="Mine", query="status:open")
    store.set_meta("server_url", SERVER_URL)
    store.set_meta("account_email", EMAIL)
    store.set_meta("pull_cursor", "1948")
    store.close()
    path = db_path(folder)
    rows = _events(path)
    unsynced = {seq for seq, row in rows.items() if row[COLS.index("server_seq")] is None}
    assert len(rows) > 2000 and 100 < len(unsynced) < 400
    return Seeded(folder, rows, unsynced, _meta(path))


def _copy(seeded: Seeded, target: Path) -> Path:
    shutil.copytree(seeded.folder, target)
    return target


def _pages(path: Path, table: str, kind: str = "leaf") -> list[tuple[int, int]]:
    """(page number, cells) of ``table``'s b-tree pages of one kind."""
    con = sqlite3.connect(path)
    try:
        return [(int(p), int(n)) for p, n in con.execute(
            "SELECT pageno, ncell FROM dbstat WHERE name = ? AND pagetype = ? ORDER BY pageno",
            (table, kind))]
    finally:
        con.close()


def _page_size(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("PRAGMA page_size").fetchone()[0])
    finally:
        con.close()


def _zero_pages(path: Path, pages: list[int]) -> None:
    size = _page_size(path)
    with path.open("r+b") as fh:
        for page in pages:
            fh.seek((page - 1) * size)
            fh.write(bytes(size))


def readable_one_by_one(path: Path, upto: int) -> dict[int, tuple[Any, ...]]:
    """Every event row a lookup of its rowid alone can read and that holds together (the
    oracle: independent of the salvage's range reads and bisection)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    found: dict[int, tuple[Any, ...]] = {}
    try:
        con.execute("PRAGMA writable_schema=ON")  # skip a damaged entry of another table
        cols = ", ".join(f'"{c}"' for c in COLS)
        for rowid in range(1, upto + 1):
            try:
                row = con.execute(f"SELECT {cols} FROM events WHERE rowid = ?",
                                  (rowid,)).fetchone()
            except sqlite3.DatabaseError:
                continue
            parsed = None if row is None else parse_event(dict(zip(COLS, row, strict=True)))
            if parsed is not None:  # as it would be kept (e.g. an unreadable version is 1)
                found[rowid] = (row[0], *(parsed[c] for c in EVENT_COLUMNS))
    finally:
        con.close()
    return found


def meta_one_by_one(path: Path) -> dict[str, str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    found: dict[str, str] = {}
    try:
        con.execute("PRAGMA writable_schema=ON")
        for rowid in range(1, 200):
            try:
                row = con.execute("SELECT key, value FROM meta WHERE rowid = ?",
                                  (rowid,)).fetchone()
            except sqlite3.DatabaseError:
                continue
            if row is not None and isinstance(row[0], str) and isinstance(row[1], str):
                found[row[0]] = row[1]
    finally:
        con.close()
    return found


def _integrity(path: Path) -> str:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return str(con.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)


def _assert_salvage_keeps_what_is_readable(seeded: Seeded, folder: Path,
                                           damaged: dict[int, tuple[Any, ...]],
                                           damaged_meta: dict[str, str],
                                           report: dict[str, Any]) -> None:
    path = db_path(folder)
    salvage = report["salvage"]
    kept = _events(path)
    # Every row a single-row lookup could read is kept, unchanged, at its seq.
    missing = {r for r in damaged if kept.get(r) != damaged[r]}
    assert not missing, f"{len(missing)} readable rows not kept, e.g. {sorted(missing)[:5]}"
    assert salvage["events_recovered"] == len(kept)
    true_lost = set(seeded.rows) - set(kept)
    if true_lost:
        assert report["ok"] is False
        assert salvage["pull_cursor_reset"] is True
        assert _meta(path)["pull_cursor"] == "0"
        assert salvage["events_lost"] > 0 or not salvage["counts_exact"]
    if salvage["counts_exact"]:
        assert salvage["events_expected"] == len(seeded.rows)
        assert salvage["events_lost"] == len(seeded.rows) - len(kept)
        assert salvage["unsynced_lost"] == len(seeded.unsynced - set(kept))
    else:
        assert salvage["events_lost"] >= 0 and not report["ok"]
    # Identity and the server survive wherever the damaged file still held them.
    meta = _meta(path)
    for key in ("device_id", "device_code", "actor", "server_url", "account_email",
                "default_team"):
        if key in damaged_meta:
            assert meta.get(key) == damaged_meta[key], key
            assert key in salvage["kept_meta"]
    # The repaired file opens, and its projections are a fold of what was kept.
    store = Store(path)
    store.close()


# --- the audit's cases -------------------------------------------------------------------
def test_three_damaged_event_pages_lose_only_their_rows(seeded: Seeded, tmp_path: Path) -> None:
    # Audit: with 3 of 358 event pages damaged, repair kept 12 of 5,012 events, "ok": true.
    folder = _copy(seeded, tmp_path / "data")
    path = db_path(folder)
    leaves = _pages(path, "events")
    picked = [leaves[len(leaves) // 5], leaves[len(leaves) // 2], leaves[len(leaves) * 4 // 5]]
    on_pages = sum(cells for _, cells in picked)
    _zero_pages(path, [p for p, _ in picked])
    report = check(folder, repair=True)
    salvage = report["salvage"]
    assert salvage["events_recovered"] == len(seeded.rows) - on_pages
    assert salvage["events_lost"] == on_pages
    assert salvage["events_expected"] == len(seeded.rows)
    assert salvage["counts_exact"] is True and salvage["unsynced_lost"] == 0
    assert salvage["unreadable_pages"] == 3
    assert report["ok"] is False
    assert "could not be read" in report["summary"] and "sync" in report["summary"]
    meta = _meta(path)
    assert meta["server_url"] == SERVER_URL and meta["account_email"] == EMAIL
    assert meta["device_id"] == seeded.meta["device_id"]
    assert meta["pull_cursor"] == "0" and salvage["pull_cursor_reset"] is True
    assert {"server_url", "account_email", "device_id", "device_code"} <= set(
        salvage["kept_meta"])
    assert Path(salvage["moved_to"]).exists()  # the damaged file is kept aside
    # the saved view and the undo steps come through too
    assert salvage["tables"]["saved_views"] == {"kept": 1, "lost": 0}
    assert salvage["tables"]["operations"]["kept"] == 80


def test_a_damaged_interior_page_hides_no_intact_leaf(seeded: Seeded, tmp_path: Path) -> None:
    # The events table's root (an interior page) zeroed: SQLite reaches no row at all, yet
    # every leaf but the one also zeroed is intact and is read page by page.
    folder = _copy(seeded, tmp_path / "data")
    path = db_path(folder)
    (root, _), = _pages(path, "events", "internal")
    leaf, cells = _pages(path, "events")[7]
    _zero_pages(path, [root, leaf])
    assert readable_one_by_one(path, 100) == {}  # nothing reachable through the b-tree
    salvage = check(folder, repair=True)["salvage"]
    assert salvage["events_recovered"] == len(seeded.rows) - cells
    assert salvage["events_lost"] == cells and salvage["counts_exact"] is True
    kept = _events(path)
    assert all(kept[r] == seeded.rows[r] for r in kept)  # the rows as they were stored


def test_rows_with_overflow_pages_are_read_from_their_leaves_too(tmp_path: Path) -> None:
    # Long replies spill into overflow pages: reading a leaf directly follows their chains.
    folder = tmp_path / "data"
    store = Store(db_path(folder))
    for i in range(40):
        _, key, _ = ops.create_case(store, subject=f"Long {i}")
        ops.comment(store, case=key, body=f"{i} " + "a long log line, " * (300 + 50 * i))
    store.close()
    path = db_path(folder)
    before = _events(path)
    assert max(len(r[COLS.index("payload")]) for r in before.values()) > 3 * _page_size(path)
    (root, _), = _pages(path, "events", "internal")
    _zero_pages(path, [root])
    salvage = check(folder, repair=True)["salvage"]
    assert salvage["events_recovered"] == len(before) and salvage["events_lost"] == 0
    assert _events(path) == before


def test_200_flipped_bytes_keep_every_readable_row(seeded: Seeded, tmp_path: Path) -> None:
    # Audit: with 200 flipped bytes repair kept 0 of 10,340 events though 9,940 could be read.
    folder = _copy(seeded, tmp_path / "data")
    path = db_path(folder)
    data = bytearray(path.read_bytes())
    rng = random.Random(20261201)
    size = _page_size(path)
    for _ in range(200):
        at = rng.randrange(size, len(data))  # page 1 intact here (the property test hits it)
        data[at] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    damaged = readable_one_by_one(path, len(seeded.rows) + 64)
    damaged_meta = meta_one_by_one(path)
    assert len(damaged) > 0.9 * len(seeded.rows)  # most rows are still readable
    report = check(folder, repair=True)
    _assert_salvage_keeps_what_is_readable(seeded, folder, damaged, damaged_meta, report)
    assert report["salvage"]["events_recovered"] >= len(damaged)


def test_lost_unsynced_events_are_counted_and_said(seeded: Seeded, tmp_path: Path) -> None:
    folder = _copy(seeded, tmp_path / "data")
    path = db_path(folder)
    leaves = _pages(path, "events")
    last = leaves[-3:]  # this device's own (unsynced) events were recorded last
    con = sqlite3.connect(path)
    first_seq = con.execute("SELECT min(seq) FROM events WHERE server_seq IS NULL").fetchone()[0]
    con.close()
    _zero_pages(path, [p for p, _ in last])
    damaged = readable_one_by_one(path, len(seeded.rows) + 64)
    lost_unsynced = seeded.unsynced - set(damaged)
    assert lost_unsynced and min(seeded.unsynced) == first_seq
    report = check(folder, repair=True)
    salvage = report["salvage"]
    assert salvage["counts_exact"] is True
    assert salvage["unsynced_lost"] == len(lost_unsynced)
    assert f"{len(lost_unsynced):,} of them had never been synced" in report["summary"]
    assert report["ok"] is False


def test_cli_json_report_has_the_salvage_fields(seeded: Seeded, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import main

    folder = _copy(seeded, tmp_path / "data")
    path = db_path(folder)
    _zero_pages(path, [_pages(path, "events")[3][0]])
    out = StringIO()
    monkeypatch.setattr("sys.stdout", out)
    code = main(["--data-dir", str(folder), "check", "--repair", "--json"])
    report = json.loads(out.getvalue())
    assert code == 1 and report["ok"] is False
    for key in ("database", "ok", "actions", "integrity", "summary"):
        assert key in report
    salvage = report["salvage"]
    assert isinstance(salvage["moved_to"], str) and isinstance(salvage["events_recovered"], int)
    assert isinstance(salvage["events_lost"], int) and salvage["events_lost"] > 0
    assert isinstance(salvage["events_expected"], int)
    assert isinstance(salvage["unsynced_lost"], int)
    assert salvage["pull_cursor_reset"] is True
    assert "server_url" in salvage["kept_meta"]


def test_a_second_damage_after_a_lossy_repair_is_still_counted_exactly(seeded: Seeded,
                                                                       tmp_path: Path) -> None:
    # The first repair leaves seq gaps; the second must not count them as lost again.
    folder = _copy(seeded, tmp_path / "data")
    path = db_path(folder)
    first = _pages(path, "events")[5]
    _zero_pages(path, [first[0]])
    assert check(folder, repair=True)["salvage"]["events_lost"] == first[1]
    kept = len(_events(path))
    second = _pages(path, "events")[-10]
    _zero_pages(path, [second[0]])
    salvage = check(folder, repair=True)["salvage"]
    assert salvage["events_expected"] == kept
    assert salvage["events_lost"] == second[1]
    assert salvage["counts_exact"] is True


def test_caches_that_follow_the_log_see_new_events_after_a_lost_tail(seeded: Seeded,
                                                                       tmp_path: Path) -> None:
    # New events after a repair reuse the seqs of a lost tail: the search index and the
    # analytics read model, which follow the log by seq, must not skip them.
    from app.analytics.model import AnalyticsModel
    from app.search.service import SearchService
    from app.store import analytics_tables as at

    folder = _copy(seeded, tmp_path / "data")
    path = db_path(folder)
    store = Store(path)
    model = AnalyticsModel.open(store, folder)
    model.catch_up()
    model.close()
    service = SearchService(folder, store, procs=1)
    service.ensure_index()
    service.close()
    store.close()
    _zero_pages(path, [p for p, _ in _pages(path, "events")[-4:]])  # the newest events
    assert check(folder, repair=True)["salvage"]["events_lost"] > 0
    store = Store(path)
    try:
        case_id, _, _ = ops.create_case(store, subject="Zanzibar after the repair")
        new_seq = int(store.read(
            lambda c: c.exec_driver_sql("SELECT max(seq) FROM events").scalar() or 0))
        assert new_seq <= max(seeded.rows)  # a seq the old caches had already passed
        model = AnalyticsModel.open(store, folder)
        model.catch_up()
        ids = model.read(lambda c: {r[0] for r in c.execute(at.am_cases.select())})
        model.close()
        assert case_id in ids
        service = SearchService(folder, store, procs=1)
        service.ensure_index()
        found = service.search("zanzibar", me=store.actor)
        service.close()
        assert case_id in {hit["id"] for hit in found.hits}
    finally:
        store.close()


def test_lost_meta_identity_comes_back_from_this_devices_own_events(seeded: Seeded,
                                                                     tmp_path: Path) -> None:
    folder = _copy(seeded, tmp_path / "data")
    path = db_path(folder)
    _zero_pages(path, [p for p, _ in _pages(path, "meta")])
    report = check(folder, repair=True)
    salvage = report["salvage"]
    assert salvage["meta_lost"] > 0 and not report["ok"]
    meta = _meta(path)
    # the unsynced events are this device's: its id, actor and provisional key prefix
    assert meta["device_id"] == seeded.meta["device_id"]
    assert meta["actor"] == seeded.meta["actor"]
    assert meta["device_code"] == seeded.meta["device_code"]
    assert {"device_id", "actor", "device_code", "hlc"} <= set(salvage["derived_meta"])
    assert meta["hlc"] >= seeded.meta["hlc"]  # the clock never goes back
    store = Store(path)
    try:  # the next provisional key is not one a kept case already holds
        _, key, _ = ops.create_case(store, subject="After the repair")
        assert key == f"{seeded.meta['device_code']}-41"
    finally:
        store.close()


# --- the property ------------------------------------------------------------------------
damage = st.tuples(
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), max_size=300),
    st.lists(st.floats(0, 1, exclude_max=True), max_size=4),
    st.booleans(),  # page 1 may be hit
)


# Each example repairs a real file (seconds): a few, the same ones every run, and no
# shrinking (a failing example is shown as found; shrinking one took minutes).
@settings(max_examples=8, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(damage)
@example(([], [0.0], True))  # page 1 (the header and the schema's root) zeroed
@example(([(0.5, 3)] * 50, [0.3, 0.6], False))
# a flipped rowid gave two cells rowid 809: the one a lookup of 809 finds is the row
@example(([(0.11689313323723495, 6), (0.2640963753534258, 2), (0.8331086984921955, 4),
           (0.8670768224288504, 2)], [1e-05, 0.8670768224288504], False))
def test_repair_keeps_every_row_a_single_lookup_can_read(
        seeded: Seeded, tmp_path_factory: pytest.TempPathFactory,
        spec: tuple[list[tuple[float, int]], list[float], bool]) -> None:
    flips, zeroed, page_one = spec
    assume(flips or zeroed)
    folder = _copy(seeded, tmp_path_factory.mktemp("case") / "data")
    path = db_path(folder)
    data = bytearray(path.read_bytes())
    size = _page_size(path)
    start = 0 if page_one else size
    pages = len(data) // size
    for at, bit in flips:
        data[start + int(at * (len(data) - start))] ^= 1 << bit
    for at in zeroed:
        page = int(at * pages) + (1 if page_one else 2)
        page = min(page, pages)
        data[(page - 1) * size:page * size] = bytes(size)
    path.write_bytes(bytes(data))
    assume(_integrity(path) != "ok")  # damage SQLite cannot see is not this test's subject
    damaged = readable_one_by_one(path, len(seeded.rows) + 64)
    damaged_meta = meta_one_by_one(path)
    report = check(folder, repair=True)
    assert "salvage" in report
    _assert_salvage_keeps_what_is_readable(seeded, folder, damaged, damaged_meta, report)


# --- a sync brings back what was pushed ----------------------------------------------------
PASSWORD = "a long enough password"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    from sync_server.db import make_engine, migrate
    from sync_server.main import create_app
    from sync_server.services import accounts
    from sync_server.settings import Settings
    from tests.server.helpers import live_server

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'srv.sqlite3'}", data_dir=tmp_path / "srv",
                        secret="x" * 48)
    engine = make_engine(settings.db_url)
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_user(engine, email=EMAIL, name="Ana", role="agent", password=PASSWORD)
    accounts.add_member(engine, team="Support", email=EMAIL)
    with live_server(create_app(settings, engine=engine, run_migrations=False)) as url:
        yield url, engine
    engine.dispose()


def test_sync_after_repair_restores_every_pushed_event(tmp_path: Path,
                                                       server: tuple[str, Any]) -> None:
    from sqlalchemy import text

    from app.sync.api import SyncApi
    from app.sync.engine import sync_once
    from app.sync.session import SyncSession, session_for

    url, engine = server
    folder = tmp_path / "client"
    store = Store(db_path(folder))
    session = SyncSession(store, SyncApi(url))
    session.login(EMAIL, PASSWORD)
    for i in range(60):
        _, key, _ = ops.create_case(store, subject=f"Pushed case {i}")
        ops.comment(store, case=key, body=f"Pushed reply {i}: " + "words " * 60)
    sync_once(store, session)
    assert store.outbox_count() == 0
    for i in range(5):  # recorded after the last sync: only on this laptop
        ops.create_case(store, subject=f"Offline case {i}")
    store.close()
    path = db_path(folder)
    before = _events(path)
    unsynced = {seq for seq, row in before.items() if row[COLS.index("server_seq")] is None}
    leaves = _pages(path, "events")
    _zero_pages(path, [leaves[1][0], leaves[len(leaves) // 2][0], leaves[-1][0]])
    damaged = readable_one_by_one(path, len(before) + 64)
    assert set(before) - set(damaged) and unsynced - set(damaged)  # pushed and unpushed lost
    report = check(folder, repair=True)
    salvage = report["salvage"]
    assert not report["ok"] and salvage["pull_cursor_reset"]
    assert salvage["unsynced_lost"] == len(unsynced - set(damaged))

    # No new sign-in: the server and account were kept, the refresh token is in the keyring.
    store = Store(path)
    try:
        sync_once(store, session_for(store))
        with engine.connect() as conn:
            on_server = {r[0] for r in conn.execute(text("SELECT id FROM events"))}
        local = {r[0] for r in store.read(lambda c: c.exec_driver_sql("SELECT id FROM events"))}
        assert on_server <= local  # every event the server has is back
        assert len(local) == len(on_server) + len(unsynced) - salvage["unsynced_lost"]
        assert store.outbox_count() == 0  # the kept unsynced events were pushed
    finally:
        store.close()


"""Search reads the store through ``app.store.search_queries`` only: no SQL in app/search,
and the three ways documents are read (a full build, a catch-up by id, a parallel worker's
id range) give the same documents on a real seeded store."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from app.search import documents as docs
from app.search import parallel
from app.store import search_queries as sq
from app.store.repo import Store
from tests.support.stores import Seed

SEARCH = Path(__file__).resolve().parents[2] / "app" / "search"
SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", " FROM ")


def sql_in(path: Path) -> list[str]:
    """SQL text and statement calls in a module: string constants that read as SQL, and
    calls of ``execute``/``exec_driver_sql``/``executemany``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.upper()
            if sum(word in text for word in SQL_WORDS) >= 2:
                found.append(f"{path.name}:{node.lineno}: SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr in ("execute", "exec_driver_sql", "executemany")):
            found.append(f"{path.name}:{node.lineno}: .{node.func.attr}()")
    return found


def test_app_search_runs_no_sql_of_its_own() -> None:
    found = [hit for path in sorted(SEARCH.glob("*.py")) for hit in sql_in(path)]
    assert found == []


def test_the_sql_finder_finds_sql(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('Q = "SELECT id FROM cases"\ndef f(c):\n    return c.exec_driver_sql(Q)\n')
    assert sql_in(module) == ["m.py:1: SQL text 'SELECT id FROM cases'",
                              "m.py:3: .exec_driver_sql()"]


@pytest.fixture
def store_seed() -> Seed:
    return Seed(cases=60)


@pytest.fixture
def store(store: Store, tmp_path: Path) -> Store:
    from app.operations import attachments as att
    from app.operations import cases as ops

    log = tmp_path / "sync.log"
    log.write_text("10:00 sync failed with ERR-1042\n")
    att.attach(store, case="SUP-3", path=log)  # attachment text is searched with comments
    ops.comment(store, case="SUP-4", body="A reply that mentions the export timeout")
    return store


def test_full_build_catch_up_and_parallel_read_the_same_documents(store: Store) -> None:
    def read(conn: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
        full = list(docs.iter_all_cases(conn))
        ids = sq.live_case_ids(conn) + ["0-gone"]
        by_id, gone = docs.load_cases(conn, ids)
        return full, by_id, gone

    full, by_id, gone = store.read(read)
    assert len(full) == store.read(sq.live_case_count) >= 60 and gone == {"0-gone"}
    assert sorted(by_id, key=lambda d: d["id"]) == full
    db = sq.open_snapshot(str(store.path))
    try:
        middle = full[len(full) // 2]["id"]  # two ranges, as two workers would read
        ranged = [*parallel._cases(db, "", middle), *parallel._cases(db, middle, parallel.HIGH)]
        directory = list(parallel._directory(db))
    finally:
        db.close()
    assert ranged == full
    assert any("ERR-1042" in d["body"] for d in full)
    assert any("export timeout" in d["body"] for d in full)
    assert directory == store.read(lambda c: list(docs.iter_directory(c)))
    customers = [d["id"].partition(":")[2] for d in directory
                 if d["id"].startswith("customer:")]
    loaded = store.read(lambda c: docs.load_directory(c, "customers", customers))
    assert sorted(loaded, key=lambda d: d["id"]) == sorted(
        (d for d in directory if d["id"].startswith("customer:")), key=lambda d: d["id"])

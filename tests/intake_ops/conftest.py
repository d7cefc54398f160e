"""Real SQLite stores seeded with demo data, and the intake fixture files."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.seeded import DB_NAME, intake_module
from tests.support.stores import Seed

__all__ = ["DB_NAME", "case_id", "snapshot"]


@pytest.fixture(scope="session")
def make() -> ModuleType:
    intake_module("sample_logs")
    return intake_module("make_fixtures")


@pytest.fixture(scope="session")
def files(make: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make.write_all(tmp_path_factory.mktemp("intake"))  # type: ignore[no-any-return]


@pytest.fixture
def store_seed() -> Seed:
    return Seed(cases=50)


def snapshot(store: Any) -> tuple[int, dict[str, int]]:
    """The event count and row counts of every table: equal snapshots, nothing written."""
    from sqlalchemy import func, select

    from app.store import schema as s

    def read(conn: Any) -> tuple[int, dict[str, int]]:
        counts = {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                  for t in s.metadata.sorted_tables}
        return counts["events"], counts

    return store.read(read)  # type: ignore[no-any-return]


def case_id(store: Any, key: str) -> str:
    from app.store import queries as q

    found = store.read(lambda c: q.resolve_case(c, key))
    assert found, key
    return str(found)

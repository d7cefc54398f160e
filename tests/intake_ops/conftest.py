"""Real SQLite stores seeded with demo data, and the intake fixture files."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
DB_NAME = "smart-support.db"


def _fixture_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make() -> ModuleType:
    _fixture_module("sample_logs")
    return _fixture_module("make_fixtures")


@pytest.fixture(scope="session")
def files(make: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make.write_all(tmp_path_factory.mktemp("intake"))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from app.store.demo import seed_demo
    from app.store.repo import Store

    folder = tmp_path_factory.mktemp("seeded")
    store = Store(folder / DB_NAME)
    seed_demo(store, cases=50)
    store.close()
    return folder


@pytest.fixture
def data_dir(seeded: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    target.mkdir()
    for f in seeded.iterdir():
        if f.name.startswith(DB_NAME):
            shutil.copy2(f, target / f.name)
    return target


@pytest.fixture
def store(data_dir: Path) -> Iterator[Any]:
    from app.store.repo import Store

    st = Store(data_dir / DB_NAME)
    yield st
    st.close()


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

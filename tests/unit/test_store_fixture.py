"""The shared ``store`` fixture (tests/support/stores.py): empty by default, seeded when a
package, module or class overrides ``store_seed``, and every test gets its own copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.paths import DB_NAME
from app.store import schema as s
from app.store.repo import Store
from tests.support.stores import Seed, open_store


def _cases(store: Store) -> int:
    return int(store.read(lambda c: c.execute(
        select(func.count()).select_from(s.cases)).scalar() or 0))


def test_the_default_store_is_empty_and_lives_in_data_dir(store: Store, data_dir: Path) -> None:
    assert _cases(store) == 0
    assert Path(store.path) == data_dir / DB_NAME


def test_open_store_opens_the_folders_database(data_dir: Path, store: Store) -> None:
    from app.operations import cases as ops

    ops.create_case(store, subject="Seen through a second store")
    other = open_store(data_dir)
    try:
        assert _cases(other) == 1
    finally:
        other.close()


class TestSeeded:
    @pytest.fixture
    def store_seed(self) -> Seed:
        return Seed(cases=3)

    def test_a_seeded_store_holds_the_demo_cases(self, store: Store) -> None:
        assert _cases(store) == 3

    def test_each_test_gets_its_own_copy(self, store: Store) -> None:
        from app.operations import cases as ops

        ops.create_case(store, subject="Only in this test's copy")
        assert _cases(store) == 4

    def test_a_write_in_another_test_is_not_seen(self, store: Store) -> None:
        assert _cases(store) == 3

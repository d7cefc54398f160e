"""The one ``store`` fixture: a real SQLite store in a per-test data folder, empty or a copy
of a demo-seeded store (seeded once a session per seed), and ``open_store`` for tests that
open one themselves.

A package or module picks its seed by overriding ``store_seed``::

    @pytest.fixture
    def store_seed() -> Seed:
        return Seed(cases=50)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.seeded import copy_store, seed_folder

if TYPE_CHECKING:
    from app.store.repo import Store


@dataclass(frozen=True)
class Seed:
    """Demo data for a test store: ``cases`` demo cases drawn with ``seed``."""

    cases: int
    seed: int = 1


class SeededTemplates:
    """Seeded store folders made on first use and kept for the session (seeding is slow,
    copying is not)."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._folders: dict[Seed, Path] = {}

    def folder(self, seed: Seed) -> Path:
        if seed not in self._folders:
            made = self._factory.mktemp(f"seed-{seed.cases}-{seed.seed}")
            self._folders[seed] = seed_folder(made, cases=seed.cases, seed=seed.seed)
        return self._folders[seed]


def open_store(folder: Path) -> Store:
    """The store of the data folder ``folder`` (created and migrated if new)."""
    from app.paths import db_path
    from app.store.repo import Store

    return Store(db_path(folder))


@pytest.fixture(scope="session")
def seeded_templates(tmp_path_factory: pytest.TempPathFactory) -> SeededTemplates:
    return SeededTemplates(tmp_path_factory)


@pytest.fixture
def store_seed() -> Seed | None:
    """No demo data unless a package or module overrides this."""
    return None


@pytest.fixture
def data_dir(tmp_path: Path, store_seed: Seed | None, seeded_templates: SeededTemplates) -> Path:
    folder = tmp_path / "data"
    if store_seed is None:
        folder.mkdir()
        return folder
    return copy_store(seeded_templates.folder(store_seed), folder)


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    st = open_store(data_dir)
    yield st
    st.close()

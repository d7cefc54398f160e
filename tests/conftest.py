"""Shared fixtures: a temporary data folder and store (tests/support/stores.py), a
temporary default data home for every test (tests/support/data_home.py), a seeded store,
and a non-system keyring."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import keyring
import pytest
from keyring.backend import KeyringBackend

from tests.support.data_home import data_home, session_data_home
from tests.support.stores import data_dir, seeded_templates, store, store_seed

if TYPE_CHECKING:
    from app.store.repo import Store

# Fixtures defined in tests/support, collected here for every test package.
__all__ = ["data_dir", "data_home", "seeded_templates", "session_data_home", "store",
           "store_seed"]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class MemoryKeyring(KeyringBackend):
    """Tests never touch the OS keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def demo_store(store: Store) -> Store:
    from app.store.demo import seed_demo

    seed_demo(store, cases=120, seed=7)
    return store

"""Helpers the test packages share: seeded store folders copied per test, and the intake
fixture generators (``tests/fixtures/intake``) loaded as modules."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

DB_NAME = "smart-support.db"
INTAKE_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"


def seed_folder(folder: Path, *, cases: int, seed: int = 1) -> Path:
    """A folder holding a store seeded with ``cases`` demo cases (seeded once a session)."""
    from app.store.demo import seed_demo
    from app.store.repo import Store

    store = Store(folder / DB_NAME)
    seed_demo(store, cases=cases, seed=seed)
    store.close()
    return folder


def copy_store(seeded: Path, target: Path) -> Path:
    """A private copy of a seeded store's files (the database and its WAL) in ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for f in seeded.iterdir():
        if f.name.startswith(DB_NAME):
            shutil.copy2(f, target / f.name)
    return target


def intake_module(name: str) -> ModuleType:
    """``tests/fixtures/intake/<name>.py`` imported once under its own name."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, INTAKE_FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

"""`smart-support --self-test`: prove an installed (or frozen) app works end to end.

Everything happens in a throwaway profile, so running it on an agent's laptop touches
none of their data: create, edit and search a case through the command language, render
the main window offscreen, then open and close the database once more.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.store.repo import Store

Step = Callable[[Path], str]


class SelfTestError(Exception):
    """One step of the self-test did not do what it should."""


def _execute(folder: Path, command: str) -> dict[str, object]:
    from app.terminal.runner import execute

    store = _store(folder)
    try:
        result = execute(store, command)
    finally:
        store.close()
    if not result.ok:
        raise SelfTestError(f"'{command}' failed: {result.text}")
    data = result.data
    return data if isinstance(data, dict) else {"value": data}


def _store(folder: Path) -> Store:
    from app.paths import db_path
    from app.store.repo import Store

    return Store(db_path(folder))


def _case_steps(folder: Path) -> str:
    made = _execute(folder, "case new --subject 'Self-test quasar printer' --priority high")
    key = str(made["key"])
    _execute(folder, f"case set {key} priority=urgent")
    _execute(folder, f"case comment {key} --internal 'self-test note'")
    shown = _execute(folder, f"case show {key}")
    if shown.get("priority") != "urgent":
        raise SelfTestError(f"the edit did not stick: priority is {shown.get('priority')!r}")
    found = _execute(folder, "search quasar")
    hits = found.get("hits")
    if not isinstance(hits, list) or key not in [h.get("key") for h in hits]:
        raise SelfTestError(f"search did not find the new case {key}")
    return f"case {key} created, edited and found by search"


def _window_step(folder: Path) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QThread

    from app.operations.store import open_store
    from app.ui.app import make_application
    from app.ui.main_window import MainWindow

    make_application()
    store = open_store(folder)
    window = MainWindow(store)
    try:
        window.resize(1200, 800)
        window.show()
        deadline = time.monotonic() + 60
        # Idle: first page, counts and header loaded (the default list may be a filtered
        # view such as "mine", so an empty page is not a failure).
        while not window.is_idle():
            if time.monotonic() > deadline:
                raise SelfTestError("the main window did not finish loading in 60 s")
            QCoreApplication.processEvents()
            QThread.msleep(5)
        image = window.grab().toImage()
        if image.isNull() or image.width() == 0:
            raise SelfTestError("the main window rendered an empty image")
        rows = window.model.rowCount()
    finally:
        window.close()
        window.deleteLater()
        QCoreApplication.processEvents()
        store.close()
    return f"main window rendered offscreen ({rows} case(s) listed)"


def _reopen_step(folder: Path) -> str:
    from app.store import queries as q

    store = _store(folder)
    try:
        counts = store.read(q.status_counts)
    finally:
        store.close()
    if not counts:
        raise SelfTestError("the database lost its case after reopening")
    return "database reopened and closed cleanly"


STEPS: tuple[tuple[str, Step], ...] = (
    ("cases", _case_steps),
    ("window", _window_step),
    ("database", _reopen_step),
)


def run_self_test(out: Callable[[str], None] = print) -> int:
    """Run every step in a temporary profile; 0 when all pass, 1 at the first failure."""
    with tempfile.TemporaryDirectory(prefix="smart-support-selftest-") as tmp:
        folder = Path(tmp)
        for name, step in STEPS:
            started = time.monotonic()
            try:
                detail = step(folder)
            except Exception as exc:  # noqa: BLE001 - the report names any failure, then stops
                out(f"self-test FAILED at {name}: {type(exc).__name__}: {exc}")
                return 1
            out(f"ok {name}: {detail} ({time.monotonic() - started:.2f} s)")
    out("self-test passed")
    sys.stdout.flush()
    return 0

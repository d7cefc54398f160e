"""UI tests: the real widgets offscreen, on a small seeded database."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SMART_SUPPORT_THEME", "light")

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.support.stores import Seed  # noqa: E402


@pytest.fixture
def store_seed() -> Seed:
    return Seed(cases=300, seed=1)


@pytest.fixture
def window(qapp: Any, qtbot: Any, store: Any) -> Iterator[Any]:
    from app.ui.app import make_application
    from app.ui.main_window import MainWindow

    make_application()
    win = MainWindow(store)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitUntil(lambda: win.is_idle() and win.detail.detail is not None, timeout=10_000)
    yield win
    win.close()

"""Render the real main window offscreen to a PNG (docs, reviews, visual checks)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _wait(predicate: object, timeout: float = 20.0) -> None:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QThread

    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not finish loading in time")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        QThread.msleep(5)


def _settle(rounds: int = 10) -> None:
    """Let posted layout and paint events run (labels resized after their last setText)."""
    from PySide6.QtCore import QCoreApplication, QEvent, QThread

    for _ in range(rounds):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QCoreApplication.processEvents()
        QThread.msleep(2)


def take(data_dir: Path, out: Path, view: str = "list",
         size: tuple[int, int] = (1400, 900), timeout: float = 60.0) -> None:
    """Write a PNG of the main window showing ``view``: "list", "case:KEY",
    "search:QUERY" (the results screen, once the index is ready) or "analytics" (the
    dashboard, once its figures are loaded)."""
    if view not in ("list", "analytics") and not view.startswith(("case:", "search:")):
        raise ValueError(f"unknown view '{view}' (use 'list', 'case:KEY', 'search:QUERY' "
                         "or 'analytics')")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.operations.store import open_store
    from app.ui.app import make_application
    from app.ui.main_window import MainWindow

    make_application()
    store = open_store(Path(data_dir))
    window = MainWindow(store)
    try:
        window.resize(*size)
        window.show()
        _wait(lambda: window.is_idle() and window.detail.case_id is not None
              or (window.is_idle() and window.model.rowCount() == 0), timeout)
        # The SLA clocks (sidebar counts, Due in, badges) come from a read model started
        # after the first page; a screenshot shows them once they are there.
        _wait(lambda: window.analytics.model is not None, timeout=max(timeout, 600.0))
        _wait(window.is_idle, timeout)
        if view.startswith("case:"):
            key = view.split(":", 1)[1].strip()
            from app.operations.store import resolve_case

            case_id = store.read(lambda c: resolve_case(c, key))
            if case_id is None:
                raise ValueError(f"no case '{key}'")
            if not window.select_case(case_id):
                window.detail.load(case_id)
            window.open_case_tab(case_id)
            _wait(window.is_idle)
        elif view.startswith("search:"):
            query = view.split(":", 1)[1].strip()
            _wait(lambda: window.search.started, timeout)
            failures: list[str] = []
            window.search.sig_failed.connect(failures.append)
            window.search_for(query)
            # A first start builds the index (minutes at 100,000 cases): wait for it.
            _wait(lambda: window.search_idle() and window.search_query == query
                  or window.search.started is False, timeout=max(timeout, 600.0))
            if not window.search.ready:
                raise RuntimeError("; ".join(failures) or "the search index is not ready")
        elif view == "analytics":
            window.sidebar.select("dashboard")
            _wait(lambda: window.dashboard is not None and window.dashboard.data is not None,
                  timeout=max(timeout, 600.0))
        _wait(window.is_idle)
        _settle()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        image = window.grab().toImage()
        if not image.save(str(out), "PNG"):  # type: ignore[call-overload]
            raise OSError(f"cannot write {out}")
    finally:
        window.close()
        window.deleteLater()
        store.close()

"""Entry point of the desktop app."""

from __future__ import annotations

import sys
from pathlib import Path

from app.operations.store import DB_NAME

__all__ = ["DB_NAME", "make_application", "run_app"]


def make_application() -> object:
    """The QApplication (created once), themed; Fusion style."""
    from PySide6.QtWidgets import QApplication

    from app.ui import theme

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Smart Support Agent")
        app.setOrganizationName("Smart Support")
        app.setApplicationDisplayName("Smart Support Agent")
    assert isinstance(app, QApplication)
    theme.apply_theme(app)
    return app


def run_app(data_dir: Path) -> int:
    """Open ``data_dir / "smart-support.db"``, show the main window, run until it closes."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.operations.store import StoreError, open_store

    app = make_application()
    assert isinstance(app, QApplication)
    try:
        store = open_store(Path(data_dir))
    except StoreError as exc:
        from app.ui.widgets import plain_box

        plain_box(QMessageBox.Icon.Critical, "Smart Support Agent",
                  f"The local database cannot be opened:\n\n{exc}").exec()
        return 2
    import asyncio

    import qasync

    from app.ui.main_window import MainWindow

    # asyncio inside the Qt event loop: APScheduler's AsyncIOScheduler drives sync.
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(store, loop=loop)
    window.show()

    def follow_os_scheme() -> None:
        from app.ui import theme

        theme.apply_theme(app)

    app.styleHints().colorSchemeChanged.connect(lambda _s: follow_os_scheme())
    try:
        with loop:
            loop.run_forever()
        return 0
    finally:
        window.sync.shutdown()
        window.bridge.shutdown()
        store.close()

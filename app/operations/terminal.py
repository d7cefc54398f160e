"""The command language (``app.terminal``) as the in-app terminal runs it.

Qt-free: ``run_line`` runs on the writer thread (a command may write; its ``Changes`` are
announced like any operation's), ``complete`` on a reader.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from app.store.repo import Store

if TYPE_CHECKING:
    from app.terminal.runner import CommandResult

__all__ = ["available", "complete", "run_line"]


def _runner() -> ModuleType | None:
    # A build without the command language (or with a broken one) gets a disabled terminal,
    # not a window that fails to open.
    try:
        from app.terminal import runner
    except ImportError:
        return None
    if not hasattr(runner, "execute"):
        return None
    return runner


def available() -> bool:
    """The command runner is installed: the terminal can take commands."""
    return _runner() is not None


def run_line(store: Store, *, line: str) -> CommandResult:
    """Writer thread: run one command line; a result with ``ok``, ``text`` and ``changes``."""
    runner = _runner()
    if runner is None:
        raise RuntimeError("terminal unavailable")
    result: CommandResult = runner.execute(store, line)
    return result


def complete(store: Store, line: str) -> list[str]:
    """Reader thread: the completions of ``line`` (none without a runner that offers them)."""
    runner = _runner()
    if runner is None or not hasattr(runner, "complete"):
        return []
    return list(runner.complete(store, line))

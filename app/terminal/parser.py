"""argparse, made to report errors instead of printing and exiting."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn


class CommandError(Exception):
    """A command the language does not accept; the message says why (and what fits)."""


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", False)
        kwargs.setdefault("exit_on_error", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise CommandError(message or f"{self.prog}: stopped")

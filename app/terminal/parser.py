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

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # With exit_on_error=False, Python 3.13 raises ArgumentError itself for some
        # errors (e.g. a missing required option) instead of calling error().
        try:
            return super().parse_known_args(args, namespace)
        except argparse.ArgumentError as exc:
            raise CommandError(f"{self.prog}: {exc}") from None

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise CommandError(message or f"{self.prog}: stopped")

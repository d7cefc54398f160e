"""Errors an operation reports to the agent (UI and CLI show the message as is)."""

from __future__ import annotations


class OperationError(Exception):
    pass


class NotFound(OperationError):
    pass

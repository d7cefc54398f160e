"""Errors an operation reports to the agent (UI and CLI show the message as is)."""

from __future__ import annotations

from app.core.errors import AppError


class OperationError(AppError):
    pass


class NotFound(OperationError):
    pass

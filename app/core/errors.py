"""The one base class for errors whose message is meant for the agent, whatever the layer."""

from __future__ import annotations


class AppError(Exception):
    """Catch this to show any expected failure (bad value, missing case, locked database)."""

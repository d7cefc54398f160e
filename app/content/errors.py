"""Errors raised by the intake modules."""


class IntakeError(Exception):
    """A file could not be taken in: its message is meant for the agent."""


class IntakeCancelled(IntakeError):
    """The caller's cancellation callback asked to stop."""


class AttachmentTooLarge(IntakeError):
    """A blob is larger than the store accepts."""

    def __init__(self, size: int, limit: int, name: str = "") -> None:
        what = f"{name!r} " if name else ""
        super().__init__(
            f"attachment {what}is {size} bytes ({human_bytes(size)}), over the limit of "
            f"{limit} bytes ({human_bytes(limit)})"
        )
        self.size = size
        self.limit = limit


def human_bytes(n: int) -> str:
    """``n`` bytes for a person: '12.0 MiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{n} B"
        value /= 1024
    return f"{n} B"

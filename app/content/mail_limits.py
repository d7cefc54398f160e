"""Bounds on taking in one e-mail: its size, its headers, its parse time.

An attacker (or a broken mailer) decides what a mail holds; these bounds keep one mail
from hanging the app or eating its memory. Defaults can be moved by environment variable
(an IT policy) or, in the operations layer, by a settings key.
"""

import os
import time
from dataclasses import dataclass

from app.content.errors import IntakeError, human_bytes

MAIL_MAX_BYTES_ENV = "SMART_SUPPORT_MAX_MAIL_BYTES"
MAIL_PARSE_SECONDS_ENV = "SMART_SUPPORT_MAIL_PARSE_SECONDS"
DEFAULT_MAX_MAIL_BYTES = 50 * 1024 * 1024
DEFAULT_PARSE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class MailLimits:
    max_bytes: int = DEFAULT_MAX_MAIL_BYTES
    """A larger mail file is refused before it is read."""
    max_header_bytes: int = 64 * 1024
    """One header (with its folded lines) is cut here."""
    max_block_bytes: int = 1024 * 1024
    """The headers of one part (or of the mail) beyond this are dropped."""
    max_addresses: int = 1000
    """Addresses kept per address header (To, Cc…); the rest are dropped."""
    max_seconds: float = DEFAULT_PARSE_SECONDS
    """Wall-clock time one mail may take to parse."""
    max_body_bytes: int = 8 * 1024 * 1024
    """Bytes of a text or HTML body that are read (a comment holds far less)."""


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def limits_from_env(max_bytes: int | None = None) -> MailLimits:
    """The default limits, with ``max_bytes`` (a settings key) and then the environment
    variables (which win: they are how IT sets a policy) applied."""
    size = int(_env_number(MAIL_MAX_BYTES_ENV, float(max_bytes or DEFAULT_MAX_MAIL_BYTES)))
    seconds = _env_number(MAIL_PARSE_SECONDS_ENV, DEFAULT_PARSE_SECONDS)
    return MailLimits(max_bytes=size, max_seconds=seconds)


class Deadline:
    """Raises ``IntakeError`` once a mail has taken longer than its limit to parse; checked
    between stages and every few thousand lines, so no stage runs unbounded."""

    def __init__(self, seconds: float, name: str) -> None:
        self.seconds = seconds
        self.name = name
        self.ends = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise IntakeError(f"{self.name} took longer than {self.seconds:g} s to read "
                              "and was given up")


def check_size(size: int, limits: MailLimits, name: str) -> None:
    if size > limits.max_bytes:
        raise IntakeError(f"{name} is {size:,} bytes ({human_bytes(size)}), over the limit of "
                          f"{limits.max_bytes:,} bytes ({human_bytes(limits.max_bytes)}) for an "
                          f"e-mail (setting {MAIL_MAX_BYTES_ENV})")

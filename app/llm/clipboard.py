"""Copy prompts to the clipboard for the CLI, and clear them again after a while."""

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pyperclip


class ClipboardUnavailable(RuntimeError):
    """No clipboard mechanism on this system (e.g. no xclip/xsel/wl-clipboard on Linux)."""


@dataclass(frozen=True, slots=True)
class ClipboardBackend:
    copy: Callable[[str], None]
    paste: Callable[[], str]


PYPERCLIP = ClipboardBackend(pyperclip.copy, pyperclip.paste)
_HELP = "install xclip, xsel or wl-clipboard (Linux), or paste the prompt from the file instead"


def copy_text(text: str, backend: ClipboardBackend = PYPERCLIP) -> None:
    try:
        backend.copy(text)
    except pyperclip.PyperclipException as exc:
        raise ClipboardUnavailable(f"no clipboard available: {_HELP} ({exc})") from exc


def clear_after(seconds: float, text: str, backend: ClipboardBackend = PYPERCLIP) -> threading.Timer:
    """After ``seconds``, empty the clipboard if it still holds ``text`` (so something the
    user copied since is left alone). Returns the started daemon timer (``cancel()``-able)."""

    def clear() -> None:
        try:
            if backend.paste() == text:
                backend.copy("")
        except pyperclip.PyperclipException:
            pass  # the clipboard went away: nothing left to clear

    timer = threading.Timer(seconds, clear)
    timer.daemon = True
    timer.start()
    return timer


def copy_for(seconds: float, text: str, backend: ClipboardBackend = PYPERCLIP) -> threading.Timer:
    """Copy ``text`` and clear it after ``seconds`` if untouched."""
    copy_text(text, backend)
    return clear_after(seconds, text, backend)

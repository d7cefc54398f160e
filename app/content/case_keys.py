"""Case keys in subjects and thread headers, and the message-ids we issue."""

import re
import uuid

# A team key (SUP-1042) or a provisional one (K7QF-12, 5HWQ-3: a device code may start with
# a digit); at least one letter before the dash, so a date such as 2026-11 is never a key.
KEY = r"(?=[0-9]*[A-Z])[A-Z0-9]{2,10}-\d+"
CASE_KEY = re.compile(rf"\[?({KEY})\]?")
_BRACKETED = re.compile(rf"\[({KEY})\]")
_OUR_MESSAGE_ID = re.compile(rf"<case-({KEY})\.[^@>\s]+@smart-support>")


def make_message_id(case_key: str) -> str:
    """A message-id for mail we send about ``case_key``: ``<case-KEY.xxx@smart-support>``."""
    if not re.fullmatch(KEY, case_key):
        raise ValueError(f"not a case key: {case_key!r}")
    return f"<case-{case_key}.{uuid.uuid4().hex}@smart-support>"


def case_key_from_headers(*values: str) -> str | None:
    """The case key of the newest of our message-ids in In-Reply-To / References."""
    found: str | None = None
    for value in values:
        for match in _OUR_MESSAGE_ID.finditer(value or ""):
            found = match.group(1)
    return found


def case_key_from_subject(subject: str) -> str | None:
    """``[SUP-1042]`` wins over a bare ``SUP-1042`` in the subject."""
    if match := _BRACKETED.search(subject or ""):
        return match.group(1)
    if match := CASE_KEY.search(subject or ""):
        return match.group(1)
    return None


def find_case_key(subject: str, in_reply_to: str, references: str) -> str | None:
    """Bracketed subject key, then our thread headers, then a bare key in the subject."""
    if match := _BRACKETED.search(subject or ""):
        return match.group(1)
    return case_key_from_headers(references, in_reply_to) or case_key_from_subject(subject)

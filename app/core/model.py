"""The vocabulary of a case: statuses, priorities, types and the editable fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from app.core.errors import AppError


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on-hold"
    SOLVED = "solved"
    CLOSED = "closed"


OPEN_STATUSES = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD})


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_RANK = {p.value: i for i, p in enumerate(Priority)}
STATUS_RANK = {s.value: i for i, s in enumerate(Status)}


class CaseType(StrEnum):
    QUESTION = "question"
    INCIDENT = "incident"
    PROBLEM = "problem"
    TASK = "task"


class LinkKind(StrEnum):
    RELATED = "related"
    PARENT = "parent"  # the other case is this case's parent
    CHILD = "child"  # the other case is this case's child


INVERSE_LINK = {LinkKind.RELATED: LinkKind.RELATED, LinkKind.PARENT: LinkKind.CHILD,
                LinkKind.CHILD: LinkKind.PARENT}

MAX_SUBJECT = 250
MAX_TEXT = 100_000
MAX_TAG = 64
MAX_PRODUCT = 120
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_\-:.]*$")


class InvalidValue(AppError, ValueError):
    """A value a field does not accept; the message is meant for the agent."""


def _choice(enum: type[StrEnum]) -> Callable[[object], str]:
    allowed = [e.value for e in enum]

    def check(value: object) -> str:
        text = str(value).strip().lower() if value is not None else ""
        if text not in allowed:
            hint = suggest(text, allowed)
            extra = f" (did you mean '{hint}'?)" if hint else ""
            raise InvalidValue(f"'{value}' is not one of: {', '.join(allowed)}{extra}")
        return text

    return check


def _text(limit: int, required: bool = False) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        text = "" if value is None else str(value)
        if "\x00" in text:
            raise InvalidValue("text contains a NUL character")
        if len(text) > limit:
            raise InvalidValue(f"text is {len(text)} characters long; the limit is {limit}")
        if required and not text.strip():
            raise InvalidValue("must not be empty")
        return text if text.strip() or required else None

    return check


def _single_line(limit: int, required: bool = False) -> Callable[[object], str | None]:
    inner = _text(limit, required)

    def check(value: object) -> str | None:
        text = inner(value)
        return " ".join(text.split()) if text else text

    return check


def parse_datetime(value: object) -> str | None:
    """Accept ISO dates/times (and empty for none); return a UTC ISO string."""
    if value is None or str(value).strip() in ("", "none", "null"):
        return None
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(f"'{text}' is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1970 <= moment.year <= 2200:
        raise InvalidValue(f"'{text}' is out of range")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _optional_id(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text or text.lower() in ("none", "null", "-"):
        return None
    if len(text) > 200:
        raise InvalidValue("identifier too long")
    return text


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    parse: Callable[[object], object]
    editable: bool = True


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("subject", "Subject", _single_line(MAX_SUBJECT, required=True)),
        FieldSpec("description", "Description", _text(MAX_TEXT)),
        FieldSpec("status", "Status", _choice(Status)),
        FieldSpec("priority", "Priority", _choice(Priority)),
        FieldSpec("type", "Type", _choice(CaseType)),
        FieldSpec("requester_id", "Requester", _optional_id),
        FieldSpec("organization_id", "Organization", _optional_id),
        FieldSpec("assignee_id", "Assignee", _optional_id),
        FieldSpec("team_id", "Team", _optional_id),
        FieldSpec("product", "Product", _single_line(MAX_PRODUCT)),
        FieldSpec("due_at", "Due date", parse_datetime),
        FieldSpec("merged_into", "Merged into", _optional_id, editable=False),
        FieldSpec("key", "Key", _optional_id, editable=False),
        FieldSpec("deleted", "Deleted", lambda v: bool(v), editable=False),
    )
}

EDITABLE_FIELDS = [name for name, spec in FIELDS.items() if spec.editable]


def parse_field(name: str, value: object) -> object:
    spec = FIELDS.get(name)
    if spec is None:
        hint = suggest(name, EDITABLE_FIELDS)
        extra = f" (did you mean '{hint}'?)" if hint else ""
        raise InvalidValue(f"unknown field '{name}'{extra}")
    try:
        return spec.parse(value)
    except InvalidValue as exc:
        raise InvalidValue(f"{spec.label}: {exc}") from None


def normalize_tag(tag: str) -> str:
    text = tag.strip().lower().lstrip("#")
    if not text or len(text) > MAX_TAG or not TAG_RE.match(text):
        raise InvalidValue(
            f"'{tag}' is not a valid tag (lowercase letters, digits, - _ : . ; up to {MAX_TAG})"
        )
    return text


def suggest(word: str, choices: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None

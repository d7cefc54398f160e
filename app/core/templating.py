"""Placeholders in saved replies and macro replies: ``{{requester.first_name}}``.

* ``{{ group.name }}`` takes a value from the context (``requester``, ``case``, ``agent``,
  ``organization``); spaces inside the braces are allowed;
* ``{{ requester.first_name | there }}`` falls back to the text after ``|`` when the value
  is missing or empty;
* a placeholder with no value and no fallback is an error that lists every such
  placeholder at once, so the agent fixes them in one go; nothing is rendered half-way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\s*(?:\|([^}]*))?\}\}")

# The vocabulary the composer offers; rendering accepts any dotted path in the context.
KNOWN_PLACEHOLDERS = (
    "requester.name", "requester.first_name", "requester.last_name", "requester.email",
    "organization.name", "case.key", "case.subject", "case.status", "case.priority",
    "case.product", "agent.name", "agent.first_name", "agent.email", "team.name",
)


class TemplateError(ValueError):
    """A template that cannot be rendered; ``missing`` lists the placeholders at fault."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


def placeholders(template: str) -> list[str]:
    """The placeholder names in ``template``, in order of first use."""
    seen: dict[str, None] = {}
    for m in PLACEHOLDER_RE.finditer(template):
        seen.setdefault(m.group(1), None)
    return list(seen)


def lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return None
    return value


def render(template: str, context: Mapping[str, Any]) -> str:
    """Fill every placeholder, or raise :class:`TemplateError` listing the missing ones."""
    missing: list[str] = []

    def fill(m: re.Match[str]) -> str:
        name, fallback = m.group(1), m.group(2)
        value = lookup(context, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if fallback is not None:
                return fallback.strip()
            if name not in missing:
                missing.append(name)
            return ""
        if isinstance(value, Mapping):
            if name not in missing:
                missing.append(name)
            return ""
        return str(value)

    out = PLACEHOLDER_RE.sub(fill, template)
    if missing:
        listed = ", ".join("{{" + n + "}}" for n in missing)
        raise TemplateError(f"no value for {listed}", missing)
    return out


def person_context(name: str | None, email: str | None) -> dict[str, Any]:
    """``{name, first_name, last_name, email}`` from a display name and an email address."""
    full = " ".join((name or "").split())
    parts = full.split(" ") if full else []
    return {"name": full or None, "first_name": parts[0] if parts else None,
            "last_name": " ".join(parts[1:]) or None if len(parts) > 1 else None,
            "email": email or None}

"""The placeholder <-> original table of one redaction session, serialisable to JSON.

It holds the originals: the caller keeps it only locally and never sends it."""

import json
import re
from collections.abc import Iterator

PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|IP|ID|SECRET|ADDRESS|ORG|PERSON)_(\d+)\]", re.IGNORECASE)
_VERSION = 1


class RedactionMap:
    """Each distinct (kind, exact value) gets one stable placeholder like ``[EMAIL_1]``.

    Values are keyed exactly (case included) so that ``restore`` gives back the very
    text that was redacted."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counters: dict[str, int] = {}

    def placeholder_for(self, kind: str, value: str) -> str:
        kind = kind.upper()
        if not re.fullmatch(r"EMAIL|PHONE|CARD|IBAN|IP|ID|SECRET|ADDRESS|ORG|PERSON", kind):
            raise ValueError(f"unknown redaction kind: {kind}")
        existing = self._by_value.get((kind, value))
        if existing is not None:
            return existing
        number = self._counters.get(kind, 0) + 1
        self._counters[kind] = number
        placeholder = f"[{kind}_{number}]"
        self._by_value[(kind, value)] = placeholder
        self._by_placeholder[placeholder] = value
        return placeholder

    def original(self, placeholder: str) -> str | None:
        return self._by_placeholder.get(placeholder.upper())

    def __contains__(self, placeholder: object) -> bool:
        return isinstance(placeholder, str) and placeholder.upper() in self._by_placeholder

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def items(self) -> Iterator[tuple[str, str]]:
        """``(placeholder, original)`` in the order they were issued."""
        return iter(self._by_placeholder.items())

    def kind_of(self, placeholder: str) -> str:
        match = PLACEHOLDER.fullmatch(placeholder)
        if match is None:
            raise ValueError(f"not a placeholder: {placeholder!r}")
        return match.group(1).upper()

    def to_json(self) -> str:
        entries = [{"placeholder": p, "kind": self.kind_of(p), "value": v} for p, v in self.items()]
        return json.dumps({"version": _VERSION, "entries": entries}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, data: str) -> "RedactionMap":
        try:
            raw = json.loads(data)
            entries = raw["entries"]
            result = cls()
            for entry in entries:
                placeholder, kind, value = entry["placeholder"], entry["kind"], entry["value"]
                match = PLACEHOLDER.fullmatch(placeholder)
                if match is None or match.group(1).upper() != kind or not isinstance(value, str):
                    raise ValueError(f"bad entry {entry!r}")
                result._by_value[(kind, value)] = placeholder
                result._by_placeholder[placeholder] = value
                result._counters[kind] = max(result._counters.get(kind, 0), int(match.group(2)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a saved redaction map: {exc}") from exc
        return result

import pytest

from app.core.model import InvalidValue, normalize_tag, parse_datetime, parse_field


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("status", "Open", "open"), ("priority", " urgent ", "urgent"),
    ("subject", "  two   words ", "two words"), ("due_at", "2026-03-01", "2026-03-01T00:00:00Z"),
    ("assignee_id", "none", None),
])
def test_parse_field_accepts(field: str, value: str, expected: object) -> None:
    assert parse_field(field, value) == expected


@pytest.mark.parametrize(("field", "value", "message"), [
    ("status", "opne", "did you mean 'open'"), ("priority", "asap", "not one of"),
    ("subject", "", "must not be empty"), ("subject", "x" * 251, "limit is 250"),
    ("due_at", "31/02/2026", "not a date"), ("statsu", "open", "did you mean 'status'"),
    ("description", "a\x00b", "NUL"),
])
def test_parse_field_rejects_with_clear_message(field: str, value: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        parse_field(field, value)


def test_tags_are_normalised() -> None:
    assert normalize_tag("#VIP") == "vip"
    with pytest.raises(InvalidValue):
        normalize_tag("two words")


def test_datetime_with_zone_becomes_utc() -> None:
    assert parse_datetime("2026-01-01T10:00+02:00") == "2026-01-01T08:00:00Z"

import json
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.llm.pii_detectors import iban_ok, luhn_ok
from app.llm.redaction import Redactor, redact, redact_more, restore
from app.llm.redaction_map import RedactionMap


def _kinds(text: str, names: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in redact(text, names).found]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("mail me at jane.doe+x@sub.example.co.uk.", "EMAIL", "jane.doe+x@sub.example.co.uk"),
        ("call (415) 555-0132 today", "PHONE", "(415) 555-0132"),
        ("call +44 20 7946 0958 today", "PHONE", "+44 20 7946 0958"),
        ("ruf an: 030 12345678", "PHONE", "030 12345678"),
        ("tel 06 12 34 56 78", "PHONE", "06 12 34 56 78"),
        ("card 4111 1111 1111 1111 ok", "CARD", "4111 1111 1111 1111"),
        ("amex 3782-822463-10005.", "CARD", "3782-822463-10005"),
        ("IBAN DE89 3704 0044 0532 0130 00 EUR", "IBAN", "DE89 3704 0044 0532 0130 00"),
        ("iban GB82WEST12345698765432", "IBAN", "GB82WEST12345698765432"),
        ("server 192.168.1.20, ok", "IP", "192.168.1.20"),
        ("v6 [2001:db8::8a2e:370:7334]:443", "IP", "2001:db8::8a2e:370:7334"),
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "SECRET", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("AKIAIOSFODNN7EXAMPLE", "SECRET", "AKIAIOSFODNN7EXAMPLE"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "SECRET", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("Authorization: Bearer abc.def-ghi_jkl012345678", "SECRET", "abc.def-ghi_jkl012345678"),
        ("DB_PASSWORD=hunter22!", "SECRET", "hunter22!"),
        ('"client_secret": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"', "SECRET", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "SECRET",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ),
        ("ship to 221B Baker Street, London NW1 6XE.", "ADDRESS", "221B Baker Street, London NW1 6XE"),
        ("Lieferung: Hauptstraße 12, 10115 Berlin", "ADDRESS", "Hauptstraße 12, 10115 Berlin"),
        ("office 1600 Amphitheatre Parkway, Mountain View, CA 94043", "ADDRESS", "1600 Amphitheatre Parkway, Mountain View, CA 94043"),
    ],
)
def test_detects(text: str, kind: str, value: str) -> None:
    assert (kind, value) in _kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 shipped",  # Luhn-invalid 16 digits
        "tracking 5051 0101 3350 9302",
        "IBAN DE89 3704 0044 0532 0130 01",  # mod-97 fails
        "ORD-123456, INV-2024-0042, case SUP-1042",
        "upgraded to version 1.2.3.4 on 2024-05-01 10:30:00",
        "error 0x80070005, took 1500 ms, 10:30:45",
        "token: expired",
    ],
)
def test_does_not_redact_look_alikes(text: str) -> None:
    assert _kinds(text) == []


def test_names_case_insensitive_on_word_boundaries() -> None:
    found = _kinds("JOHN SMITH called; john said Smithson and Johnny are fine. Smith's laptop.", ("John Smith",))
    assert found == [("PERSON", "JOHN SMITH"), ("PERSON", "john"), ("PERSON", "Smith")]


def test_common_word_names_only_when_capitalised() -> None:
    found = _kinds("Will Turner said he will call; Will agrees. We may. May Lee.", ("Will Turner", "May Lee"))
    assert [v for _, v in found] == ["Will Turner", "Will", "May Lee"]


def test_same_value_same_placeholder_and_spans_in_output() -> None:
    text = "a@x.io wrote to b@y.io; a@x.io again, phone +1 415 555 0132"
    result = redact(text)
    assert result.text == "[EMAIL_1] wrote to [EMAIL_2]; [EMAIL_1] again, phone [PHONE_1]"
    for span in result.spans:
        assert result.text[span.start : span.end] == span.placeholder
    assert [s.kind for s in result.spans] == ["EMAIL", "EMAIL", "EMAIL", "PHONE"]
    again = Redactor(redaction_map=result.redaction_map).redact("cc b@y.io")
    assert again.text == "cc [EMAIL_2]"


def test_restore_and_unknown_placeholder_warning() -> None:
    result = redact("mail a@x.io")
    restored = restore(result.text + " and [EMAIL_9] and [email_1]", result.redaction_map)
    assert restored.text == "mail a@x.io and [EMAIL_9] and a@x.io"
    assert restored.unknown == ["[EMAIL_9]"]
    assert restored.warnings and "[EMAIL_9]" in restored.warnings[0]


def test_map_json_round_trip() -> None:
    result = redact("a@x.io, 10.0.0.1, Jane Roe", ["Jane Roe"])
    saved = result.redaction_map.to_json()
    loaded = RedactionMap.from_json(saved)
    assert json.loads(saved)["entries"][0] == {"placeholder": "[EMAIL_1]", "kind": "EMAIL", "value": "a@x.io"}
    assert restore(result.text, loaded).text == "a@x.io, 10.0.0.1, Jane Roe"
    assert loaded.placeholder_for("EMAIL", "new@x.io") == "[EMAIL_2]"
    with pytest.raises(ValueError, match="not a saved redaction map"):
        RedactionMap.from_json('{"entries": [{"placeholder": "[EMAIL_1]", "kind": "IP", "value": "x"}]}')


def test_redact_more_by_selection() -> None:
    result = redact("Ticket from Bob at a@x.io; Bob says hi")
    text = result.text
    start = text.index("Bob")
    more = redact_more(text, start, start + 3, result.redaction_map, kind="PERSON")
    assert more.text == "Ticket from [PERSON_1] at [EMAIL_1]; [PERSON_1] says hi"
    assert [(s.kind, more.text[s.start : s.end]) for s in more.spans] == [
        ("PERSON", "[PERSON_1]"), ("EMAIL", "[EMAIL_1]"), ("PERSON", "[PERSON_1]")
    ]
    # a selection that cuts a placeholder is widened, and the original is what gets stored
    sel = more.text.index("at [EMAIL_1]")
    wider = redact_more(more.text, sel, sel + 6, result.redaction_map)
    assert "[SECRET_1]" in wider.text and restore(wider.text, result.redaction_map).text == "Ticket from Bob at a@x.io; Bob says hi"
    with pytest.raises(ValueError):
        redact_more("abc", 2, 10, result.redaction_map)


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")


def test_labelled_set_recall(redaction_set: ModuleType) -> None:
    items = redaction_set.build_set()
    assert len(items) >= 300
    result = redaction_set.evaluate(lambda t, n: [(f.start, f.end, f.kind) for f in redact(t, n).found], items)
    for kind in redaction_set.DIRECT_KINDS:
        assert result["recall"][kind] >= 0.98, (kind, result["missed"][:10])
    assert result["recall_direct"] >= 0.98
    assert result["precision"] >= 0.95
    assert result["negatives_redacted"] == []
    tracking = [n for i in items for n in i.negatives if n[2] == "tracking"]
    assert len(tracking) >= 20  # Luhn-invalid digit strings really are in the set


def test_labelled_set_is_deterministic(redaction_set: ModuleType) -> None:
    a, b = redaction_set.build_set(), redaction_set.build_set()
    assert [i.text for i in a] == [i.text for i in b]


FRAGMENTS = st.sampled_from([
    "a@x.io", "Jane.Roe@example.com", "+1 415 555 0132", "(212) 555-0199", "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00", "10.1.2.3", "2001:db8::1", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "password=hunter22", "Jane Roe", "jane", "ORD-123456", "v2.3.1", "221B Baker Street",
])
TEXTS = st.lists(st.one_of(FRAGMENTS, st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)), max_size=12).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(TEXTS)
def test_redact_restore_round_trip(text: str) -> None:
    result = redact(text, ["Jane Roe"])
    if "[" not in text:  # text that already looks like placeholders is ambiguous by design
        assert restore(result.text, result.redaction_map).text == text
    for span in result.spans:
        assert result.text[span.start : span.end] == span.placeholder


@settings(max_examples=100, deadline=None)
@given(TEXTS, TEXTS)
def test_placeholders_are_stable(first: str, second: str) -> None:
    redactor = Redactor(["Jane Roe"])
    one = redactor.redact(first)
    two = redactor.redact(second)
    issued = {f.value: s.placeholder for f, s in zip(one.found, one.spans, strict=True)}
    for f, s in zip(two.found, two.spans, strict=True):
        if f.value in issued and f.kind == redactor.redaction_map.kind_of(issued[f.value]):
            assert s.placeholder == issued[f.value]
    assert redactor.redact(first).text == one.text


def test_organizations_are_redacted_whole_and_restored() -> None:
    redactor = Redactor(("Maria Lopez",), organizations=("Acme Logistics", "Wayne Foods"))
    text = ("Maria Lopez of ACME  logistics says Wayne Foods saw it too; logistics is slow "
            "and Acme alone is not a name we know.")
    result = redactor.redact(text)
    assert [(f.kind, f.value) for f in result.found] == [
        ("PERSON", "Maria Lopez"), ("ORG", "ACME  logistics"), ("ORG", "Wayne Foods")]
    assert "[ORG_1]" in result.text and "[ORG_2]" in result.text
    assert "logistics is slow" in result.text and "Acme alone" in result.text  # parts stay
    back = restore(result.text, result.redaction_map)
    assert back.text == text and not back.unknown
    assert redactor.redact("ACME  logistics again").text == "[ORG_1] again"  # stable

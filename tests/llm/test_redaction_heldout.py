"""Every leak of issue 18's held-out table: text nobody tuned the detectors for."""

import time
from types import ModuleType

import pytest

from app.llm import pii_recognisers
from app.llm.redaction import Redactor, redact


def _redacted(text: str, names: tuple[str, ...] = (), orgs: tuple[str, ...] = ()) -> str:
    return Redactor(names, organizations=orgs).redact(text).text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("e-mail: josé@bücher.de", "josé@bücher.de"),
        ("write to siobhan [at] acme [dot] example please", "siobhan [at] acme [dot] example"),
        ('e-mail: "john doe"@example.org', '"john doe"@example.org'),
        ("cron mails ops@localhost every night", "ops@localhost"),
        ("link mailto:pay%40acme.example in the footer", "pay%40acme.example"),
        ("phone: 8 (495) 123-45-67", "8 (495) 123-45-67"),
        ("iban: de89370400440532013000", "de89370400440532013000"),
        ("card: 4111.1111.1111.1111", "4111.1111.1111.1111"),
        ("card: 4111\u00a01111\u00a01111\u00a01111", "4111\u00a01111\u00a01111\u00a01111"),
        ("card: 4111 11 11 1111 1111", "4111 11 11 1111 1111"),
        ("address: 1-2-3 Shibuya", "1-2-3 Shibuya"),
        ("address: Tokyo 150-0002", "Tokyo 150-0002"),
        ("address: PO Box 1234", "PO Box 1234"),
        ("address: 10 downing street", "10 downing street"),
        ("mac: 00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D:5E"),
    ],
)
def test_direct_identifiers_leak_nowhere(text: str, secret: str) -> None:
    out = _redacted(text)
    assert secret not in out, out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my password is Tr0ub4dor&3", "my password is [SECRET_1]"),  # kept '&3'
        ("iban: DE89-3704-0044-0532-0130-00", "iban: [IBAN_1]"),  # was 'DE89-3704-[PHONE_1]'
    ],
)
def test_whole_value_goes(text: str, expected: str) -> None:
    assert _redacted(text) == expected


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Hi Zoë Ångström,\nthe export fails.", ["Zoë", "Ångström"]),
        ("It fails again.\n\nThanks,\nJosé Müller", ["José", "Müller"]),
        ("Thanks,\nJosé Müller\n\nLater Jose Muller wrote again.", ["José", "Müller", "Jose", "Muller"]),
        ("my name is Nguyễn Văn An and my printer is broken", ["Nguyễn", "Văn An"]),
        ("客户: this is 李小龍, the login fails", ["李小龍"]),
        ("hello, this is mary-jane watson from billing", ["mary-jane", "watson"]),
        ("Dear Ursula von der Leyen,\nyour ticket", ["Ursula", "von der Leyen"]),
        ("Siobhan called twice about E1234.", ["Siobhan"]),
        ("Regards,\nLiam O’Neil-Smith\n\nps: ONeil and O'Neil are the same person",
         ["O’Neil", "ONeil", "O'Neil", "Smith"]),
    ],
)
def test_people_not_in_the_directory(text: str, gone: list[str]) -> None:
    out = _redacted(text)
    for part in gone:
        assert part not in out, (part, out)


def test_directory_name_matches_with_diacritics_folded() -> None:
    out = _redacted("Jose Muller and JOSÉ MÜLLER and Muller", ("José Müller",))
    assert "Jose" not in out and "Muller" not in out and "MÜLLER" not in out, out


def test_organization_with_hyphen() -> None:
    out = _redacted("logs from acme-logistics servers", orgs=("Acme Logistics",))
    assert "acme-logistics" not in out and "[ORG_1]" in out, out


MUST_KEEP = [
    "E1234", "ERR_CONNECTION_REFUSED", "0x80070005", "HTTP 503 Service Unavailable", "404 Not Found",
    "SmartSupport Pro 4.2.1", "Windows Server 2019", "Outlook", "v2.3.1", "ORD-123456", "INV-2024-0042",
    "SUP-1042", 'File "/app/sync/client.py", line 88, in pull', "at com.acme.sync.Client.pull(Client.java:42)",
    "Traceback (most recent call last):", "TimeoutError: read timed out", "build 20240501",
    "2024-05-01 10:30:00", "Chrome 126.0.6478.127",
]


def test_must_keep_terms_survive() -> None:
    text = ("Hi Maria,\nafter the upgrade we see " + "; ".join(MUST_KEEP)
            + ".\nThe Export Wizard and Sync Engine fail.\n\nThanks,\nJonas Becker")
    out = _redacted(text)
    for term in MUST_KEEP + ["Export Wizard", "Sync Engine"]:
        assert term in out, (term, out)
    assert "Maria" not in out and "Jonas" not in out and "Becker" not in out, out


def test_twenty_thousand_words_fast() -> None:
    chunk = ("Hi Zoë, the sync of ORD-123456 fails with E1234 since v2.3.1; call +44 20 7946 0958 "
             "or mail zoe@example.org, card 4111 1111 1111 1111. Thanks, José Müller. ")
    text = chunk * (20000 // len(chunk.split()) + 1)
    redactor = Redactor()
    # CPU time, not the wall clock: on a shared, loaded box the wall clock mostly measures waiting
    started = time.process_time()
    result = redactor.redact(text)
    elapsed = time.process_time() - started
    assert "zoe@example.org" not in result.text
    assert elapsed < 1.0, elapsed  # the 200 ms target is measured by bench


def test_phone_regions_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "phone: 8 (495) 123-45-67"
    assert "123-45-67" in Redactor(phone_regions=("US",)).redact(text).text
    assert Redactor(phone_regions=("RU",)).redact(text).text == "phone: [PHONE_1]"
    monkeypatch.setenv("SMART_SUPPORT_PHONE_REGIONS", "ru, de")
    assert Redactor().redact(text).text == "phone: [PHONE_1]"
    monkeypatch.setenv("SMART_SUPPORT_PHONE_REGIONS", "DE,XX")
    with pytest.raises(ValueError, match="unknown region code.*XX"):
        Redactor()


def test_phone_recogniser_lenient_pass() -> None:
    # a possible (not valid) German mobile with its + prefix is taken; +999 is no country
    assert list(pii_recognisers.phones("call +44 20 1234 please")) == [(5, 16, "PHONE")]
    assert list(pii_recognisers.phones("build +999 123 456 789")) == []
    assert _redacted("whatsapp +49 1511 2345678 please") == "whatsapp [PHONE_1] please"


def test_word_soup_of_capitalised_product_words_has_no_people() -> None:
    text = ("Hi Team,\nthe Export Wizard in SmartSupport Pro crashes; Python and SQLite logs attached. "
            "From: Monitoring\nThis is Urgent. Sorting and Rendered views fail, KEY ERROR in QUERY. "
            "We ran 250 ms Outlook sync.\n\nThanks,\nSupport Team")
    result = Redactor().redact(text)
    assert [f for f in result.found if f.kind == "PERSON"] == []


def test_lower_case_name_needs_a_known_given_name() -> None:
    assert _redacted("hello, this is the printer again") == "hello, this is the printer again"
    assert "jonas" not in _redacted("hi, this is jonas from accounting")


def test_heldout_set_per_kind(redaction_heldout: ModuleType) -> None:
    items = redaction_heldout.build_set()
    assert len({i.text for i in items}) >= 200
    result = redaction_heldout.evaluate(lambda t, n: [(f.start, f.end, f.kind) for f in redact(t, n).found], items)
    for kind in ("EMAIL", "PHONE", "CARD", "IBAN", "IP", "SECRET", "ADDRESS"):
        assert result["recall"][kind] >= 0.995, (kind, result["missed"][:10])
    assert result["recall"]["PERSON"] >= 0.95, result["missed"][:10]
    for kind, precision in result["precision"].items():
        assert precision >= 0.95, (kind, precision)
    assert result["must_keep_kept"] >= 0.98, result["must_keep_redacted"][:10]


def test_csv_name_column_and_json_name_keys() -> None:
    csv = "id,name,email\n7,Tendai Moyo,t@example.org\n8,Chidi Eze,c@example.org\n\nlater Moyo replied"
    out = _redacted(csv)
    assert "Tendai" not in out and "Chidi Eze" not in out and "Moyo" not in out, out
    out = _redacted('{"customer_name": "Oluwaseun Adeyemi", "status": 404}')
    assert "Oluwaseun" not in out and '"status": 404' in out, out
    assert "Rohan Mehta" not in _redacted("[10:02] visitor: hi, this is Rohan Mehta")


@pytest.mark.parametrize(
    "text",
    [
        "Delivery takes 2-3 Business days. Expect 10-15 Minutes downtime.",
        "timestamp 1717171717; VAT DE123456789; order 4111111111",
        "The pin is broken and the password reset link expired.",
        "Dear Support,\nthe Export Wizard in SmartSupport Pro 4.2 fails with HTTP 503.",
    ],
)
def test_everyday_support_prose_is_kept(text: str) -> None:
    assert _redacted(text) == text

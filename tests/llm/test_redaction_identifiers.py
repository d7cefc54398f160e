"""National ids, passports, dates of birth, plates, wallets and more services' secrets
(issue 18): each goes whole, and the must-keep terms next to them stay."""

import pytest

from app.llm.redaction import redact


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("SSN: 536-90-4399 please", "536-90-4399", "ID"),
        ("our admin 536-90-4399 asked", "536-90-4399", "ID"),  # specific format, valid
        ("my CPF is 390.533.447-05", "390.533.447-05", "ID"),
        ("CNPJ 11.222.333/0001-81 for the invoice", "11.222.333/0001-81", "ID"),
        ("BSN 111222333", "111222333", "ID"),
        ("PESEL: 44051401359", "44051401359", "ID"),
        ("Steuer-ID: 86095742719", "86095742719", "ID"),
        ("NINO: AB 12 34 56 C", "AB 12 34 56 C", "ID"),
        ("his NI number AB123456C is on file", "AB123456C", "ID"),
        ("DNI 12345678Z", "12345678Z", "ID"),
        ("her codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S", "ID"),
        ("Aadhaar 2341 2341 2346", "2341 2341 2346", "ID"),
        ("AHV 756.1234.5678.97", "756.1234.5678.97", "ID"),
        ("passport number: C01X00T47", "C01X00T47", "ID"),
        ("Reisepass Nr. C01X00T47 liegt vor", "C01X00T47", "ID"),
        ("DOB: 12/03/1985", "12/03/1985", "ID"),
        ("born on 3 March 1985 in Leeds", "3 March 1985", "ID"),
        ("date of birth: March 3rd, 1985", "March 3rd, 1985", "ID"),
        ("licence plate: B-MW 1234", "B-MW 1234", "ID"),
        ("Kennzeichen M AB 123 parkt", "M AB 123", "ID"),
        ("pay to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 today", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "ID"),
        ("btc bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "ID"),
        ("eth 0x52908400098527886E0F7030069857D2E4169EE7", "0x52908400098527886E0F7030069857D2E4169EE7", "ID"),
        ("STRIPE_SECRET=abcdefghijkl", "abcdefghijkl", "SECRET"),
        ("export GITHUB_TOKEN='plainwordtoken'", "plainwordtoken", "SECRET"),
        ("DATABASE_URL=postgres://app:hunter2@db.internal:5432/app", "hunter2", "SECRET"),
        ("mongodb+srv://ops:S3cr%21t@cluster0.example.net/db", "S3cr%21t", "SECRET"),
        ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
         "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "SECRET"),
        ("Twilio SID AC0123456789abcdef0123456789abcdef", "AC0123456789abcdef0123456789abcdef", "SECRET"),
        ("mailgun key-0123456789abcdef0123456789abcdef", "key-0123456789abcdef0123456789abcdef", "SECRET"),
        ("slack xoxe-1-abcdefghijklmnop", "xoxe-1-abcdefghijklmnop", "SECRET"),
        ("hook https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX",
         "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", "SECRET"),
        ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
         "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----", "SECRET"),
    ],
)
def test_identifier_goes_whole(text: str, value: str, kind: str) -> None:
    result = redact(text)
    assert value not in result.text, result.text
    assert any(f.value == value and f.kind == kind for f in result.found), result.found


@pytest.mark.parametrize(
    "text",
    [
        "Order ORD-48213 build 20240501 v4.2.1 failed with E1234 and 0x80070005",
        "registration failed with E1234 after 3 retries",
        "ticket 123-45-6789x and part 111222333 in stock",  # no marker, no specific valid format
        "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 fixed it",  # git hash is not an AWS secret
        "LOG_LEVEL=debug\nAPP_VERSION=4.2.1\nAUTH_ENABLED=true",
        "the card 4111 1111 1111 1111 is not an Aadhaar number",
    ],
)
def test_must_keep_stays(text: str) -> None:
    result = redact(text)
    kept = [f for f in result.found if f.kind in ("ID", "SECRET")]
    assert kept == [], kept


def test_card_is_not_cut_into_an_id() -> None:
    result = redact("card 4111 1111 1111 1111")
    assert [f.kind for f in result.found] == ["CARD"]


def test_id_placeholder_restores() -> None:
    from app.llm.redaction import restore

    result = redact("SSN: 536-90-4399")
    assert result.text == "SSN: [ID_1]"
    assert restore(result.text, result.redaction_map).text == "SSN: 536-90-4399"
    assert result.redaction_map.kind_of("[ID_1]") == "ID"


def test_heldout2_set_per_kind() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "redaction_heldout2.py"
    spec = importlib.util.spec_from_file_location("redaction_heldout2", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    items = module.build_set()
    assert len({i.text for i in items}) >= 360
    result = module.evaluate(lambda t, n: [(f.start, f.end, f.kind) for f in redact(t, n).found], items)
    for kind in ("EMAIL", "PHONE", "CARD", "IBAN", "IP", "SECRET", "ADDRESS", "ID"):
        assert result["recall"][kind] >= 0.995, (kind, result["missed"][:10])
    assert result["recall"]["PERSON"] >= 0.95, result["missed"][:10]
    for kind, precision in result["precision"].items():
        assert precision >= 0.95, (kind, precision)
    assert result["must_keep_kept"] >= 0.98, result["must_keep_redacted"][:10]


def test_a_reference_to_a_secret_is_not_the_secret() -> None:
    text = "JWT_SECRET=${JWT_SECRET_FROM_VAULT}\nDATABASE_URL=postgresql://smart:$PG_PASS@db/app"
    assert redact(text).text == text

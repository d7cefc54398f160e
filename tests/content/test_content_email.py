from pathlib import Path
from types import ModuleType

import pytest

from app.content.case_keys import find_case_key, make_message_id
from app.content.email_intake import parse_email_file, parse_eml
from app.content.errors import IntakeError
from app.content.html_text import html_to_text, sanitize_html
from app.content.msg_intake import parse_msg
from app.content.quoting import split_body


def test_multipart_alternative_with_inline_image_and_pdf(fixture_files: dict[str, Path]) -> None:
    mail = parse_email_file(fixture_files["multipart.eml"])
    assert mail.subject == "Re: [SUP-1042] Printer down on floor 3"
    assert (mail.from_name, mail.from_email) == ("Maria Schneider", "maria.schneider@acme-corp.com")
    assert [m.email for m in mail.to] == ["support@smart-support.example"]
    assert [m.name for m in mail.cc] == ["Jonas Becker"]
    assert mail.date is not None and mail.date.year == 2024
    assert mail.message_id.endswith("@acme-corp.com>")
    assert mail.case_key_hint == "SUP-1042"
    assert "ERR-1042" in mail.text_body and "Best regards" not in mail.text_body
    assert mail.signature == "Best regards,\nMaria"
    names = {a.filename: a for a in mail.attachments}
    assert names["screenshot.png"].mime == "image/png"
    assert names["screenshot.png"].data.startswith(b"\x89PNG")
    assert names["invoice INV-2024-0042.pdf"].data.startswith(b"%PDF-")
    assert mail.inline_images == {"screenshot1@acme": "screenshot.png"}
    assert 'src="cid:screenshot1@acme"' in mail.html_body_sanitized
    assert "ERR-1042" in mail.html_text
    filename, mime, data = mail.attachments[1]  # plain (filename, mime, bytes) tuples
    assert mime == "application/pdf" and filename.endswith(".pdf") and data


def test_html_only_mail_is_sanitised(fixture_files: dict[str, Path]) -> None:
    mail = parse_email_file(fixture_files["html_only.eml"])
    html = mail.html_body_sanitized
    for bad in ("<script", "alert(", "onclick", "onmouseover", "tracker.example.com", "<iframe", "javascript:", "<style"):
        assert bad not in html, bad
    assert 'src="cid:logo@globex"' in html
    assert 'href="https://globex.co.uk/unlock"' in html
    assert mail.text_body == "Account locked\n\nClick here & sign in.\njs"
    assert "alert" not in mail.html_text and "color:red" not in mail.html_text


@pytest.mark.parametrize(
    ("name", "expected_subject", "expected_text"),
    [
        ("latin1.eml", "Problème d'accès", "Très urgent ! Garçon café"),
        ("cp1252.eml", "Preis: 20 € – Rückfrage", "„falsch“ — bitte prüfen"),
        ("shift_jis.eml", "プリンターが動きません", "エラーERR-1042を表示"),
        ("undeclared_cp1252.eml", "Rechnung", "über 20 € stimmt"),
    ],
)
def test_legacy_charsets(fixture_files: dict[str, Path], name: str, expected_subject: str, expected_text: str) -> None:
    mail = parse_email_file(fixture_files[name])
    assert mail.subject == expected_subject
    assert expected_text in mail.text_body


def test_raw_8bit_header_in_cp1252_is_decoded() -> None:
    raw = b"From: a@b.example\r\nSubject: Gr\xfc\xdfe \x80\r\nDate: Thu, 2 May 2024 10:00:00 +0000\r\n\r\nbody\r\n"
    assert parse_eml(raw).subject == "Grüße €"


def test_reply_quoted_history_signature_and_thread_case_key(fixture_files: dict[str, Path]) -> None:
    mail = parse_email_file(fixture_files["reply.eml"])
    assert mail.text_body == "Hi,\n\nI restarted it as you suggested but it still fails."
    assert mail.signature.startswith("Thanks,\nJonas Becker") and "+49 30 12345678" in mail.signature
    assert mail.quoted_history.startswith("On Thu, 2 May 2024 at 10:00")
    assert "> Could you restart the printer" in mail.quoted_history
    assert mail.case_key_hint == "SUP-1042"  # from our message-id in In-Reply-To
    assert mail.in_reply_to == "<case-SUP-1042.5f1c2a@smart-support>"
    assert len(mail.references) == 2


def test_dash_dash_signature_and_original_message(fixture_files: dict[str, Path]) -> None:
    mail = parse_email_file(fixture_files["dashdash.eml"])
    assert mail.text_body == "It works again, you can close the case."
    assert mail.signature == "Aisha Okafor\nInitech"
    assert mail.quoted_history.startswith("-----Original Message-----")


def test_split_body_keeps_inline_answers_and_folds_quotes() -> None:
    split = split_body("> did you restart?\nyes, twice\n> and then?\nsame error\n\nCheers,\nBob")
    assert split.main == "yes, twice\nsame error"
    assert split.quoted_history == "> did you restart?\n> and then?"
    assert split.signature == "Cheers,\nBob"


def test_two_line_on_wrote_header() -> None:
    split = split_body("Fine now.\n\nOn Mon, 6 May 2024 at 09:12, A Very Long Name <\nlong@example.com> wrote:\n> old")
    assert split.main == "Fine now."
    assert split.quoted_history.startswith("On Mon")


def test_outlook_style_reply_header() -> None:
    split = split_body("Done.\n\nFrom: Support <s@x.example>\nSent: Monday, May 6, 2024\nTo: me\nSubject: x\n\nold text")
    assert split.main == "Done."
    assert split.quoted_history.startswith("From: Support")


def test_truncated_mail_raises_intake_error(fixture_files: dict[str, Path]) -> None:
    with pytest.raises(IntakeError, match="truncated or malformed"):
        parse_email_file(fixture_files["truncated.eml"])


@pytest.mark.parametrize("data", [b"", b"   \n", b"\x00\x01\x02 binary junk", b"just some words\nno headers"])
def test_garbage_is_not_an_email(data: bytes) -> None:
    with pytest.raises(IntakeError):
        parse_eml(data, name="x.eml")


def test_outlook_msg(fixture_files: dict[str, Path]) -> None:
    mail = parse_email_file(fixture_files["outlook.msg"])
    assert mail.subject == "[SUP-2001] VPN drops every hour"
    assert mail.from_email == "priya.patel@stark-industries.com"
    assert mail.case_key_hint == "SUP-2001"
    assert mail.text_body == "The VPN client disconnects every hour with error 0x80070005."
    assert mail.signature == "Regards,\nPriya"
    assert mail.date is not None and mail.date.day == 2
    assert [(a.filename, a.mime, a.data) for a in mail.attachments] == [
        ("vpn.log", "text/plain", b"VPN log line 1\nVPN log line 2\n")
    ]


def test_broken_msg_raises_intake_error(make: ModuleType) -> None:
    data = make.outlook_msg()
    with pytest.raises(IntakeError, match="Outlook"):
        parse_msg(data[:1500], name="cut.msg")
    with pytest.raises(IntakeError, match="not an Outlook"):
        parse_msg(b"hello", name="fake.msg")


def test_case_keys() -> None:
    assert find_case_key("Re: [SUP-1042] Printer down", "", "") == "SUP-1042"
    assert find_case_key("Printer ERR-1042 again", "<case-SUP-7.ab@smart-support>", "") == "SUP-7"
    assert find_case_key("Printer ERR-1042 again", "", "") == "ERR-1042"
    assert find_case_key("hello", "<x@y>", "") is None
    mid = make_message_id("SUP-1042")
    assert mid.startswith("<case-SUP-1042.") and mid.endswith("@smart-support>")
    assert find_case_key("Re: hello", mid, "") == "SUP-1042"
    with pytest.raises(ValueError):
        make_message_id("not a key")


def test_sanitize_and_html_to_text_directly() -> None:
    html = '<div style="background:url(http://x/y.png)" onload="x()"><img src="data:image/png;base64,AAAA"><img srcset="http://a/b 1x"></div><p>a&nbsp;b</p>'
    clean = sanitize_html(html)
    assert "style" not in clean and "onload" not in clean and "srcset" not in clean
    assert 'src="data:image/png;base64,AAAA"' in clean
    assert html_to_text("<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>") == "- one\n- two\n\na\tb"


def test_provisional_keys_starting_with_a_digit_thread_replies() -> None:
    """A device code may start with a digit (5HWQ): a reply to '[5HWQ-2] …' or to our
    message-id for it found no case and became a new one (a quarter of all devices)."""
    assert find_case_key("Re: [5HWQ-2] VPN drops", "", "") == "5HWQ-2"
    assert find_case_key("Re: VPN drops", make_message_id("5HWQ-2"), "") == "5HWQ-2"
    assert find_case_key("Report for 2026-11", "", "") is None  # a date is not a key
    assert find_case_key("[2026-11] numbers", "", "") is None

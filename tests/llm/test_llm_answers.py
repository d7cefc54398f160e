import threading

import pyperclip
import pytest

from app.llm.clipboard import (
    ClipboardBackend,
    ClipboardUnavailable,
    clear_after,
    copy_for,
    copy_text,
)
from app.llm.redaction import redact
from app.llm.redaction_map import RedactionMap
from app.llm.response_parser import AnswerError, parse_answer
from app.llm.templates import load_templates

TRIAGE = load_templates().get("triage")
GOOD = '{"category": "bug", "priority": "high", "product": "PrintHub", "reason": "[PERSON_1] cannot print"}'


def _map() -> RedactionMap:
    return redact("Maria Schneider wrote", ["Maria Schneider"]).redaction_map


@pytest.mark.parametrize(
    "pasted",
    [
        GOOD,
        f"Sure! Here is the triage:\n```json\n{GOOD}\n```\nLet me know if you need more.",
        f"Here you go: {GOOD} — hope that helps {{not json}}",
        f"```\n{GOOD}\n```",
        GOOD.replace('"reason"', '"tags": ["a",], "reason"'),  # trailing comma tolerated
    ],
)
def test_finds_the_json(pasted: str) -> None:
    answer = parse_answer(TRIAGE, pasted, _map())
    assert answer.data["priority"] == "high"
    assert answer.data["reason"] == "Maria Schneider cannot print"


def test_prefers_the_candidate_that_validates() -> None:
    pasted = 'Example shape: {"category": "...", "priority": "..."}\nAnswer:\n' + GOOD
    answer = parse_answer(TRIAGE, pasted, _map())
    assert answer.data["category"] == "bug"
    assert answer.warnings and "several JSON objects" in answer.warnings[0]


def test_nested_braces_and_strings_with_braces() -> None:
    pasted = 'x {"category": "bug", "priority": "low", "product": "", "reason": "a } brace and \\" quote {"}'
    assert parse_answer(TRIAGE, pasted).data["reason"] == 'a } brace and " quote {'


@pytest.mark.parametrize("pasted", ["I think it is a bug with high priority.", "", "[1, 2, 3]", "{broken: json"])
def test_not_json(pasted: str) -> None:
    with pytest.raises(AnswerError, match="no JSON object|empty"):
        parse_answer(TRIAGE, pasted)


def test_wrong_shape_names_fields() -> None:
    with pytest.raises(AnswerError) as info:
        parse_answer(TRIAGE, '{"category": "bug", "priority": "critical", "product": 3}')
    message = str(info.value)
    assert "triage" in message
    assert "missing required field 'reason'" in message
    assert "$.priority: expected one of low, normal, high, urgent, got 'critical'" in message
    assert "$.product: expected string, got integer" in message


def test_unknown_placeholders() -> None:
    pasted = GOOD.replace("[PERSON_1]", "[PERSON_7] and [EMAIL_2]")
    with pytest.raises(AnswerError, match=r"never issued: \[PERSON_7\], \[EMAIL_2\]"):
        parse_answer(TRIAGE, pasted, _map())
    answer = parse_answer(TRIAGE, pasted, _map(), allow_unknown_placeholders=True)
    assert "[PERSON_7]" in answer.data["reason"] and answer.warnings


def test_extra_fields_warn() -> None:
    answer = parse_answer(TRIAGE, GOOD[:-1] + ', "mood": "calm"}', _map())
    assert answer.data["mood"] == "calm" and "mood" in answer.warnings[-1]


class FakeClipboard:
    def __init__(self) -> None:
        self.value = ""

    def copy(self, text: str) -> None:
        self.value = text

    def paste(self) -> str:
        return self.value

    def backend(self) -> ClipboardBackend:
        return ClipboardBackend(self.copy, self.paste)


def _wait(timer: threading.Timer) -> None:
    timer.join(timeout=5)
    assert not timer.is_alive()


def test_clear_after_clears_our_text() -> None:
    board = FakeClipboard()
    timer = copy_for(0.01, "prompt", board.backend())
    assert board.value == "prompt"
    _wait(timer)
    assert board.value == ""


def test_clear_after_leaves_other_text() -> None:
    board = FakeClipboard()
    copy_text("prompt", board.backend())
    timer = clear_after(0.2, "prompt", board.backend())
    board.copy("something the user copied")
    _wait(timer)
    assert board.value == "something the user copied"


def test_no_clipboard_mechanism() -> None:
    def broken_copy(_: str) -> None:
        raise pyperclip.PyperclipException("could not find a copy/paste mechanism")

    def broken_paste() -> str:
        raise pyperclip.PyperclipException("could not find a copy/paste mechanism")

    backend = ClipboardBackend(broken_copy, broken_paste)
    with pytest.raises(ClipboardUnavailable, match="no clipboard available"):
        copy_text("x", backend)
    timer = clear_after(0.01, "x", backend)  # tolerated in the timer thread too
    _wait(timer)

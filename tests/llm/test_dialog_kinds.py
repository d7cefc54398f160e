"""Every kind the redactor issues has a colour in the LLM dialog, and an agent can redact a
selection as each kind the picker offers (the ID kind came with national identifiers)."""

from __future__ import annotations

import re

from app.llm.redaction import redact_more, restore
from app.llm.redaction_map import PLACEHOLDER, RedactionMap
from app.ui import llm_dialog


def test_every_placeholder_kind_has_a_colour_and_the_picker_offers_id() -> None:
    kinds = set(re.search(r"\(([A-Z|]+)\)", PLACEHOLDER.pattern).group(1).split("|"))  # type: ignore[union-attr]
    assert kinds <= set(llm_dialog.KIND_COLORS)
    assert "ID" in llm_dialog.REDACT_KINDS


def test_a_selection_redacted_as_an_id_round_trips() -> None:
    text = "Her tax number is 12345678901, keep order 5512."
    start = text.index("12345678901")
    result = redact_more(text, start, start + 11, RedactionMap(), kind="ID")
    assert "12345678901" not in result.text and "[ID_1]" in result.text
    assert "5512" in result.text
    assert restore(result.text, result.redaction_map).text == text

import json
from pathlib import Path

import pytest

from app.llm.answer_schema import check_schema, validate
from app.llm.prompt_builder import build_prompt
from app.llm.redaction import restore
from app.llm.templates import BUILTIN_DIR, TemplateError, load_template, load_templates

EXPECTED = {"summarize", "draft_reply", "triage", "root_cause", "next_steps", "translate_reply"}

CASE = {
    "key": "SUP-1042",
    "subject": "Printer down on floor 3",
    "description": "Since Monday the printer at 10.20.30.40 shows ERR-1042. Call me on +49 30 12345678.",
    "status": "open",
    "priority": "high",
    "type": "incident",
    "requester_name": "Maria Schneider",
    "requester_email": "maria.schneider@acme-corp.com",
    "organization": "Acme Corp",
    "product": "PrintHub",
    "tags": ["printer", "floor-3"],
    "language": "German",
}
COMMENTS = [
    {"author": "Maria Schneider", "created_at": "2024-05-02T09:30:00Z", "body": "Still broken, Maria", "internal": False},
    {"author": "Jonas Becker", "created_at": "2024-05-02T10:00:00Z", "body": "Asked Maria for logs. Her card 4111 1111 1111 1111 was in the screenshot!", "internal": True},
]


def test_builtin_templates_load() -> None:
    loaded = load_templates()
    assert loaded.errors == []
    assert set(loaded.templates) == EXPECTED
    triage = loaded.get("triage")
    assert triage.answer_schema["properties"]["priority"]["enum"] == ["low", "normal", "high", "urgent"]
    with pytest.raises(KeyError, match="no prompt template named 'nope'"):
        loaded.get("nope")


def _write(folder: Path, name: str, doc: object) -> Path:
    path = folder / f"{name}.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_admin_folder_overrides_adds_and_reports_broken_files(tmp_path: Path) -> None:
    good = {"name": "summarize", "title": "Our summary", "prompt": "Sum up {{case.subject}}", "answer_schema": {"type": "object"}}
    extra = {"name": "refund_check", "title": "Refund?", "prompt": ["Line {{case.key}}", "{{answer_schema}}"],
             "answer_schema": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}
    _write(tmp_path, "summarize", good)
    _write(tmp_path, "refund_check", extra)
    _write(tmp_path, "broken", "{ not json")
    _write(tmp_path, "badfield", {"name": "badfield", "title": "x", "prompt": "{{secret_stuff}}", "answer_schema": {"type": "object"}})
    _write(tmp_path, "badschema", {"name": "badschema", "title": "x", "prompt": "p", "answer_schema": {"type": "object", "properties": {"a": {"type": "strnig"}}}})
    _write(tmp_path, "wrongname", {"name": "other", "title": "x", "prompt": "p", "answer_schema": {"type": "object"}})
    _write(tmp_path, "missing", {"name": "missing", "prompt": "p"})
    loaded = load_templates(extra_dirs=[tmp_path])
    assert loaded.get("summarize").title == "Our summary"
    assert loaded.get("refund_check").prompt == "Line {{case.key}}\n{{answer_schema}}"
    assert EXPECTED <= set(loaded.templates)
    messages = sorted(str(e) for e in loaded.errors)
    assert len(messages) == 5
    assert all(str(tmp_path) in m for m in messages)
    joined = "\n".join(messages)
    assert "broken.json: is not valid JSON" in joined
    assert "unknown placeholder {{secret_stuff}}" in joined
    assert "unknown type 'strnig'" in joined
    assert "does not match the file name" in joined
    assert "missing field(s): title, answer_schema" in joined


def test_load_template_raises_with_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "x", "[]")
    with pytest.raises(TemplateError, match=r"x\.json: must hold a JSON object"):
        load_template(path)


def test_schema_subset() -> None:
    schema = load_templates().get("next_steps").answer_schema
    assert check_schema(schema) == []
    assert validate({"steps": [{"action": "Restart", "owner": "customer"}]}, schema) == []
    errors = validate({"steps": [{"action": "", "owner": "boss"}], "escalate": "yes"}, schema)
    assert "$.steps[0].action: must have at least 1 characters" in errors
    assert "$.steps[0].owner: expected one of agent, customer, engineering, other, got 'boss'" in errors
    assert "$.escalate: expected boolean, got string" in errors
    assert validate({}, schema) == ["$: missing required field 'steps'"]
    assert validate({"a": 1, "b": 2}, {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "integer", "maximum": 0}}}) == [
        "$.a: must be <= 0", "$: unexpected field 'b'"]
    assert check_schema({"type": "object", "oneOf": []}) == ["$: unsupported keyword 'oneOf'"]


def test_build_prompt_redacts_values_not_template_text() -> None:
    template = load_templates().get("draft_reply")
    built = build_prompt(template, CASE, COMMENTS, ["log: connection from 10.20.30.40 refused, token=abcdef0123456789abcdef"], ["Jonas Becker"])
    text = built.text
    for secret in ("Maria", "Schneider", "maria.schneider@acme-corp.com", "10.20.30.40", "+49 30 12345678", "4111 1111 1111 1111", "Jonas", "abcdef0123456789abcdef"):
        assert secret not in text, secret
    assert "Write in German" in text and "SUP-1042" in text and "ERR-1042" in text
    assert "(internal note)" in text and "(public reply)" in text
    assert '"priority"' not in text and '"body"' in text  # the answer schema of draft_reply
    assert "friendly and professional" in text  # default of {{case.tone|...}}
    for span in built.spans:
        assert text[span.start : span.end] == span.placeholder
    kinds = {s.kind for s in built.spans}
    assert {"PERSON", "EMAIL", "IP", "PHONE", "CARD", "SECRET"} <= kinds
    assert len({s.placeholder for s in built.spans if text[s.start : s.end] == "[IP_1]"}) == 1
    assert restore(text, built.redaction_map).unknown == []
    import hashlib

    assert built.sha256 == hashlib.sha256(text.encode()).hexdigest()
    again = build_prompt(template, CASE, COMMENTS, [], ["Jonas Becker"], redaction_map=built.redaction_map)
    assert again.redaction_map is built.redaction_map and "[PERSON_1]" in again.text


def test_build_prompt_uses_case_comments_and_cuts_attachments() -> None:
    template = load_templates().get("root_cause")
    case = dict(CASE, comments=COMMENTS)
    built = build_prompt(template, case, None, ["x" * 50_000], [])
    assert "Still broken" in built.text
    assert "[... 10000 more characters cut ...]" in built.text
    translate = build_prompt(load_templates().get("translate_reply"), dict(CASE, reply_draft="Hallo Maria"), [], ["ignored"], [])
    assert "Hallo [PERSON_" in translate.text and "ignored" not in translate.text


def test_builtin_dir_is_the_repo_resources() -> None:
    assert BUILTIN_DIR.name == "prompts" and (BUILTIN_DIR / "triage.json").is_file()

"""Find the JSON answer in text pasted back from a chat, check it, restore placeholders."""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from app.llm.answer_schema import validate
from app.llm.redaction import restore
from app.llm.redaction_map import RedactionMap
from app.llm.templates import PromptTemplate

MAX_ANSWER_CHARS = 2_000_000
MAX_CANDIDATES = 200
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|javascript|js)?[ \t]*\r?\n(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


class AnswerError(Exception):
    """The pasted answer cannot be used; the message says why."""


@dataclass(slots=True)
class ParsedAnswer:
    data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Candidate:
    text: str
    fenced: bool


def _balanced_objects(text: str) -> list[str]:
    """Every top-level ``{...}`` with balanced braces (strings and escapes respected)."""
    found: list[str] = []
    i = 0
    n = len(text)
    while i < n and len(found) < MAX_CANDIDATES:
        start = text.find("{", i)
        if start == -1:
            break
        depth = 0
        in_string = False
        escaped = False
        end = -1
        for j in range(start, n):
            ch = text[j]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    end = j
                    break
        if end == -1:
            i = start + 1  # unbalanced from here: try the next brace
            continue
        found.append(text[start : end + 1])
        i = end + 1
    return found


def _candidates(text: str) -> list[_Candidate]:
    out = [_Candidate(m.group(1).strip(), True) for m in _FENCE.finditer(text)]
    out += [_Candidate(obj, False) for obj in _balanced_objects(text)]
    return out


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        fixed = _TRAILING_COMMA.sub(r"\1", text.replace("\u201c", '"').replace("\u201d", '"'))
        return json.loads(fixed)


def _restore_all(value: Any, redaction_map: RedactionMap, unknown: list[str]) -> Any:
    if isinstance(value, str):
        result = restore(value, redaction_map)
        unknown += [u for u in result.unknown if u not in unknown]
        return result.text
    if isinstance(value, list):
        return [_restore_all(v, redaction_map, unknown) for v in value]
    if isinstance(value, dict):
        return {k: _restore_all(v, redaction_map, unknown) for k, v in value.items()}
    return value


def _json_objects(text: str) -> list[tuple[_Candidate, dict[str, Any]]]:
    """Every candidate of ``text`` that is a JSON object, fenced ones first."""
    objects = []
    for cand in _candidates(text):
        try:
            value = _loads(cand.text)
        except ValueError:
            continue
        if isinstance(value, dict):
            objects.append((cand, value))
    if not objects:
        raise AnswerError("no JSON object found in the pasted answer: ask the assistant to answer with JSON only")
    return objects


def _fitting_object(template: PromptTemplate, objects: list[tuple[_Candidate, dict[str, Any]]],
                    warnings: list[str]) -> dict[str, Any]:
    """The first object that fits the template's schema; else an AnswerError naming the
    problems of the object closest to fitting."""
    best_errors: list[str] = []
    for cand, value in objects:
        errors = validate(value, template.answer_schema)
        if not errors:
            if len({json.dumps(v, sort_keys=True) for _, v in objects}) > 1:
                where = "the ```json block" if cand.fenced else "the first object that fits"
                warnings.append(f"several JSON objects in the answer; used {where}")
            return value
        if not best_errors or len(errors) < len(best_errors):
            best_errors = errors
    raise AnswerError(f"the answer does not fit the {template.name} template: " + "; ".join(best_errors))


def parse_answer(
    template: PromptTemplate,
    pasted: str,
    redaction_map: RedactionMap | None = None,
    *,
    allow_unknown_placeholders: bool = False,
) -> ParsedAnswer:
    """The answer object the template asked for, with placeholders restored.

    Looks at ```json fences and every balanced ``{...}`` in the text, keeps the first
    candidate that is valid JSON fitting ``template.answer_schema`` (fenced ones first).
    Raises ``AnswerError`` when no JSON is found, when none fits (naming the fields), or
    when the answer holds placeholders that were never issued (unless allowed)."""
    if len(pasted) > MAX_ANSWER_CHARS:
        raise AnswerError(f"the pasted answer is too long ({len(pasted)} characters)")
    if not pasted.strip():
        raise AnswerError("the pasted answer is empty")
    warnings: list[str] = []
    chosen = _fitting_object(template, _json_objects(pasted.strip()), warnings)
    props = template.answer_schema.get("properties", {})
    extra = [k for k in chosen if props and k not in props]
    if extra:
        warnings.append(f"fields not asked for were kept: {', '.join(extra)}")
    unknown: list[str] = []
    data = _restore_all(chosen, redaction_map or RedactionMap(), unknown)
    if unknown:
        message = f"the answer uses placeholders that were never issued: {', '.join(unknown)}"
        if not allow_unknown_placeholders:
            raise AnswerError(message + " (the assistant invented them; check the answer or allow them)")
        warnings.append(message)
    return ParsedAnswer(data, warnings)

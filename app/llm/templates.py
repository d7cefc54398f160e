"""Prompt templates: JSON files in ``resources/prompts`` plus admin folders.

A template file ``NAME.json`` holds::

    {
      "name": "summarize",                 # must match the file name
      "title": "Summarize the case",
      "description": "What it is for",
      "prompt": ["line", "line", ...],     # or one string
      "answer_schema": {...},              # JSON Schema subset, see answer_schema.py
      "max_attachment_chars": 20000        # optional
    }

The prompt may use ``{{case.FIELD}}`` (any key of the case dict; lists are joined with
", "), ``{{comments}}``, ``{{attachments}}`` and ``{{answer_schema}}``; a default follows a
bar: ``{{case.language|the customer's language}}``. Admin templates (``extra_dirs``) with
the name of a built-in one replace it, so a team can tune prompts without a release.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.llm.answer_schema import check_schema

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "resources" / "prompts"
PLACEHOLDER = re.compile(r"\{\{\s*(?P<name>[A-Za-z_][\w.]*)\s*(?:\|(?P<default>[^}]*))?\}\}")
_GLOBAL_FIELDS = {"comments", "attachments", "answer_schema"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class TemplateError(Exception):
    """A template file is broken; the message names the file."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"prompt template {path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    name: str
    title: str
    description: str
    prompt: str
    answer_schema: dict[str, Any]
    source: Path
    max_attachment_chars: int = 20000


@dataclass(slots=True)
class TemplateSet:
    templates: dict[str, PromptTemplate] = field(default_factory=dict)
    errors: list[TemplateError] = field(default_factory=list)

    def get(self, name: str) -> PromptTemplate:
        try:
            return self.templates[name]
        except KeyError:
            raise KeyError(f"no prompt template named {name!r}; have: {', '.join(sorted(self.templates))}") from None


def load_template(path: Path) -> PromptTemplate:
    path = Path(path)
    raw = _read_json(path)
    missing = [k for k in ("name", "title", "prompt", "answer_schema") if k not in raw]
    if missing:
        raise TemplateError(path, f"missing field(s): {', '.join(missing)}")
    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise TemplateError(path, f"name {name!r} must be lower_snake_case")
    if name != path.stem:
        raise TemplateError(path, f"name {name!r} does not match the file name {path.stem!r}")
    prompt = _prompt(path, raw["prompt"])
    schema = raw["answer_schema"]
    problems = check_schema(schema)
    if not problems and schema.get("type") != "object":
        problems.append("$: the answer must be a JSON object (type: object)")
    if problems:
        raise TemplateError(path, "answer_schema: " + "; ".join(problems))
    max_chars = raw.get("max_attachment_chars", 20000)
    if not isinstance(max_chars, int) or max_chars < 0:
        raise TemplateError(path, "max_attachment_chars must be a non-negative integer")
    return PromptTemplate(
        name=name,
        title=str(raw["title"]),
        description=str(raw.get("description", "")),
        prompt=prompt,
        answer_schema=schema,
        source=path,
        max_attachment_chars=max_chars,
    )


def _read_json(path: Path) -> dict[str, Any]:
    """The file's JSON object; a TemplateError saying why it cannot be one."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise TemplateError(path, f"is not UTF-8 ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise TemplateError(path, f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(raw, dict):
        raise TemplateError(path, "must hold a JSON object")
    return raw


def _prompt(path: Path, prompt: Any) -> str:
    """The prompt text (a string, or a list of lines); every placeholder must be known."""
    if isinstance(prompt, list) and all(isinstance(line, str) for line in prompt):
        prompt = "\n".join(prompt)
    if not isinstance(prompt, str) or not prompt.strip():
        raise TemplateError(path, "prompt must be a non-empty string or a list of strings")
    for match in PLACEHOLDER.finditer(prompt):
        field_name = match.group("name")
        if field_name not in _GLOBAL_FIELDS and not re.fullmatch(r"case\.[A-Za-z_]\w*", field_name):
            raise TemplateError(path, f"unknown placeholder {{{{{field_name}}}}}")
    return prompt


def load_templates(extra_dirs: Sequence[Path] = (), builtin_dir: Path | None = None) -> TemplateSet:
    """Built-in templates, then each admin folder in order (later ones win by name).
    A broken file is reported in ``errors`` and the others still load."""
    result = TemplateSet()
    for folder in [builtin_dir or BUILTIN_DIR, *extra_dirs]:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                template = load_template(path)
            except TemplateError as exc:
                result.errors.append(exc)
                continue
            result.templates[template.name] = template
    return result

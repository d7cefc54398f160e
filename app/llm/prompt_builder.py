"""Fill a prompt template from plain case data, redacting every value that goes in."""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.llm.answer_schema import describe
from app.llm.redaction import Redactor, Span
from app.llm.redaction_map import RedactionMap
from app.llm.templates import PLACEHOLDER, PromptTemplate


@dataclass(slots=True)
class BuiltPrompt:
    text: str
    spans: list[Span]
    """Redacted values in ``text`` (positions in the prompt), for highlighting."""
    redaction_map: RedactionMap
    """Keep locally: it is what turns the answer's placeholders back into real values."""
    sha256: str
    template_name: str = ""


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ", ".join(_as_text(v) for v in value)
    return str(value)


def format_comments(comments: Sequence[Mapping[str, Any]]) -> str:
    if not comments:
        return "(no comments yet)"
    blocks = []
    for c in comments:
        label = "internal note" if c.get("internal") else "public reply"
        head = f"--- {_as_text(c.get('created_at')) or 'undated'} · {_as_text(c.get('author')) or 'unknown'} ({label}) ---"
        blocks.append(f"{head}\n{_as_text(c.get('body')).strip()}")
    return "\n\n".join(blocks)


def format_attachments(texts: Sequence[str], max_chars: int) -> str:
    if not texts or max_chars == 0:
        return "(none)"
    blocks = []
    for i, text in enumerate(texts, start=1):
        cut = text[:max_chars]
        more = f"\n[... {len(text) - max_chars} more characters cut ...]" if len(text) > max_chars else ""
        blocks.append(f"--- attachment {i} ---\n{cut.strip()}{more}")
    return "\n\n".join(blocks)


def _people(case: Mapping[str, Any], comments: Sequence[Mapping[str, Any]], directory: Sequence[str]) -> list[str]:
    names = [n for n in directory if n]
    for value in (case.get("requester_name"), *(c.get("author") for c in comments)):
        if isinstance(value, str) and value.strip() and "@" not in value:
            names.append(value.strip())
    return list(dict.fromkeys(names))


def build_prompt(
    template: PromptTemplate,
    case: Mapping[str, Any],
    comments: Sequence[Mapping[str, Any]] | None = None,
    attachments_text: Sequence[str] = (),
    directory_names: Sequence[str] = (),
    redaction_map: RedactionMap | None = None,
    organizations: Sequence[str] = (),
) -> BuiltPrompt:
    """The prompt text with personal data replaced by placeholders.

    ``comments`` defaults to ``case["comments"]``. People redacted: ``directory_names``
    plus the requester and the comment authors; organizations: ``organizations`` plus
    the case's own. Pass the ``redaction_map`` of an earlier prompt of the same case to
    keep its placeholders."""
    if comments is None:
        comments = case.get("comments") or []
    orgs = [*organizations, *([case["organization"]] if case.get("organization") else [])]
    redactor = Redactor(_people(case, comments, directory_names), redaction_map,
                        organizations=[str(o) for o in dict.fromkeys(orgs)])
    out: list[str] = []
    spans: list[Span] = []
    length = 0
    pos = 0
    for match in PLACEHOLDER.finditer(template.prompt):
        static = template.prompt[pos : match.start()]
        out.append(static)
        length += len(static)
        pos = match.end()
        name, default = match.group("name"), match.group("default")
        if name == "answer_schema":
            value, redact = describe(template.answer_schema), False
        elif name == "comments":
            value, redact = format_comments(comments), True
        elif name == "attachments":
            value, redact = format_attachments(attachments_text, template.max_attachment_chars), True
        else:
            value, redact = _as_text(case.get(name.removeprefix("case."))), True
            if not value.strip() and default is not None:
                value, redact = default.strip(), False
        if redact:
            result = redactor.redact(value)
            spans += [Span(s.start + length, s.end + length, s.kind, s.placeholder) for s in result.spans]
            value = result.text
        out.append(value)
        length += len(value)
    out.append(template.prompt[pos:])
    text = "".join(out)
    return BuiltPrompt(text, spans, redactor.redaction_map, hashlib.sha256(text.encode("utf-8")).hexdigest(), template.name)

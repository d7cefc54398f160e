"""The manual LLM workflow on a case: build a redacted prompt, note that it was copied,
read the pasted answer back into proposed changes, and apply the accepted ones.

Nothing here talks to an LLM. The redaction map (placeholder -> original) of every prompt
is kept only on this machine, in ``<data_dir>/redaction-maps/<prompt sha256>.json``: it is
never an event and never synced. Events record hashes, not texts:
``llm.prompt_copied {template, prompt_sha256}`` and
``llm.answer_accepted {template, answer_sha256, applied}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, select

from app.core import commands as cmd
from app.core import events as ev
from app.core.changes import Changes
from app.core.commands import EventFactory
from app.core.model import InvalidValue, normalize_tag, parse_field
from app.llm.pii_recognisers import PhoneRegionsError
from app.llm.prompt_builder import BuiltPrompt, build_prompt
from app.llm.redaction import Redactor
from app.llm.redaction_map import RedactionMap
from app.llm.response_parser import AnswerError, parse_answer
from app.llm.templates import PromptTemplate, TemplateSet, load_templates
from app.operations.attachments import data_dir
from app.operations.cases import _guard, _load
from app.operations.errors import NotFound, OperationError
from app.paths import private_dir
from app.store import intake_queries as iq
from app.store import queries as q
from app.store import schema as s
from app.store.repo import Store

MAPS_DIR = "redaction-maps"
PROMPTS_DIR = "prompts"
"""Admin templates in ``<data_dir>/prompts`` replace built-in ones of the same name."""
MAP_MAX_AGE_S = 90 * 86_400
CLEAR_CLIPBOARD_AFTER_S = 60
# Triage categories -> case types (None: leave the type alone).
CATEGORY_TYPE: dict[str, str | None] = {
    "bug": "incident", "outage": "incident", "security": "incident", "question": "question",
    "how_to": "question", "account": "question", "billing": "question",
    "feature_request": "task", "other": None,
}
REPLY_TEMPLATES = {"draft_reply": "body", "translate_reply": "translation"}

ChangeKind = Literal["field", "tags", "note", "reply"]


@dataclass(slots=True)
class ProposedChange:
    id: str
    """``field:priority``, ``tags``, ``note`` or ``reply``."""
    kind: ChangeKind
    label: str
    new: Any
    old: Any = None
    field: str | None = None
    accepted: bool = True
    """Whether applying the preview applies this change (the UI's checkbox)."""


@dataclass(slots=True)
class Preview:
    case_id: str
    case_key: str
    template: str
    answer_sha256: str
    data: dict[str, Any]
    changes: list[ProposedChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    def change(self, change_id: str) -> ProposedChange:
        for c in self.changes:
            if c.id == change_id:
                return c
        raise KeyError(change_id)


@dataclass(slots=True)
class AppliedAnswer:
    changes: Changes
    applied: list[str]
    composer_text: str | None = None
    """The accepted reply text, for the composer (never sent by itself)."""


# --- templates --------------------------------------------------------------------------
def templates(store: Store) -> TemplateSet:
    return load_templates(extra_dirs=[data_dir(store) / PROMPTS_DIR])


def template_list(store: Store) -> list[dict[str, str]]:
    found = templates(store)
    return [{"name": t.name, "title": t.title, "description": t.description}
            for t in sorted(found.templates.values(), key=lambda t: t.name)]


def _template(store: Store, name: str) -> PromptTemplate:
    try:
        return templates(store).get(name)
    except KeyError as exc:
        raise NotFound(str(exc.args[0])) from exc


# --- the case as a template sees it -----------------------------------------------------
def _iso(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _attachment_texts(conn: Connection, case_id: str) -> list[str]:
    rows = iq.case_attachments(conn, case_id)
    extracted = iq.extracted_rows(conn, [r["sha256"] for r in rows])
    sigs = iq.case_signatures(conn, case_id)
    texts = []
    seen: set[str] = set()
    for r in rows:
        x = extracted.get(r["sha256"])
        if x is None or r["sha256"] in seen or (not x["text"].strip() and not x["signatures"]):
            continue
        seen.add(r["sha256"])
        head = f"{r['name']} ({x['kind']}, {r['size']:,} bytes)"
        mine = [sig for sig in sigs if sig["sha256"] == r["sha256"]]
        lines = [head]
        if mine:
            lines.append("Error signatures:")
            lines += [f"- {sig['title']} (x{sig['count']}, lines {sig['first_line']}-"
                      f"{sig['last_line']})" for sig in mine[:20]]
        lines += ["", x["text"]]
        texts.append("\n".join(lines))
    return texts


def _directory_names(conn: Connection, haystack: str) -> list[str]:
    """Customer and agent names that occur (even in part) in the case's text."""
    lower = haystack.lower()
    names = []
    for table in (s.customers, s.agents):
        for (name,) in conn.execute(select(table.c.name)):
            parts = [p for p in str(name or "").split() if len(p) >= 2]
            if parts and any(p.lower() in lower for p in parts):
                names.append(str(name))
    return names


def _organization_names(conn: Connection, haystack: str) -> list[str]:
    """Customer organizations named (in full) in the case's text."""
    lower = haystack.lower()
    return [str(name) for (name,) in conn.execute(select(s.organizations.c.name))
            if name and " ".join(str(name).lower().split()) in lower]


def case_context(conn: Connection, case_id: str, *, reply_draft: str | None = None,
                 language: str | None = None
                 ) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
    """``(case dict, attachment texts, directory names, organization names)`` for
    ``build_prompt``."""
    d = q.case_detail(conn, case_id)
    if d is None:
        raise NotFound(f"no case '{case_id}'")
    requester = d["requester"] or {}
    comments = [{"created_at": _iso(c["created_ms"]), "author": c["author_name"],
                 "internal": bool(c["internal"]), "body": c["body"]} for c in d["comments"]]
    case = {
        "key": d["key"], "subject": d["subject"], "status": d["status"],
        "priority": d["priority"], "type": d["type"], "product": d["product"],
        "organization": (d["organization"] or {}).get("name"), "tags": d["tags"],
        "requester_name": requester.get("name"), "requester_email": requester.get("email"),
        "description": d["description"], "comments": comments,
        "language": language, "reply_draft": reply_draft,
    }
    texts = _attachment_texts(conn, case_id)
    haystack = "\n".join([json.dumps(case, ensure_ascii=False, default=str), *texts])
    return case, texts, _directory_names(conn, haystack), _organization_names(conn, haystack)


# --- redaction maps (local files only) --------------------------------------------------
def maps_dir(store: Store) -> Path:
    return data_dir(store) / MAPS_DIR


def save_map(store: Store, built: BuiltPrompt, case_id: str) -> Path:
    """Keep the prompt's redaction map on this machine (owner-only file)."""
    folder = private_dir(maps_dir(store))
    path = folder / f"{built.sha256}.json"
    record = {"case_id": case_id, "template": built.template_name,
              "created_ms": int(time.time() * 1000), "map": built.redaction_map.to_json()}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(record, out, ensure_ascii=False)
    os.replace(tmp, path)
    _prune(folder)
    return path


def _prune(folder: Path) -> None:
    cutoff = time.time() - MAP_MAX_AGE_S
    for old in folder.glob("*.json"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass


def load_map(store: Store, *, case_id: str, template: str,
             prompt_sha256: str | None = None) -> RedactionMap | None:
    """The map of that prompt, or of the newest prompt built for the case and template."""
    folder = maps_dir(store)
    if prompt_sha256:
        candidates = [folder / f"{prompt_sha256.lower()}.json"]
    else:
        candidates = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime,
                            reverse=True) if folder.is_dir() else []
    for path in candidates:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record.get("case_id") == case_id and (prompt_sha256 or
                                                 record.get("template") == template):
            try:
                return RedactionMap.from_json(record["map"])
            except (KeyError, ValueError):
                return None
    return None


# --- operations -------------------------------------------------------------------------
@_guard
def build(store: Store, *, case: str, template: str, reply_draft: str | None = None,
          language: str | None = None) -> BuiltPrompt:
    """The redacted prompt for ``template`` on ``case``; its map is saved locally."""
    tpl = _template(store, template)

    def fetch(conn: Connection) -> tuple[str, dict[str, Any], list[str], list[str],
                                         list[str]]:
        state = _load(conn, case)
        return (state.id, *case_context(conn, state.id, reply_draft=reply_draft,
                                        language=language))

    case_id, case_dict, texts, names, orgs = store.read(fetch)
    previous = load_map(store, case_id=case_id, template=template)
    try:
        built = build_prompt(tpl, case_dict, attachments_text=texts, directory_names=names,
                             redaction_map=previous, organizations=orgs)
    except PhoneRegionsError as exc:  # a misconfiguration: no prompt rather than a weaker redaction
        raise OperationError(str(exc)) from exc
    save_map(store, built, case_id)
    return built


@_guard
def redact_selection(store: Store, *, case: str, built: BuiltPrompt, start: int, end: int,
                     kind: str = "PERSON") -> BuiltPrompt:
    """Redact ``built.text[start:end]`` (and every other occurrence) as ``kind``."""
    case_id = store.read(lambda c: _load(c, case).id)
    try:
        result = Redactor((), built.redaction_map).redact_more(built.text, start, end, kind)
    except ValueError as exc:
        raise OperationError(str(exc)) from exc
    text = result.text
    new = BuiltPrompt(text, result.spans, result.redaction_map,
                      hashlib.sha256(text.encode("utf-8")).hexdigest(), built.template_name)
    save_map(store, new, case_id)
    return new


@_guard
def record_copy(store: Store, *, case: str, template: str, prompt_sha256: str) -> Changes:
    """Note in the case history that a prompt left the app (its hash, never its text)."""

    def build_events(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _load(conn, case)
        return [f.make(ev.LLM_PROMPT_COPIED,
                       {"template": template, "prompt_sha256": prompt_sha256},
                       case_id=state.id, team_id=state.fields.get("team_id"))]

    return store.record(build_events, label=f"copy a '{template}' prompt of {case}",
                        undoable=False)


def _known_products(conn: Connection) -> list[str]:
    rows = conn.execute(select(s.cases.c.product).where(s.cases.c.product.is_not(None))
                        .distinct())
    return sorted({str(r[0]) for r in rows if r[0]})


def _note(title: str, lines: list[str]) -> str:
    return "\n".join([f"**{title}** (from the LLM, reviewed by the agent)", "", *lines]).strip()


def _bullets(items: list[Any]) -> list[str]:
    return [f"- {item}" for item in items if str(item).strip()]


def _note_for(template: str, data: dict[str, Any]) -> str:
    if template == "summarize":
        lines = [str(data.get("summary", "")).strip(), ""]
        if data.get("customer_goal"):
            lines.append(f"*Customer goal:* {data['customer_goal']}")
        if data.get("current_state"):
            lines.append(f"*Current state:* {data['current_state']}")
        if data.get("open_questions"):
            lines += ["", "*Open questions:*", *_bullets(data["open_questions"])]
        return _note("Summary", lines)
    if template == "next_steps":
        lines = []
        for i, step in enumerate(data.get("steps") or [], start=1):
            why = f" ({step['why']})" if step.get("why") else ""
            lines.append(f"{i}. [{step.get('owner', 'agent')}] {step.get('action', '')}{why}")
        if data.get("escalate"):
            lines += ["", "Suggests escalating this case."]
        return _note("Next steps", lines)
    if template == "root_cause":
        lines = [f"{data.get('root_cause', '')} (confidence: {data.get('confidence', '?')})"]
        if data.get("evidence"):
            lines += ["", "*Evidence:*", *_bullets(data["evidence"])]
        if data.get("fix"):
            lines += ["", f"*Fix:* {data['fix']}"]
        if data.get("workaround"):
            lines.append(f"*Workaround:* {data['workaround']}")
        if data.get("confirm_by"):
            lines += ["", "*Confirm by:*", *_bullets(data["confirm_by"])]
        return _note("Likely root cause", lines)
    lines = [f"*{k}:* {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
             for k, v in data.items()]
    return _note(template.replace("_", " ").capitalize(), lines)


def _triage(conn: Connection, state_fields: dict[str, Any], tags: list[str],
            data: dict[str, Any], preview: Preview) -> None:
    def propose(name: str, value: Any, accepted: bool = True, note: str = "") -> None:
        try:
            value = parse_field(name, value)
        except InvalidValue as exc:
            preview.warnings.append(f"{name}: {exc}")
            return
        old = state_fields.get(name)
        if value == old:
            return
        label = f"{name.capitalize()}: {old or '—'} → {value}{note}"
        preview.changes.append(ProposedChange(f"field:{name}", "field", label, value, old,
                                              name, accepted))

    propose("priority", data.get("priority"))
    case_type = CATEGORY_TYPE.get(str(data.get("category")))
    if case_type:
        propose("type", case_type, note=f" (category {data.get('category')})")
    product = str(data.get("product") or "").strip()
    if product:
        known = {p.lower(): p for p in _known_products(conn)}
        if product.lower() in known:
            propose("product", known[product.lower()])
        else:
            propose("product", product, accepted=False, note=" (not a known product)")
    add: list[str] = []
    for raw in data.get("tags") or []:
        try:
            tag = normalize_tag(str(raw).replace(" ", "-"))
        except InvalidValue as exc:
            preview.warnings.append(str(exc))
            continue
        if tag not in tags and tag not in add:
            add.append(tag)
    if add:
        preview.changes.append(ProposedChange("tags", "tags", "Add tags: " + ", ".join(add),
                                              add, list(tags)))
    if data.get("reason"):
        preview.info.append(f"Reason: {data['reason']}")


@_guard
def preview_answer(store: Store, *, case: str, template: str, text: str,
                   prompt_sha256: str | None = None,
                   allow_unknown_placeholders: bool = False) -> Preview:
    """Read a pasted answer: parse it for ``template``, put the redacted values back
    (from the map saved when the prompt was built) and propose changes. Writes nothing.

    Raises ``OperationError`` for an answer that is not JSON, does not fit the template,
    or uses placeholders the prompt never had."""
    tpl = _template(store, template)
    state = store.read(lambda c: _load(c, case))
    redaction_map = load_map(store, case_id=state.id, template=template,
                             prompt_sha256=prompt_sha256)
    try:
        parsed = parse_answer(tpl, text, redaction_map or RedactionMap(),
                              allow_unknown_placeholders=allow_unknown_placeholders)
    except AnswerError as exc:
        message = str(exc)
        if redaction_map is None and "placeholders" in message:
            message += (f" (no '{template}' prompt of this case was built on this machine, so "
                        "no placeholder can be restored)")
        raise OperationError(message) from exc
    preview = Preview(state.id, str(state.fields.get("key")), template,
                      hashlib.sha256(text.encode("utf-8")).hexdigest(), parsed.data,
                      warnings=list(parsed.warnings))
    data = parsed.data
    if template == "triage":
        store.read(lambda c: _triage(c, dict(state.fields), state.tag_list(), data, preview))
    elif template in REPLY_TEMPLATES:
        reply = str(data.get(REPLY_TEMPLATES[template], "")).strip()
        preview.changes.append(ProposedChange("reply", "reply", "Put the reply in the composer",
                                              reply))
        if data.get("needs_internal_follow_up"):
            preview.info.append("The assistant thinks this needs an internal follow-up.")
        if data.get("notes"):
            preview.info.append(f"Notes: {data['notes']}")
    else:
        preview.changes.append(ProposedChange("note", "note", "Add an internal note",
                                              _note_for(template, data)))
    if not preview.changes:
        preview.info.append("The answer proposes no change to this case.")
    return preview


@_guard
def apply_answer(store: Store, *, case: str, preview: Preview) -> AppliedAnswer:
    """Apply the accepted changes of ``preview`` as one undoable operation and record
    ``llm.answer_accepted``. A reply is returned for the composer, not sent."""
    accepted = [c for c in preview.changes if c.accepted]
    if not accepted:
        raise OperationError("no change is accepted: tick at least one")
    reply = next((c for c in accepted if c.kind == "reply"), None)
    applied: list[str] = []

    def build_events(conn: Connection, f: EventFactory) -> list[ev.Event]:
        state = _load(conn, case)
        if state.id != preview.case_id:
            raise OperationError(f"this answer was read for another case ({preview.case_key})")
        out: list[ev.Event] = []
        fields = {c.field: c.new for c in accepted if c.kind == "field" and c.field}
        if fields:
            out += cmd.set_fields(f, state, fields)
        for c in accepted:
            if c.kind == "tags":
                out += cmd.change_tags(f, state, add=list(c.new))
            elif c.kind == "note":
                out += cmd.comment(f, state, body=str(c.new), internal=True)
        applied.extend(c.id for c in accepted)
        out.append(f.make(ev.LLM_ANSWER_ACCEPTED,
                          {"template": preview.template, "answer_sha256": preview.answer_sha256,
                           "applied": list(applied)},
                          case_id=state.id, team_id=state.fields.get("team_id")))
        return out

    # Only edits make the operation undoable; a reply alone is just the audit event.
    has_edits = any(c.kind in ("field", "tags", "note") for c in accepted)
    changes = store.record(build_events, label=f"apply the LLM '{preview.template}' answer "
                                               f"to {preview.case_key}", undoable=has_edits)
    return AppliedAnswer(changes, applied, str(reply.new) if reply else None)

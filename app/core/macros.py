"""Macros and saved replies: the domain part (pure).

A **saved reply** is a named text with placeholders. A **macro** is one action that applies
several changes to a case (status, priority, assignee, tags, a reply or internal note).

Both are recorded as events with ``case_id`` None so shared ones sync to the team:
``macro.upserted`` / ``macro.deleted`` with payload ``{id, name, scope, actions}`` and
``reply.upserted`` / ``reply.deleted`` with ``{id, name, scope, text}``. ``scope`` is
``shared`` (everyone in the team) or ``personal`` (only the author sees it).

:func:`plan_case` turns a macro and a case into a preview; every reference to a value that
does not exist (a deleted agent, a bad status, a tag that is not valid) is reported before
anything is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.fold import CaseState
from app.core.model import InvalidValue, Priority, Status, normalize_tag, suggest
from app.core.templating import TemplateError, render

MACRO_UPSERTED = "macro.upserted"
MACRO_DELETED = "macro.deleted"
REPLY_UPSERTED = "reply.upserted"
REPLY_DELETED = "reply.deleted"
KIND_OF_EVENT = {MACRO_UPSERTED: "macro", MACRO_DELETED: "macro",
                 REPLY_UPSERTED: "reply", REPLY_DELETED: "reply"}
SCOPES = ("shared", "personal")
ACTION_KEYS = ("status", "priority", "assignee", "add_tags", "remove_tags", "reply",
               "internal")
MAX_NAME = 80


@dataclass(frozen=True, slots=True)
class MacroActions:
    status: str | None = None
    priority: str | None = None
    assignee: str | None = None  # agent id/email, "me", or "none" to unassign
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    reply: str | None = None  # a template
    internal: bool = False  # the reply is an internal note

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("status", "priority", "assignee", "reply"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.add_tags:
            out["add_tags"] = list(self.add_tags)
        if self.remove_tags:
            out["remove_tags"] = list(self.remove_tags)
        if self.internal:
            out["internal"] = True
        return out

    def describe(self) -> list[str]:
        lines = []
        if self.status:
            lines.append(f"set status to {self.status}")
        if self.priority:
            lines.append(f"set priority to {self.priority}")
        if self.assignee:
            lines.append(f"assign to {self.assignee}")
        if self.add_tags:
            lines.append("add tags " + " ".join(self.add_tags))
        if self.remove_tags:
            lines.append("remove tags " + " ".join(self.remove_tags))
        if self.reply:
            lines.append("add an internal note" if self.internal else "add a public reply")
        return lines


@dataclass(frozen=True, slots=True)
class Macro:
    id: str
    name: str
    scope: str
    actions: MacroActions
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class SavedReply:
    id: str
    name: str
    scope: str
    text: str
    owner: str | None = None


def check_name(name: str) -> str:
    clean = " ".join(str(name).split())
    if not clean:
        raise InvalidValue("a name must not be empty")
    if len(clean) > MAX_NAME:
        raise InvalidValue(f"a name is at most {MAX_NAME} characters long")
    return clean


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidValue(f"scope '{scope}' is not one of: {', '.join(SCOPES)}")
    return scope


def _choice(value: object, allowed: list[str], what: str) -> str:
    text = str(value).strip().lower()
    if text not in allowed:
        hint = suggest(text, allowed)
        extra = f" (did you mean '{hint}'?)" if hint else ""
        raise InvalidValue(f"the macro sets {what} '{value}', which is not one of: "
                           f"{', '.join(allowed)}{extra}")
    return text


def parse_actions(data: Mapping[str, Any]) -> MacroActions:
    """Validate the actions of a macro; unknown keys or bad values raise InvalidValue."""
    unknown = sorted(set(data) - set(ACTION_KEYS))
    if unknown:
        raise InvalidValue(f"unknown macro action(s): {', '.join(unknown)}; "
                           f"use {', '.join(ACTION_KEYS)}")
    status = data.get("status")
    priority = data.get("priority")
    reply = data.get("reply")
    actions = MacroActions(
        status=_choice(status, [s.value for s in Status], "status") if status else None,
        priority=_choice(priority, [p.value for p in Priority], "priority") if priority
        else None,
        assignee=str(data["assignee"]).strip() if data.get("assignee") else None,
        add_tags=tuple(sorted({normalize_tag(str(t)) for t in data.get("add_tags") or []})),
        remove_tags=tuple(sorted({normalize_tag(str(t))
                                  for t in data.get("remove_tags") or []})),
        reply=str(reply) if reply and str(reply).strip() else None,
        internal=bool(data.get("internal", False)),
    )
    clash = set(actions.add_tags) & set(actions.remove_tags)
    if clash:
        raise InvalidValue(f"the macro both adds and removes {', '.join(sorted(clash))}")
    if not actions.describe():
        raise InvalidValue("a macro needs at least one action")
    return actions


def macro_from_record(rec_id: str, name: str, scope: str, actions: Mapping[str, Any],
                      owner: str | None = None) -> Macro:
    return Macro(id=rec_id, name=name, scope=scope, actions=parse_actions(actions), owner=owner)


# --- preview -------------------------------------------------------------------------------
@dataclass(slots=True)
class CasePlan:
    case_id: str
    key: str
    fields: dict[str, Any] = field(default_factory=dict)  # field -> new value (only changes)
    before: dict[str, Any] = field(default_factory=dict)  # field -> old value
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    reply: str | None = None
    internal: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.fields or self.add_tags or self.remove_tags or self.reply)

    def lines(self) -> list[str]:
        out = [f"{name}: {self.before.get(name)} → {value}" for name, value in
               self.fields.items()]
        out += [f"tag +{t}" for t in self.add_tags] + [f"tag -{t}" for t in self.remove_tags]
        if self.reply:
            kind = "internal note" if self.internal else "reply"
            first = self.reply.strip().splitlines()[0] if self.reply.strip() else ""
            out.append(f"{kind}: {first[:80]}")
        return out or ["nothing would change"]


@dataclass(slots=True)
class MacroPreview:
    macro: str
    cases: list[CasePlan] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(not c.errors for c in self.cases)

    def all_errors(self) -> list[str]:
        return self.errors + [f"{c.key}: {e}" for c in self.cases for e in c.errors]

    def to_json(self) -> dict[str, Any]:
        return {"macro": self.macro, "ok": self.ok, "errors": self.all_errors(),
                "cases": [{"key": c.key, "fields": c.fields, "before": c.before,
                           "add_tags": c.add_tags, "remove_tags": c.remove_tags,
                           "reply": c.reply, "internal": c.internal, "errors": c.errors}
                          for c in self.cases]}

    def text(self) -> str:
        lines = [f"macro '{self.macro}':"]
        for c in self.cases:
            lines.append(f"  {c.key}:")
            lines += [f"    {ln}" for ln in (c.errors or c.lines())]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def resolve_assignee(ref: str, me: str, agents: Mapping[str, str]) -> str | None:
    """``agents`` maps lowercase id/email/name to the agent id. Raises for an unknown one."""
    low = ref.strip().lower()
    if low in ("none", "nobody", "-"):
        return None
    if low == "me":
        return me
    found = agents.get(low)
    if found is None:
        hint = suggest(low, sorted(agents))
        raise InvalidValue(f"the macro assigns to '{ref}', who is not an agent any more"
                           + (f" (did you mean '{hint}'?)" if hint else ""))
    return found


def plan_case(macro: Macro, case: CaseState, *, me: str, agents: Mapping[str, str],
              context: Mapping[str, Any]) -> CasePlan:
    """What ``macro`` would do to ``case``; problems go to ``plan.errors``, never raise."""
    a = macro.actions
    plan = CasePlan(case_id=case.id, key=str(case.fields.get("key") or case.id))
    wanted: dict[str, Any] = {}
    if a.status:
        wanted["status"] = a.status
    if a.priority:
        wanted["priority"] = a.priority
    if a.assignee:
        try:
            wanted["assignee_id"] = resolve_assignee(a.assignee, me, agents)
        except InvalidValue as exc:
            plan.errors.append(str(exc))
    if a.reply:
        try:
            plan.reply = render(a.reply, context)
            plan.internal = a.internal
        except TemplateError as exc:
            plan.errors.append(f"the reply cannot be filled in: {exc}")
    # A public reply on a new case opens it (as a manual reply does), unless the macro
    # sets the status itself.
    if plan.reply and not a.internal and "status" not in wanted and \
            case.fields.get("status") == "new":
        wanted["status"] = "open"
    for name, value in wanted.items():
        if case.fields.get(name) != value:
            plan.before[name] = case.fields.get(name)
            plan.fields[name] = value
    current = set(case.tag_list())
    plan.add_tags = [t for t in a.add_tags if t not in current]
    plan.remove_tags = [t for t in a.remove_tags if t in current]
    return plan


def complete(replies: Iterable[SavedReply], prefix: str, limit: int = 20) -> list[SavedReply]:
    """Saved replies for ``::prefix`` completion: names starting with the prefix first, then
    names containing it (case-insensitive), each group by name."""
    p = prefix.lstrip(":").strip().lower()
    items = list(replies)
    starts = sorted((r for r in items if r.name.lower().startswith(p)),
                    key=lambda r: r.name.lower())
    inside = sorted((r for r in items if p and p in r.name.lower()
                     and not r.name.lower().startswith(p)), key=lambda r: r.name.lower())
    return (starts + inside)[:limit]


def visible(records: Sequence[Any], me: str) -> list[Any]:
    """Shared records, and the personal ones of ``me``."""
    return [r for r in records if r.scope == "shared" or (r.owner or "").lower() == me.lower()]

"""Macro and saved-reply operations.

Macros and saved replies are events (``macro.upserted`` … with ``case_id`` None, see
:mod:`app.core.macros`); the analytics read model folds them into ``am_macros``, so the
lists survive a rebuild and shared ones arrive by sync.

Applying a macro records **all** its changes to all selected cases in one
``store.record`` call, so it is **one undoable operation** (``undo`` reverts every field,
tag and the reply together). It builds events with the same command functions
(:mod:`app.core.commands`) and helpers the functions of :mod:`app.operations.cases` use;
calling those functions one by one would make one undo step per change.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from app.analytics.model import AnalyticsModel
from app.core import commands as cmd
from app.core import events as ev
from app.core import macros as mc
from app.core.changes import Changes
from app.core.commands import EventFactory
from app.core.fold import CaseState
from app.core.ids import uuid7
from app.core.model import InvalidValue
from app.core.templating import TemplateError, person_context, render
from app.operations.cases import _guard, _load
from app.operations.errors import NotFound, OperationError
from app.store import analytics_tables as at
from app.store import queries as q
from app.store import schema as s
from app.store.repo import Store


# --- reading -----------------------------------------------------------------------------
def _records(model: AnalyticsModel, kind: str) -> list[dict[str, Any]]:
    model.catch_up()
    t = at.am_macros
    return model.read(lambda c: [dict(r._mapping) for r in c.execute(
        select(t).where(t.c.kind == kind, t.c.deleted.is_(False)).order_by(t.c.name))])


def list_macros(model: AnalyticsModel, *, me: str) -> list[mc.Macro]:
    """Shared macros and my personal ones (a stored macro that no longer validates is
    still listed; applying it reports why)."""
    out = []
    for r in _records(model, "macro"):
        actions = json.loads(r["body"]) or {}
        try:
            parsed = mc.parse_actions(actions)
        except InvalidValue:
            parsed = mc.MacroActions(**{k: v for k, v in actions.items()
                                        if k in ("status", "priority", "assignee", "reply")})
        out.append(mc.Macro(id=r["id"], name=r["name"], scope=r["scope"], actions=parsed,
                            owner=r["owner"]))
    return mc.visible(out, me)


def list_replies(model: AnalyticsModel, *, me: str) -> list[mc.SavedReply]:
    out = [mc.SavedReply(id=r["id"], name=r["name"], scope=r["scope"],
                         text=str((json.loads(r["body"]) or {}).get("text", "")),
                         owner=r["owner"]) for r in _records(model, "reply")]
    return mc.visible(out, me)


def _find(items: list[Any], ref: str, what: str) -> Any:
    low = ref.strip().lower()
    for item in items:
        if item.id == ref or item.name.lower() == low:
            return item
    from app.core.model import suggest

    hint = suggest(low, [i.name.lower() for i in items])
    raise NotFound(f"no {what} '{ref}'" + (f" (did you mean '{hint}'?)" if hint else ""))


def find_macro(model: AnalyticsModel, ref: str, *, me: str) -> mc.Macro:
    return _find(list_macros(model, me=me), ref, "macro")  # type: ignore[no-any-return]


def find_reply(model: AnalyticsModel, ref: str, *, me: str) -> mc.SavedReply:
    return _find(list_replies(model, me=me), ref, "saved reply")  # type: ignore[no-any-return]


def complete_replies(model: AnalyticsModel, prefix: str, *, me: str,
                     limit: int = 20) -> list[dict[str, str]]:
    """``::`` completion data for the composer: ``[{id, name, scope, preview}]``."""
    found = mc.complete(list_replies(model, me=me), prefix, limit)
    return [{"id": r.id, "name": r.name, "scope": r.scope,
             "preview": " ".join(r.text.split())[:100]} for r in found]


# --- writing definitions -----------------------------------------------------------------
def _team_for(store: Store, conn: Connection, team: str | None) -> str | None:
    return team or store.get_default_team(conn)


@_guard
def save_macro(store: Store, *, name: str, actions: dict[str, Any], scope: str = "shared",
               macro_id: str | None = None, team: str | None = None) -> tuple[str, Changes]:
    clean = mc.check_name(name)
    mc.check_scope(scope)
    parsed = mc.parse_actions(actions)
    rec_id = macro_id or uuid7()

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        return [f.make(mc.MACRO_UPSERTED, {"id": rec_id, "name": clean, "scope": scope,
                                           "actions": parsed.to_json()},
                       case_id=None, team_id=_team_for(store, conn, team))]

    return rec_id, store.record(build, label=f"save macro '{clean}'", undoable=False)


@_guard
def delete_macro(store: Store, model: AnalyticsModel, *, ref: str) -> Changes:
    macro = find_macro(model, ref, me=store.actor)

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        return [f.make(mc.MACRO_DELETED, {"id": macro.id, "name": macro.name,
                                          "scope": macro.scope},
                       case_id=None, team_id=store.get_default_team(conn))]

    return store.record(build, label=f"delete macro '{macro.name}'", undoable=False)


@_guard
def save_reply(store: Store, *, name: str, text: str, scope: str = "shared",
               reply_id: str | None = None, team: str | None = None) -> tuple[str, Changes]:
    clean = mc.check_name(name)
    mc.check_scope(scope)
    if not text.strip():
        raise InvalidValue("a saved reply needs some text")
    rec_id = reply_id or uuid7()

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        return [f.make(mc.REPLY_UPSERTED, {"id": rec_id, "name": clean, "scope": scope,
                                           "text": text},
                       case_id=None, team_id=_team_for(store, conn, team))]

    return rec_id, store.record(build, label=f"save reply '{clean}'", undoable=False)


@_guard
def delete_reply(store: Store, model: AnalyticsModel, *, ref: str) -> Changes:
    reply = find_reply(model, ref, me=store.actor)

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        return [f.make(mc.REPLY_DELETED, {"id": reply.id, "name": reply.name,
                                          "scope": reply.scope},
                       case_id=None, team_id=store.get_default_team(conn))]

    return store.record(build, label=f"delete reply '{reply.name}'", undoable=False)


# --- context for placeholders ------------------------------------------------------------
def _agents_index(conn: Connection) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in q.directory(conn, "agents"):
        for k in (a["id"], a.get("email"), a.get("name")):
            if k:
                out[str(k).lower()] = str(a["id"])
    return out


def render_context(conn: Connection, state: CaseState, me: str) -> dict[str, Any]:
    f = state.fields
    requester = conn.execute(select(s.customers).where(
        s.customers.c.id == f.get("requester_id"))).first() if f.get("requester_id") else None
    org = conn.execute(select(s.organizations.c.name).where(
        s.organizations.c.id == f.get("organization_id"))).scalar() \
        if f.get("organization_id") else None
    agent = q.find_agent(conn, me) if me else None
    team = conn.execute(select(s.teams.c.name).where(s.teams.c.id == f.get("team_id"))
                        ).scalar() if f.get("team_id") else None
    return {
        "requester": person_context(requester.name if requester else None,
                                    requester.email if requester else None),
        "organization": {"name": org},
        "case": {"key": f.get("key"), "subject": f.get("subject"), "status": f.get("status"),
                 "priority": f.get("priority"), "product": f.get("product"), "id": state.id},
        "agent": person_context(agent["name"] if agent else None,
                                agent.get("email") if agent else None),
        "team": {"name": team},
    }


@_guard
def render_reply(store: Store, model: AnalyticsModel, *, reply: str, case: str) -> str:
    """The text of saved reply ``reply`` for ``case``; missing values raise, listing them."""
    saved = find_reply(model, reply, me=store.actor)

    def fn(conn: Connection) -> str:
        state = _load(conn, case)
        try:
            return render(saved.text, render_context(conn, state, store.actor))
        except TemplateError as exc:
            raise OperationError(f"saved reply '{saved.name}' for "
                                 f"{state.fields.get('key')}: {exc}") from None

    return store.read(fn)


# --- preview and apply -------------------------------------------------------------------
def _plan(conn: Connection, store: Store, macro: mc.Macro,
          cases: list[str]) -> tuple[mc.MacroPreview, list[CaseState]]:
    preview = mc.MacroPreview(macro=macro.name)
    states: list[CaseState] = []
    if not cases:
        preview.errors.append("no case selected")
    agents = _agents_index(conn)
    seen: set[str] = set()
    for ref in cases:
        try:
            state = _load(conn, ref)
        except NotFound as exc:
            preview.errors.append(str(exc))
            continue
        if state.id in seen:
            continue
        seen.add(state.id)
        states.append(state)
        preview.cases.append(mc.plan_case(macro, state, me=store.actor, agents=agents,
                                          context=render_context(conn, state, store.actor)))
    return preview, states


@_guard
def preview_macro(store: Store, model: AnalyticsModel, *, macro: str,
                  cases: list[str]) -> mc.MacroPreview:
    """What applying ``macro`` to ``cases`` would change; nothing is written."""
    found = find_macro(model, macro, me=store.actor)
    return store.read(lambda c: _plan(c, store, found, cases)[0])


@_guard
def apply_macro(store: Store, model: AnalyticsModel, *, macro: str,
                cases: list[str]) -> tuple[mc.MacroPreview, Changes]:
    """Apply ``macro`` to every case in ``cases`` as one undoable operation. If any case
    has a problem (unknown case, deleted agent, missing placeholder value…) nothing is
    applied and OperationError lists every problem."""
    found = find_macro(model, macro, me=store.actor)
    result: dict[str, mc.MacroPreview] = {}

    def build(conn: Connection, f: EventFactory) -> list[ev.Event]:
        # Validate the stored actions again: a shared macro may predate a rule change.
        mc.parse_actions(found.actions.to_json())
        preview, states = _plan(conn, store, found, cases)
        result["preview"] = preview
        if not preview.ok:
            raise OperationError(f"macro '{found.name}' was not applied: "
                                 + "; ".join(preview.all_errors()))
        out: list[ev.Event] = []
        for plan, state in zip(preview.cases, states, strict=True):
            if plan.reply:
                out += cmd.comment(f, state, body=plan.reply, internal=plan.internal)
            if plan.fields:
                out += cmd.set_fields(f, state, plan.fields)
                for name, value in plan.fields.items():
                    state.fields[name] = value
            if plan.add_tags or plan.remove_tags:
                out += cmd.change_tags(f, state, plan.add_tags, plan.remove_tags)
        return out

    n = len(cases)
    changes = store.record(build, label=f"macro '{found.name}' on "
                                        f"{cases[0] if n == 1 else f'{n} cases'}")
    return result["preview"], changes

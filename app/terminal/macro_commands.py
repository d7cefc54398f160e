"""``macro …`` and ``reply …`` commands: macros and saved replies, headless."""

from __future__ import annotations

import json

from app.operations import macros as mops
from app.terminal.parser import CommandError, Parser
from app.terminal.report_commands import analytics_model
from app.terminal.runner import CommandResult, Context, _changed, command


@command("macro list", "macro list")
def macro_list(ctx: Context, args: list[str]) -> CommandResult:
    if args:
        raise CommandError("macro list takes no arguments")
    macros = mops.list_macros(analytics_model(ctx), me=ctx.store.actor)
    data = [{"id": m.id, "name": m.name, "scope": m.scope, "actions": m.actions.to_json(),
             "does": m.actions.describe()} for m in macros]
    text = "\n".join(f"{d['name']:<28} {d['scope']:<8} {'; '.join(d['does'])}" for d in data)
    return CommandResult(True, text or "no macros", data)


@command("macro run", "macro run NAME KEY... [--dry-run]")
def macro_run(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="macro run")
    p.add_argument("name")
    p.add_argument("keys", nargs="+")
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(args)
    model = analytics_model(ctx)
    if a.dry_run:
        preview = mops.preview_macro(ctx.store, model, macro=a.name, cases=a.keys)
        data = preview.to_json() | {"dry_run": True}
        return CommandResult(preview.ok, preview.text() + "\n(dry run: nothing written)", data,
                             exit_code=0 if preview.ok else 1)
    preview, changes = mops.apply_macro(ctx.store, model, macro=a.name, cases=a.keys)
    return _changed(changes, preview.text(), preview.to_json() | {"dry_run": False})


@command("macro save", "macro save NAME ACTIONS_JSON [--personal]   e.g. macro save Escalate "
                       "'{\"priority\": \"high\", \"add_tags\": [\"escalated\"]}'")
def macro_save(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="macro save")
    p.add_argument("name")
    p.add_argument("actions")
    p.add_argument("--personal", action="store_true")
    a = p.parse_args(args)
    try:
        actions = json.loads(a.actions)
    except json.JSONDecodeError as exc:
        raise CommandError(f"macro save: the actions are not JSON: {exc}") from None
    if not isinstance(actions, dict):
        raise CommandError("macro save: the actions must be a JSON object")
    existing = {m.name.lower(): m.id for m in mops.list_macros(analytics_model(ctx),
                                                               me=ctx.store.actor)}
    rec_id, changes = mops.save_macro(ctx.store, name=a.name, actions=actions,
                                      scope="personal" if a.personal else "shared",
                                      macro_id=existing.get(a.name.strip().lower()))
    return _changed(changes, f"saved macro '{a.name}'", {"id": rec_id})


@command("macro delete", "macro delete NAME")
def macro_delete(ctx: Context, args: list[str]) -> CommandResult:
    if len(args) != 1:
        raise CommandError("usage: macro delete NAME")
    changes = mops.delete_macro(ctx.store, analytics_model(ctx), ref=args[0])
    return _changed(changes, f"deleted macro '{args[0]}'")


@command("reply list", "reply list [PREFIX]")
def reply_list(ctx: Context, args: list[str]) -> CommandResult:
    model = analytics_model(ctx)
    if args:
        data = mops.complete_replies(model, " ".join(args), me=ctx.store.actor)
    else:
        data = [{"id": r.id, "name": r.name, "scope": r.scope,
                 "preview": " ".join(r.text.split())[:100]}
                for r in mops.list_replies(model, me=ctx.store.actor)]
    text = "\n".join(f"{d['name']:<28} {d['scope']:<8} {d['preview'][:60]}" for d in data)
    return CommandResult(True, text or "no saved replies", data)


@command("reply insert", "reply insert NAME KEY   (prints the reply filled in for the case)")
def reply_insert(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="reply insert")
    p.add_argument("name")
    p.add_argument("key")
    a = p.parse_args(args)
    text = mops.render_reply(ctx.store, analytics_model(ctx), reply=a.name, case=a.key)
    return CommandResult(True, text, {"name": a.name, "key": a.key, "text": text})


@command("reply save", "reply save NAME TEXT [--personal]")
def reply_save(ctx: Context, args: list[str]) -> CommandResult:
    personal = "--personal" in args
    args = [x for x in args if x != "--personal"]
    if len(args) < 2:
        raise CommandError("usage: reply save NAME TEXT [--personal]")
    name, text = args[0], " ".join(args[1:])
    if text == "-":
        text = ctx.read_stdin()
    existing = {r.name.lower(): r.id for r in mops.list_replies(analytics_model(ctx),
                                                                me=ctx.store.actor)}
    rec_id, changes = mops.save_reply(ctx.store, name=name, text=text,
                                      scope="personal" if personal else "shared",
                                      reply_id=existing.get(name.strip().lower()))
    return _changed(changes, f"saved reply '{name}'", {"id": rec_id})


@command("reply delete", "reply delete NAME")
def reply_delete(ctx: Context, args: list[str]) -> CommandResult:
    if len(args) != 1:
        raise CommandError("usage: reply delete NAME")
    changes = mops.delete_reply(ctx.store, analytics_model(ctx), ref=args[0])
    return _changed(changes, f"deleted reply '{args[0]}'")

"""The command language shared by the in-app terminal and the CLI (`smart-support run`)."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.core.changes import Changes
from app.core.errors import AppError
from app.core.model import EDITABLE_FIELDS, suggest
from app.operations import cases as ops
from app.operations.errors import OperationError
from app.operations.integrations import integrations_of, summary_lines
from app.operations.mail import deliveries_of
from app.store import queries as q
from app.store.repo import Store
from app.terminal.parser import CommandError, Parser


@dataclass(slots=True)
class CommandResult:
    ok: bool
    text: str
    data: Any = None
    changes: Changes | None = None
    exit_code: int = 0


@dataclass(slots=True)
class Context:
    store: Store
    # Reads text piped to the CLI (e.g. an LLM answer); only called by commands that need it.
    stdin: Callable[[], str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def read_stdin(self) -> str:
        if self.stdin is None:
            raise CommandError("this command reads text from standard input; none was given")
        return self.stdin()


Handler = Callable[[Context, list[str]], CommandResult]
COMMANDS: dict[str, Handler] = {}
# Commands that take the rest of the line verbatim (their own quoting, e.g. search phrases).
RAW_COMMANDS: set[str] = set()
SUBCOMMANDS: dict[str, list[str]] = {}
HELP: dict[str, str] = {}


def command(name: str, help_text: str, *, raw: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        if raw:
            RAW_COMMANDS.add(name)
        HELP[name] = help_text
        head, _, sub = name.partition(" ")
        if sub:
            SUBCOMMANDS.setdefault(head, []).append(sub)
        return fn

    return register


def _fmt_ms(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _changed(changes: Changes, text: str, data: Any = None) -> CommandResult:
    return CommandResult(True, text, data if data is not None else {"ok": True}, changes)


def execute(store: Store, line: str, *,
            stdin: Callable[[], str] | None = None) -> CommandResult:
    """Run one command line. Never raises for bad input: returns ok=False with a message."""
    ctx = Context(store, stdin)
    _load_plugins()
    head, _, rest = line.strip().partition(" ")
    if head.lower() in RAW_COMMANDS:
        try:
            return COMMANDS[head.lower()](ctx, [rest.strip()] if rest.strip() else [])
        except CommandError as exc:
            return CommandResult(False, str(exc), {"error": str(exc)}, exit_code=2)
        except AppError as exc:
            return CommandResult(False, str(exc), {"error": str(exc)}, exit_code=1)
    try:
        words = shlex.split(line)
    except ValueError as exc:
        return CommandResult(False, f"cannot read the command: {exc}", exit_code=2)
    if not words:
        return CommandResult(False, "empty command; try 'help'", exit_code=2)
    _load_plugins()
    name, args = _match(words)
    try:
        return COMMANDS[name](ctx, args)
    except CommandError as exc:
        return CommandResult(False, str(exc), {"error": str(exc)}, exit_code=2)
    except AppError as exc:
        return CommandResult(False, str(exc), {"error": str(exc)}, exit_code=1)


def _match(words: list[str]) -> tuple[str, list[str]]:
    head = words[0].lower()
    if len(words) > 1 and f"{head} {words[1].lower()}" in COMMANDS:
        return f"{head} {words[1].lower()}", words[2:]
    if head in COMMANDS:
        return head, words[1:]
    if head in SUBCOMMANDS:
        sub = words[1] if len(words) > 1 else ""
        hint = suggest(sub, SUBCOMMANDS[head])
        raise_msg = (f"unknown command '{head} {sub}'" if sub else f"'{head}' needs a subcommand")
        raise_msg += f" (did you mean '{head} {hint}'?)" if hint else \
            f"; one of: {', '.join(sorted(SUBCOMMANDS[head]))}"
        return "_error", [raise_msg]
    hint = suggest(head, sorted({n.split()[0] for n in COMMANDS if not n.startswith("_")}))
    return "_error", [f"unknown command '{head}'" + (f" (did you mean '{hint}'?)" if hint
                                                     else "; try 'help'")]


@command("_error", "")
def _error(ctx: Context, args: list[str]) -> CommandResult:
    return CommandResult(False, args[0], {"error": args[0]}, exit_code=2)


_plugins_loaded = False


def _load_plugins() -> None:
    """Commands of other areas (search, llm, reports…) register themselves when importable."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import importlib

    for module in ("app.terminal.search_commands", "app.terminal.llm_commands",
                   "app.terminal.intake_commands", "app.terminal.report_commands",
                   "app.terminal.macro_commands", "app.terminal.integration_commands",
                   "app.terminal.mail_commands"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def complete(store: Store, line: str) -> list[str]:
    """Completions for the last word of ``line`` (commands, fields, values, case keys)."""
    _load_plugins()
    words = line.split()
    trailing = line.endswith(" ") or not line
    current = "" if trailing else (words[-1] if words else "")
    done = words if trailing else words[:-1]
    names = sorted(n for n in COMMANDS if not n.startswith("_"))
    if not done:
        options = sorted({n.split()[0] for n in names})
    elif len(done) == 1 and done[0] in SUBCOMMANDS:
        options = sorted(SUBCOMMANDS[done[0]])
    elif done[:2] == ["case", "set"] and "=" not in current:
        options = [f"{f}=" for f in EDITABLE_FIELDS] if len(done) > 2 else []
    elif "=" in current:
        fname, _, _ = current.partition("=")
        from app.core.model import CaseType, Priority, Status

        values = {"status": Status, "priority": Priority, "type": CaseType}.get(fname)
        options = [f"{fname}={v.value}" for v in values] if values else []
    else:
        options = []
    if not options and len(done) >= 2 and done[0] in ("case", "jira", "salesforce"):
        prefix = current.upper()
        if prefix:
            from sqlalchemy import select

            from app.store import schema as s

            options = store.read(lambda c: [r[0] for r in c.execute(
                select(s.case_keys.c.key).where(s.case_keys.c.key.like(f"{prefix}%"))
                .order_by(s.case_keys.c.key).limit(20))])
    return [o for o in options if o.startswith(current)]


# --- case commands ----------------------------------------------------------------------
def _case_brief(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d["id"], "key": d["key"], "subject": d["subject"], "status": d["status"],
        "priority": d["priority"], "type": d["type"], "description": d["description"],
        "requester": (d["requester"] or {}).get("email") or (d["requester"] or {}).get("name"),
        "organization": (d["organization"] or {}).get("name"),
        "assignee": d["assignee_id"], "team": d["team_id"], "product": d["product"],
        "tags": d["tags"], "due_at": d["due_at"], "merged_into": d.get("merged_into_key"),
        "created": _fmt_ms(d["created_ms"]), "updated": _fmt_ms(d["updated_ms"]),
        "first_response": _fmt_ms(d["first_response_ms"]), "solved": _fmt_ms(d["solved_ms"]),
        "links": [{"kind": lk["kind"], "key": lk["key"]} for lk in d["links"]],
        "merged_from": [m["key"] for m in d["merged_from"]],
        "comments": [{"id": c["id"], "author": c["author_name"], "internal": bool(c["internal"]),
                      "created": _fmt_ms(c["created_ms"]), "body": c["body"]}
                     for c in d["comments"]],
    }


def _detail(store: Store, ref: str) -> dict[str, Any]:
    def fetch(conn: Any) -> dict[str, Any] | None:
        case_id = q.resolve_case(conn, ref)
        return q.case_detail(conn, case_id) if case_id else None

    d = store.read(fetch)
    if d is None or d["deleted"]:
        raise OperationError(f"no case '{ref}'")
    return d


@command("case new", "case new --subject S [--description D] [--priority P] [--type T] "
                     "[--requester EMAIL] [--assignee A] [--product P] [--due DATE] [--tag T]...")
def case_new(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case new")
    p.add_argument("--subject", required=True)
    p.add_argument("--description")
    p.add_argument("--priority")
    p.add_argument("--type")
    p.add_argument("--requester")
    p.add_argument("--assignee")
    p.add_argument("--product")
    p.add_argument("--due")
    p.add_argument("--status")
    p.add_argument("--tag", action="append", default=[])
    a = p.parse_args(args)
    case_id, key, changes = ops.create_case(
        ctx.store, subject=a.subject, description=a.description, priority=a.priority,
        type=a.type, requester_email=a.requester, tags=a.tag, assignee=a.assignee,
        product=a.product, due=a.due, status=a.status)
    return _changed(changes, f"created {key}", {"id": case_id, "key": key})


@command("case show", "case show KEY")
def case_show(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case show")
    p.add_argument("key")
    a = p.parse_args(args)
    d = _detail(ctx.store, a.key)
    b = _case_brief(d)
    b["integrations"] = ctx.store.read(lambda c: integrations_of(c, d["id"]))
    sent = ctx.store.read(lambda c: deliveries_of(c, d["id"]))  # mail out (issue 17)
    for comment in b["comments"]:
        comment["delivery"] = sent.get(comment["id"])
    lines = [f"{b['key']}  {b['subject']}",
             f"  status {b['status']} · priority {b['priority']} · type {b['type']}",
             f"  requester {b['requester'] or '-'} · org {b['organization'] or '-'} · "
             f"assignee {b['assignee'] or '-'} · team {b['team'] or '-'}",
             f"  product {b['product'] or '-'} · tags {' '.join(b['tags']) or '-'} · "
             f"due {b['due_at'] or '-'}",
             f"  created {b['created']} · updated {b['updated']}"]
    if b["merged_into"]:
        lines.append(f"  merged into {b['merged_into']}")
    for lk in b["links"]:
        lines.append(f"  {lk['kind']}: {lk['key']}")
    lines += summary_lines(b["integrations"])
    if b["description"]:
        lines += ["", b["description"]]
    for c in b["comments"]:
        kind = "internal note" if c["internal"] else "reply"
        lines += ["", f"--- {c['author']} · {kind} · {c['created']}", c["body"]]
    return CommandResult(True, "\n".join(lines), b)


@command("case list", "case list [--status S] [--assignee USER|me|none] [--tag T] "
                      "[--view VIEW] [--limit N] [--sort updated|created|priority|status]")
def case_list(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case list")
    p.add_argument("--status", action="append", default=[])
    p.add_argument("--assignee")
    p.add_argument("--tag", action="append", default=[])
    p.add_argument("--priority", action="append", default=[])
    p.add_argument("--view", choices=sorted(q.BUILTIN_VIEWS))
    p.add_argument("--filter", default="")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--sort", default="updated", choices=sorted(q.SORTABLE))
    p.add_argument("--asc", action="store_true")
    a = p.parse_args(args)
    if a.limit < 1:
        raise CommandError("case list: --limit must be at least 1")
    flt = q.BUILTIN_VIEWS[a.view][1] if a.view else q.CaseFilter.parse(a.filter)
    import copy

    flt = copy.deepcopy(flt)  # never change the shared built-in view
    for st in a.status:
        flt.set("status", st)
    for pr in a.priority:
        flt.set("priority", pr)
    if a.assignee:
        flt.assignee = a.assignee
    flt.tags += [t.lower() for t in a.tag]
    rows = ctx.store.read(lambda c: q.list_cases(c, flt, me=ctx.store.actor, now_ms=_now_ms(),
                                                 sort=a.sort, descending=not a.asc,
                                                 limit=a.limit))
    data = [{"id": r[0], "key": r[1], "subject": r[2], "status": r[3], "priority": r[4],
             "requester": r[5], "assignee": r[6], "updated": _fmt_ms(r[7]),
             "tags": r[8].split()} for r in rows]
    text = "\n".join(f"{d['key']:<10} {d['status']:<8} {d['priority']:<7} "
                     f"{(d['assignee'] or '-')[:16]:<16} {d['subject'][:70]}" for d in data)
    return CommandResult(True, text or "no cases", data)


@command("case set", "case set KEY [KEY...] field=value ... [--dry-run]")
def case_set(ctx: Context, args: list[str]) -> CommandResult:
    dry = "--dry-run" in args
    args = [x for x in args if x != "--dry-run"]
    keys = [x for x in args if "=" not in x]
    pairs = [x.partition("=") for x in args if "=" in x]
    if not keys or not pairs:
        raise CommandError("usage: " + HELP["case set"])
    changes = {k.strip(): v for k, _, v in pairs}
    preview, result = ops.bulk_set(ctx.store, cases=keys, changes=changes, dry_run=dry)
    rows = [{"key": k, "field": f, "old": o, "new": n} for k, f, o, n in preview.changes]
    text = "\n".join(f"{r['key']}: {r['field']} {r['old']} → {r['new']}" for r in rows)
    if dry:
        return CommandResult(True, (text or "nothing would change") + "\n(dry run: nothing "
                             "written)", {"dry_run": True, "changes": rows})
    return _changed(result, text or "nothing changed", {"dry_run": False, "changes": rows})


@command("case assign", "case assign KEY USER|me|none")
def case_assign(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case assign")
    p.add_argument("key")
    p.add_argument("user")
    a = p.parse_args(args)
    changes = ops.assign(ctx.store, case=a.key, agent=a.user)
    return _changed(changes, f"{a.key} assigned to {a.user}")


@command("case comment", "case comment KEY [--internal] TEXT")
def case_comment(ctx: Context, args: list[str]) -> CommandResult:
    internal = "--internal" in args
    args = [x for x in args if x != "--internal"]
    if len(args) < 2:
        raise CommandError("usage: " + HELP["case comment"])
    key, text = args[0], " ".join(args[1:])
    if text == "-":
        text = ctx.read_stdin()
    changes = ops.comment(ctx.store, case=key, body=text, internal=internal)
    return _changed(changes, f"{'internal note' if internal else 'reply'} added to {key}")


@command("case tag", "case tag KEY +TAG -TAG ...")
def case_tag(ctx: Context, args: list[str]) -> CommandResult:
    if len(args) < 2:
        raise CommandError("usage: " + HELP["case tag"])
    add = [t[1:] for t in args[1:] if t.startswith("+")]
    remove = [t[1:] for t in args[1:] if t.startswith("-")]
    bare = [t for t in args[1:] if not t.startswith(("+", "-"))]
    if bare:
        raise CommandError(f"case tag: write +{bare[0]} to add or -{bare[0]} to remove")
    changes = ops.tag(ctx.store, case=args[0], add=add, remove=remove)
    return _changed(changes, f"tags of {args[0]} updated" if changes.event_ids else
                    "tags unchanged")


@command("case link", "case link KEY OTHER [--kind related|parent|child]")
def case_link(ctx: Context, args: list[str]) -> CommandResult:
    return _link(ctx, args, remove=False)


@command("case unlink", "case unlink KEY OTHER [--kind related|parent|child]")
def case_unlink(ctx: Context, args: list[str]) -> CommandResult:
    return _link(ctx, args, remove=True)


def _link(ctx: Context, args: list[str], *, remove: bool) -> CommandResult:
    p = Parser(prog="case unlink" if remove else "case link")
    p.add_argument("key")
    p.add_argument("other")
    p.add_argument("--kind", default="related", choices=["related", "parent", "child"])
    a = p.parse_args(args)
    changes = ops.link(ctx.store, case=a.key, other=a.other, kind=a.kind, remove=remove)
    verb = "unlinked" if remove else "linked"
    return _changed(changes, f"{a.key} {verb} ({a.kind}) {a.other}" if changes.event_ids
                    else "no change")


@command("case merge", "case merge SOURCE TARGET")
def case_merge(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case merge")
    p.add_argument("source")
    p.add_argument("target")
    a = p.parse_args(args)
    changes = ops.merge(ctx.store, source=a.source, target=a.target)
    return _changed(changes, f"{a.source} merged into {a.target}")


@command("case split", "case split KEY COMMENT_ID [--subject S]")
def case_split(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case split")
    p.add_argument("key")
    p.add_argument("comment_id")
    p.add_argument("--subject")
    a = p.parse_args(args)
    case_id, key, changes = ops.split(ctx.store, case=a.key, comment_id=a.comment_id,
                                      subject=a.subject)
    return _changed(changes, f"created {key} from a comment of {a.key}",
                    {"id": case_id, "key": key})


@command("case history", "case history KEY")
def case_history(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case history")
    p.add_argument("key")
    a = p.parse_args(args)
    d = _detail(ctx.store, a.key)
    rows = ctx.store.read(lambda c: q.case_history(c, d["id"]))
    from app.core.hlc import hlc_ms

    data = [{"time": _fmt_ms(hlc_ms(r["hlc"])), "actor": r["actor"], "type": r["type"],
             "summary": r["summary"], "synced": r["synced"]} for r in rows]
    text = "\n".join(f"{r['time']}  {r['actor']:<32} {r['summary']}" for r in data)
    return CommandResult(True, text, data)


@command("undo", "undo   (reverts the last operation)")
def undo(ctx: Context, args: list[str]) -> CommandResult:
    if args:
        raise CommandError("undo takes no arguments")
    label = ctx.store.last_undoable_label()
    changes = ops.undo(ctx.store)
    return _changed(changes, f"undone: {label}", {"undone": label})


@command("view list", "view list")
def view_list(ctx: Context, args: list[str]) -> CommandResult:
    views: list[dict[str, Any]] = [{"id": k, "name": v[0], "builtin": True}
                                   for k, v in q.BUILTIN_VIEWS.items()]
    views += [{"id": v["id"], "name": v["name"], "query": v["query"], "builtin": False}
              for v in ctx.store.read(q.saved_views)]
    return CommandResult(True, "\n".join(str(v["name"]) for v in views), views)


@command("view save", "view save NAME QUERY")
def view_save(ctx: Context, args: list[str]) -> CommandResult:
    if len(args) < 2:
        raise CommandError("usage: view save NAME QUERY")
    changes = ops.save_view(ctx.store, name=args[0], query=" ".join(args[1:]))
    return _changed(changes, f"saved view '{args[0]}'")


@command("view delete", "view delete NAME")
def view_delete(ctx: Context, args: list[str]) -> CommandResult:
    if len(args) != 1:
        raise CommandError("usage: view delete NAME")
    return _changed(ops.delete_view(ctx.store, name=args[0]), f"deleted view '{args[0]}'")


@command("help", "help [COMMAND]")
def help_(ctx: Context, args: list[str]) -> CommandResult:
    names = sorted(n for n in HELP if not n.startswith("_"))
    if args:
        wanted = " ".join(args)
        names = [n for n in names if n.startswith(wanted)]
        if not names:
            raise CommandError(f"no command '{wanted}'")
    return CommandResult(True, "\n".join(HELP[n] for n in names),
                         [{"command": n, "usage": HELP[n]} for n in names])

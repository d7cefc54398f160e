"""Terminal commands for attachments and intake: attach, paste, signatures, related
cases and entities. Registered when the runner loads its plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.operations import attachments as att_ops
from app.operations import intake as intake_ops
from app.store import intake_queries as iq
from app.terminal.parser import CommandError, Parser
from app.terminal.runner import (
    HELP,
    CommandResult,
    Context,
    _changed,
    _detail,
    _fmt_ms,
    command,
)


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _key_arg(prog: str, args: list[str]) -> str:
    rest = [a for a in args if a != "--json"]
    if len(rest) != 1:
        raise CommandError("usage: " + HELP[prog])
    return rest[0]


@command("case attach", "case attach KEY FILE [--force]   (--force: attach a file intake "
                        "cannot read, without extracted text)")
def case_attach(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case attach")
    p.add_argument("key")
    p.add_argument("file")
    p.add_argument("--force", action="store_true")
    a = p.parse_args(args)
    path = Path(a.file).expanduser()
    if not path.is_file():
        raise CommandError(f"case attach: no file {path}")
    attachment_id, changes = att_ops.attach(ctx.store, case=a.key, path=path, force=a.force)
    rows = _attachments(ctx, a.key)
    row = next((r for r in rows if r["id"] == attachment_id), None)
    data = {"attachment_id": attachment_id, "attached": bool(changes.event_ids),
            "attachment": row}
    if not changes.event_ids:
        return CommandResult(True, changes.message, data, changes)
    sigs = ctx.store.read(lambda c: iq.case_signatures(c, _detail(ctx.store, a.key)["id"]))
    text = f"attached {path.name} to {a.key}"
    if row and row.get("error"):
        text += f" (not read: {row['error']})"
    elif sigs:
        text += f"; {len(sigs)} error signature(s) on the case"
    return _changed(changes, text, data)


@command("case paste", "case paste KEY [--name NAME]   (reads log text from standard input)")
def case_paste(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case paste")
    p.add_argument("key")
    p.add_argument("--name", default="pasted.txt")
    a = p.parse_args(args)
    text = ctx.read_stdin()
    attachment_id, changes = intake_ops.add_text(ctx.store, case=a.key, text=text, name=a.name)
    return _changed(changes, f"added {a.name} to {a.key}" if changes.event_ids
                    else changes.message, {"attachment_id": attachment_id})


def _attachments(ctx: Context, key: str) -> list[dict[str, Any]]:
    case_id = _detail(ctx.store, key)["id"]
    return ctx.store.read(lambda c: iq.case_attachments(c, case_id))


@command("case attachments", "case attachments KEY")
def case_attachments(ctx: Context, args: list[str]) -> CommandResult:
    key = _key_arg("case attachments", args)
    rows = _attachments(ctx, key)
    data = [{"id": r["id"], "name": r["name"], "size": r["size"], "mime": r["mime"],
             "sha256": r["sha256"], "kind": r["kind"], "error": r["error"],
             "added": _fmt_ms(r["created_ms"]), "author": r["author"]} for r in rows]
    text = "\n".join(f"{d['name']:<32} {_human(d['size']):>9}  {d['mime']:<24} {d['id']}"
                     for d in data)
    return CommandResult(True, text or f"{key} has no attachments", data)


@command("case detach", "case detach KEY ATTACHMENT_ID")
def case_detach(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="case detach")
    p.add_argument("key")
    p.add_argument("attachment_id")
    a = p.parse_args(args)
    changes = att_ops.remove(ctx.store, case=a.key, attachment_id=a.attachment_id)
    return _changed(changes, f"removed the attachment from {a.key}")


@command("case signatures", "case signatures KEY [--json]")
def case_signatures(ctx: Context, args: list[str]) -> CommandResult:
    key = _key_arg("case signatures", args)
    case_id = _detail(ctx.store, key)["id"]
    rows = ctx.store.read(lambda c: iq.case_signatures(c, case_id))
    data = [{"key": r["key"], "kind": r["kind"], "title": r["title"], "count": r["count"],
             "first_line": r["first_line"], "last_line": r["last_line"],
             "attachment": r["attachment"], "sha256": r["sha256"]} for r in rows]
    text = "\n".join(f"{d['count']:>5}x  {d['title'][:80]}  ({d['attachment']} lines "
                     f"{d['first_line']}-{d['last_line']})" for d in data)
    return CommandResult(True, text or f"{key} has no error signatures", data)


@command("case related", "case related KEY [--json]   (other cases with the same error "
                         "signatures)")
def case_related(ctx: Context, args: list[str]) -> CommandResult:
    key = _key_arg("case related", args)
    case_id = _detail(ctx.store, key)["id"]
    groups = ctx.store.read(lambda c: iq.related_by_signature(c, case_id))
    data = [{"signature": g["key"], "title": g["title"], "summary": g["summary"],
             "total": g["total"], "products": g["products"],
             "cases": [{"key": o["key"], "subject": o["subject"], "status": o["status"],
                        "product": o["product"], "count": o["count"], "linked": o["linked"]}
                       for o in g["cases"]]} for g in groups]
    lines: list[str] = []
    for g in data:
        lines.append(g["summary"])
        lines += [f"  {o['key']:<10} {o['status']:<8} {(o['product'] or '-')[:16]:<16} "
                  f"{o['subject'][:60]}{'  (linked)' if o['linked'] else ''}"
                  for o in g["cases"]]
    return CommandResult(True, "\n".join(lines) or f"no other case shares an error "
                                                   f"signature with {key}", data)


@command("case entities", "case entities KEY [--json]")
def case_entities(ctx: Context, args: list[str]) -> CommandResult:
    key = _key_arg("case entities", args)
    case_id = _detail(ctx.store, key)["id"]
    data = ctx.store.read(lambda c: iq.case_entities(c, case_id))
    lines = [f"{name.replace('_', ' ')}: {', '.join(values)}" for name, values in data.items()
             if values]
    return CommandResult(True, "\n".join(lines) or f"no entities found in {key}", data)

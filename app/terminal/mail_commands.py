"""``mail status`` (the team mailboxes, asked of the server) and ``mail withdraw`` (undo
send of a public reply still queued on the server)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.operations import mail as mops
from app.operations.errors import OperationError
from app.terminal.parser import Parser
from app.terminal.runner import CommandResult, Context, _changed, command


def _when(ms: Any) -> str:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return "never"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _lines(box: dict[str, Any]) -> list[str]:
    head = (f"{box.get('address')} ({box.get('team')}): {box.get('state')}"
            f"{' - FAILING' if box.get('failing') else ''}")
    lines = [head, f"  last poll {_when(box.get('last_poll_ms'))}"
                   f"{' · last error ' + str(box['last_error']) if box.get('last_error') else ''}",
             f"  replies: {box.get('queued', 0)} queued · {box.get('sent', 0)} sent · "
             f"{box.get('failed', 0)} failed · {box.get('bounced', 0)} bounced"]
    for reply in box.get("failed_replies") or []:
        if isinstance(reply, dict):
            lines.append(f"  {reply.get('state')}: {reply.get('case_key') or reply.get('case_id')}"
                         f" {str(reply.get('reason') or '')[:120]}")
    return lines


@command("mail status", "mail status [--json]   (the team mailboxes, from the server)")
def mail_status(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="mail status")
    p.add_argument("--json", action="store_true")  # the data is always there (run --json)
    p.parse_args(args)
    from app.sync.session import NotLoggedIn, session_for

    try:
        session = ctx.extras.get("session") or session_for(ctx.store)
    except NotLoggedIn as exc:
        raise OperationError(str(exc)) from exc
    data = mops.mail_status(session)
    boxes = data["mailboxes"]
    lines = [line for box in boxes for line in _lines(box)] or [
        "no team mailbox (a server admin adds one with `mailbox add`)"]
    return CommandResult(True, "\n".join(lines), data)


@command("mail withdraw", "mail withdraw KEY COMMENT_ID   (undo send, while still queued)")
def mail_withdraw(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="mail withdraw")
    p.add_argument("key")
    p.add_argument("comment_id")
    a = p.parse_args(args)
    changes = mops.withdraw_reply(ctx.store, case=a.key, comment_id=a.comment_id)
    return _changed(changes, "undo send recorded: the server withdraws the reply if it is "
                    "still queued", {"comment_id": a.comment_id})

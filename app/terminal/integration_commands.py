"""``jira …`` and ``salesforce …`` commands: integration requests from a case (offline too).

The server runs each request; ``case show KEY`` lists the case's linked records and the
state of every request.
"""

from __future__ import annotations

from typing import Any

from app.core.changes import Changes
from app.operations import integrations as iops
from app.terminal.parser import CommandError, Parser
from app.terminal.runner import CommandResult, Context, _changed, command


def _queued(changes: Changes, request_id: str, text: str, case: str | None = None,
            **extra: Any) -> CommandResult:
    data: dict[str, Any] = {"request_id": request_id, "state": "pending", **extra}
    if case is not None:
        data["case"] = case
    return _changed(changes, f"{text}: request {request_id}, run by the server once this "
                    "laptop is in sync", data)


@command("jira create", "jira create KEY [--project P] [--type T] [--comment ID]...")
def jira_create(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="jira create")
    p.add_argument("key")
    p.add_argument("--project")
    p.add_argument("--type", dest="issue_type")
    p.add_argument("--comment", action="append", default=[], dest="comments")
    a = p.parse_args(args)
    request_id, changes = iops.request_jira_create(
        ctx.store, case=a.key, project=a.project, issue_type=a.issue_type,
        comment_ids=a.comments)
    return _queued(changes, request_id, f"JIRA issue requested for {a.key}", a.key)


@command("jira link", "jira link KEY ISSUE-KEY")
def jira_link(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="jira link")
    p.add_argument("key")
    p.add_argument("issue")
    a = p.parse_args(args)
    request_id, changes = iops.request_jira_link(ctx.store, case=a.key, issue_key=a.issue)
    issue = iops.jira_key(a.issue)
    return _queued(changes, request_id, f"link of {issue} to {a.key} requested", a.key,
                   issue=issue)


@command("jira comment", "jira comment KEY TEXT [--issue ISSUE-KEY]   (TEXT - reads stdin)")
def jira_comment(ctx: Context, args: list[str]) -> CommandResult:
    issue = None
    if "--issue" in args:
        at = args.index("--issue")
        if at + 1 >= len(args):
            raise CommandError("jira comment: --issue needs an issue key")
        issue = args[at + 1]
        args = args[:at] + args[at + 2:]
    if len(args) < 2:
        raise CommandError("usage: jira comment KEY TEXT")
    key, text = args[0], " ".join(args[1:])
    if text == "-":
        text = ctx.read_stdin()
    request_id, changes = iops.request_jira_comment(ctx.store, case=key, text=text,
                                                    issue=issue)
    return _queued(changes, request_id, f"JIRA comment from {key} requested", key)


@command("jira unlink", "jira unlink KEY ISSUE-KEY")
def jira_unlink(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="jira unlink")
    p.add_argument("key")
    p.add_argument("issue")
    a = p.parse_args(args)
    request_id, changes = iops.request_jira_unlink(ctx.store, case=a.key, issue_key=a.issue)
    issue = iops.jira_key(a.issue)
    return _queued(changes, request_id, f"unlink of {issue} from {a.key} requested", a.key,
                   issue=issue)


@command("jira refresh", "jira refresh KEY")
def jira_refresh(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="jira refresh")
    p.add_argument("key")
    a = p.parse_args(args)
    request_id, changes = iops.request_jira_refresh(ctx.store, case=a.key)
    return _queued(changes, request_id, f"refresh of the JIRA issues of {a.key} requested",
                   a.key)


@command("salesforce sync", "salesforce sync KEY")
def salesforce_sync(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="salesforce sync")
    p.add_argument("key")
    a = p.parse_args(args)
    request_id, changes = iops.request_salesforce_sync(ctx.store, case=a.key)
    return _queued(changes, request_id, f"Salesforce sync of {a.key} requested", a.key)


@command("salesforce refresh", "salesforce refresh KEY")
def salesforce_refresh(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="salesforce refresh")
    p.add_argument("key")
    a = p.parse_args(args)
    request_id, changes = iops.request_salesforce_refresh(ctx.store, case=a.key)
    return _queued(changes, request_id, f"Salesforce refresh of {a.key} requested", a.key)


@command("salesforce lookup", "salesforce lookup EMAIL [--case KEY]   (default: the latest "
                              "case of that requester)")
def salesforce_lookup(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="salesforce lookup")
    p.add_argument("email")
    p.add_argument("--case")
    a = p.parse_args(args)
    request_id, changes = iops.request_salesforce_lookup(ctx.store, email=a.email, case=a.case)
    return _queued(changes, request_id, f"Salesforce lookup of {a.email.strip()} requested",
                   a.case, email=a.email.strip())


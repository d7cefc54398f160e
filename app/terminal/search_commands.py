"""`search QUERY`: the offline search, headless (same engine as the app's search field)."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app.terminal.parser import CommandError
from app.terminal.runner import CommandResult, Context, command

if TYPE_CHECKING:
    from app.search.service import SearchService


def _open_service(ctx: Context) -> SearchService:
    """The index next to the store, brought up to date (built when missing). Each command
    line runs in a fresh context, so the service is opened per search and closed after."""
    from app.search.service import SearchService

    service = SearchService(ctx.store.path.parent, ctx.store)

    def progress(done: int, total: int) -> None:
        print(f"\rindexing {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    service.ensure_index(progress=progress)
    return service


LIMIT_RE = re.compile(r"(?:^|\s)--limit[ =](\S+)")


@command("search", 'search QUERY [--limit N]   e.g. search "printer offline" status:open '
                   "-tag:spam updated:<7d   (search --help for the query language)", raw=True)
def search(ctx: Context, args: list[str]) -> CommandResult:
    # The query is taken verbatim: quotes make phrases, -tag:x negates, bad syntax gets notes.
    query = args[0] if args else ""
    if query.strip() in ("--help", "-h", "--help-query"):
        from app.search.help import HELP_TEXT

        return CommandResult(True, HELP_TEXT, {"help": HELP_TEXT})
    limit = 20
    found = LIMIT_RE.search(query)
    if found:
        if not found.group(1).isdigit() or not 1 <= int(found.group(1)) <= 1000:
            raise CommandError("search: --limit must be a number between 1 and 1000")
        limit = int(found.group(1))
        query = (query[:found.start()] + " " + query[found.end():]).strip()
    service = _open_service(ctx)
    try:
        result = service.search(query, me=ctx.store.actor, limit=limit)
    finally:
        service.close()
    lines = []
    for hit in result.hits:
        when = datetime.fromtimestamp((hit.get("updated_ms") or 0) / 1000, UTC)
        lines.append(f"{hit['key']:<10} {hit['status']:<8} {when:%Y-%m-%d}  {hit['subject'][:70]}")
        if hit.get("snippet"):
            lines.append(f"           {hit['snippet'][:110]}")
    head = f"{result.total:,} found in {result.took_ms:.1f} ms"
    for note in result.notes:
        head += f"\nnote: {note}"
    if result.suggestion:
        head += f"\ndid you mean: {result.suggestion}?"
    return CommandResult(True, "\n".join([head, *lines]), result.to_json())

"""``report NAME`` commands: the analytics read model, headless (same numbers as the
dashboard). ``--csv FILE`` writes the table; ``--from/--to/--team/--agent`` filter."""

from __future__ import annotations

import time
from typing import Any

from app.analytics import reports as r
from app.analytics.model import AnalyticsModel, open_model
from app.core.days import day_label
from app.core.sla import SlaConfigError, format_duration
from app.terminal.parser import CommandError, Parser
from app.terminal.runner import CommandResult, Context, command

_USAGE = "[--from YYYY-MM-DD|30d] [--to YYYY-MM-DD] [--team TEAM] [--agent AGENT] [--csv FILE]"


def analytics_model(ctx: Context) -> AnalyticsModel:
    """One read model per store, kept in ``ctx.extras`` (and cached on the store object)."""
    model = ctx.extras.get("analytics")
    if model is None:
        model = getattr(ctx.store, "_analytics_model", None)
    if model is None:
        try:
            model = open_model(ctx.store, ctx.store.path.parent)
        except SlaConfigError as exc:
            raise CommandError(str(exc)) from None
        ctx.store._analytics_model = model  # type: ignore[attr-defined]
    ctx.extras["analytics"] = model
    return model


def _resolve_agent(ctx: Context, ref: str | None) -> str | None:
    if not ref:
        return None
    if ref == "me":
        return ctx.store.actor
    from app.store import queries as q

    found = ctx.store.read(lambda c: q.find_agent(c, ref))
    if found is None:
        raise CommandError(f"no agent '{ref}'")
    return str(found["id"])


def _run_report(name: str, ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog=f"report {name}")
    p.add_argument("--from", dest="start")
    p.add_argument("--to", dest="end")
    p.add_argument("--team")
    p.add_argument("--agent")
    p.add_argument("--csv")
    a = p.parse_args(args)
    try:
        r.Period.parse(a.start, a.end)  # bad dates fail before the read model opens
    except r.ReportError as exc:
        raise CommandError(str(exc)) from None
    model = analytics_model(ctx)
    period = r.Period.parse(a.start, a.end, zone=model.config.report_zone)
    from app.analytics.dashboard_data import directory_names

    _, agents = directory_names(model)
    table = r.report(model, name, period=period, team=a.team, agent=_resolve_agent(ctx, a.agent),
                     names=dict(agents))
    data: dict[str, Any] = table.to_json()
    data["period"] = {"from": day_label(period.first_day), "to": day_label(period.last_day),
                      "timezone": str(period.zone)}
    text = table.text()
    if a.csv:
        table.write_csv(a.csv)
        data["csv"] = a.csv
        text += f"\n(written to {a.csv})"
    return CommandResult(True, text, data)


def _register(name: str) -> None:
    @command(f"report {name}", f"report {name} {_USAGE}")
    def handler(ctx: Context, args: list[str]) -> CommandResult:
        return _run_report(name, ctx, args)


for _name in r.REPORTS:
    _register(_name)


@command("report sla-queue", "report sla-queue [at_risk|breached|all] [--team T] [--agent A] "
                             "[--limit N]   (cases by SLA time left)")
def sla_queue(ctx: Context, args: list[str]) -> CommandResult:
    p = Parser(prog="report sla-queue")
    p.add_argument("view", nargs="?", default="at_risk", choices=["at_risk", "breached", "all"])
    p.add_argument("--team")
    p.add_argument("--agent")
    p.add_argument("--limit", type=int, default=50)
    a = p.parse_args(args)
    model = analytics_model(ctx)
    model.catch_up()
    now = int(time.time() * 1000)
    agent = _resolve_agent(ctx, a.agent)
    rows = model.read(lambda c: r.sla_queue(c, view=a.view, now_ms=now, team=a.team,
                                            agent=agent, limit=a.limit))
    lines = []
    for row in rows:
        left = (format_duration(row["deadline_ms"] - now) if row["deadline_ms"] is not None
                else f"paused, {format_duration(row['paused_left_ms'] or 0)} left")
        lines.append(f"{row['key'] or '-':<10} {row['target']:<15} {row['state']:<9} "
                     f"{left:<14} {row['subject'][:60]}")
    return CommandResult(True, "\n".join(lines) or "no cases", rows)


@command("report rebuild", "report rebuild   (refold the analytics read model from the log)")
def rebuild(ctx: Context, args: list[str]) -> CommandResult:
    if args:
        raise CommandError("report rebuild takes no arguments")
    n = analytics_model(ctx).rebuild()
    return CommandResult(True, f"analytics read model rebuilt ({n} cases)", {"cases": n})

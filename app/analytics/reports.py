"""Reports over the analytics read model: ``report(name, period=, team=, agent=) -> Table``.

Conventions (the same for the dashboard, the terminal and CSV export):

* days are the team's local days (the SLA configuration's ``report_timezone``, by default
  its default calendar's zone); a period is ``[start, end)`` in epoch milliseconds;
* ``backlog`` and ``aging`` are snapshots of the open cases *now* (the period is ignored);
* ``created-vs-solved`` counts cases created per day and moves into solved/closed per day;
* ``response-times``, ``sla``, ``reopens``, ``top-tags`` and ``top-products`` look at the
  cases *created* in the period; ``throughput`` counts solves *in* the period per agent
  (the assignee at the moment of the solve);
* times are wall-clock minutes; the median and p90 use the nearest-rank method
  (the value at rank ``ceil(p * n)`` of the sorted values);
* ``team`` filters by the case's team, ``agent`` by its assignee (for throughput: by the
  agent credited with the solve).
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from app.analytics.model import DAY_MS, AnalyticsModel
from app.core.days import day_label, day_number, day_of_date, day_start_ms
from app.core.sla import TARGET_LABELS
from app.store import analytics_tables as at

REPORTS = ("backlog", "created-vs-solved", "response-times", "sla", "reopens", "throughput",
           "top-tags", "top-products", "aging")
AGING_BUCKETS = (("< 1 day", 0, 1), ("1–3 days", 1, 3), ("3–7 days", 3, 7),
                 ("7–30 days", 7, 30), ("30+ days", 30, None))


class ReportError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    """``[start_ms, end_ms)``, whole local days of ``zone``."""

    start_ms: int
    end_ms: int
    zone: tzinfo = UTC

    @property
    def first_day(self) -> int:
        return day_number(self.start_ms, self.zone)

    @property
    def last_day(self) -> int:  # inclusive
        return day_number(self.end_ms - 1, self.zone)

    @staticmethod
    def last_days(days: int, now_ms: int | None = None, zone: tzinfo = UTC) -> Period:
        """The last ``days`` local days, today included."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        end_day = day_number(now, zone) + 1
        return Period(day_start_ms(end_day - days, zone), day_start_ms(end_day, zone), zone)

    @staticmethod
    def parse(start: str | None, end: str | None, *, default_days: int = 30,
              now_ms: int | None = None, zone: tzinfo = UTC) -> Period:
        """``--from YYYY-MM-DD --to YYYY-MM-DD`` (both inclusive local days), or ``--from
        30d`` for the last 30 days; missing bounds default to the last ``default_days``."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        if start and start.strip().lower().endswith("d") and start.strip()[:-1].isdigit():
            return Period.last_days(int(start.strip()[:-1]), now, zone)
        end_day = _day(end, "--to") + 1 if end else day_number(now, zone) + 1
        start_day = _day(start, "--from") if start else end_day - default_days
        if start_day >= end_day:
            raise ReportError("the period is empty: --from must be on or before --to")
        return Period(day_start_ms(start_day, zone), day_start_ms(end_day, zone), zone)


def _day(text: str, what: str) -> int:
    try:
        return day_of_date(date.fromisoformat(text.strip()))
    except ValueError:
        raise ReportError(f"{what}: '{text}' is not a date (YYYY-MM-DD) or a span like 30d"
                          ) from None


@dataclass(slots=True)
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]
    title: str = ""
    notes: list[str] = field(default_factory=list)
    # Per row, a case filter query opening the cases behind it (for the dashboard).
    drill: list[str | None] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"report": self.name, "title": self.title, "columns": self.columns,
                "rows": [dict(zip(self.columns, r, strict=True)) for r in self.rows]}

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        w.writerows(self.rows)
        return buf.getvalue()

    def write_csv(self, path: Path) -> None:
        Path(path).write_text(self.to_csv(), encoding="utf-8", newline="")

    def text(self) -> str:
        cells = [[str(c) for c in self.columns]] + [["" if v is None else str(v) for v in r]
                                                    for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [self.title] if self.title else []
        for n, row in enumerate(cells):
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
                         .rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines + self.notes)


@dataclass(frozen=True, slots=True)
class Filters:
    period: Period
    team: str | None = None
    agent: str | None = None
    now_ms: int = 0


def _case_filters(f: Filters) -> list[Any]:
    c = at.am_cases.c
    out = []
    if f.team:
        out.append(c.team_id == f.team)
    if f.agent:
        out.append(c.assignee_id == f.agent)
    return out


def _created_in(f: Filters) -> list[Any]:
    c = at.am_cases.c
    return [c.created_day >= f.period.first_day, c.created_day <= f.period.last_day,
            *_case_filters(f)]


def nearest_rank(values: Sequence[int | float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered)))
    return float(ordered[rank - 1])


def _minutes(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 60_000, 1)


def _drill(f: Filters, *parts: str) -> str:
    words = list(parts)
    if f.team:
        words.append(f"team:{f.team}")
    if f.agent:
        words.append(f"assignee:{f.agent}")
    return " ".join(words)


# --- the reports -----------------------------------------------------------------------------
def backlog(conn: Connection, f: Filters) -> Table:
    c = at.am_cases.c
    where = [c.is_open == 1, *_case_filters(f)]
    groups = conn.execute(select(c.status, c.priority, c.team_id, c.assignee_id, func.count())
                          .where(*where)
                          .group_by(c.status, c.priority, c.team_id, c.assignee_id)).all()
    rows: list[list[Any]] = []
    drill: list[str | None] = []
    for i, (dim, key) in enumerate((("status", "status"), ("priority", "priority"),
                                    ("team", "team"), ("assignee", "assignee"))):
        counts: dict[Any, int] = {}
        for g in groups:
            counts[g[i]] = counts.get(g[i], 0) + int(g[4])
        order = _ORDER.get(dim)
        found = sorted(counts.items(), key=lambda r: (
            order.index(r[0]) if order and r[0] in order else 99, -r[1], str(r[0])))
        for value, n in found:
            rows.append([dim, value if value is not None else "(none)", n])
            drill.append(_drill(f, f"{key}:{value if value is not None else 'none'}")
                         if dim != "team" or not f.team else _drill(f))
    return Table("backlog", ["dimension", "value", "cases"], rows, "Open cases (backlog)",
                 drill=drill)


_ORDER = {"status": ["new", "open", "pending", "on-hold"],
          "priority": ["urgent", "high", "normal", "low"]}


def created_vs_solved(conn: Connection, f: Filters) -> Table:
    c = at.am_cases.c
    created: dict[int, int] = {r[0]: r[1] for r in conn.execute(
        select(c.created_day, func.count()).where(*_created_in(f)).group_by(c.created_day))}
    sv = at.am_solves.c
    where = [sv.solved_day >= f.period.first_day, sv.solved_day <= f.period.last_day]
    if f.team:
        where.append(sv.team_id == f.team)
    if f.agent:
        where.append(sv.agent_id == f.agent)
    solved: dict[int, int] = {r[0]: r[1] for r in conn.execute(
        select(sv.solved_day, func.count()).where(*where).group_by(sv.solved_day))}
    rows = [[day_label(d), int(created.get(d, 0)), int(solved.get(d, 0))]
            for d in range(f.period.first_day, f.period.last_day + 1)]
    return Table("created-vs-solved", ["day", "created", "solved"], rows,
                 "Created vs solved per day")


def response_times(conn: Connection, f: Filters) -> Table:
    c = at.am_cases.c
    fr = [r[0] for r in conn.execute(select(c.first_response_ms - c.created_ms).where(
        *_created_in(f), c.first_response_ms.is_not(None)))]
    res = [r[0] for r in conn.execute(select(c.solved_ms - c.created_ms).where(
        *_created_in(f), c.solved_ms.is_not(None)))]
    rows = []
    for name, values in (("first_response", fr), ("resolution", res)):
        rows.append([name, len(values), _minutes(nearest_rank(values, 0.5)),
                     _minutes(nearest_rank(values, 0.9))])
    return Table("response-times", ["metric", "cases", "median_minutes", "p90_minutes"], rows,
                 "Response and resolution times (cases created in the period)")


def sla(conn: Connection, f: Filters) -> Table:
    t = at.am_sla.c
    now = f.now_ms
    where = [t.created_day >= f.period.first_day, t.created_day <= f.period.last_day]
    if f.team:
        where.append(t.team_id == f.team)
    if f.agent:
        where.append(t.assignee_id == f.agent)
    running = and_(t.outcome.is_(None), t.deadline_ms.is_not(None))
    breached_now = and_(running, t.deadline_ms <= now)
    at_risk = and_(t.outcome.is_(None), func.coalesce(t.deadline_ms, now + 1) > now,
                   ((t.risk_ms.is_not(None)) & (t.risk_ms <= now)) | t.paused_at_risk.is_(True))
    q = select(
        t.target,
        func.sum(case((t.outcome == "met", 1), else_=0)),
        func.sum(case((t.outcome == "breached", 1), (breached_now, 1), else_=0)),
        func.sum(case((at_risk, 1), else_=0)),
        func.sum(case((and_(t.outcome.is_(None), t.deadline_ms.is_(None)), 1), else_=0)),
        func.count(),
    ).where(*where).group_by(t.target)
    found = {r[0]: r[1:] for r in conn.execute(q)}
    rows = []
    for target in ("first_response", "resolution"):
        counts = [int(x or 0) for x in found.get(target, (0, 0, 0, 0, 0))]
        met, breached, risk, paused, total = counts
        decided = met + breached
        pct = round(100.0 * met / decided, 1) if decided else None
        rows.append([target, total, met, breached, risk, paused, pct])
    return Table("sla", ["target", "cases", "met", "breached", "at_risk", "paused",
                         "compliance_pct"], rows,
                 "SLA compliance (cases created in the period; breached includes open cases "
                 "past their deadline)",
                 notes=[f"{TARGET_LABELS[str(r[0])]}: {r[6] if r[6] is not None else '—'}%"
                        for r in rows])


def reopens(conn: Connection, f: Filters) -> Table:
    c = at.am_cases.c
    q = select(func.count(), func.sum(case((c.reopens > 0, 1), else_=0)),
               func.coalesce(func.sum(c.reopens), 0)).where(
        *_created_in(f), c.first_solved_ms.is_not(None))
    solved, reopened, total = (int(x or 0) for x in conn.execute(q).one())
    rate = round(100.0 * reopened / solved, 1) if solved else None
    return Table("reopens", ["solved_cases", "reopened_cases", "reopens", "reopen_rate_pct"],
                 [[solved, reopened, total, rate]],
                 "Reopen rate (cases created in the period that were solved at least once)")


def throughput(conn: Connection, f: Filters, names: dict[str, str]) -> Table:
    sv = at.am_solves.c
    where = [sv.solved_day >= f.period.first_day, sv.solved_day <= f.period.last_day]
    if f.team:
        where.append(sv.team_id == f.team)
    if f.agent:
        where.append(sv.agent_id == f.agent)
    solved = conn.execute(select(sv.agent_id, func.count(), func.count(sv.case_id.distinct()))
                          .where(*where).group_by(sv.agent_id)).all()
    c = at.am_cases.c
    open_q = select(c.assignee_id, func.count()).where(c.is_open == 1, *_case_filters(f))
    backlog_by: dict[Any, int] = {r[0]: r[1] for r in conn.execute(
        open_q.group_by(c.assignee_id))}
    rows = []
    for agent, n, distinct in sorted(solved, key=lambda r: (-r[1], str(r[0]))):
        rows.append([agent, names.get(agent or "", agent or "(none)"), int(n), int(distinct),
                     int(backlog_by.get(agent, 0))])
    return Table("throughput", ["agent", "name", "solves", "cases_solved", "open_assigned"],
                 rows, "Per-agent throughput (solves in the period)",
                 drill=[_drill(f, f"assignee:{r[0]}") for r in rows])


def top_tags(conn: Connection, f: Filters, limit: int = 15) -> Table:
    c, tg = at.am_cases.c, at.am_tags.c
    q = (select(tg.tag, func.count()).select_from(at.am_tags.join(
        at.am_cases, at.am_cases.c.case_id == at.am_tags.c.case_id))
        .where(*_created_in(f)).group_by(tg.tag).order_by(func.count().desc(), tg.tag)
        .limit(limit))
    rows = [[r[0], int(r[1])] for r in conn.execute(q)]
    del c
    return Table("top-tags", ["tag", "cases"], rows, "Top tags (cases created in the period)",
                 drill=[_drill(f, f"tag:{r[0]}") for r in rows])


def top_products(conn: Connection, f: Filters, limit: int = 15) -> Table:
    c = at.am_cases.c
    q = (select(c.product, func.count()).where(*_created_in(f), c.product.is_not(None))
         .group_by(c.product).order_by(func.count().desc(), c.product).limit(limit))
    rows = [[r[0], int(r[1])] for r in conn.execute(q)]
    return Table("top-products", ["product", "cases"], rows,
                 "Top products (cases created in the period)",
                 drill=[_drill(f, f"product:{r[0]}") for r in rows])


def aging(conn: Connection, f: Filters) -> Table:
    c = at.am_cases.c
    now = f.now_ms
    whens = []
    for i, (_label, lo, _hi) in enumerate(AGING_BUCKETS):
        whens.append((c.created_ms > now - lo * DAY_MS, i - 1))
    bucket = case(*whens[1:], else_=len(AGING_BUCKETS) - 1)
    counts: dict[int, int] = {r[0]: r[1] for r in conn.execute(select(bucket, func.count()).where(
        c.is_open == 1, *_case_filters(f)).group_by(bucket))}
    rows = [[label, int(counts.get(i, 0))] for i, (label, _, _) in enumerate(AGING_BUCKETS)]
    return Table("aging", ["age", "open_cases"], rows, "Age of open cases")


def report(model: AnalyticsModel, name: str, *, period: Period | None = None,
           team: str | None = None, agent: str | None = None, now_ms: int | None = None,
           names: dict[str, str] | None = None, catch_up: bool = True) -> Table:
    """One report as a :class:`Table`. ``names`` maps agent ids to display names."""
    if name not in REPORTS:
        from app.core.model import suggest

        hint = suggest(name, list(REPORTS))
        raise ReportError(f"no report '{name}'" + (f" (did you mean '{hint}'?)" if hint
                                                    else f"; one of: {', '.join(REPORTS)}"))
    if catch_up:
        model.catch_up()
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    zone = model.config.report_zone
    if period is not None and period.zone != zone:  # the model counts in its own days
        period = Period(period.start_ms, period.end_ms, zone)
    f = Filters(period or Period.last_days(30, now, zone), team, agent, now)
    fns: dict[str, Callable[[Connection], Table]] = {
        "backlog": lambda c: backlog(c, f),
        "created-vs-solved": lambda c: created_vs_solved(c, f),
        "response-times": lambda c: response_times(c, f),
        "sla": lambda c: sla(c, f),
        "reopens": lambda c: reopens(c, f),
        "throughput": lambda c: throughput(c, f, names or {}),
        "top-tags": lambda c: top_tags(c, f),
        "top-products": lambda c: top_products(c, f),
        "aging": lambda c: aging(c, f),
    }
    return model.read(fns[name])


# --- SLA views ------------------------------------------------------------------------------
def sla_queue(conn: Connection, *, view: str, now_ms: int, team: str | None = None,
              agent: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Open cases for the "SLA at risk" / "Breached" views (``view`` = ``at_risk``,
    ``breached`` or ``all``), sorted by time left (soonest deadline first; paused clocks
    after, by frozen time left). Each row: case_id, key, subject, target, deadline_ms,
    state, paused_left_ms."""
    t, c = at.am_sla.c, at.am_cases.c
    running = and_(t.outcome.is_(None), t.deadline_ms.is_not(None))
    breached = (t.outcome == "breached") | and_(running, t.deadline_ms <= now_ms)
    risky = and_(t.outcome.is_(None), func.coalesce(t.deadline_ms, now_ms + 1) > now_ms,
                 ((t.risk_ms.is_not(None)) & (t.risk_ms <= now_ms)) |
                 t.paused_at_risk.is_(True))
    state = case((breached, "breached"), (risky, "at_risk"), (t.outcome == "met", "met"),
                 else_="ok")
    where: list[Any] = [t.case_open.is_(True)]
    if view == "at_risk":
        where.append(risky)
    elif view == "breached":
        where.append(breached)
    elif view != "all":
        raise ReportError(f"unknown SLA view '{view}' (at_risk, breached, all)")
    else:
        where.append(t.outcome.is_(None))
    if team:
        where.append(t.team_id == team)
    if agent:
        where.append(t.assignee_id == agent)
    q = (select(t.case_id, c.key, c.subject, t.target, t.deadline_ms, state, t.paused_left_ms)
         .select_from(at.am_sla.join(at.am_cases, at.am_cases.c.case_id == t.case_id))
         .where(*where)
         .order_by(t.deadline_ms.is_(None), t.deadline_ms, t.paused_left_ms, c.key))
    if limit:
        q = q.limit(limit)
    return [{"case_id": r[0], "key": r[1], "subject": r[2], "target": r[3],
             "deadline_ms": r[4], "state": r[5], "paused_left_ms": r[6]}
            for r in conn.execute(q)]


def next_deadlines(conn: Connection, case_ids: Sequence[str]) -> dict[str, int | None]:
    """The next SLA deadline per case (for a "time left" column and sorting)."""
    c = at.am_cases.c
    out: dict[str, int | None] = {}
    for i in range(0, len(case_ids), 500):
        part = list(case_ids[i:i + 500])
        out.update({r[0]: r[1] for r in conn.execute(
            select(c.case_id, c.next_deadline_ms).where(c.case_id.in_(part)))})
    return out

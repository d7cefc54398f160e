"""SLA clocks: first-response and resolution targets in business time. Pure (no I/O).

A case's SLA is computed from its event list, so it is exact and auditable:

* a **policy** (per priority, optionally per organization) gives the targets;
* a **calendar** (per team, or named by the policy) gives the working hours, time zone and
  holidays; only working time counts;
* the clock is **paused** while the case is ``pending`` or ``on-hold`` (and while it sits
  solved/closed before a reopen); each pause is listed with its reason;
* the **first response** target stops at the first public agent reply (or when the case is
  solved/closed without one); the **resolution** target stops when the case is solved or
  closed (a reopen resumes it).

:func:`sla_clocks` is independent of the current time (what a read model stores: deadline,
the moment the target becomes at risk, outcome); :func:`sla_status` adds the time-dependent
figures (elapsed, time left, state) for ``now``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core import events as ev
from app.core.hlc import hlc_ms

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PAUSE_STATUSES = frozenset({"pending", "on-hold"})
DONE_STATUSES = frozenset({"solved", "closed"})
TARGETS = ("first_response", "resolution")
TARGET_LABELS = {"first_response": "First response", "resolution": "Resolution"}
AT_RISK_FRACTION = 0.2
AT_RISK_FLOOR_MS = HOUR_MS
_MAX_DAYS = 3 * 366  # a target never needs more than three years of calendar days
_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


class SlaConfigError(ValueError):
    """An SLA configuration that cannot be used; the message says what to fix."""


# --- calendars ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Calendar:
    """Working hours per weekday (minutes from local midnight), a time zone and holidays."""

    name: str
    timezone: str
    hours: tuple[tuple[tuple[int, int], ...], ...]  # 7 entries, Monday first
    holidays: frozenset[date] = frozenset()
    _cache: dict[date, tuple[tuple[int, int], ...]] = field(
        default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise SlaConfigError(f"calendar '{self.name}': hours must list 7 weekdays")
        if not any(self.hours):
            raise SlaConfigError(f"calendar '{self.name}' has no working hours; "
                                 "an SLA clock on it would never advance")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SlaConfigError(f"calendar '{self.name}': unknown time zone "
                                 f"'{self.timezone}'") from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_date(self, ms: int) -> date:
        return datetime.fromtimestamp(ms / 1000, self.zone).date()

    def intervals(self, day: date) -> tuple[tuple[int, int], ...]:
        """The working intervals of a local date, as UTC epoch milliseconds."""
        found = self._cache.get(day)
        if found is not None:
            return found
        out: list[tuple[int, int]] = []
        if day not in self.holidays:
            zone = self.zone
            for start, end in self.hours[day.weekday()]:
                out.append((_local_ms(day, start, zone), _local_ms(day, end, zone)))
        result = tuple(out)
        self._cache[day] = result
        return result

    def business_ms(self, start: int, end: int) -> int:
        """Working milliseconds in ``[start, end)``."""
        if end <= start:
            return 0
        total = 0
        day = self.local_date(start) - timedelta(days=1)
        last = self.local_date(end) + timedelta(days=1)
        while day <= last:
            for a, b in self.intervals(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add_business(self, start: int, amount: int) -> int:
        """The moment ``amount`` working milliseconds after ``start``."""
        if amount <= 0:
            return start
        day = self.local_date(start) - timedelta(days=1)
        for _ in range(_MAX_DAYS):
            for a, b in self.intervals(day):
                if b <= start:
                    continue
                lo = max(a, start)
                if amount <= b - lo:
                    return lo + amount
                amount -= b - lo
            day += timedelta(days=1)
        raise SlaConfigError(f"calendar '{self.name}' has too few working hours to reach "
                             "the target within three years")

    def sub_business(self, end: int, amount: int) -> int:
        """The moment ``amount`` working milliseconds before ``end``."""
        if amount <= 0:
            return end
        day = self.local_date(end) + timedelta(days=1)
        for _ in range(_MAX_DAYS):
            for a, b in reversed(self.intervals(day)):
                if a >= end:
                    continue
                hi = min(b, end)
                if amount <= hi - a:
                    return hi - amount
                amount -= hi - a
            day -= timedelta(days=1)
        raise SlaConfigError(f"calendar '{self.name}' has too few working hours")


def _local_ms(day: date, minutes: int, zone: ZoneInfo) -> int:
    if minutes >= 24 * 60:
        moment = datetime.combine(day + timedelta(days=1), time(0, 0), zone)
    else:
        moment = datetime.combine(day, time(minutes // 60, minutes % 60), zone)
    return int(moment.timestamp() * 1000)


# --- policies and configuration ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    priority: str
    first_response_ms: int | None
    resolution_ms: int | None
    organization_id: str | None = None
    calendar: str | None = None

    def target_ms(self, target: str) -> int | None:
        return self.first_response_ms if target == "first_response" else self.resolution_ms


@dataclass(frozen=True, slots=True)
class SlaConfig:
    calendars: Mapping[str, Calendar]
    policies: tuple[Policy, ...]
    team_calendars: Mapping[str, str]
    default_calendar: str
    report_timezone: str | None = None
    """The zone whose days daily reports count in (default: the default calendar's)."""

    @property
    def report_zone(self) -> ZoneInfo:
        return ZoneInfo(self.report_timezone or self.calendars[self.default_calendar].timezone)

    def policy_for(self, priority: str, organization_id: str | None) -> Policy | None:
        if organization_id:
            for p in self.policies:
                if p.priority == priority and p.organization_id == organization_id:
                    return p
        for p in self.policies:
            if p.priority == priority and p.organization_id is None:
                return p
        return None

    def calendar_for(self, policy: Policy, team_id: str | None) -> Calendar:
        name = policy.calendar or self.team_calendars.get(team_id or "") or self.default_calendar
        return self.calendars[name]

    def fingerprint(self) -> str:
        """Changes when anything that affects the clocks changes (a read model rebuilds)."""
        data = {
            "calendars": {n: [c.timezone, [list(map(list, d)) for d in c.hours],
                              sorted(x.isoformat() for x in c.holidays)]
                          for n, c in sorted(self.calendars.items())},
            "policies": [[p.name, p.priority, p.first_response_ms, p.resolution_ms,
                          p.organization_id, p.calendar] for p in self.policies],
            "teams": dict(sorted(self.team_calendars.items())),
            "default": self.default_calendar,
            "report_zone": self.report_zone.key,
        }
        return json.dumps(data, sort_keys=True)


def parse_duration(value: object, where: str) -> int | None:
    """``"4h"``, ``"1h30m"``, ``"2d"`` (24-hour business days: ``2d`` = 48 working hours),
    or a number of minutes; ``null`` for no target."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise SlaConfigError(f"{where}: '{value}' is not a duration")
    if isinstance(value, int | float):
        minutes = float(value)
    else:
        m = _DURATION_RE.match(str(value))
        if not m or not any(m.groups()):
            raise SlaConfigError(f"{where}: '{value}' is not a duration (e.g. 4h, 1h30m, 90)")
        d, h, mi = (int(x) if x else 0 for x in m.groups())
        minutes = d * 24 * 60 + h * 60 + mi
    if minutes <= 0:
        raise SlaConfigError(f"{where}: a target must be longer than zero")
    return int(minutes * MINUTE_MS)


def _parse_span(text: str, where: str) -> tuple[int, int]:
    m = re.match(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$", text)
    if not m:
        raise SlaConfigError(f"{where}: '{text}' is not a span like 09:00-17:00")
    a = int(m.group(1)) * 60 + int(m.group(2))
    b = int(m.group(3)) * 60 + int(m.group(4))
    if not (0 <= a < b <= 24 * 60) or int(m.group(2)) > 59 or int(m.group(4)) > 59:
        raise SlaConfigError(f"{where}: '{text}' is not a valid span within one day")
    return a, b


def parse_calendar(name: str, data: Mapping[str, Any]) -> Calendar:
    hours_in = data.get("hours")
    if not isinstance(hours_in, Mapping):
        raise SlaConfigError(f"calendar '{name}' has no 'hours' table")
    unknown = set(hours_in) - set(WEEKDAYS)
    if unknown:
        raise SlaConfigError(f"calendar '{name}': unknown weekday(s) {sorted(unknown)}; "
                             f"use {', '.join(WEEKDAYS)}")
    days: list[tuple[tuple[int, int], ...]] = []
    for wd in WEEKDAYS:
        spans = hours_in.get(wd) or []
        if isinstance(spans, str):
            spans = [spans]
        parsed = sorted(_parse_span(str(s), f"calendar '{name}' {wd}") for s in spans)
        for (_, b), (c, _) in zip(parsed, parsed[1:], strict=False):
            if c < b:
                raise SlaConfigError(f"calendar '{name}' {wd}: working spans overlap")
        days.append(tuple(parsed))
    holidays: set[date] = set()
    for h in data.get("holidays") or []:
        try:
            holidays.add(date.fromisoformat(str(h)))
        except ValueError:
            raise SlaConfigError(f"calendar '{name}': holiday '{h}' is not a date "
                                 "(YYYY-MM-DD)") from None
    return Calendar(name=name, timezone=str(data.get("timezone") or "UTC"),
                    hours=tuple(days), holidays=frozenset(holidays))


def parse_config(data: Mapping[str, Any]) -> SlaConfig:
    """Validate a whole configuration; any problem raises before anything is applied."""
    cal_in = data.get("calendars")
    if not isinstance(cal_in, Mapping) or not cal_in:
        raise SlaConfigError("the SLA configuration defines no calendars")
    calendars = {str(n): parse_calendar(str(n), c) for n, c in cal_in.items()}
    default = str(data.get("default_calendar") or next(iter(calendars)))
    if default not in calendars:
        raise SlaConfigError(f"default_calendar '{default}' is not a defined calendar")
    teams = {str(t): str(c) for t, c in dict(data.get("team_calendars") or {}).items()}
    for team, cal in teams.items():
        if cal not in calendars:
            raise SlaConfigError(f"team '{team}' uses unknown calendar '{cal}'")
    policies: list[Policy] = []
    seen: set[tuple[str, str | None]] = set()
    for i, p in enumerate(data.get("policies") or []):
        policies.append(_parse_policy(f"policy #{i + 1}", p, calendars, seen))
    report_tz = data.get("report_timezone")
    if report_tz is not None:
        try:
            ZoneInfo(str(report_tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise SlaConfigError(f"report_timezone: unknown time zone '{report_tz}'") from None
    return SlaConfig(calendars=calendars, policies=tuple(policies), team_calendars=teams,
                     default_calendar=default,
                     report_timezone=str(report_tz) if report_tz is not None else None)


def _parse_policy(where: str, p: Mapping[str, Any], calendars: Mapping[str, Calendar],
                  seen: set[tuple[str, str | None]]) -> Policy:
    """One policy; ``seen`` holds the (priority, organization) pairs already defined."""
    priority = str(p.get("priority", "")).lower()
    if priority not in ("low", "normal", "high", "urgent"):
        raise SlaConfigError(f"{where}: priority '{p.get('priority')}' is not one of "
                             "low, normal, high, urgent")
    org = p.get("organization_id")
    if (priority, org) in seen:
        raise SlaConfigError(f"{where}: a second policy for priority '{priority}'"
                             + (f" and organization '{org}'" if org else ""))
    seen.add((priority, org))
    cal = p.get("calendar")
    if cal is not None and cal not in calendars:
        raise SlaConfigError(f"{where}: unknown calendar '{cal}'")
    return Policy(
        name=str(p.get("name") or f"{priority.title()} priority"), priority=priority,
        first_response_ms=parse_duration(p.get("first_response"), where),
        resolution_ms=parse_duration(p.get("resolution"), where),
        organization_id=str(org) if org else None, calendar=cal)


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Admin overrides: calendars and team calendars merge by name; policies replace by
    (priority, organization_id); other keys replace."""
    out = dict(base)
    for key in ("calendars", "team_calendars"):
        if key in override:
            out[key] = {**dict(base.get(key) or {}), **dict(override[key])}
    if "policies" in override:
        merged = {(p.get("priority"), p.get("organization_id")): p
                  for p in base.get("policies") or []}
        for p in override["policies"]:
            merged[(p.get("priority"), p.get("organization_id"))] = p
        out["policies"] = list(merged.values())
    for key, value in override.items():
        if key not in ("calendars", "team_calendars", "policies"):
            out[key] = value
    return out


# --- the case timeline -------------------------------------------------------------------
@dataclass(slots=True)
class CaseTimeline:
    """What the SLA needs from a case's events, folded in merge order."""

    case_id: str | None = None
    exists: bool = False
    deleted: bool = False
    created_ms: int | None = None
    priority: str = "normal"
    organization_id: str | None = None
    team_id: str | None = None
    status: str = "new"
    statuses: list[tuple[int, str]] = field(default_factory=list)  # (ms, status) in order
    first_response_ms: int | None = None


def case_timeline(events: Iterable[ev.Event]) -> CaseTimeline:
    ordered = sorted({e.id: e for e in events}.values(), key=lambda e: (e.hlc, e.id))
    t = CaseTimeline()
    for e in ordered:
        step = _TIMELINE_STEPS.get(e.type)
        if step is not None:
            step(t, e, hlc_ms(e.hlc))
    if t.created_ms is not None:
        # Events stamped before the creation moment (clock skew) count from creation.
        t.statuses = [(max(ms, t.created_ms), s) for ms, s in t.statuses]
        if t.first_response_ms is not None:
            t.first_response_ms = max(t.first_response_ms, t.created_ms)
    return t


def _timeline_created(t: CaseTimeline, e: ev.Event, ms: int) -> None:
    p = e.payload
    t.case_id = e.case_id
    t.exists = True
    created = p.get("created_ms")
    t.created_ms = int(created) if isinstance(created, int) else ms
    fields = dict(p.get("fields") or {})
    t.priority = str(fields.get("priority") or "normal")
    t.organization_id = fields.get("organization_id")
    t.team_id = fields.get("team_id")
    t.status = str(fields.get("status") or "new")
    t.statuses.append((t.created_ms, t.status))


def _timeline_updated(t: CaseTimeline, e: ev.Event, ms: int) -> None:
    name, value = e.payload.get("field"), e.payload.get("value")
    if name == "priority" and value:
        t.priority = str(value)
    elif name == "organization_id":
        t.organization_id = value
    elif name == "team_id":
        t.team_id = value
    elif name == "deleted":
        t.deleted = bool(value)
    elif name == "status" and value:
        t.status = str(value)
        t.statuses.append((ms, t.status))


def _timeline_merged(t: CaseTimeline, e: ev.Event, ms: int) -> None:
    t.status = "closed"
    t.statuses.append((ms, "closed"))


def _timeline_commented(t: CaseTimeline, e: ev.Event, ms: int) -> None:
    p = e.payload
    public_agent_reply = not p.get("internal") and p.get("author_kind", "agent") == "agent"
    if public_agent_reply and t.first_response_ms is None:
        t.first_response_ms = ms


_TIMELINE_STEPS: dict[str, Callable[[CaseTimeline, ev.Event, int], None]] = {
    ev.CASE_CREATED: _timeline_created,
    ev.CASE_UPDATED: _timeline_updated,
    ev.CASE_MERGED: _timeline_merged,
    ev.COMMENT_ADDED: _timeline_commented,
}


# --- clocks ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PausedSpan:
    start_ms: int
    end_ms: int | None  # None: still paused
    reason: str  # the status that paused the clock

    def describe(self, calendar: Calendar, now_ms: int) -> str:
        spent = calendar.business_ms(self.start_ms, self.end_ms or now_ms)
        still = " (still paused)" if self.end_ms is None else ""
        return f"paused {format_duration(spent)} while {self.reason}{still}"


@dataclass(frozen=True, slots=True)
class TargetClock:
    """One target of one case, independent of the current time."""

    target: str  # first_response | resolution
    target_ms: int
    running_from: tuple[tuple[int, int | None], ...]  # running spans (end None: still running)
    paused: tuple[PausedSpan, ...]
    deadline_ms: int | None  # None while paused with time left, or met without reaching it
    risk_ms: int | None  # from this moment the target is at risk (running clocks)
    stopped_ms: int | None  # the target's stop moment (reply / solve)
    outcome: str | None  # met | breached once stopped; None while open
    paused_left_ms: int | None  # time left, frozen while paused

    @property
    def is_paused(self) -> bool:
        return self.outcome is None and self.deadline_ms is None

    def state_at(self, now_ms: int) -> str:
        """ok / at_risk / breached / met at ``now_ms`` (cheap: no calendar walk)."""
        if self.outcome is not None:
            return self.outcome
        if self.deadline_ms is not None and now_ms >= self.deadline_ms:
            return "breached"
        if self.is_paused:
            left = self.paused_left_ms or 0
            return "at_risk" if left < risk_threshold(self.target_ms) else "ok"
        if self.risk_ms is not None and now_ms >= self.risk_ms:
            return "at_risk"
        return "ok"


def risk_threshold(target_ms: int) -> int:
    """At risk when less than 20% of the target or less than one hour is left."""
    return max(int(target_ms * AT_RISK_FRACTION), AT_RISK_FLOOR_MS)


def _spans(t: CaseTimeline, stop: int | None) -> tuple[list[tuple[int, int | None]],
                                                        list[PausedSpan]]:
    """Split ``[created, stop)`` into running spans and paused spans."""
    assert t.created_ms is not None
    running: list[tuple[int, int | None]] = []
    paused: list[PausedSpan] = []
    marks = t.statuses or [(t.created_ms, "new")]
    for i, (start, status) in enumerate(marks):
        end: int | None = marks[i + 1][0] if i + 1 < len(marks) else None
        if stop is not None:
            if start >= stop:
                break
            end = stop if end is None else min(end, stop)
        if end is not None and end <= start:
            continue
        if status in PAUSE_STATUSES or status in DONE_STATUSES:
            if paused and paused[-1].reason == status and paused[-1].end_ms == start:
                paused[-1] = PausedSpan(paused[-1].start_ms, end, status)
            else:
                paused.append(PausedSpan(start, end, status))
        elif running and running[-1][1] == start:
            running[-1] = (running[-1][0], end)
        else:
            running.append((start, end))
    return running, paused


def _stop_moment(t: CaseTimeline, target: str) -> int | None:
    done_at: int | None = None
    if t.status in DONE_STATUSES:
        for ms, status in reversed(t.statuses):
            if status not in DONE_STATUSES:
                break
            done_at = ms
    if target == "first_response":
        if t.first_response_ms is not None:
            return t.first_response_ms if done_at is None else min(done_at, t.first_response_ms)
        if done_at is None:
            # solved earlier, reopened later without a reply: the first solve stops it
            for ms, status in t.statuses:
                if status in DONE_STATUSES:
                    return ms
        return done_at
    return done_at


def target_clock(t: CaseTimeline, target: str, target_ms: int,
                 calendar: Calendar) -> TargetClock:
    stop = _stop_moment(t, target)
    running, paused = _spans(t, stop)
    acc = 0
    deadline: int | None = None
    for start, end in running:
        candidate = calendar.add_business(start, target_ms - acc)
        if end is None or candidate <= end:
            deadline = candidate
            break
        acc += calendar.business_ms(start, end)
    outcome: str | None = None
    if stop is not None:
        outcome = "breached" if deadline is not None and deadline < stop else "met"
    still_running = bool(running) and running[-1][1] is None and stop is None
    risk: int | None = None
    paused_left: int | None = None
    if outcome is None and deadline is not None and still_running:
        risk = max(calendar.sub_business(deadline, risk_threshold(target_ms)), running[-1][0])
    if outcome is None and not still_running and deadline is None:
        paused_left = target_ms - acc
    return TargetClock(target=target, target_ms=target_ms, running_from=tuple(running),
                       paused=tuple(paused), deadline_ms=deadline, risk_ms=risk,
                       stopped_ms=stop, outcome=outcome, paused_left_ms=paused_left)


@dataclass(frozen=True, slots=True)
class CaseClocks:
    case_id: str | None
    policy: Policy | None
    calendar: Calendar | None
    clocks: tuple[TargetClock, ...]

    def next_deadline(self) -> int | None:
        """The earliest deadline of a target still open and running."""
        found = [c.deadline_ms for c in self.clocks
                 if c.outcome is None and c.deadline_ms is not None]
        return min(found) if found else None


def sla_clocks(events: Iterable[ev.Event] | CaseTimeline, config: SlaConfig) -> CaseClocks:
    t = events if isinstance(events, CaseTimeline) else case_timeline(events)
    if not t.exists or t.deleted or t.created_ms is None:
        return CaseClocks(t.case_id, None, None, ())
    policy = config.policy_for(t.priority, t.organization_id)
    if policy is None:
        return CaseClocks(t.case_id, None, None, ())
    calendar = config.calendar_for(policy, t.team_id)
    clocks = []
    for target in TARGETS:
        target_ms = policy.target_ms(target)
        if target_ms is not None:
            clocks.append(target_clock(t, target, target_ms, calendar))
    return CaseClocks(t.case_id, policy, calendar, tuple(clocks))


# --- status for display ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TargetStatus:
    target: str
    label: str
    target_ms: int
    elapsed_ms: int
    paused: tuple[str, ...]  # "paused 2h10m while pending"
    paused_spans: tuple[PausedSpan, ...]
    deadline_ms: int | None
    left_ms: int  # negative once breached
    state: str  # ok | at_risk | breached | met
    is_paused: bool
    stopped_ms: int | None


@dataclass(frozen=True, slots=True)
class SlaStatus:
    case_id: str | None
    policy: str | None
    calendar: str | None
    targets: tuple[TargetStatus, ...]

    @property
    def next_deadline_ms(self) -> int | None:
        found = [t.deadline_ms for t in self.targets
                 if t.state in ("ok", "at_risk", "breached") and t.stopped_ms is None
                 and t.deadline_ms is not None]
        return min(found) if found else None

    @property
    def worst_state(self) -> str | None:
        order = ["breached", "at_risk", "ok", "met"]
        states = [t.state for t in self.targets]
        return next((s for s in order if s in states), None)


def sla_status(events: Iterable[ev.Event] | CaseTimeline, config: SlaConfig,
               now_ms: int) -> SlaStatus:
    cc = sla_clocks(events, config)
    if cc.calendar is None or cc.policy is None:
        return SlaStatus(cc.case_id, None, None, ())
    cal = cc.calendar
    out = []
    for c in cc.clocks:
        elapsed = sum(cal.business_ms(a, min(b if b is not None else now_ms, now_ms))
                      for a, b in c.running_from if a < now_ms)
        spans = tuple(p for p in c.paused if p.start_ms < now_ms)
        out.append(TargetStatus(
            target=c.target, label=TARGET_LABELS[c.target], target_ms=c.target_ms,
            elapsed_ms=elapsed, paused=tuple(p.describe(cal, now_ms) for p in spans),
            paused_spans=spans, deadline_ms=c.deadline_ms, left_ms=c.target_ms - elapsed,
            state=c.state_at(now_ms), is_paused=c.is_paused, stopped_ms=c.stopped_ms))
    return SlaStatus(cc.case_id, cc.policy.name, cal.name, tuple(out))


def format_duration(ms: int) -> str:
    """``2h10m``, ``45m``, ``3d4h`` (24-hour days), ``-1h5m`` when negative."""
    sign = "-" if ms < 0 else ""
    minutes = abs(ms) // MINUTE_MS
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    parts = [f"{d}d" if d else "", f"{h}h" if h else "", f"{m}m" if m or not (d or h) else ""]
    return sign + "".join(parts)


def describe_status(status: SlaStatus) -> list[str]:
    """Human lines for the case view / terminal."""
    lines = []
    for t in status.targets:
        when = (datetime.fromtimestamp(t.deadline_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
                if t.deadline_ms else "—")
        left = format_duration(t.left_ms)
        lines.append(f"{t.label}: {t.state} · target {format_duration(t.target_ms)} · elapsed "
                     f"{format_duration(t.elapsed_ms)} · left {left} · deadline {when}")
        lines += [f"  {p}" for p in t.paused]
    return lines


def load_config_text(texts: Sequence[str]) -> SlaConfig:
    """Parse the default configuration followed by overrides (JSON texts)."""
    data: dict[str, Any] = {}
    for i, text in enumerate(texts):
        try:
            part = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SlaConfigError(f"SLA configuration file #{i + 1} is not valid JSON: "
                                 f"{exc}") from None
        if not isinstance(part, dict):
            raise SlaConfigError(f"SLA configuration file #{i + 1} must hold a JSON object")
        data = part if i == 0 else merge_config(data, part)
    return parse_config(data)

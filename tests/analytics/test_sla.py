"""SLA clocks: business hours, weekends, holidays, pauses, states, configuration errors."""

from __future__ import annotations

import pytest
from analytics_helpers import config_data, created, ms, reply, status

from app.core.sla import (
    SlaConfigError,
    format_duration,
    load_config_text,
    parse_config,
    sla_clocks,
    sla_status,
)

# 2026-03-06 is a Friday; 2026-03-09 (Monday) is a holiday in the office calendar.
CFG = parse_config(config_data("office"))


def _target(st, name):
    return next(t for t in st.targets if t.target == name)


def test_business_hours_skip_weekend_and_holiday() -> None:
    cal = CFG.calendars["office"]
    # Friday 16:00 + 4 working hours: 1h on Friday, Monday is a holiday → Tuesday 12:00.
    assert cal.add_business(ms("2026-03-06 16:00"), 4 * 3_600_000) == ms("2026-03-10 12:00")
    assert cal.business_ms(ms("2026-03-06 16:00"), ms("2026-03-10 12:00")) == 4 * 3_600_000
    # Backwards across the same gap.
    assert cal.sub_business(ms("2026-03-10 12:00"), 4 * 3_600_000) == ms("2026-03-06 16:00")
    # Outside hours: Saturday counts nothing.
    assert cal.business_ms(ms("2026-03-07 00:00"), ms("2026-03-08 23:59")) == 0
    # Created on Saturday: the clock starts Monday... the holiday, so Tuesday 09:00.
    assert cal.add_business(ms("2026-03-07 10:00"), 1) == ms("2026-03-10 09:00") + 1


def test_deadline_in_business_time_for_a_normal_case() -> None:
    events = [created("a", ms("2026-03-06 16:00"), priority="normal")]
    st = sla_status(events, CFG, now_ms=ms("2026-03-06 16:30"))
    fr = _target(st, "first_response")
    assert fr.deadline_ms == ms("2026-03-06 17:00")
    assert fr.elapsed_ms == 30 * 60_000 and fr.left_ms == 30 * 60_000
    res = _target(st, "resolution")  # 24 working hours: Fri 1h, Tue 8h, Wed 8h, Thu 7h
    assert res.deadline_ms == ms("2026-03-12 16:00")
    assert st.policy == "Normal" and st.calendar == "office"


def test_pause_and_resume_across_pending_and_on_hold() -> None:
    cid = "p"
    events = [
        created(cid, ms("2026-03-02 09:00"), priority="high"),  # Monday
        reply(cid, ms("2026-03-02 09:30")),
        status(cid, ms("2026-03-02 10:00"), "pending"),
        status(cid, ms("2026-03-02 12:10"), "open"),
        status(cid, ms("2026-03-02 13:00"), "on-hold"),
        status(cid, ms("2026-03-02 14:00"), "open"),
    ]
    now = ms("2026-03-02 15:00")
    st = sla_status(events, CFG, now_ms=now)
    fr = _target(st, "first_response")
    assert fr.state == "met" and fr.elapsed_ms == 30 * 60_000
    res = _target(st, "resolution")
    # Running: 09:00-10:00, 12:10-13:00, 14:00-15:00 → 2h50m of the 8h target.
    assert res.elapsed_ms == (60 + 50 + 60) * 60_000
    assert res.paused == ("paused 2h10m while pending", "paused 1h while on-hold")
    assert res.left_ms == (8 * 60 - 170) * 60_000
    # At the last resume (14:00) 6h10m were left: Monday until 17:00 (3h) + Tuesday 12:10.
    assert res.deadline_ms == ms("2026-03-03 12:10")
    assert res.state == "ok"
    # Pending again: the clock stops, no deadline, time left frozen.
    events.append(status(cid, ms("2026-03-02 15:00"), "pending"))
    later = sla_status(events, CFG, now_ms=ms("2026-03-05 15:00"))
    res2 = _target(later, "resolution")
    assert res2.is_paused and res2.deadline_ms is None
    assert res2.left_ms == (8 * 60 - 170) * 60_000
    assert res2.paused[-1].startswith("paused ") and res2.paused[-1].endswith(
        "while pending (still paused)")
    assert res2.state == "ok"
    # Resume on Friday: the deadline counts only the time left.
    events.append(status(cid, ms("2026-03-06 09:00"), "open"))
    clocks = sla_clocks(events, CFG)
    res3 = next(c for c in clocks.clocks if c.target == "resolution")
    assert res3.deadline_ms == ms("2026-03-06 14:10")  # 5h10m left from 09:00


def test_states_ok_at_risk_breached_and_met() -> None:
    cid = "s"
    base = [created(cid, ms("2026-03-02 09:00"), priority="high")]  # FR 2h, res 8h
    c = sla_clocks(base, CFG)
    fr = next(x for x in c.clocks if x.target == "first_response")
    assert fr.deadline_ms == ms("2026-03-02 11:00")
    # At risk: less than max(20% of 2h, 1h) = 1h left → from 10:00.
    assert fr.risk_ms == ms("2026-03-02 10:00")
    assert fr.state_at(ms("2026-03-02 09:59")) == "ok"
    assert fr.state_at(ms("2026-03-02 10:00")) == "at_risk"
    assert fr.state_at(ms("2026-03-02 11:00")) == "breached"
    res = next(x for x in c.clocks if x.target == "resolution")
    # 8h target: at risk under 1h36m (20%) → from 15:24.
    assert res.risk_ms == ms("2026-03-02 15:24")
    late = base + [reply(cid, ms("2026-03-02 11:30"))]
    st = sla_status(late, CFG, now_ms=ms("2026-03-02 12:00"))
    assert _target(st, "first_response").state == "breached"
    assert _target(st, "first_response").left_ms == -30 * 60_000
    ontime = base + [reply(cid, ms("2026-03-02 10:59")), status(cid, ms("2026-03-02 16:00"),
                                                                 "solved")]
    st2 = sla_status(ontime, CFG, now_ms=ms("2026-03-04 12:00"))
    assert [t.state for t in st2.targets] == ["met", "met"]
    assert st2.worst_state == "met"
    # Internal notes and customer comments are not a first response.
    quiet = base + [reply(cid, ms("2026-03-02 09:10"), internal=True),
                    reply(cid, ms("2026-03-02 09:20"), kind="customer")]
    assert _target(sla_status(quiet, CFG, ms("2026-03-02 11:30")),
                   "first_response").state == "breached"


def test_reopen_resumes_resolution_clock_and_solved_time_does_not_count() -> None:
    cid = "r"
    events = [created(cid, ms("2026-03-02 09:00"), priority="high"),
              status(cid, ms("2026-03-02 11:00"), "solved"),
              status(cid, ms("2026-03-03 09:00"), "open")]
    st = sla_status(events, CFG, now_ms=ms("2026-03-03 10:00"))
    res = _target(st, "resolution")
    assert res.elapsed_ms == 3 * 3_600_000
    assert res.paused == ("paused 6h while solved",)
    assert res.deadline_ms == ms("2026-03-03 15:00")  # 6h left from the reopen


def test_paused_with_little_time_left_is_at_risk() -> None:
    cid = "q"
    events = [created(cid, ms("2026-03-02 09:00"), priority="urgent"),  # res 4h
              reply(cid, ms("2026-03-02 09:05")),
              status(cid, ms("2026-03-02 12:30"), "pending")]
    st = sla_status(events, CFG, now_ms=ms("2026-03-04 12:00"))
    res = _target(st, "resolution")
    assert res.is_paused and res.left_ms == 30 * 60_000 and res.state == "at_risk"


def test_calendar_with_no_working_hours_is_an_error() -> None:
    data = config_data()
    data["calendars"]["empty"] = {"timezone": "UTC", "hours": {}}
    with pytest.raises(SlaConfigError, match="'empty' has no working hours"):
        parse_config(data)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["policies"].append({"priority": "high", "first_response": "1h"}),
     "a second policy"),
    (lambda d: d["policies"][0].update(first_response="soon"), "not a duration"),
    (lambda d: d["calendars"]["office"].update(timezone="Mars/Base"), "unknown time zone"),
    (lambda d: d["calendars"]["office"]["hours"].update(mon=["17:00-09:00"]), "not a valid"),
    (lambda d: d.update(team_calendars={"support": "nope"}), "unknown calendar"),
])
def test_bad_configuration_is_refused(change, message) -> None:
    data = config_data()
    change(data)
    with pytest.raises(SlaConfigError, match=message):
        parse_config(data)


def test_override_merges_and_time_zone_is_respected() -> None:
    import json

    override = {"calendars": {"office": {**config_data()["calendars"]["office"],
                                         "timezone": "Europe/Berlin"}},
                "policies": [{"name": "VIP urgent", "priority": "urgent",
                              "organization_id": "org-vip", "first_response": "15m",
                              "resolution": "2h"}]}
    cfg = load_config_text([json.dumps(config_data()), json.dumps(override)])
    cal = cfg.calendars["office"]
    # 09:00 Berlin (winter, UTC+1) is 08:00 UTC.
    assert cal.add_business(ms("2026-03-02 07:00"), 1) == ms("2026-03-02 08:00") + 1
    assert cfg.policy_for("urgent", "org-vip").name == "VIP urgent"
    assert cfg.policy_for("urgent", "other").name == "Urgent"


def test_format_duration() -> None:
    assert format_duration(130 * 60_000) == "2h10m"
    assert format_duration(45 * 60_000) == "45m"
    assert format_duration(0) == "0m"
    assert format_duration(-(26 * 60 + 5) * 60_000) == "-1d2h5m"


def test_shipped_default_configuration_loads() -> None:
    from app.analytics.config import load_sla_config

    cfg = load_sla_config(None)
    assert {p.priority for p in cfg.policies} == {"low", "normal", "high", "urgent"}

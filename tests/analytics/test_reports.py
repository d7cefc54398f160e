"""Every report figure against a small data set computed by hand (see the comments)."""

from __future__ import annotations

import json

import pytest
from analytics_helpers import config_data, created, ms, reply, status, tag

from app.analytics import reports as r
from app.analytics.model import AnalyticsModel
from app.core.sla import parse_config

DAY0 = "2026-03-02"  # Monday
NOW = ms("2026-03-05 12:00")
PERIOD = r.Period(ms("2026-03-02 00:00"), ms("2026-03-05 00:00"))  # days 0..2


def _events() -> list:
    a, b, c, d = "case-a", "case-b", "case-c", "case-d"
    return [
        # A: high, support, alice; FR 60m; solved after 240m.
        created(a, ms("2026-03-02 09:00"), priority="high", assignee_id="alice@x",
                product="X", tags=["vip", "bug"]),
        reply(a, ms("2026-03-02 10:00")),
        status(a, ms("2026-03-02 13:00"), "solved"),
        # B: normal, support, bob; FR 120m; solved day 1 10:00, reopened day 1 12:00.
        created(b, ms("2026-03-02 10:00"), assignee_id="bob@x", product="X", tags=["bug"]),
        reply(b, ms("2026-03-02 12:00"), actor="bob@x"),
        status(b, ms("2026-03-03 10:00"), "solved", actor="bob@x"),
        status(b, ms("2026-03-03 12:00"), "open", actor="bob@x"),
        # C: urgent, billing, unassigned; only a customer comment; pending after 1h.
        created(c, ms("2026-03-03 09:00"), priority="urgent", team_id="billing", product="Y"),
        reply(c, ms("2026-03-03 09:30"), kind="customer", actor="cust@example.com"),
        status(c, ms("2026-03-03 10:00"), "pending"),
        # D: low, billing, alice; FR 30m; solved day 2 09:00 (1320m), then closed.
        created(d, ms("2026-03-03 11:00"), priority="low", team_id="billing",
                assignee_id="alice@x"),
        tag(d, ms("2026-03-03 11:05"), "vip"),
        reply(d, ms("2026-03-03 11:30")),
        status(d, ms("2026-03-04 09:00"), "solved"),
        status(d, ms("2026-03-04 10:00"), "closed"),
    ]


@pytest.fixture
def model(store):
    store.bulk_load(_events())
    m = AnalyticsModel(store, None, config=parse_config(config_data("always")))
    m.catch_up()
    yield m
    m.close()


def rep(model, name, **kw):
    return r.report(model, name, period=PERIOD, now_ms=NOW, **kw).rows


def test_backlog(model) -> None:
    assert rep(model, "backlog") == [
        ["status", "open", 1], ["status", "pending", 1],
        ["priority", "urgent", 1], ["priority", "normal", 1],
        ["team", "billing", 1], ["team", "support", 1],
        ["assignee", "(none)", 1], ["assignee", "bob@x", 1],
    ]
    assert rep(model, "backlog", team="billing") == [
        ["status", "pending", 1], ["priority", "urgent", 1], ["team", "billing", 1],
        ["assignee", "(none)", 1]]


def test_created_vs_solved(model) -> None:
    # D's move solved → closed is not a second solve.
    assert rep(model, "created-vs-solved") == [
        ["2026-03-02", 2, 1], ["2026-03-03", 2, 1], ["2026-03-04", 0, 1]]
    assert rep(model, "created-vs-solved", agent="alice@x") == [
        ["2026-03-02", 1, 1], ["2026-03-03", 1, 0], ["2026-03-04", 0, 1]]


def test_response_times(model) -> None:
    # FR: [30, 60, 120] → median rank 2 = 60, p90 rank 3 = 120.
    # Resolution (solved now): A 240, D 1320 (B was reopened) → median 240, p90 1320.
    assert rep(model, "response-times") == [
        ["first_response", 3, 60.0, 120.0], ["resolution", 2, 240.0, 1320.0]]


def test_sla_compliance(model) -> None:
    # 24/7 calendar. FR: A met (60 ≤ 120), B breached (120 > 60), C breached (no reply,
    # deadline day1 10:00), D met (30 ≤ 60) → 50%.
    # Resolution: A met (4h ≤ 8h), B breached (24h deadline passed; reopened and open),
    # C paused (1h of 4h used, 3h left: not at risk), D met (22h ≤ 48h) → 2/3.
    assert rep(model, "sla") == [
        ["first_response", 4, 2, 2, 0, 0, 50.0],
        ["resolution", 4, 2, 1, 0, 1, 66.7]]


def test_reopens(model) -> None:
    assert rep(model, "reopens") == [[3, 1, 1, 33.3]]


def test_throughput(model) -> None:
    rows = r.report(model, "throughput", period=PERIOD, now_ms=NOW,
                    names={"alice@x": "Alice"}).rows
    assert rows == [["alice@x", "Alice", 2, 2, 0], ["bob@x", "bob@x", 1, 1, 1]]


def test_top_tags_and_products(model) -> None:
    assert rep(model, "top-tags") == [["bug", 2], ["vip", 2]]
    assert rep(model, "top-products") == [["X", 2], ["Y", 1]]


def test_aging(model) -> None:
    # Open now: B (3d2h old) and C (2d3h old).
    assert rep(model, "aging") == [["< 1 day", 0], ["1–3 days", 1], ["3–7 days", 1],
                                   ["7–30 days", 0], ["30+ days", 0]]


def test_sla_queue_views(model, store) -> None:
    def q(view):
        return model.read(lambda c: [(x["key"], x["target"], x["state"]) for x in
                                     r.sla_queue(c, view=view, now_ms=NOW)])

    assert q("breached") == [("CASE-B", "first_response", "breached"),
                             ("CASE-B", "resolution", "breached"),
                             ("CASE-C", "first_response", "breached")]
    assert q("at_risk") == []
    assert q("all") == [("CASE-B", "resolution", "breached"),
                        ("CASE-C", "first_response", "breached"),
                        ("CASE-C", "resolution", "ok")]
    # A new urgent case: its first response (1h) is at risk at once (< 1h left).
    store.bulk_load([created("case-e", NOW - 600_000, priority="urgent")])
    assert model.catch_up() == 1
    assert q("at_risk") == [("CASE-E", "first_response", "at_risk")]
    nd = model.read(lambda c: r.next_deadlines(c, ["case-b", "case-a"]))
    assert nd == {"case-b": ms("2026-03-03 10:00"), "case-a": None}


def test_terminal_and_csv_give_the_same_numbers(model, store, tmp_path) -> None:
    from app.terminal.runner import execute

    store._analytics_model = model  # the command reuses the open read model
    out = tmp_path / "top.csv"
    res = execute(store, f"report top-tags --from {DAY0} --to 2026-03-04 --csv {out}")
    assert res.ok, res.text
    assert res.data["rows"] == [{"tag": "bug", "cases": 2}, {"tag": "vip", "cases": 2}]
    assert out.read_text() == "tag,cases\nbug,2\nvip,2\n"
    assert res.data["period"] == {"from": DAY0, "to": "2026-03-04", "timezone": "UTC"}
    res = execute(store, "report backlog --team billing")
    assert res.ok and {"dimension": "status", "value": "pending", "cases": 1} in res.data["rows"]
    json.dumps(res.data)
    for name in r.REPORTS:
        assert execute(store, f"report {name} --from {DAY0}").ok, name
    bad = execute(store, "report sla --from yesterday")
    assert not bad.ok and "not a date" in bad.text


def test_unknown_report_suggests() -> None:
    with pytest.raises(r.ReportError, match="did you mean 'backlog'"):
        r.report(None, "backlogg")  # type: ignore[arg-type]


def test_incremental_fold_touches_only_new_cases(model, store) -> None:
    from app.operations import cases as ops

    before = model.last_seq
    ops.set_fields(store, case="CASE-C", changes={"status": "open"})
    assert model.catch_up() == 1
    assert model.last_seq > before
    assert model.catch_up() == 0
    assert rep(model, "backlog")[0:2] == [["status", "open", 2]] + [["priority", "urgent", 1]]


def test_days_are_the_teams_local_days(store) -> None:
    # New York (UTC-5 in early March): a case created at 23:30 local on Monday is 04:30
    # UTC on Tuesday; it counts on Monday. Solved at 00:30 local Wednesday (05:30 UTC).
    from zoneinfo import ZoneInfo

    store.bulk_load([
        created("ny", ms("2026-03-03 04:30"), assignee_id="alice@x"),
        status("ny", ms("2026-03-04 05:30"), "solved"),
    ])
    data = config_data("always") | {"report_timezone": "America/New_York"}
    m = AnalyticsModel(store, None, config=parse_config(data))
    try:
        m.catch_up()
        zone = ZoneInfo("America/New_York")
        period = r.Period.parse("2026-03-02", "2026-03-04", zone=zone)
        assert (period.start_ms, period.end_ms) == (ms("2026-03-02 05:00"),
                                                    ms("2026-03-05 05:00"))
        rows = r.report(m, "created-vs-solved", period=period, now_ms=NOW).rows
        assert rows == [["2026-03-02", 1, 0], ["2026-03-03", 0, 0], ["2026-03-04", 0, 1]]
        # A period made in another zone is read in the model's days.
        assert r.report(m, "created-vs-solved", period=r.Period.parse(
            "2026-03-02", "2026-03-04"), now_ms=NOW).rows[0] == ["2026-03-01", 0, 0]
    finally:
        m.close()
    utc = AnalyticsModel(store, None, config=parse_config(config_data("always")))
    try:  # the same events counted in UTC days
        utc.catch_up()
        rows = r.report(utc, "created-vs-solved", period=r.Period.parse(
            "2026-03-02", "2026-03-04"), now_ms=NOW).rows
        assert rows == [["2026-03-02", 0, 0], ["2026-03-03", 1, 0], ["2026-03-04", 0, 1]]
    finally:
        utc.close()


def test_report_timezone_must_exist() -> None:
    from app.core.sla import SlaConfigError

    with pytest.raises(SlaConfigError, match="report_timezone: unknown time zone 'Mars/Base'"):
        parse_config(config_data() | {"report_timezone": "Mars/Base"})
    assert parse_config(config_data()).report_zone.key == "UTC"  # the default calendar's

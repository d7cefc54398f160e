"""Notification rules, the local store, settings, do-not-disturb, SLA check, conflict hook."""

from __future__ import annotations

import time

from analytics_helpers import created, event, field, ms, reply

from app.analytics.model import AnalyticsModel
from app.operations import cases as ops
from app.operations.notifications import Me, NotificationCenter, notifications_for

ME = Me("alex.morgan@support.example", "Alex Morgan", "alex.morgan@support.example")
T = ms("2026-03-02 09:00")


def kinds(found):
    return [(n.kind, n.case_id) for n in found]


def test_rules() -> None:
    evs = [
        created("c1", T, assignee_id=ME.id),  # by the customer → assigned to me
        field("c2", T + 1, "assignee_id", ME.id, actor="sam@x"),
        field("c3", T + 2, "assignee_id", ME.id, actor=ME.id),  # I assigned myself: quiet
        reply("c4", T + 3, body="ping @Alex Morgan please look", actor="sam@x"),
        reply("c5", T + 4, body="cc @alex.morgan@support.example", internal=True,
              actor="sam@x"),
        reply("c6", T + 5, body="@AlexMorgan2 is someone else", actor="sam@x"),
        reply("c2", T + 6, kind="customer", body="Thanks!\nmore", actor="cust@x"),
        reply("c7", T + 7, kind="customer", body="not mine", actor="cust@x"),
        event("integration.jira_created", {"system": "JIRA", "message": "PRJ-12",
                                           "requested_by": ME.id}, T + 8, case_id="c7",
              actor="server"),
        event("integration.requested", {"requested_by": ME.id}, T + 9, case_id="c7"),
    ]
    found = notifications_for(evs, ME, assignees={"c7": "sam@x"})
    assert kinds(found) == [("assigned", "c1"), ("assigned", "c2"), ("mention", "c4"),
                            ("mention", "c5"), ("customer_reply", "c2"),
                            ("integration", "c7")]
    assert found[4].body == "Thanks!"
    assert found[5].title.startswith("JIRA: jira created")
    assert len({n.dedupe for n in found}) == len(found)


def test_center_follows_the_log_stores_once_and_honours_settings(demo_store) -> None:
    store = demo_store
    center = NotificationCenter(store, None, me=ME)
    assert center.follow() == []  # the first call starts at the head: no flood of history
    store.set_actor("sam.rivera@support.example")
    ops.assign(store, case="SUP-2", agent=ME.id)
    ops.comment(store, case="SUP-5", body="@Alex Morgan can you check?", internal=True)
    fresh = center.follow()
    assert [n.kind for n in fresh] == ["assigned", "mention"]
    assert center.follow() == []
    assert center.unread_count() == 2
    center.set_enabled("mention", False)
    ops.comment(store, case="SUP-6", body="@Alex Morgan again", internal=True)
    assert center.follow() == []
    center.set_dnd(int(time.time() * 1000) + 60_000)
    assert center.settings().dnd(int(time.time() * 1000))
    center.set_dnd(None)
    assert not center.settings().dnd(int(time.time() * 1000))
    items = center.list()
    assert center.mark_read([items[0].id]) == 1
    assert center.unread_count() == 1
    assert center.mark_read() == 1 and center.unread_count() == 0


def test_sla_check_and_conflict_hook(demo_store) -> None:
    store = demo_store
    model = AnalyticsModel(store, None)
    center = NotificationCenter(store, None, me=ME)
    found = center.check_sla(model)
    mine = store.read(lambda c: c.exec_driver_sql(
        "select count(*) from cases where assignee_id = ? and status in "
        "('new','open','pending','on-hold')", (ME.id,)).scalar())
    # The first check pops one summary, not one notification per overdue case...
    assert mine > 0 and len(found) == 1
    assert found[0].kind == "sla" and found[0].case_id is None
    assert "need attention" in found[0].title and "breach" in found[0].body
    listed = [n for n in center.list() if n.case_id]  # ...each is listed, already read
    assert listed and all(n.kind == "sla" and n.read for n in listed)
    assert {n.title.split(" SLA ")[1].split(" on ")[0] for n in listed} <= {
        "breached", "about to breach"}
    assert center.unread_count() == 1
    assert center.check_sla(model) == []  # the same state is not notified twice
    # Later warnings pop one by one: a new urgent case of mine, a week on.
    case_id, key, _ = ops.create_case(store, subject="Checkout down", priority="urgent",
                                      assignee=ME.id)
    later = center.check_sla(model, now_ms=int(time.time() * 1000) + 7 * 86_400_000)
    assert later and all(n.case_id == case_id and not n.read for n in later)
    assert all(f"SLA breached on {key}" in n.title for n in later)
    case_id = store.read(lambda c: c.exec_driver_sql("select id from cases limit 1").scalar())
    store.write(lambda c: c.exec_driver_sql(
        "insert into conflicts (id, case_id, field, local_value, remote_value, remote_actor, "
        "local_event_id, remote_event_id, created_ms, resolved) values "
        "('k1', ?, 'priority', '\"high\"', '\"low\"', 'sam@x', 'l1', 'r1', 5, 0)", (case_id,)))
    got = center.notify_conflicts([case_id])
    assert len(got) == 1 and got[0].kind == "conflict" and "priority" in got[0].title
    assert center.notify_conflicts([case_id]) == []
    model.close()


def test_first_sla_check_with_nothing_overdue_stays_quiet(demo_store) -> None:
    store = demo_store
    model = AnalyticsModel(store, None)
    center = NotificationCenter(store, None, me=Me("nobody@support.example", "No Body",
                                                   "nobody@support.example"))
    assert center.check_sla(model) == [] and center.list() == []
    model.close()

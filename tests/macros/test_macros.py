"""Saved replies, placeholders, macros: preview, apply, undo, bad references, sync events."""

from __future__ import annotations

import pytest

from app.analytics.model import AnalyticsModel
from app.core import macros as mc
from app.core.model import InvalidValue
from app.core.templating import TemplateError, placeholders, render
from app.operations import cases as ops
from app.operations import macros as mops
from app.operations.errors import OperationError
from app.store import queries as q
from app.terminal.runner import execute


@pytest.fixture
def model(demo_store):
    m = AnalyticsModel(demo_store, None)
    demo_store._analytics_model = m
    yield m
    m.close()


def _case(store, key="SUP-1"):
    return store.read(lambda c: q.case_detail(c, q.resolve_case(c, key)))


def test_render_placeholders_and_missing_values() -> None:
    ctx = {"requester": {"first_name": "Ana", "name": "Ana Silva"}, "case": {"key": "SUP-7"},
           "agent": {"name": "Alex Morgan"}}
    assert render("Hi {{requester.first_name}}, re {{ case.key }} -- {{agent.name}}", ctx) \
        == "Hi Ana, re SUP-7 -- Alex Morgan"
    assert render("Hi {{organization.name | there}}", ctx) == "Hi there"
    with pytest.raises(TemplateError) as err:
        render("{{requester.last_name}} {{case.key}} {{agent.phone}} {{requester}}", ctx)
    assert err.value.missing == ["requester.last_name", "agent.phone", "requester"]
    assert "{{requester.last_name}}, {{agent.phone}}" in str(err.value)
    assert placeholders("{{a.b}} {{c}} {{a.b}}") == ["a.b", "c"]


def test_actions_are_validated() -> None:
    with pytest.raises(InvalidValue, match="status 'slved'.*did you mean 'solved'"):
        mc.parse_actions({"status": "slved"})
    with pytest.raises(InvalidValue, match="unknown macro action"):
        mc.parse_actions({"colour": "red"})
    with pytest.raises(InvalidValue, match="not a valid tag"):
        mc.parse_actions({"add_tags": ["Bad Tag!"]})
    with pytest.raises(InvalidValue, match="at least one action"):
        mc.parse_actions({})
    with pytest.raises(InvalidValue, match="both adds and removes"):
        mc.parse_actions({"add_tags": ["x"], "remove_tags": ["x"]})


def test_saved_reply_insert_and_completion(demo_store, model) -> None:
    mops.save_reply(demo_store, name="Thanks", text="Hi {{requester.first_name}}, "
                    "{{case.key}} is fixed. {{agent.name}}")
    mops.save_reply(demo_store, name="Thanks and close", text="Bye {{requester.first_name}}")
    mops.save_reply(demo_store, name="Log request", text="Please send logs")
    mops.save_reply(demo_store, name="Mine", text="secret", scope="personal")
    names = [r["name"] for r in mops.complete_replies(model, "::th", me=demo_store.actor)]
    assert names == ["Thanks", "Thanks and close"]
    assert [r["name"] for r in mops.complete_replies(model, "::req", me=demo_store.actor)] \
        == ["Log request"]
    # Personal replies are only visible to their author.
    assert "Mine" in [r.name for r in mops.list_replies(model, me=demo_store.actor)]
    assert "Mine" not in [r.name for r in mops.list_replies(model, me="someone@else")]
    detail = _case(demo_store)
    first = detail["requester"]["name"].split()[0]
    text = mops.render_reply(demo_store, model, reply="thanks", case="SUP-1")
    assert text == f"Hi {first}, SUP-1 is fixed. Alex Morgan"
    res = execute(demo_store, "reply insert Thanks SUP-1")
    assert res.ok and res.text == text
    mops.save_reply(demo_store, name="Broken", text="Dear {{requester.title}} {{case.key}}")
    with pytest.raises(OperationError, match=r"no value for \{\{requester.title\}\}"):
        mops.render_reply(demo_store, model, reply="Broken", case="SUP-1")


def test_macro_preview_apply_and_undo(demo_store, model) -> None:
    mops.save_macro(demo_store, name="Escalate", actions={
        "priority": "urgent", "add_tags": ["escalated"], "assignee": "sam.rivera@support.example",
        "status": "pending", "reply": "Hi {{requester.first_name}}, we escalated {{case.key}}."})
    before = {k: _case(demo_store, k) for k in ("SUP-1", "SUP-2")}
    preview = mops.preview_macro(demo_store, model, macro="escalate", cases=["SUP-1", "SUP-2"])
    assert preview.ok and [p.key for p in preview.cases] == ["SUP-1", "SUP-2"]
    plan = preview.cases[0]
    assert plan.add_tags == ["escalated"] and plan.fields["priority"] == "urgent"
    assert plan.reply.startswith("Hi ") and "SUP-1" in plan.reply
    assert _case(demo_store, "SUP-1")["priority"] == before["SUP-1"]["priority"]  # no write
    _, changes = mops.apply_macro(demo_store, model, macro="Escalate", cases=["SUP-1", "SUP-2"])
    assert changes.case_ids and changes.comments
    for key in ("SUP-1", "SUP-2"):
        d = _case(demo_store, key)
        assert (d["priority"], d["status"], d["assignee_id"]) == (
            "urgent", "pending", "sam.rivera@support.example")
        assert "escalated" in d["tags"]
        assert d["comments"][-1]["body"].endswith(f"we escalated {key}.")
    # One undo reverts the whole macro on both cases.
    assert demo_store.last_undoable_label() == "macro 'Escalate' on 2 cases"
    ops.undo(demo_store)
    for key in ("SUP-1", "SUP-2"):
        d, b = _case(demo_store, key), before[key]
        assert (d["priority"], d["status"], d["assignee_id"], d["tags"]) == (
            b["priority"], b["status"], b["assignee_id"], b["tags"])
        assert len([c for c in d["comments"] if not c["redacted"]]) == \
            len([c for c in b["comments"] if not c["redacted"]])


def test_macro_with_a_value_that_no_longer_exists_applies_nothing(demo_store, model) -> None:
    mops.save_macro(demo_store, name="To Ghost", actions={"assignee": "ghost@support.example",
                                                          "add_tags": ["x1"]})
    preview = mops.preview_macro(demo_store, model, macro="To Ghost", cases=["SUP-1"])
    assert not preview.ok
    assert "ghost@support.example' who is not an agent" in preview.all_errors()[0].replace(
        "',", "'")
    events_before = demo_store.read(lambda c: len(q.case_history(c, _case(demo_store)["id"])))
    with pytest.raises(OperationError, match="was not applied"):
        mops.apply_macro(demo_store, model, macro="To Ghost", cases=["SUP-1"])
    with pytest.raises(OperationError, match="no case 'NOPE-9'"):
        mops.apply_macro(demo_store, model, macro="To Ghost", cases=["NOPE-9"])
    assert demo_store.read(lambda c: len(q.case_history(c, _case(demo_store)["id"]))) == \
        events_before
    with pytest.raises(OperationError, match="not one of"):
        mops.save_macro(demo_store, name="Bad", actions={"status": "finished"})


def test_macros_are_events_and_survive_a_rebuild(demo_store, model) -> None:
    mid, _ = mops.save_macro(demo_store, name="Close", actions={"status": "closed"})
    mops.save_macro(demo_store, name="Mine", actions={"priority": "low"}, scope="personal")
    events = demo_store.read(lambda c: c.exec_driver_sql(
        "select type, case_id, payload from events where type like 'macro.%'").all())
    assert [(t, cid) for t, cid, _ in events] == [("macro.upserted", None)] * 2
    mops.save_macro(demo_store, name="Close (v2)", actions={"status": "solved"}, macro_id=mid)
    mops.delete_macro(demo_store, model, ref="Mine")
    model.rebuild()
    macros = {m.name: m for m in mops.list_macros(model, me=demo_store.actor)}
    assert list(macros) == ["Close (v2)"] and macros["Close (v2)"].actions.status == "solved"


def test_terminal_macro_commands(demo_store, model) -> None:
    res = execute(demo_store, "macro save Urgent '{\"priority\": \"urgent\"}'")
    assert res.ok, res.text
    listed = execute(demo_store, "macro list")
    assert listed.ok and listed.data[0]["name"] == "Urgent"
    dry = execute(demo_store, "macro run Urgent SUP-3 --dry-run")
    assert dry.ok and dry.data["dry_run"] and "dry run" in dry.text
    key_prio = _case(demo_store, "SUP-3")["priority"]
    assert key_prio != "urgent" or dry.data["cases"][0]["fields"] == {}
    run = execute(demo_store, "macro run Urgent SUP-3")
    assert run.ok and _case(demo_store, "SUP-3")["priority"] == "urgent"
    assert execute(demo_store, "reply list").ok
    bad = execute(demo_store, "macro run Nope SUP-3")
    assert not bad.ok and "no macro 'Nope'" in bad.text

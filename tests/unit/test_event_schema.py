"""The event schema: clocks, envelopes, every type's payload rules, and the property that
whatever it accepts folds and projects without raising."""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import commands as cmd
from app.core import events as ev
from app.core import macros as mc
from app.core.event_schema import (
    KNOWN_TYPES,
    MAX_CLOCK_AHEAD_MS,
    SERVER_ONLY_TYPES,
    InvalidEvent,
    NewerVersion,
    UnknownType,
    check_clock,
    validate_payload,
    validate_wire,
)
from app.core.fold import (
    FIELDS,
    AttachmentState,
    CaseState,
    CommentState,
    apply_attachment_event,
    apply_case_event,
    apply_comment_event,
    apply_directory_event,
    value_written,
)
from app.core.hlc import HybridClock
from app.core.ids import uuid7
from app.store import projector
from app.store import schema as s
from app.store.demo import seed_demo
from app.store.repo import Store

NOW = 1_764_600_000_000  # 2025-12-01
HLC = f"{NOW:013d}.000001"


def _wire(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": uuid7(), "case_id": uuid7(), "team_id": "team-1", "type": "comment.added",
        "payload": {"body": "hello", "internal": False, "author_kind": "agent"},
        "actor": "ana@example.com", "device_id": "dev-1", "hlc": HLC, "server_seq": 7, "v": 1}
    base.update(over)
    return base


# --- clocks --------------------------------------------------------------------------------
@pytest.mark.parametrize("hlc", ["9999999999999999.999999", "99999999999999.000000",
                                 "999999999999.000000", "1764600000000.00001",
                                 "1764600000000.000001\n", "１７６４６００００００００.000001",
                                 "1764600000000,000001", "", 1764600000000, None])
def test_a_clock_must_have_the_clients_format(hlc: object) -> None:
    with pytest.raises(InvalidEvent, match="13 digits"):
        check_clock(hlc, now_ms=NOW)


def test_a_clock_may_be_at_most_the_bound_ahead() -> None:
    assert MAX_CLOCK_AHEAD_MS == 24 * 3_600_000
    ok = f"{NOW + MAX_CLOCK_AHEAD_MS:013d}.999999"
    assert check_clock(ok, now_ms=NOW) == ok
    with pytest.raises(InvalidEvent, match=r"clock is 25 h ahead of this computer"):
        check_clock(f"{NOW + 25 * 3_600_000:013d}.000000", now_ms=NOW)
    with pytest.raises(InvalidEvent, match=r"ahead of the server \(the limit is 1 h\)"):
        check_clock(f"{NOW + 2 * 3_600_000:013d}.000000", now_ms=NOW, max_ahead_ms=3_600_000,
                    receiver="the server")
    with pytest.raises(InvalidEvent, match="h ahead"):
        check_clock("9999999999999.000000", now_ms=NOW)  # the year 2286
    with pytest.raises(InvalidEvent, match="before 2000"):
        check_clock("0946684799999.999999", now_ms=NOW)
    assert check_clock("0946684800000.000000", now_ms=NOW)  # long ago is fine


# --- envelopes -----------------------------------------------------------------------------
def test_validate_wire_returns_the_event() -> None:
    data = _wire()
    event = validate_wire(data, now_ms=NOW)
    assert event.to_wire() == {k: v for k, v in data.items() if k != "server_seq"}
    assert event.server_seq == 7
    no_version = validate_wire({k: v for k, v in _wire().items() if k != "v"}, now_ms=NOW)
    assert no_version.v == 1
    directory = validate_wire(_wire(case_id=None, type="team.upserted",
                                    payload={"id": "t1", "name": "Support", "members": []}),
                              now_ms=NOW)
    assert directory.case_id is None


@pytest.mark.parametrize(("over", "words"), [
    ({"id": "not-a-uuid"}, "id"), ({"id": None}, "id"), ({"case_id": 5}, "case_id"),
    ({"team_id": "t" * 65}, "team_id"), ({"type": "Case Created"}, "type"),
    ({"type": 3}, "type"), ({"actor": {"a": 1}}, "actor"), ({"device_id": "d" * 65}, "device"),
    ({"device_id": "a\x00b"}, "device"), ({"server_seq": 0}, "server_seq"),
    ({"server_seq": True}, "server_seq"), ({"server_seq": "3"}, "server_seq"),
    ({"v": 0}, "v "), ({"v": "1"}, "v "), ({"v": True}, "v "),
    ({"hlc": "9999999999999999.999999"}, "13 digits"), ({"payload": "text"}, "object"),
    ({"payload": None}, "object"),
])
def test_validate_wire_refuses_bad_envelopes(over: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidEvent, match=words):
        validate_wire(_wire(**over), now_ms=NOW)
    with pytest.raises(InvalidEvent):
        validate_wire([1, 2], now_ms=NOW)


def test_unknown_types_and_newer_versions_have_their_own_errors() -> None:
    with pytest.raises(UnknownType):
        validate_wire(_wire(type="case.teleported"), now_ms=NOW)
    with pytest.raises(NewerVersion, match="version 2"):
        validate_wire(_wire(v=2), now_ms=NOW)
    with pytest.raises(NewerVersion):
        validate_payload("comment.added", 10**30, {"body": "x"})
    assert issubclass(UnknownType, InvalidEvent) and issubclass(NewerVersion, InvalidEvent)
    assert issubclass(InvalidEvent, ValueError)
    assert SERVER_ONLY_TYPES == {ev.CASE_KEY_ASSIGNED, ev.INTEGRATION_DONE,
                                 ev.INTEGRATION_FAILED, ev.INTEGRATION_WAITING,
                                 ev.INTEGRATION_RECORD, ev.MAIL_DELIVERY}


def test_every_type_of_the_model_has_rules() -> None:
    assert ev.CASE_EVENT_TYPES <= KNOWN_TYPES
    assert set(ev.DIRECTORY_EVENT_TYPES) <= KNOWN_TYPES
    assert set(mc.KIND_OF_EVENT) <= KNOWN_TYPES


# --- payloads ------------------------------------------------------------------------------
RID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
RECORD: dict[str, Any] = {"remote_id": "10001", "remote_key": "ENG-12", "kind": "issue",
                          "url": "https://jira.example.com/browse/ENG-12", "linked": True,
                          "snapshot": {"summary": "Crash", "status_category": "todo"},
                          "fetched_ms": NOW}
AUDIT: list[tuple[str, dict[str, Any], str]] = [
    ("case.created", {"fields": "oops", "tags": []}, "fields"),
    ("case.created", {"fields": ["subject", "x"], "tags": []}, "fields"),
    ("case.created", {"fields": 7, "tags": []}, "fields"),
    ("case.created", {"tags": []}, "fields"),
    ("case.created", {"fields": {"subject": "t"}, "tags": 5}, "tags"),
    ("case.created", {"fields": {"subject": "t"}, "tags": ["Not A Tag"]}, "tags"),
    ("case.created", {"fields": {"subject": "t"}, "created_ms": 10**30}, "created_ms"),
    ("case.created", {"fields": {"subject": "t"}, "created_ms": True}, "created_ms"),
    ("case.created", {"fields": {"subject": {"a": 1}}}, "fields.subject"),
    ("case.created", {"fields": {"subject": ""}}, "fields.subject"),
    ("case.created", {"fields": {"status": "exploded"}}, "fields.status"),
    ("case.created", {"fields": {"due_at": "someday"}}, "fields.due_at"),
    ("case.created", {"fields": {"deleted": "yes"}}, "fields.deleted"),
    ("case.created", {"fields": {f"x{i}": 1 for i in range(65)}}, "unknown"),
    ("case.updated", {"field": "to", "value": "mars"}, "field"),
    ("case.updated", {"field": ["status"], "value": "open"}, "field"),
    ("case.updated", {"field": "key", "value": "GAM-1"}, "server"),
    ("case.updated", {"field": "priority", "value": 3}, "value"),
    ("case.updated", {"field": "status", "value": "open", "prev": {"x": 1}}, "prev"),
    ("case.merged", {"into": 5}, "into"),
    ("case.key_assigned", {"key": ""}, "key"),
    ("tag.added", {"tag": 5}, "tag"),
    ("link.added", {"other": "c2", "kind": "cousin"}, "kind"),
    ("comment.added", {"body": ["a"]}, "body"),
    ("comment.added", {"body": "x" * (256 * 1024 + 1)}, "body"),
    ("comment.added", {"body": "x", "internal": "no"}, "internal"),
    ("comment.added", {"body": "x", "author_kind": "robot"}, "author_kind"),
    ("comment.added", {"body": "x", "author": {"name": "Ana"}}, "author"),
    ("comment.redacted", {}, "comment_id"),
    ("attachment.added", {"sha256": "a" * 64, "name": "x", "size": 10**30, "mime": ""}, "size"),
    ("attachment.added", {"sha256": "a" * 64, "name": "x", "size": -1, "mime": ""}, "size"),
    ("attachment.added", {"sha256": "A" * 64, "name": "x", "size": 1, "mime": ""}, "sha256"),
    ("attachment.added", {"sha256": "a" * 64, "name": "x" * 256, "size": 1, "mime": ""}, "name"),
    ("attachment.removed", {"attachment_id": {"id": 1}}, "attachment_id"),
    ("llm.prompt_copied", {"template": "t", "prompt_sha256": "x"}, "prompt_sha256"),
    ("llm.answer_accepted", {"template": "t", "answer_sha256": "a" * 64, "applied": 3},
     "applied"),
    ("customer.upserted", {"id": "c1", "name": {"first": "A"}}, "name"),
    ("customer.upserted", {"id": "c1", "name": ["A"]}, "name"),
    ("customer.upserted", {"name": "A"}, "id"),
    ("customer.upserted", {"id": {"x": 1}, "name": "A"}, "id"),
    ("agent.upserted", {"id": "z@example.com", "name": {"n": 1}}, "name"),
    ("agent.upserted", {"id": "z@example.com", "name": ["Z"]}, "name"),
    ("agent.upserted", {"id": "z@example.com", "role": "x" * 17}, "role"),
    ("organization.upserted", {"id": "o1", "domain": 5}, "domain"),
    ("team.upserted", {"id": "t1", "members": "a@b"}, "members"),
    ("team.upserted", {"id": "t1", "members": [{"a": 1}]}, "members"),
    ("macro.upserted", {"id": "m1", "name": "M", "scope": "shared",
                        "actions": {"add_tags": 5}}, "add_tags"),
    ("macro.upserted", {"id": "m1", "name": "M", "scope": "shared",
                        "actions": {"status": "exploded"}}, "actions"),
    ("macro.upserted", {"id": "m1", "name": "M", "scope": "world", "actions": {}}, "scope"),
    ("reply.upserted", {"id": "r1", "name": "R", "text": 5}, "text"),
    ("comment.added", {"body": "\ud800"}, "surrogate"),
    ("comment.added", {"body": "x", "extra": float("nan")}, "finite"),
    ("comment.added", {"body": "x", "extra": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
     "deeper"),
    ("integration.requested", {"request_id": "r1", "system": "jira", "action": "create",
                               "params": {}}, "request_id"),
    ("integration.requested", {"request_id": RID, "system": "trello", "action": "create",
                               "params": {}}, "system"),
    ("integration.requested", {"request_id": RID, "system": "jira", "action": "delete",
                               "params": {}}, "action"),
    ("integration.requested", {"request_id": RID, "system": "jira", "action": "link",
                               "params": {}}, "params.issue_key"),
    ("integration.requested", {"request_id": RID, "system": "jira", "action": "link"},
     "params"),
    ("integration.requested", {"request_id": RID, "system": "jira", "action": "comment",
                               "params": {"issue": "ENG-1", "body": "x" * 32_768}},
     "params.body"),
    ("integration.requested", {"request_id": RID, "system": "jira", "action": "create",
                               "params": {"comment_ids": "c1"}}, "comment_ids"),
    ("integration.requested", {"request_id": RID, "system": "jira", "action": "create",
                               "params": {"junk": "x" * 70_000}}, "params is longer"),
    ("integration.requested", {"request_id": RID, "system": "salesforce", "action": "lookup",
                               "params": {"email": ""}}, "params.email"),
    ("integration.done", {"request_id": RID, "system": "jira", "action": "create",
                          "message": "ok", "record": {"remote_id": "1"}}, "remote_key"),
    ("integration.done", {"request_id": RID, "system": "jira", "action": "create",
                          "message": "ok", "record": {**RECORD, "kind": "bug"}}, "kind"),
    ("integration.done", {"request_id": RID, "system": "jira", "action": "create",
                          "message": "ok", "record": {**RECORD, "linked": "yes"}}, "linked"),
    ("integration.done", {"request_id": RID, "system": "jira", "action": "create",
                          "message": "ok", "record": {**RECORD, "snapshot": {
                              "status_category": "later"}}}, "status_category"),
    ("integration.failed", {"request_id": RID, "system": "jira", "action": "create"}, "reason"),
    ("integration.failed", {"request_id": RID, "system": "jira", "action": "create",
                            "reason": "no", "remote_status": 1000}, "remote_status"),
    ("integration.waiting", {"request_id": RID, "system": "jira", "action": "create",
                             "reason": "breaker open"}, "next_try_ms"),
    ("integration.record", {"system": "jira", "record": None}, "record"),
]


@pytest.mark.parametrize(("type_", "payload", "words"), AUDIT)
def test_bad_payloads_are_refused_with_a_reason(type_: str, payload: dict[str, Any],
                                                words: str) -> None:
    with pytest.raises(InvalidEvent, match=words) as caught:
        validate_payload(type_, 1, payload)
    assert caught.value.reason == str(caught.value)
    assert str(caught.value).startswith(type_)


def test_unknown_payload_keys_are_kept() -> None:
    payload = {"body": "hi", "mood": {"new": [1, 2]}}
    assert validate_payload("comment.added", 1, payload) == payload
    created = {"fields": {"subject": "s", "sentiment": 0.4}, "tags": ["a"], "channel": "chat"}
    assert validate_payload("case.created", 1, created) is created


def _factory() -> cmd.EventFactory:
    return cmd.EventFactory(actor="ana@example.com", device_id="dev-1",
                            clock=HybridClock(wall=lambda: NOW))


def test_what_the_app_writes_passes() -> None:
    """Every producer of the core passes its own schema (or nothing could sync)."""
    f = _factory()
    made = cmd.new_case(f, key="K7QF-1", fields={"subject": "Printer", "team_id": "t1",
                                                 "due_at": "2026-01-01", "product": "P"},
                        tags=["vip", "printer"], created_ms=NOW)
    state = CaseState(id=made[0].case_id or "")
    apply_case_event(state, made[0])
    other = CaseState(id=uuid7())
    events = list(made)
    events += cmd.set_fields(f, state, {"status": "open", "priority": "high",
                                        "assignee_id": "ana@example.com", "team_id": "t2",
                                        "description": "long text"})
    events += cmd.change_tags(f, state, add=["billing"], remove=["vip"])
    events += cmd.comment(f, state, body="hello", internal=True)
    events += cmd.link(f, state, other, "parent")
    events += cmd.merge(f, state, other)
    events += cmd.inverse(f, list(events))
    for event in events:
        validate_wire({**event.to_wire(), "server_seq": None}, now_ms=NOW)


def test_the_demo_data_passes(tmp_path: Path) -> None:
    store = Store(tmp_path / "demo.sqlite3")
    try:
        seed_demo(store, cases=40, seed=3)
        with store.engine.connect() as conn:
            rows = conn.execute(s.events.select()).all()
        now = int(time.time() * 1000)
        types = Counter()
        for row in rows:
            event = projector.row_event(row)
            validate_wire({**event.to_wire(), "server_seq": None}, now_ms=now)
            types[event.type] += 1
        assert {"case.created", "comment.added", "team.upserted", "customer.upserted"} <= set(types)
    finally:
        store.close()


# --- the property: accepted means it folds ---------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)
POOL = st.sampled_from([
    None, True, False, 0, 1, -1, 10**12, 10**30, 2**40, 2**40 + 1, "", " ", "x", "A" * 300,
    "a" * 64, "open", "OPEN", "closed", "high", "task", "related", "child", "agent",
    "customer", "shared", "personal", "2026-01-01", "2026-01-01T10:00Z", "K7QF-1", "vip",
    "ana@example.com", "text/plain", [], {}, ["vip", "billing"], ["Bad Tag"], ["a@b"],
])
VALUE = st.one_of(POOL, JSON)
KEYS: dict[str, list[str]] = {
    "case.created": ["fields", "tags", "created_ms", "author"],
    "case.updated": ["field", "value", "prev"],
    "case.merged": ["into", "into_key", "prev_status"],
    "case.key_assigned": ["key"],
    "tag.added": ["tag"], "tag.removed": ["tag"],
    "link.added": ["other", "kind", "other_key"], "link.removed": ["other", "kind", "other_key"],
    "comment.added": ["body", "internal", "author_kind", "split_from", "created_ms", "author"],
    "comment.redacted": ["comment_id"],
    "attachment.added": ["sha256", "name", "size", "mime", "comment_id"],
    "attachment.removed": ["attachment_id"],
    "llm.prompt_copied": ["template", "prompt_sha256"],
    "llm.answer_accepted": ["template", "answer_sha256", "applied"],
    "customer.upserted": ["id", "name", "email", "organization_id", "phone"],
    "organization.upserted": ["id", "name", "domain"],
    "agent.upserted": ["id", "name", "email", "role"],
    "team.upserted": ["id", "name", "prefix", "members"],
    "macro.upserted": ["id", "name", "scope", "actions"],
    "macro.deleted": ["id", "name", "scope"],
    "reply.upserted": ["id", "name", "scope", "text"],
    "reply.deleted": ["id", "name", "scope"],
    "integration.requested": ["request_id", "system", "action", "params"],
    "integration.done": ["request_id", "system", "action", "message", "record"],
    "integration.failed": ["request_id", "system", "action", "reason", "remote_status"],
    "integration.waiting": ["request_id", "system", "action", "reason", "next_try_ms"],
    "integration.record": ["system", "record"],
}
FIELD_NAMES = [*FIELDS, "title", "nope"]
# Plausible values per key (some of them invalid), so that every type is often accepted.
GOOD: dict[str, list[Any]] = {
    "tags": [[], ["vip"], ["vip", "billing"], ["Bad Tag"]], "created_ms": [0, 10**12, None, 10**30, -5],
    "value": ["open", "high", "2026-01-01", None, True, "x"], "prev": [None, "open", False],
    "into": ["c-2"], "into_key": ["ALP-1", None], "prev_status": ["open", None],
    "key": ["ALP-1", "K7QF-2"], "tag": ["vip", "a:b"], "other": ["c-2"],
    "kind": ["related", "parent", "child"], "other_key": [None, "ALP-2"],
    "body": ["hello", "", "x" * 1000], "internal": [True, False],
    "author_kind": ["agent", "customer", "system"], "split_from": [None, "c-1"],
    "comment_id": ["c-1", None], "sha256": ["a" * 64], "name": ["log.txt", "Ana", ""],
    "size": [0, 2**40, 12, 10**30, 2**41, -1], "mime": ["text/plain", ""], "attachment_id": ["a-1"],
    "template": ["triage"], "prompt_sha256": ["b" * 64], "answer_sha256": ["c" * 64],
    "applied": [[], ["x1", "x2"]], "id": ["r-1", "ana@example.com"],
    "email": ["ana@example.com", None], "organization_id": ["o-1", None],
    "phone": ["+1 555", None], "domain": ["example.com", None], "role": ["agent", "lead"],
    "prefix": ["SUP", None], "members": [["ana@example.com"], []],
    # integration values are all valid (four to five required keys each: the strategy must
    # still reach the accepting side); invalid ones come from "anything" and AUDIT
    "request_id": [RID], "system": ["jira", "salesforce"], "action": ["refresh"],
    "params": [{}], "message": ["created ENG-12", ""], "record": [None, RECORD],
    "reason": ["JIRA says: project is required"], "remote_status": [None, 400],
    "next_try_ms": [NOW],
    "scope": ["shared", "personal"], "author": ["ana@example.com", "", " ", "x" * 321], "text": ["Hello {{name}}", ""],
}
CLEAN_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, Any]:
    type_ = draw(st.sampled_from(sorted(KEYS)))
    if draw(st.integers(0, 9)) == 0:
        return type_, draw(JSON)  # anything at all, often not even an object
    payload: dict[str, Any] = {}
    for key in KEYS[type_]:
        choice = draw(st.integers(0, 7))  # 0: absent, 7: anything, else a plausible value
        if choice == 0:
            continue
        if choice == 7:
            payload[key] = draw(VALUE)
        elif key == "fields":
            payload[key] = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), st.one_of(
                POOL, st.sampled_from(GOOD["value"])), max_size=5))
        elif key == "field":
            payload[key] = draw(st.sampled_from(FIELD_NAMES))
        elif key == "actions":
            payload[key] = draw(st.sampled_from([
                {"status": "open"}, {"add_tags": ["vip"], "reply": "Thanks {{name}}"},
                {"priority": "urgent", "internal": True, "assignee": "me"},
                {"add_tags": ["vip"], "remove_tags": ["vip"]}]) if choice < 4 else
                st.dictionaries(st.sampled_from([*mc.ACTION_KEYS, "teleport"]), POOL,
                                min_size=1, max_size=3))
        else:
            payload[key] = draw(st.sampled_from(GOOD[key]))
    payload.update(draw(st.dictionaries(st.text(max_size=5), CLEAN_JSON, max_size=2)))
    return type_, payload


def _apply_everything(conn: Any, event: ev.Event) -> None:
    """Every consumer of a payload in the core and the projector."""
    state = CaseState(id=event.case_id or "c")
    apply_case_event(state, event)
    projector.case_row(state)
    for name in FIELDS:
        value_written(event, name)
    comment = CommentState(id=event.id, case_id=state.id)
    apply_comment_event(comment, event)
    attachment = AttachmentState(id=event.id, case_id=state.id)
    apply_attachment_event(attachment, event)
    if event.type in ev.DIRECTORY_EVENT_TYPES:
        record = apply_directory_event({}, event)
        assert record is not None
        projector.directory_row(ev.DIRECTORY_EVENT_TYPES[event.type], record)
    if event.type == mc.MACRO_UPSERTED:
        mc.macro_from_record(event.payload["id"], str(event.payload.get("name") or ""),
                             str(event.payload.get("scope") or "shared"),
                             event.payload["actions"])
    ev.describe(event)
    conn.execute(s.events.insert().values(projector.event_row(event)))
    projector.apply_events(conn, [event])


def test_whatever_validates_folds_and_projects() -> None:
    accepted: Counter[str] = Counter()
    folder = Path(tempfile.mkdtemp(prefix="schema-prop-"))
    store = Store(folder / "prop.sqlite3")
    try:
        @settings(max_examples=1000, deadline=None, derandomize=True,  # CI-stable coverage
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(payloads())
        def check(drawn: tuple[str, Any]) -> None:
            type_, payload = drawn
            try:
                valid = validate_payload(type_, 1, payload)
            except InvalidEvent:
                return
            accepted[type_] += 1
            case_id = None if type_ in ev.DIRECTORY_EVENT_TYPES or type_ in mc.KIND_OF_EVENT \
                else uuid7()
            event = ev.Event(id=uuid7(), type=type_, payload=valid, actor="ana@example.com",
                             device_id="dev-1", hlc=HLC, case_id=case_id, team_id="t1")
            json.dumps(valid, ensure_ascii=False).encode("utf-8")
            with store.engine.begin() as conn:
                _apply_everything(conn, event)

        check()
    finally:
        store.close()
    # the strategy really reaches the accepting side of every type
    assert set(accepted) == set(KEYS), sorted(set(KEYS) - set(accepted))


@pytest.mark.parametrize(("type_", "payload", "actor", "device", "ok"), [
    ("case.created", {"fields": {"subject": "x", "key": "K7QF-12"}, "tags": []},
     "ana@example.com", "dev-1", True),
    ("case.created", {"fields": {"subject": "x"}, "tags": []}, "ana@example.com", "dev-1", True),
    ("case.created", {"fields": {"subject": "x", "key": "GAM-1"}, "tags": []},
     "ana@example.com", "dev-1", False),  # a team key claimed by a client
    ("case.key_assigned", {"key": "GAM-1"}, "system", "server", True),
    ("case.key_assigned", {"key": "GAM-1"}, "ana@example.com", "dev-1", False),
    ("case.key_assigned", {"key": "GAM-1"}, "system", "dev-1", False),
    ("integration.failed", {"request_id": RID, "system": "jira", "action": "create",
                            "reason": "403"}, "system", "server", True),
    ("integration.done", {"request_id": RID, "system": "jira", "action": "create",
                          "message": "ok", "record": RECORD}, "ana@example.com", "dev-1", False),
    ("integration.record", {"system": "jira", "record": RECORD}, "ana@example.com", "dev-1",
     False),
])
def test_pulled_events_may_not_forge_what_only_the_server_authors(
        type_: str, payload: dict[str, Any], actor: str, device: str, ok: bool) -> None:
    """An older or compromised server could pass on a forged team key; a laptop holds it."""
    from app.core.event_schema import check_pulled

    event = ev.Event(id=uuid7(), type=type_, payload=payload, actor=actor, device_id=device,
                     hlc=HLC, case_id=uuid7(), team_id="t1")
    if ok:
        check_pulled(event)
    else:
        with pytest.raises(InvalidEvent):
            check_pulled(event)


def test_mail_delivery_and_withdraw_payloads_are_bounded() -> None:
    ok = {"comment_id": "c1", "state": "sent", "at_ms": NOW, "message_id": "<a@b>",
          "reason": None, "recipients": ["x@example.com"]}
    assert validate_payload(ev.MAIL_DELIVERY, 1, ok) == ok
    for bad in ({**ok, "state": "lost"}, {**ok, "at_ms": "soon"}, {**ok, "comment_id": ""},
                {**ok, "recipients": ["x"] * 101}, {**ok, "message_id": "m" * 999}):
        with pytest.raises(InvalidEvent):
            validate_payload(ev.MAIL_DELIVERY, 1, bad)
    assert validate_payload(ev.MAIL_WITHDRAW, 1, {"comment_id": "c1"}) == {"comment_id": "c1"}
    with pytest.raises(InvalidEvent, match="comment_id"):
        validate_payload(ev.MAIL_WITHDRAW, 1, {})

"""The incremental read model equals a full recomputation after any operation sequence."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.analytics.model import AnalyticsModel, dump
from app.core.sla import parse_config
from app.operations import cases as ops
from app.operations.errors import OperationError

AGENTS = ["alex.morgan@support.example", "sam.rivera@support.example", None]
op = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(["low", "normal", "high", "urgent"])),
    st.tuples(st.just("status"), st.integers(0, 30),
              st.sampled_from(["new", "open", "pending", "on-hold", "solved", "closed"])),
    st.tuples(st.just("priority"), st.integers(0, 30),
              st.sampled_from(["low", "normal", "high", "urgent"])),
    st.tuples(st.just("assign"), st.integers(0, 30), st.sampled_from(AGENTS)),
    st.tuples(st.just("comment"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("tag"), st.integers(0, 30), st.sampled_from(["vip", "bug", "sso"]),
              st.booleans()),
    st.tuples(st.just("undo")),
    st.tuples(st.just("catch_up")),
)


def _apply(store, keys: list[str], step: tuple) -> None:
    kind = step[0]
    if kind == "create":
        _, key, _ = ops.create_case(store, subject="s", priority=step[1])
        keys.append(key)
        return
    if kind == "undo":
        ops.undo(store)
        return
    key = keys[step[1] % len(keys)] if keys else None
    if key is None:
        return
    if kind == "status":
        ops.set_fields(store, case=key, changes={"status": step[2]})
    elif kind == "priority":
        ops.set_fields(store, case=key, changes={"priority": step[2]})
    elif kind == "assign":
        ops.assign(store, case=key, agent=step[2])
    elif kind == "comment":
        ops.comment(store, case=key, body="hi @Sam Rivera", internal=step[2])
    elif kind == "tag":
        ops.tag(store, case=key, add=[step[2]] if step[3] else [],
                remove=[] if step[3] else [step[2]])


CFG = None


def _config():
    global CFG
    if CFG is None:
        from analytics_helpers import config_data

        CFG = parse_config(config_data("office"))
    return CFG


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(op, min_size=1, max_size=25))
def test_incremental_equals_full_recomputation(demo_store, steps) -> None:
    store = demo_store
    incremental = AnalyticsModel(store, None, config=_config())
    incremental.catch_up()
    keys: list[str] = []
    for step in steps:
        if step[0] == "catch_up":
            incremental.catch_up()
            continue
        try:
            _apply(store, keys, step)
        except OperationError:
            pass  # e.g. nothing to undo, nothing changed: fine
    incremental.catch_up()
    full = AnalyticsModel(store, None, config=_config())
    full.catch_up()
    assert dump(incremental) == dump(full)
    incremental.close()
    full.close()

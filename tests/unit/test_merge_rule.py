"""The merge rule: any order, any duplication of the same events gives the same state."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import events as ev
from app.core.hlc import Timestamp
from app.core.ids import uuid7
from app.store.rebuild import Folded

CASE = "case-1"


def _event(i: int, kind: str, value: str, ms: int, counter: int) -> ev.Event:
    hlc = Timestamp(ms, counter).encode()
    if kind == "created":
        return ev.Event(uuid7(), ev.CASE_CREATED, {"fields": {"key": "K-1", "subject": value}},
                        "a@x", "d1", hlc, CASE)
    if kind == "field":
        return ev.Event(uuid7(), ev.CASE_UPDATED, {"field": "status", "value": value,
                                                   "prev": None}, "a@x", "d1", hlc, CASE)
    if kind in ("tag+", "tag-"):
        return ev.Event(uuid7(), ev.TAG_ADDED if kind == "tag+" else ev.TAG_REMOVED,
                        {"tag": value}, "a@x", "d2", hlc, CASE)
    return ev.Event(uuid7(), ev.COMMENT_ADDED, {"body": value, "internal": False},
                    "b@x", "d2", hlc, CASE)


def _state(events: list[ev.Event]) -> tuple:  # type: ignore[type-arg]
    f = Folded()
    for e in events:
        f.add(e)
    case = f.cases[CASE]
    comments = sorted((c.id, c.body, c.known) for c in f.comments.values())
    return (case.fields, case.tag_list(), case.clocks, case.first_response_ms,
            case.updated_ms, comments)


events_strategy = st.lists(
    st.tuples(st.sampled_from(["created", "field", "tag+", "tag-", "comment"]),
              st.sampled_from(["open", "pending", "solved", "x", "y"]),
              st.integers(1_000, 1_010), st.integers(0, 3)),
    min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(events_strategy, st.randoms(use_true_random=False))
def test_fold_is_order_and_duplicate_independent(spec: list, rnd: random.Random) -> None:  # type: ignore[type-arg]
    events = [_event(i, *s) for i, s in enumerate(spec)]
    shuffled = events + rnd.sample(events, k=len(events) // 2)
    rnd.shuffle(shuffled)
    assert _state(events) == _state(shuffled)


def test_last_writer_wins_by_hlc_then_id() -> None:
    early = _event(0, "field", "pending", 1000, 0)
    late = _event(1, "field", "solved", 2000, 0)
    assert _state([late, early])[0]["status"] == "solved"

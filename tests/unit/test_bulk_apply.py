"""A bulk edit (fields and tags of many cases) is one operation: one transaction, one undo."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.operations import cases as ops
from app.operations.errors import NotFound, OperationError
from app.store import queries as q
from app.store import schema as s
from app.store.repo import Store

KEYS = [f"SUP-{n}" for n in range(1, 9)]


def snapshot(store: Store, keys: list[str]) -> dict[str, tuple[Any, ...]]:
    def read(conn: Any) -> dict[str, tuple[Any, ...]]:
        out = {}
        for key in keys:
            d = q.case_detail(conn, q.resolve_case(conn, key))
            out[key] = (d["priority"], d["status"], sorted(d["tags"]))
        return out

    return store.read(read)


def counts(store: Store) -> tuple[int, int]:
    return store.read(lambda c: (
        c.execute(select(func.count()).select_from(s.events)).scalar_one(),
        c.execute(select(func.count()).select_from(s.operations)).scalar_one()))


def test_bulk_edit_of_eight_cases_is_undone_by_one_undo(demo_store: Store) -> None:
    before = snapshot(demo_store, KEYS)
    had = next(t for _p, _s, tags in before.values() for t in tags)  # a tag some case has
    events, operations = counts(demo_store)
    preview, changes = ops.bulk_apply(demo_store, cases=KEYS, changes={"priority": "urgent"},
                                      add_tags=["bulk-x"], remove_tags=[had])
    after = snapshot(demo_store, KEYS)
    assert all(p == "urgent" and "bulk-x" in tags and had not in tags
               for p, _s, tags in after.values())
    assert changes is not None and changes.case_ids and "tags" in changes.fields
    assert counts(demo_store)[1] == operations + 1  # one undo step for fields and tags
    assert sum(line[3] == "+bulk-x" for line in preview.changes) == 8
    ops.undo(demo_store)
    assert snapshot(demo_store, KEYS) == before
    assert counts(demo_store)[0] > events  # undone by inverse events, the log kept
    with pytest.raises(OperationError, match="nothing to undo"):
        ops.undo(demo_store)  # the edit was the only operation: nothing of it is left


def test_an_unknown_case_changes_no_tags(demo_store: Store) -> None:
    # The old bulk edit tagged the cases before the unknown one in their own transactions.
    before = snapshot(demo_store, ["SUP-1", "SUP-2"])
    events, operations = counts(demo_store)
    with pytest.raises(NotFound, match="NOPE-9"):
        ops.bulk_apply(demo_store, cases=["SUP-1", "SUP-2", "NOPE-9"], changes={},
                       add_tags=["bulk-x"], remove_tags=[])
    assert snapshot(demo_store, ["SUP-1", "SUP-2"]) == before
    assert counts(demo_store) == (events, operations)


@pytest.mark.parametrize("kwargs", [
    {"changes": {}, "add_tags": ["fine", "not a tag!"], "remove_tags": []},
    {"changes": {"priority": "asap"}, "add_tags": ["fine"], "remove_tags": []},
    {"changes": {}, "add_tags": ["same"], "remove_tags": ["#Same"]},
    {"changes": {}, "add_tags": [], "remove_tags": []},
])
def test_bad_input_writes_nothing(demo_store: Store, kwargs: dict[str, Any]) -> None:
    before = counts(demo_store)
    with pytest.raises(OperationError):
        ops.bulk_apply(demo_store, cases=KEYS[:3], **kwargs)
    assert counts(demo_store) == before


def test_dry_run_previews_only_real_changes(demo_store: Store) -> None:
    before = snapshot(demo_store, KEYS[:2])
    tagged = before["SUP-1"][2]
    counted = counts(demo_store)
    preview, changes = ops.bulk_apply(demo_store, cases=["SUP-1", "SUP-2", "SUP-1"],
                                      changes={}, add_tags=["bulk-x", *tagged[:1]],
                                      remove_tags=[], dry_run=True)
    assert changes is None and counts(demo_store) == counted
    expected = {("SUP-1", "tags", "", "+bulk-x"), ("SUP-2", "tags", "", "+bulk-x")}
    if tagged and tagged[0] not in before["SUP-2"][2]:
        expected.add(("SUP-2", "tags", "", "+" + tagged[0]))
    # SUP-1 named twice is previewed once; a tag a case already has is no change.
    assert sorted(preview.changes) == sorted(expected)

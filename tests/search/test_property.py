"""Property: after random cases and edits, the incrementally caught-up index answers like a
full rebuild, and searching each case's key finds exactly that case."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.operations import cases as ops
from app.search.service import SearchService
from app.store.repo import Store
from tests.search.conftest import ME

WORDS = ["printer", "printers", "sync", "invoice", "okta", "login", "export", "timeout",
         "refund", "dark", "mode", "keyboard", "error", "ERR-1042", "billing"]
QUERIES = ["printer", "sync", "invoice okta", '"dark mode"', "status:open", "is:open",
           "tag:vip", "-tag:vip", "assignee:me", "is:unassigned", "priority:high",
           "login OR refund", "keyb", "error -printer", "ERR-1042", "updated:<1d"]

text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
case = st.fixed_dictionaries({
    "subject": text, "description": text, "priority": st.sampled_from(["low", "high"]),
    "tags": st.lists(st.sampled_from(["vip", "bug"]), max_size=2, unique=True)})
edit = st.one_of(
    st.tuples(st.just("subject"), st.integers(0, 9), text),
    st.tuples(st.just("status"), st.integers(0, 9), st.sampled_from(["open", "solved"])),
    st.tuples(st.just("comment"), st.integers(0, 9), text),
    st.tuples(st.just("tag"), st.integers(0, 9), st.sampled_from(["vip", "bug"])),
    st.tuples(st.just("untag"), st.integers(0, 9), st.sampled_from(["vip", "bug"])),
    st.tuples(st.just("assign"), st.integers(0, 9), st.sampled_from(["me", None])),
)


def _apply(store: Store, key: str, kind: str, value: Any) -> None:
    if kind == "subject":
        ops.set_fields(store, case=key, changes={"subject": value})
    elif kind == "status":
        ops.set_fields(store, case=key, changes={"status": value})
    elif kind == "comment":
        ops.comment(store, case=key, body=value, internal=True)
    elif kind == "tag":
        ops.tag(store, case=key, add=[value])
    elif kind == "untag":
        ops.tag(store, case=key, remove=[value])
    else:
        ops.set_fields(store, case=key, changes={"assignee_id": value})


def _answer(svc: SearchService, query: str) -> tuple[int, set[str]]:
    result = svc.search(query, me=ME, limit=1000)
    return result.total, {h["id"] for h in result.hits}


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases=st.lists(case, min_size=1, max_size=5), edits=st.lists(edit, max_size=8))
def test_incremental_index_equals_rebuild(cases: list[dict[str, Any]],
                                          edits: list[tuple[str, int, Any]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        store = Store(tmp / "store.db")
        store.set_actor(ME)
        svc = SearchService(tmp / "live", store, procs=1)
        svc.ensure_index()
        keys = []
        for c in cases:
            keys.append(ops.create_case(store, subject=c["subject"],
                                        description=c["description"],
                                        priority=c["priority"], tags=c["tags"])[1])
            svc.catch_up()
        for kind, index, value in edits:
            _apply(store, keys[index % len(keys)], kind, value)
            svc.catch_up()
        for key in keys:
            assert [h["key"] for h in svc.search(key + " ", me=ME).hits] == [key]
            assert [h["key"] for h in svc.search(key.lower(), me=ME).hits] == [key]
        rebuilt = SearchService(tmp / "rebuilt", store, procs=1)
        rebuilt.ensure_index()
        for query in QUERIES:
            assert _answer(svc, query) == _answer(rebuilt, query), query
        assert svc.verify() == []
        svc.close()
        rebuilt.close()
        store.close()


@settings(max_examples=60, deadline=None)
@given(query=st.text(max_size=80))
def test_any_query_text_is_answered_not_raised(query: str) -> None:
    svc = _shared()
    result = svc.search(query, me=ME)
    assert result.total >= 0 and isinstance(result.notes, list)


_SHARED: dict[str, SearchService] = {}


def _shared() -> SearchService:
    if "svc" not in _SHARED:
        tmp = Path(tempfile.mkdtemp(prefix="ssa-search-"))
        store = Store(tmp / "store.db")
        store.set_actor(ME)
        for word in WORDS:
            ops.create_case(store, subject=f"{word} trouble", description=word)
        svc = SearchService(tmp, store, procs=1)
        svc.ensure_index()
        _SHARED["svc"] = svc
    return _SHARED["svc"]

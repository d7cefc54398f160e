"""The postings arrays written at index time answer exactly as Whoosh's own readers: every
term's documents and scores, and many generated queries' results and order, cold and warm,
over an index of several segments with replaced (deleted) documents."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from app.operations import cases as ops
from app.search import postings
from app.search.engine import Engine
from app.search.service import SearchService
from app.store.repo import Store
from tests.search.conftest import ME, make_store

VOCAB = ("gateway timeout upstream nginx worker crashed restart pod kubernetes latency "
         "invoice refund charged twice payment declined okta saml login loop certificate "
         "rotated export csv report scheduler cron failed disk quota exceeded replica lag "
         "postgres deadlock retry webhook signature mismatch token expired cache stale "
         "dashboard blank browser safari chrome mobile push notification delayed").split()
CODES = ["ERR-1042", "HTTP-504", "INV-2026-0042", "v4.2.1", "ops@acme.example"]
QUERY_FILTERS = ["status:open", "is:open", "tag:vip", "-tag:vip", "priority:high",
                 "is:unassigned", "assignee:me", "-status:solved"]


def _text(rng: random.Random, n: int) -> str:
    words = [rng.choice(VOCAB) for _ in range(n)]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(CODES))
    return " ".join(words)


def _records(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [{"subject": _text(rng, rng.randint(2, 6)), "description": _text(rng, rng.randint(5, 40)),
             "status": rng.choice(["new", "open", "pending", "solved"]),
             "priority": rng.choice(["low", "normal", "high"]),
             "requester": {"name": f"User {i % 17}", "email": f"user{i % 17}@example.com"},
             "organization": rng.choice(["Acme Logistics", "Globex Bank", "Initech"]),
             "tags": rng.sample(["vip", "bug", "billing"], rng.randint(0, 2)),
             "assignee": rng.choice([ME, None]),
             "created_at": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z",
             "comments": [{"author": ME, "created_at": "2026-10-01T10:00:00Z",
                           "body": _text(rng, rng.randint(3, 20)), "public": True}
                          for _ in range(rng.randint(0, 3))]}
            for i in range(count)]


def _queries(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        kind = rng.randrange(7)
        a, b = rng.choice(VOCAB), rng.choice(VOCAB)
        if kind == 0:
            q = a
        elif kind == 1:
            q = f"{a} {b}"
        elif kind == 2:
            q = f"{a} OR {b}"
        elif kind == 3:
            q = f'"{a} {b}"'
        elif kind == 4:
            q = f"{a} -{b}"
        elif kind == 5:
            q = f"{a} {rng.choice(QUERY_FILTERS)}"
        else:
            q = rng.choice(CODES)
        # About a third typed without the final space: the last word is a prefix.
        out.append(q if rng.random() < 0.3 else q + " ")
    return out + [a[:3] for a in VOCAB[:10]]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, SearchService]]:
    rng = random.Random(1207)
    tmp = tmp_path_factory.mktemp("postings")
    store = make_store(tmp, _records(rng, 300))
    svc = SearchService(tmp, store, procs=1)
    svc.ensure_index()
    # Edits caught up one at a time: new segments, and documents replaced in older ones.
    keys = [h["key"] for h in svc.search("status:new", me=ME, limit=40).hits]
    for i, key in enumerate(keys):
        ops.set_fields(store, case=key, changes={"subject": _text(rng, 4)})
        if i % 3 == 0:
            ops.comment(store, case=key, body=_text(rng, 8), internal=True)
        svc.catch_up()
    yield store, svc
    svc.close()
    store.close()


def _answers(svc: SearchService, queries: list[str]) -> list[tuple[int, list[tuple[str, float]]]]:
    out = []
    for q in queries:
        r = svc.search(q, me=ME, limit=30)
        out.append((r.total, [(h["id"], h["score"]) for h in r.hits]))
    return out


def test_every_segment_has_arrays_after_indexing(service: tuple[Store, SearchService]) -> None:
    _, svc = service
    assert svc._ix is not None
    with svc._ix.searcher() as s:
        sids = [sub.reader().segment().segment_id() for sub, _ in s.leaf_searchers()]
        assert len(sids) > 1  # the catch-ups added segments
        for sub, _ in s.leaf_searchers():
            seg = sub.reader().segment()
            assert postings.load(svc.index_dir, seg.segment_id(),
                                 sub.reader().doc_count_all()) is not None
    assert sorted(p.name for p in (svc.index_dir / postings.FOLDER).iterdir()) == sorted(sids)


def test_every_term_matches_whoosh_reader(service: tuple[Store, SearchService]) -> None:
    _, svc = service
    assert svc._ix is not None
    arrays_engine = Engine(index_dir=svc.index_dir)
    whoosh_engine = Engine()
    checked = 0
    with svc._ix.searcher() as s:
        for sub, _ in s.leaf_searchers():
            leaf_a, deleted = arrays_engine._leaf(sub) or (None, set())
            leaf_w, _ = whoosh_engine._leaf(sub) or (None, set())
            assert leaf_a is not None and leaf_w is not None and leaf_a.arrays is not None
            for fieldname in postings.FIELDS:
                for raw in sub.reader().lexicon(fieldname):
                    text = raw.decode("utf-8")
                    a = arrays_engine._term(leaf_a, sub, fieldname, text)
                    w = whoosh_engine._term(leaf_w, sub, fieldname, text)
                    live = ~np.isin(a.docs, list(deleted)) if deleted else slice(None)
                    assert a.docs[live].tolist() == w.docs.tolist(), (fieldname, text)
                    assert a.scores[live].tolist() == w.scores.tolist(), (fieldname, text)
                    checked += 1
    assert checked > 500


def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scores carry a recency factor of the search's time: one instant for both engines."""
    now = time.time()
    monkeypatch.setattr("app.search.service.time.time", lambda: now)


def test_queries_same_cold_warm_and_against_whoosh(service: tuple[Store, SearchService],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, svc = service
    _frozen_clock(monkeypatch)
    queries = _queries(random.Random(42), 200)
    cold = _answers(svc, queries)
    warm = _answers(svc, queries)
    assert cold == warm
    assert sum(1 for total, _ in cold if total) > 150  # the queries do find things
    svc._engine = Engine()  # Whoosh's own readers, no arrays
    assert _answers(svc, queries) == cold
    svc._engine = Engine(index_dir=svc.index_dir)


def test_damaged_arrays_fall_back_to_whoosh(service: tuple[Store, SearchService],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, svc = service
    _frozen_clock(monkeypatch)
    queries = _queries(random.Random(7), 40)
    before = _answers(svc, queries)
    root = svc.index_dir / postings.FOLDER
    victim = sorted(root.iterdir())[0]
    (victim / "docs.npy").write_bytes(b"not an array")
    assert postings.load(svc.index_dir, victim.name, 10**9) is None
    svc._engine = Engine(index_dir=svc.index_dir)
    assert _answers(svc, queries) == before
    assert svc._ix is not None
    assert postings.write_missing(svc._ix) == 1  # the damaged segment is written again
    assert postings.write_missing(svc._ix) == 0
    svc._engine = Engine(index_dir=svc.index_dir)
    assert _answers(svc, queries) == before

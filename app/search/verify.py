"""Comparing the search index with the database (for ``smart-support check``)."""

from __future__ import annotations

import random
from typing import Any

from whoosh.index import Index
from whoosh.query import Term

from app.search.documents import load_cases
from app.search.schema import KIND_CASE, KIND_CUSTOMER, KIND_ORGANIZATION, facet
from app.search.state import IndexState
from app.store import search_queries as sq

SAMPLE = 200


def verify_index(ix: Index, state: IndexState | None, store: Any,
                 sample: int = SAMPLE) -> list[str]:
    """Problems found (empty when the index matches): counts, and a sample of documents."""
    problems: list[str] = []

    def counts(conn: Any) -> tuple[int, int, int, int, list[str]]:
        ids = sq.live_case_ids(conn)
        return (sq.last_event_seq(conn), len(ids), sq.directory_count(conn, "customers"),
                sq.directory_count(conn, "organizations"), ids)

    seq, n_cases, n_cust, n_orgs, ids = store.read(counts)
    if state is not None and state.seq < seq:
        problems.append(f"the index is {seq - state.seq} events behind the database "
                        f"(indexed seq {state.seq}, database seq {seq})")
    picked = random.Random(seq).sample(ids, min(sample, len(ids)))
    docs, _gone = store.read(lambda c: load_cases(c, picked))
    with ix.searcher() as s:
        for kind, expected in ((KIND_CASE, n_cases), (KIND_CUSTOMER, n_cust),
                               (KIND_ORGANIZATION, n_orgs)):
            found = len(list(s.docs_for_query(Term("f", facet("kind", kind)))))
            if found != expected:
                problems.append(f"the index holds {found} {kind} documents; the database "
                                f"has {expected}")
        for doc in docs:
            docnum = s.document_number(id=doc["id"])
            if docnum is None:
                problems.append(f"case {doc['key']} ({doc['id']}) is missing from the index")
                continue
            stored = s.stored_fields(docnum)
            for name in ("key", "status", "updated"):
                if stored.get(name) != doc[name]:
                    problems.append(f"case {doc['key']}: index has {name}={stored.get(name)!r}, "
                                    f"database has {doc[name]!r}")
            if docnum not in set(s.docs_for_query(Term("f", facet("status", doc["status"])))):
                problems.append(f"case {doc['key']} is not found under status:{doc['status']}")
    return problems

"""The in-memory term pool writes the very segment Whoosh's sorting pool writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.writing import SegmentWriter

from app.search import parallel, pool
from app.search.schema import make_schema
from app.store import search_queries as sq
from tests.search.conftest import CORPUS, make_store


def _segment(folder: Path, db: str, term_pool: bool) -> Any:
    folder.mkdir()
    ix = windex.create_in(str(folder), make_schema())
    writer = SegmentWriter(ix, _lk=False, limitmb=1)  # 1 MB: Whoosh's pool spills runs
    if term_pool:
        pool.install(writer)
    con = sq.open_snapshot(db)
    for doc in parallel._cases(con, "", parallel.HIGH):
        writer.add_document(**doc)
    for doc in parallel._directory(con):
        writer.add_document(**doc)
    con.close()
    seg = writer._finalize_segment()
    top = ix.writer()
    top._close_segment()
    top._commit_toc([seg])
    top._finish()
    return windex.open_dir(str(folder))


def _postings(ix: Any) -> dict[tuple[str, bytes], list[tuple[int, float, bytes | None]]]:
    out = {}
    with ix.reader() as r:
        for field, term in r.all_terms():
            m = r.postings(field, term)
            found = []
            while m.is_active():
                found.append((m.id(), m.weight(), m.value()))
                m.next()
            out[(field, term)] = found
    return out


def test_term_pool_writes_the_same_postings(tmp_path: Path) -> None:
    records = [dict(r, subject=f"{r['subject']} {i}") for i in range(40) for r in CORPUS]
    store = make_store(tmp_path, records)
    store.close()
    db = str(tmp_path / "store.db")
    ours = _postings(_segment(tmp_path / "term", db, True))
    theirs = _postings(_segment(tmp_path / "whoosh", db, False))
    assert len(ours) > 500 and any(f.startswith("spell") for f, _ in ours)
    assert list(ours) == list(theirs)  # same terms, same order
    assert ours == theirs


def test_term_pool_orders_terms_and_documents() -> None:
    p = pool.TermPool()
    p.add(("body", b"b", 0, 1.0, None))
    p.add(("body", b"a", 1, 2.0, b"x"))
    p.add(("body", b"a", 0, 1.0, b"y"))
    p.add(("f", b"a", 2, 1.0, None))
    assert list(p.iter_postings()) == [("body", b"a", 0, 1.0, b"y"), ("body", b"a", 1, 2.0, b"x"),
                                       ("body", b"b", 0, 1.0, None), ("f", b"a", 2, 1.0, None)]
    assert p.fieldnames == {"body", "f"} and p.runs == []
    p.cleanup()
    assert list(p.iter_postings()) == []

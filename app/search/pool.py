"""A posting pool that groups postings by term in memory instead of sorting them all.

Whoosh's ``PostingPool`` keeps every posting as a 5-tuple, sorts the whole list and spills
sorted runs to temporary files (pickled one posting at a time, merged back through a heap)
once its size estimate passes ``limitmb``: a fifth of a segment's build time on long texts.
Here postings are appended to their term's list (documents arrive in docnum order, so each
list is already sorted); only the distinct terms are sorted when the segment is written.
The postings come out in exactly the order Whoosh's pool gives. Memory is bounded by the
segment's size (``parallel.SEGMENT_CASES`` cases a segment), not by ``limitmb``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Posting = tuple[str, bytes, int, float, bytes | None]


class TermPool:
    """Drop-in for ``whoosh.writing.PostingPool`` in a ``SegmentWriter`` (``writer.pool``)."""

    def __init__(self) -> None:
        self._terms: dict[tuple[str, bytes], list[tuple[int, float, bytes | None]]] = {}
        self.fieldnames: set[str] = set()
        self.runs: list[Any] = []  # no temporary files, ever

    def add(self, item: Posting) -> None:
        key = (item[0], item[1])
        postings = self._terms.get(key)
        if postings is None:
            postings = self._terms[key] = []
            self.fieldnames.add(item[0])
        postings.append((item[2], item[3], item[4]))

    def iter_postings(self) -> Iterator[Posting]:
        for key in sorted(self._terms):
            field, term = key
            # Sorted already but for spelling entries (all docnum 0): timsort is linear here.
            for docnum, weight, value in sorted(self._terms[key]):
                yield field, term, docnum, weight, value

    items = iter_postings

    def cleanup(self) -> None:
        self._terms.clear()


def install(writer: Any) -> Any:
    """Give a fresh ``SegmentWriter`` a :class:`TermPool`; the writer."""
    writer.pool.cleanup()  # nothing was added yet: its (empty) runs go
    writer.pool = TermPool()
    return writer

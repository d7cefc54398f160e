"""Per-segment postings as NumPy arrays beside the Whoosh index (the engine's cold path).

Whoosh decodes a term's postings in Python, one posting at a time, the first time a term is
used: a common word's first search took hundreds of milliseconds. Each segment is
immutable, so right after it is committed its postings are written once, here, into
``postings/<segment id>/`` as plain ``.npy`` arrays (docnums, weights, field lengths and a
hash table of the terms) that load memory-mapped with one call each. A query then scores a
term's postings in a few vectorised operations with Whoosh's own BM25F formula, on its
global statistics, so results are identical to reading through Whoosh. Whoosh stays the
index and the query language; a segment without (or with damaged) arrays is read through
Whoosh as before.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# The fields the engine reads term by term (names, ids and dates never go through it).
FIELDS = ("key", "subject", "body", "pairs", "f")
FOLDER = "postings"
# Terms in fewer documents than this are left to Whoosh: reading a few postings is cheap
# there, and skipping them keeps writing fast (most of a log-heavy vocabulary is singletons).
MIN_POSTINGS = 16
FORMAT = 2  # bump when the files change: older folders are rewritten
_NAMES = ("hashes", "slots", "starts", "docs", "weights", "keys", "keyoff")


def _hash(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def _key(fieldname: str, text: bytes) -> bytes:
    return fieldname.encode() + b"\x00" + text


@dataclass(frozen=True, slots=True)
class SegmentPostings:
    """One segment's arrays; ``find`` returns a term's (docnums, weights), or None for a
    term not kept here (absent, or in fewer than ``MIN_POSTINGS`` documents)."""

    hashes: npt.NDArray[np.uint64]  # sorted term hashes
    slots: npt.NDArray[np.int64]  # term number of each hash
    starts: npt.NDArray[np.int64]  # term number → first posting (one more at the end)
    docs: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    keys: npt.NDArray[np.uint8]  # every term's key bytes, to rule out hash collisions
    keyoff: npt.NDArray[np.int64]
    lengths: dict[str, npt.NDArray[np.int32]]  # per scorable field, as Whoosh reads them

    def find(self, fieldname: str, text: str
             ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]] | None:
        key = _key(fieldname, text.encode("utf-8"))
        h = np.uint64(_hash(key))
        i = int(np.searchsorted(self.hashes, h))
        while i < len(self.hashes) and self.hashes[i] == h:
            t = int(self.slots[i])
            if self.keys[self.keyoff[t]:self.keyoff[t + 1]].tobytes() == key:
                a, b = int(self.starts[t]), int(self.starts[t + 1])
                return self.docs[a:b], self.weights[a:b]
            i += 1
        return None


def folder(index_dir: Path | str, sid: str) -> Path:
    return Path(index_dir) / FOLDER / sid


def _block_postings(m: Any) -> tuple[list[Any], list[Any]]:
    """A term's docnums and weights, a block at a time where the matcher allows it."""
    ids: list[Any] = []
    weights: list[Any] = []
    if hasattr(m, "_read_data") and hasattr(m, "_next_block"):  # Whoosh 3's leaf matcher
        while m.is_active():
            m._read_ids()
            m._read_weights()
            ids.append(np.asarray(m._ids, dtype=np.int64))
            weights.append(np.asarray(m._weights, dtype=np.float32))
            m._next_block()
        return ids, weights
    one_ids: list[int] = []
    one_weights: list[float] = []
    while m.is_active():  # inlined postings: a handful
        one_ids.append(m.id())
        one_weights.append(m.weight())
        m.next()
    return [np.asarray(one_ids, dtype=np.int64)], [np.asarray(one_weights, dtype=np.float32)]


def write_segment(reader: Any, target: Path) -> None:
    """Write one segment reader's postings to ``target`` (atomically: a folder renamed)."""
    schema = reader.schema
    keys: list[bytes] = []
    ids: list[Any] = []
    weights: list[Any] = []
    starts = [0]
    terms = reader._terms
    for fieldname in FIELDS:
        if fieldname not in schema:
            continue
        fmt = schema[fieldname].format
        for (name, text), info in terms.items_from(fieldname, b""):
            if name != fieldname:
                break
            if info.doc_frequency() < MIN_POSTINGS:
                continue  # cheap through Whoosh; log ids and timestamps are mostly these
            block_ids, block_weights = _block_postings(terms._codec.postings_reader(
                terms._postfile, info, fmt, term=(fieldname, text)))
            keys.append(_key(fieldname, text))
            ids += block_ids
            weights += block_weights
            starts.append(starts[-1] + sum(len(b) for b in block_ids))
    hashes = np.fromiter((_hash(k) for k in keys), dtype=np.uint64, count=len(keys))
    order = np.argsort(hashes, kind="stable")
    keyoff = np.zeros(len(keys) + 1, dtype=np.int64)
    keyoff[1:] = np.cumsum([len(k) for k in keys])
    arrays: dict[str, npt.NDArray[Any]] = {
        "hashes": hashes[order], "slots": order.astype(np.int64),
        "starts": np.asarray(starts, dtype=np.int64),
        "docs": (np.concatenate(ids) if ids else np.empty(0)).astype(np.int32),
        "weights": (np.concatenate(weights) if weights else np.empty(0)).astype(np.float32),
        "keys": np.frombuffer(b"".join(keys), dtype=np.uint8), "keyoff": keyoff,
    }
    count = reader.doc_count_all()
    for fieldname in FIELDS:
        if fieldname in schema and schema[fieldname].scorable:
            # Whoosh's own (lossy, byte-coded) lengths, with its default of 1 when absent;
            # it answers None for an empty field, which no posting of the field can have.
            arrays[f"len_{fieldname}"] = np.fromiter(
                (reader.doc_field_length(d, fieldname, 1) or 0 for d in range(count)),
                dtype=np.int32, count=count)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    for name, values in arrays.items():
        np.save(tmp / f"{name}.npy", values, allow_pickle=False)
    (tmp / "FORMAT").write_text(f"{FORMAT} {count}\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def write_missing(ix: Any) -> int:
    """Write the arrays of every segment of ``ix`` that has none; drop those of segments
    merged away. Returns how many segments were written."""
    root = Path(ix.storage.folder) / FOLDER
    written = 0
    with ix.reader() as top:
        readers = [r for r, _ in top.leaf_readers()]
        live = set()
        for reader in readers:
            seg = reader.segment()
            if seg is None:
                continue
            sid = seg.segment_id()
            live.add(sid)
            if load(ix.storage.folder, sid, reader.doc_count_all()) is not None:
                continue  # whole and current (a damaged folder is written again)
            write_segment(reader, root / sid)
            written += 1
    if root.is_dir():
        for stale in root.iterdir():
            if stale.name not in live:
                shutil.rmtree(stale, ignore_errors=True)
    return written


def _current(target: Path, count: int) -> bool:
    try:
        return (target / "FORMAT").read_text().split() == [str(FORMAT), str(count)]
    except OSError:
        return False


def load(index_dir: Path | str, sid: str, doc_count: int) -> SegmentPostings | None:
    """A segment's arrays, memory-mapped; None when missing, outdated or inconsistent."""
    target = folder(index_dir, sid)
    if not _current(target, doc_count):
        return None
    try:
        a = {n: np.load(target / f"{n}.npy", mmap_mode="r", allow_pickle=False)
             for n in _NAMES}
        lengths = {p.stem[4:]: np.load(p, mmap_mode="r", allow_pickle=False)
                   for p in target.glob("len_*.npy")}
    except (OSError, ValueError):
        return None
    terms = len(a["starts"]) - 1
    ok = (terms >= 0 and len(a["hashes"]) == terms == len(a["slots"])
          and len(a["keyoff"]) == terms + 1 and len(a["docs"]) == len(a["weights"])
          and (terms == 0 or (int(a["starts"][-1]) == len(a["docs"])
                              and int(a["keyoff"][-1]) == len(a["keys"])))
          and all(len(v) == doc_count for v in lengths.values()))
    if not ok or (len(a["docs"]) and int(a["docs"].max()) >= doc_count):
        return None
    return SegmentPostings(lengths=lengths, **a)


def scores(searcher: Any, fieldname: str, text: str, docs: npt.NDArray[np.int32],
           weights: npt.NDArray[np.float32],
           lengths: npt.NDArray[np.int32] | None) -> npt.NDArray[np.float64]:
    """Whoosh's BM25F scores of one term's postings (same operations, same order, so the
    same floats as its scorer); a field without lengths scores its weights."""
    w = weights.astype(np.float64)
    field = searcher.schema[fieldname]
    model = searcher.weighting
    if lengths is None or not field.scorable:
        return w
    parent = searcher.get_parent()
    idf = parent.idf(fieldname, text)
    avgfl = parent.avg_field_length(fieldname) or 1
    b = model._field_B.get(fieldname, model.B)
    k1 = model.K1
    fl = lengths[docs].astype(np.float64)
    return idf * ((w * (k1 + 1)) / (w + k1 * ((1 - b) + b * fl / avgfl)))  # type: ignore[no-any-return]


__all__ = ["FIELDS", "SegmentPostings", "load", "scores", "write_missing",
           "write_segment"]

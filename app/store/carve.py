"""Rows read straight from a file's table leaf pages, for leaves SQLite cannot reach.

SQLite finds a row by walking its table's b-tree from the root, so one damaged interior page
hides every leaf below it, intact or not. This reads the file page by page, decodes each
table leaf page (https://www.sqlite.org/fileformat2.html: b-tree pages, cells, overflow
chains, the record format) and yields its rows. Nothing here trusts the bytes: a page or
cell that does not decode is skipped, and the caller validates every row it keeps.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

_TABLE_LEAF = 0x0D
_MAX_OVERFLOW = 4096  # pages in one overflow chain: a cycle in a damaged file ends here


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """The varint at ``at`` and the offset after it (raises IndexError past the end)."""
    value = 0
    for i in range(8):
        byte = data[at + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    return (value << 8) | data[at + 8], at + 9


def _value(kind: int, data: bytes, at: int) -> tuple[Any, int]:
    if kind == 0:
        return None, at
    if 1 <= kind <= 6:
        size = (1, 2, 3, 4, 6, 8)[kind - 1]
        if at + size > len(data):
            raise IndexError(at)
        return int.from_bytes(data[at:at + size], "big", signed=True), at + size
    if kind == 7:
        return struct.unpack(">d", data[at:at + 8])[0], at + 8
    if kind in (8, 9):
        return kind - 8, at
    if kind >= 12:
        size = (kind - 12) // 2
        if at + size > len(data):
            raise IndexError(at)
        raw = data[at:at + size]
        return (raw.decode("utf-8") if kind % 2 else raw), at + size
    raise ValueError(f"serial type {kind}")


def decode_record(payload: bytes) -> list[Any]:
    """The column values of one record (raises on anything malformed)."""
    header, at = _varint(payload, 0)
    if header > len(payload) or header < 1:
        raise ValueError("record header")
    kinds: list[int] = []
    while at < header:
        kind, at = _varint(payload, at)
        kinds.append(kind)
    values: list[Any] = []
    at = header
    for kind in kinds:
        value, at = _value(kind, payload, at)
        values.append(value)
    if at != len(payload):
        raise ValueError("record length")
    return values


class PageFile:
    """A file read page by page (the OS caches it; a large file is never held whole)."""

    def __init__(self, handle: BinaryIO, page_size: int) -> None:
        self.handle = handle
        self.size = page_size
        handle.seek(0, os.SEEK_END)
        self.pages = handle.tell() // page_size
        handle.seek(20)
        reserved = handle.read(1)
        self.usable = page_size - (reserved[0] if reserved else 0)

    def page(self, number: int) -> bytes:
        self.handle.seek((number - 1) * self.size)
        return self.handle.read(self.size)

    def _payload(self, page: bytes, at: int, total: int) -> bytes:
        u = self.usable
        most = u - 35
        if total <= most:
            return page[at:at + total]
        least = ((u - 12) * 32 // 255) - 23
        local = least + (total - least) % (u - 4)
        if local > most:
            local = least
        parts = [page[at:at + local]]
        got = len(parts[0])
        if got != local:
            raise ValueError("cell runs off its page")
        next_page = int.from_bytes(page[at + local:at + local + 4], "big")
        for _ in range(_MAX_OVERFLOW):
            if got >= total:
                break
            if not 1 < next_page <= self.pages:
                raise ValueError("overflow chain")
            over = self.page(next_page)
            chunk = over[4:4 + min(u - 4, total - got)]
            parts.append(chunk)
            got += len(chunk)
            next_page = int.from_bytes(over[:4], "big")
        if got != total:
            raise ValueError("overflow chain")
        return b"".join(parts)

    def leaf_rows(self, number: int) -> Iterator[tuple[int, list[Any]]]:
        """(rowid, values) of each cell of page ``number`` if it is a table leaf page."""
        page = self.page(number)
        base = 100 if number == 1 else 0
        if len(page) < base + 8 or page[base] != _TABLE_LEAF:
            return
        cells = int.from_bytes(page[base + 3:base + 5], "big")
        if cells * 2 + base + 8 > self.usable:
            return
        for i in range(cells):
            ptr = int.from_bytes(page[base + 8 + 2 * i:base + 10 + 2 * i], "big")
            if not base + 8 <= ptr < self.usable:
                continue
            try:
                total, at = _varint(page, ptr)
                rowid, at = _varint(page, at)
                if rowid >= 1 << 63:
                    continue
                yield rowid, decode_record(self._payload(page, at, total))
            except (IndexError, ValueError, UnicodeDecodeError, struct.error):
                continue


def table_leaf_rows(path: Path, page_size: int) -> Iterator[tuple[int, list[Any]]]:
    """Every row of every table leaf page of the file (any table: the caller picks)."""
    with path.open("rb") as handle:
        pages = PageFile(handle, page_size)
        for number in range(1, pages.pages + 1):
            yield from pages.leaf_rows(number)

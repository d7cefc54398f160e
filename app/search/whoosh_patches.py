"""Targeted fixes for whoosh-reloaded 2.7.5 performance bugs (applied once, on import).

``W3PerDocReader._cached_reader`` caches column readers but not their absence, so every
posting of a field without a length column (ID/KEYWORD fields) made a ``stat()`` call while
segments were written: about 40% of a full build. Caching the ``None`` is safe because a
written segment never gains columns.
"""

from __future__ import annotations

from typing import Any

from whoosh.codec import whoosh3

_MISSING = object()


def _cached_reader(self: Any, fieldname: str, column: Any) -> Any:
    reader = self._readers.get(fieldname, _MISSING)
    if reader is _MISSING:
        reader = self.column_reader(fieldname, column) if self.has_column(fieldname) else None
        self._readers[fieldname] = reader
    return reader


def apply() -> None:
    cls: Any = whoosh3.W3PerDocReader
    if getattr(cls, "_ssa_patched", False):
        return
    cls._cached_reader = _cached_reader
    cls._ssa_patched = True


apply()

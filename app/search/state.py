"""The index's own bookkeeping: schema version and the last event seq it holds."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

STATE_FILE = "search_state.json"


@dataclass(slots=True)
class IndexState:
    version: int
    seq: int

    @staticmethod
    def load(index_dir: Path) -> IndexState | None:
        try:
            data = json.loads((index_dir / STATE_FILE).read_text("utf-8"))
            return IndexState(int(data["version"]), int(data["seq"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, index_dir: Path) -> None:
        """Written after the Whoosh commit, atomically: a crash re-indexes, never skips."""
        tmp = index_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({"version": self.version, "seq": self.seq}), "utf-8")
        os.replace(tmp, index_dir / STATE_FILE)

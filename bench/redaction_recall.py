"""Redaction recall and precision on the labelled support-text set; prints JSON.

    .venv/bin/python bench/redaction_recall.py [--missed]
"""

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.llm.redaction import redact  # noqa: E402


def _load_set() -> ModuleType:
    spec = importlib.util.spec_from_file_location("redaction_set", ROOT / "tests" / "fixtures" / "redaction_set.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    labelled = _load_set()
    items = labelled.build_set()
    started = time.perf_counter()
    result = labelled.evaluate(lambda text, names: [(f.start, f.end, f.kind) for f in redact(text, names).found], items)
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["count"] = result.pop("texts")
    if "--missed" not in sys.argv:
        result["missed"] = len(result["missed"])
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

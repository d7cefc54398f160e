"""Helpers for the bench scripts: a seeded data folder reused between runs, and percentiles."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

CACHE = Path(os.environ.get("SMART_SUPPORT_BENCH_DIR", "/tmp/smart-support-bench"))


def seeded_dir(cases: int, seed: int = 1) -> tuple[Path, float | None]:
    """A data folder with ``cases`` demo cases; seeds it (timed) if missing."""
    from app.paths import db_path
    from app.store.demo import seed_demo
    from app.store.repo import Store

    folder = CACHE / f"demo-{cases}-{seed}"
    marker = folder / ".seeded"
    if marker.exists():
        return folder, None
    folder.mkdir(parents=True, exist_ok=True)
    for p in folder.glob("smart-support.db*"):
        p.unlink()
    start = time.perf_counter()
    store = Store(db_path(folder))
    seed_demo(store, cases=cases, seed=seed)
    store.close()
    took = time.perf_counter() - start
    marker.write_text(str(took))
    return folder, took


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values_ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values_ms, 50), 2), "p95_ms": round(pct(values_ms, 95), 2),
            "mean_ms": round(statistics.fmean(values_ms), 2), "n": len(values_ms)}


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gb = 0.0
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "python": platform.python_version(), "os": platform.platform(terse=True),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip()}


def emit(figures: dict[str, Any]) -> None:
    figures["machine"] = machine()
    print(json.dumps(figures, indent=2))

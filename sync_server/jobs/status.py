"""What an admin sees of the queue: each breaker, queue lengths by state, the oldest waiting
job and the last errors. The same JSON for ``integrations status --json`` and
``GET /api/v1/integrations/status``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from sync_server.jobs.queue import STATES
from sync_server.tables import breakers, jobs

LAST_ERRORS = 10


def _job_summary(row: Any) -> dict[str, Any]:
    return {"id": row.id, "request_id": row.request_id, "case_id": row.case_id,
            "system": row.system, "site": row.site, "action": row.action, "state": row.state,
            "attempts": int(row.attempts), "not_before_ms": int(row.not_before_ms),
            "created_ms": int(row.created_ms), "updated_ms": int(row.updated_ms),
            "last_error": row.last_error}


def status(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        counts = {state: 0 for state in STATES}
        for state, count in conn.execute(select(jobs.c.state, func.count())
                                         .group_by(jobs.c.state)):
            counts[str(state)] = int(count)
        by_system: dict[str, dict[str, int]] = {}
        for system, state, count in conn.execute(
                select(jobs.c.system, jobs.c.state, func.count())
                .group_by(jobs.c.system, jobs.c.state)):
            by_system.setdefault(str(system), {s: 0 for s in STATES})[str(state)] = int(count)
        oldest = conn.execute(select(jobs).where(jobs.c.state.in_(("queued", "waiting")))
                              .order_by(jobs.c.created_ms).limit(1)).first()
        errors = conn.execute(select(jobs).where(jobs.c.last_error.is_not(None))
                              .order_by(jobs.c.updated_ms.desc()).limit(LAST_ERRORS)).all()
        breaker_rows = conn.execute(select(breakers).order_by(breakers.c.system,
                                                              breakers.c.site)).mappings().all()
    return {
        "breakers": [{"system": b["system"], "site": b["site"], "state": b["state"],
                      "failures": int(b["failures"]), "opened_ms": b["opened_ms"],
                      "reopen_ms": b["reopen_ms"], "probes_in_flight": int(b["probes_in_flight"]),
                      "updated_ms": int(b["updated_ms"])} for b in breaker_rows],
        "queue": counts,
        "by_system": by_system,
        "oldest_waiting": _job_summary(oldest) if oldest is not None else None,
        "last_errors": [_job_summary(row) for row in errors],
    }


def render(data: dict[str, Any], now_ms: int) -> str:
    """The status as text for a terminal."""
    lines = ["Breakers:"]
    for b in data["breakers"] or []:
        extra = ""
        if b["state"] == "open" and b["reopen_ms"]:
            extra = f", half-open in {max(0, b['reopen_ms'] - now_ms) / 1000:.0f} s"
        lines.append(f"  {b['system']} {b['site']}: {b['state']} ({b['failures']} failures{extra})")
    if not data["breakers"]:
        lines.append("  (none yet)")
    lines.append("Queue: " + ", ".join(f"{state} {count}" for state, count in data["queue"].items()))
    oldest = data["oldest_waiting"]
    if oldest is not None:
        age = max(0, now_ms - oldest["created_ms"]) / 1000
        lines.append(f"Oldest waiting: {oldest['id']} {oldest['system']} {oldest['action']} "
                     f"({age:.0f} s old, {oldest['attempts']} attempts)")
    if data["last_errors"]:
        lines.append("Last errors:")
        for job in data["last_errors"]:
            lines.append(f"  {job['id']} {job['system']} {job['action']} [{job['state']}]: "
                         f"{str(job['last_error'])[:200]}")
    return "\n".join(lines)

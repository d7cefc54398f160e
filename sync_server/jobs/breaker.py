"""A circuit breaker per (system, site) whose state lives in the database, so every worker
process shares it. Written small rather than taken from a library: pybreaker and
aiobreaker keep their state in memory (or Redis), not in our SQL database next to the jobs,
and their half-open state lets one call through per process, not N across all processes.

closed --(threshold consecutive failures)--> open --(open time passed)--> half_open
half_open lets ``probes`` calls through at once: a success closes it, a failure opens it
again. Every function takes ``now_ms`` (an injected clock) and runs inside the caller's
transaction, with the breaker's row locked, so two workers never both take the last probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from sync_server.tables import breakers

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    threshold: int = 5
    open_ms: int = 60_000
    probes: int = 1
    probe_lease_ms: int = 120_000  # a probe slot held longer (its worker died) is freed


@dataclass(frozen=True)
class Admission:
    """Whether a call may be made now: ``call`` (and whether it is a half-open probe), or
    not before ``wait_until_ms``."""

    call: bool
    probe: bool = False
    wait_until_ms: int = 0
    state: State = "closed"


def _row(conn: Connection, system: str, site: str, now_ms: int) -> dict[str, Any]:
    query = select(breakers).where(breakers.c.system == system, breakers.c.site == site)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        values = {"system": system, "site": site, "state": "closed", "failures": 0,
                  "opened_ms": None, "reopen_ms": None, "probes_in_flight": 0,
                  "updated_ms": now_ms}
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(breakers).values(**values).on_conflict_do_nothing())
            row = conn.execute(query).mappings().one()
            return dict(row)
        conn.execute(insert(breakers).values(**values))
        return values
    return dict(row)


def _save(conn: Connection, system: str, site: str, **values: object) -> None:
    conn.execute(update(breakers).where(breakers.c.system == system, breakers.c.site == site)
                 .values(**values))


def admit(conn: Connection, system: str, site: str, policy: BreakerPolicy,
          now_ms: int) -> Admission:
    """May a call to (system, site) be made now? Takes a probe slot when half-open."""
    row = _row(conn, system, site, now_ms)
    state = str(row["state"])
    if state == "closed":
        return Admission(call=True)
    reopen = int(row["reopen_ms"] or 0)
    if state == "open":
        if now_ms < reopen:
            return Admission(call=False, wait_until_ms=reopen, state="open")
        _save(conn, system, site, state="half_open", probes_in_flight=1, updated_ms=now_ms)
        return Admission(call=True, probe=True, state="half_open")
    probes = int(row["probes_in_flight"] or 0)  # half_open
    if probes and now_ms - int(row["updated_ms"] or 0) > policy.probe_lease_ms:
        probes = 0  # the probes' workers died: their slots are free again
    if probes < policy.probes:
        _save(conn, system, site, probes_in_flight=probes + 1, updated_ms=now_ms)
        return Admission(call=True, probe=True, state="half_open")
    # Every probe slot is taken: look again soon (a probe's answer decides it).
    return Admission(call=False, wait_until_ms=now_ms + min(policy.open_ms, 1_000),
                     state="half_open")


def succeeded(conn: Connection, system: str, site: str, now_ms: int) -> None:
    """The remote answered (also with a permanent refusal: it is up)."""
    row = _row(conn, system, site, now_ms)
    if row["state"] != "closed" or row["failures"]:
        _save(conn, system, site, state="closed", failures=0, opened_ms=None, reopen_ms=None,
              probes_in_flight=0, updated_ms=now_ms)


def failed(conn: Connection, system: str, site: str, policy: BreakerPolicy, now_ms: int,
           retry_after_ms: int | None = None) -> tuple[State, int | None]:
    """A call failed for the remote's sake (timeout, connection, 5xx, 429): the new state
    and, when open, its reopen time. An opened breaker stays open at least until the
    remote's Retry-After."""
    row = _row(conn, system, site, now_ms)
    state = str(row["state"])
    failures = int(row["failures"] or 0) + 1
    reopen = now_ms + max(policy.open_ms, retry_after_ms or 0)
    if state == "half_open" or (state == "closed" and failures >= policy.threshold):
        _save(conn, system, site, state="open", failures=failures, opened_ms=now_ms,
              reopen_ms=reopen, probes_in_flight=0, updated_ms=now_ms)
        return "open", reopen
    if state == "open":  # a call admitted before it opened: keep the later reopen time
        later = max(int(row["reopen_ms"] or 0), now_ms + (retry_after_ms or 0))
        _save(conn, system, site, failures=failures, updated_ms=now_ms, reopen_ms=later)
        return "open", later
    _save(conn, system, site, failures=failures, updated_ms=now_ms)
    return "closed", None


def release_probe(conn: Connection, system: str, site: str, now_ms: int) -> None:
    """A probe ended without telling anything about the remote (e.g. a bug in a handler)."""
    row = _row(conn, system, site, now_ms)
    if row["state"] == "half_open" and row["probes_in_flight"]:
        _save(conn, system, site, probes_in_flight=int(row["probes_in_flight"]) - 1,
              updated_ms=now_ms)

"""What sync could not do, for the status bar, the case view and `check`.

Two kinds of trouble never stop a sync but must be visible: teammates' events this build
could not apply (held in the quarantine) and this device's changes the server refused (set
aside in the outbox with the server's reason). Also the laptop's clock, when it is far from
the server's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from app.store import quarantine
from app.store import queries as q
from app.store.repo import Store


@dataclass(frozen=True, slots=True)
class SyncHealth:
    quarantined: int = 0
    refused: int = 0
    refused_by_case: dict[str, int] = field(default_factory=dict)
    quarantined_by_case: dict[str, int] = field(default_factory=dict)
    clock_offset_ms: int = 0  # laptop minus server, recorded when beyond 5 minutes

    def messages(self) -> list[str]:
        """One line per problem, for the status bar."""
        from app.sync.engine import clock_warning

        out = []
        if self.quarantined:
            out.append(f"{self.quarantined} event{'s' if self.quarantined != 1 else ''} "
                       "could not be applied")
        if self.refused:
            out.append(f"{self.refused} change{'s were' if self.refused != 1 else ' was'} "
                       "refused by the server")
        warning = clock_warning(self.clock_offset_ms)
        if warning:
            out.append(warning)
        return out


def _health(conn: Connection) -> SyncHealth:
    from sqlalchemy import func, select

    from app.store import schema as s

    refused = q.refused_counts(conn)
    held = {str(r[0]): int(r[1]) for r in conn.execute(
        select(s.quarantine.c.case_id, func.count()).where(s.quarantine.c.case_id.is_not(None))
        .group_by(s.quarantine.c.case_id))}
    offset = conn.execute(select(s.meta.c.value).where(s.meta.c.key == "clock_offset_ms")
                          ).scalar()
    try:
        clock = int(offset or 0)
    except ValueError:
        clock = 0
    return SyncHealth(quarantined=quarantine.count(conn), refused=sum(refused.values()),
                      refused_by_case={k: v for k, v in refused.items() if k},
                      quarantined_by_case=held, clock_offset_ms=clock)


def sync_health(store: Store) -> SyncHealth:
    """Counts of held and refused events, in total and per case, and the clock offset."""
    return store.read(_health)


def refused_in_case(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """Reader thread: this device's changes to the case that the server refused."""
    return [{"id": r["id"], "type": r["type"], "reason": r["sync_error"]}
            for r in q.refused(conn, case_id)]


def refused_for_case(store: Store, *, case_id: str) -> list[dict[str, Any]]:
    """This device's changes to the case that the server refused: id, type, reason."""
    return store.read(lambda c: refused_in_case(c, case_id))


def refused_notice(rows: list[dict[str, Any]]) -> str:
    """The case view's one line for refused changes ('' when there are none)."""
    if not rows:
        return ""
    first = str(rows[0].get("reason") or "refused")
    first = " ".join(first.split())[:160]
    if len(rows) == 1:
        return f"1 change to this case was refused by the server and not sent: {first}"
    return (f"{len(rows)} changes to this case were refused by the server and not sent "
            f"(first: {first})")


def held_events(store: Store, limit: int = 1000) -> list[dict[str, Any]]:
    """The held events (id, type, case, reason, when, build) without their raw text."""
    return [{k: r[k] for k in ("id", "type", "case_id", "server_seq", "reason",
                               "received_ms", "app_version")}
            for r in store.read(lambda c: quarantine.rows(c, limit))]


def reapply_quarantined(store: Store) -> int:
    """On demand: re-validate every held event; those this build can apply now are
    applied and leave the quarantine. Returns how many were applied."""
    return quarantine.reapply(store, everything=True)

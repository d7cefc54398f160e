"""Read models behind the window's insights: SLA clocks, the dashboard, notifications.

Every function here runs off the UI thread (the analytics, notifications or a reader
thread); the UI calls them through :class:`app.ui.bridge.Bridge` and gets the result back
on the GUI thread. Opening ``analytics.db`` or ``notifications.db`` is I/O, so even the
opening happens here.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    # Types the UI names (it imports them from here, never from app.analytics).
    from app.analytics.dashboard_data import DashboardData as DashboardData
    from app.analytics.model import AnalyticsModel as AnalyticsModel
    from app.analytics.reports import Table as Table
    from app.operations.notifications import Notification, NotificationCenter
    from app.store.repo import Store

Row = tuple[Any, ...]  # a case list row: (id, key, subject, status, priority, ...)
Due = tuple[int | None, str]  # (deadline ms or None while paused, state)

SLA_VIEWS = {"sla:at_risk": ("SLA at risk", "at_risk"), "sla:breached": ("Breached", "breached")}
DND_HOURS = 8

_MODEL_LOCK = threading.Lock()


def now_ms() -> int:
    return int(time.time() * 1000)


# --- the analytics read model ------------------------------------------------------------
def shared_model(store: Store) -> AnalyticsModel:
    """Worker thread: the analytics read model of ``store``, opened once per store and
    shared with the terminal's commands (cached as ``store._analytics_model``)."""
    from app.analytics.model import open_model

    with _MODEL_LOCK:
        model: AnalyticsModel | None = getattr(store, "_analytics_model", None)
        if model is None:
            model = open_model(store, Path(store.path).parent)
            store._analytics_model = model  # type: ignore[attr-defined]
        return model


def own_model(store: Store, data_dir: Path | None) -> AnalyticsModel:
    """Worker thread: a read model of the caller's own (the caller closes it); in memory
    without ``data_dir``."""
    from app.analytics.model import open_model

    return open_model(store, data_dir)


def is_model(value: object) -> TypeGuard[AnalyticsModel]:
    """True for an open analytics read model (not a factory of one)."""
    from app.analytics.model import AnalyticsModel

    return isinstance(value, AnalyticsModel)


def open_analytics(store: Store, data_dir: Path) -> AnalyticsModel:
    """Analytics thread: the store's read model (one per store, shared with the case
    detail's SLA clocks, macros and the terminal), caught up. ``data_dir`` is where the
    window keeps its files; the shared model lives beside the store."""
    del data_dir  # the shared model is always the store's own
    model = shared_model(store)
    model.catch_up()
    return model


def analytics_catch_up(model: AnalyticsModel) -> int:
    return int(model.catch_up())


def load_dashboard(model: AnalyticsModel, *, days: int, team: str | None,
                   agent: str | None) -> DashboardData:
    """Dashboard thread: every dashboard table for the last ``days`` days (of the model's
    time zone), after folding any new events."""
    from app.analytics.dashboard_data import load_dashboard as load

    return load(model, days=days, team=team, agent=agent)


def load_due(model: AnalyticsModel, case_ids: list[str], now: int) -> dict[str, Due]:
    """Reader thread: (next deadline, state) of each case's running SLA clocks; a case
    without one maps to (None, "none"). States: breached / at_risk / ok / paused."""
    from sqlalchemy import func, select

    from app.store import analytics_tables as at

    t = at.am_sla.c
    cols = (t.case_id, func.min(t.deadline_ms), func.min(t.risk_ms),
            func.max(t.paused_at_risk))
    running = (t.outcome.is_(None), t.case_open.is_(True))

    def fn(conn: Any) -> list[Any]:
        if len(case_ids) > 5000:  # a large view: one pass over every open clock
            return list(conn.execute(select(*cols).where(*running).group_by(t.case_id)))
        rows: list[Any] = []
        for i in range(0, len(case_ids), 500):
            rows += conn.execute(select(*cols).where(*running,
                                                     t.case_id.in_(case_ids[i:i + 500]))
                                 .group_by(t.case_id)).all()
        return rows

    out: dict[str, Due] = dict.fromkeys(case_ids, (None, "none"))
    wanted = set(case_ids)
    for case_id, deadline, risk, paused_risk in model.read(fn):
        if case_id not in wanted:
            continue
        if deadline is None:
            out[case_id] = (None, "at_risk" if paused_risk else "paused")
        elif deadline <= now:
            out[case_id] = (int(deadline), "breached")
        elif (risk is not None and risk <= now) or paused_risk:
            out[case_id] = (int(deadline), "at_risk")
        else:
            out[case_id] = (int(deadline), "ok")
    return out


def load_sla_rows(model: AnalyticsModel, store: Store, view: str, now: int) -> list[Row]:
    """Reader thread: the list rows of the "SLA at risk" / "Breached" view, soonest first."""
    from app.analytics.reports import sla_queue
    from app.store import queries as q

    queue = model.read(lambda c: sla_queue(c, view=view, now_ms=now))
    order: dict[str, int] = {}
    for r in queue:
        order.setdefault(str(r["case_id"]), len(order))
    ids = list(order)
    rows: list[Row] = []
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        rows += store.read(lambda c, p=part: q.list_rows(c, p))  # type: ignore[misc]
    rows.sort(key=lambda r: order.get(r[0], 0))
    return rows


def count_sla(model: AnalyticsModel, now: int) -> dict[str, int | None]:
    """Reader thread: how many cases each SLA view lists (for the sidebar)."""
    from app.analytics.reports import sla_queue

    def queue(view: str) -> list[Any]:
        return list(model.read(lambda c: sla_queue(c, view=view, now_ms=now)))

    out: dict[str, int | None] = {}
    for view_id, (_title, view) in SLA_VIEWS.items():
        out[view_id] = len({r["case_id"] for r in queue(view)})
    return out


# --- notifications -----------------------------------------------------------------------
def open_center(store: Store, data_dir: Path) -> NotificationCenter:
    """Notifications thread: open the centre and set its starting point (the log head)."""
    from app.operations.notifications import NotificationCenter

    center = NotificationCenter.open(store, data_dir)
    center.follow()
    return center


def follow(center: NotificationCenter, conflict_ids: list[str]
           ) -> tuple[list[Notification], bool]:
    """Notifications thread: new notifications since the last call; do-not-disturb."""
    fresh = list(center.follow())
    if conflict_ids:
        fresh += center.notify_conflicts(conflict_ids)
    return fresh, center.settings().dnd(now_ms())


def check_sla(center: NotificationCenter, model: AnalyticsModel
              ) -> tuple[list[Notification], bool]:
    fresh = list(center.check_sla(model))
    return fresh, center.settings().dnd(now_ms())


def set_dnd(center: NotificationCenter, on: bool) -> bool:
    center.set_dnd(now_ms() + DND_HOURS * 3_600_000 if on else None)
    return on


def dnd_state(center: NotificationCenter) -> bool:
    return bool(center.settings().dnd(now_ms()))


def notification_list(center: NotificationCenter) -> tuple[list[Notification], int]:
    """Notifications thread: what the panel lists (newest first) and how many are unread."""
    return center.list(), center.unread_count()


def mark_read(center: NotificationCenter, ids: list[int] | None) -> int:
    """Notifications thread: mark ``ids`` read (every notification when None)."""
    return center.mark_read(ids)

"""Who is looking at a case right now (shared through the database across processes)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, delete, insert, select

from sync_server.db import write_tx
from sync_server.schemas.misc import PresencePublic, ViewerPublic
from sync_server.services.accounts import Principal
from sync_server.tables import cases, presence, users


class UnknownCase(LookupError):
    """The case is unknown to the server or belongs to another team (same answer for both)."""


def _check_case(conn: Connection, principal: Principal, case_id: str) -> None:
    team = conn.execute(select(cases.c.team_id).where(cases.c.case_id == case_id)).scalar()
    if team is None or team not in principal.team_ids:
        raise UnknownCase(case_id)


def report(engine: Engine, principal: Principal, case_id: str, state: str) -> None:
    with write_tx(engine) as conn:
        _check_case(conn, principal, case_id)
        conn.execute(delete(presence).where(presence.c.case_id == case_id,
                                            presence.c.user_id == principal.id))
        conn.execute(insert(presence).values(case_id=case_id, user_id=principal.id,
                                             state=state, at=time.time()))


def viewers(engine: Engine, principal: Principal, case_id: str, window: float) -> PresencePublic:
    with engine.connect() as conn:
        _check_case(conn, principal, case_id)
        rows = conn.execute(
            select(users.c.id, users.c.email, users.c.name, presence.c.at)
            .join(users, users.c.id == presence.c.user_id)
            .where(presence.c.case_id == case_id, presence.c.state == "viewing",
                   presence.c.at >= time.time() - window, presence.c.user_id != principal.id,
                   users.c.disabled.is_(False))
            .order_by(users.c.name)
        ).all()
    return PresencePublic(case_id=case_id, viewers=[
        ViewerPublic(user_id=r.id, email=r.email, name=r.name, last_seen=r.at) for r in rows
    ])

"""The agents a user works with: members of the user's teams (only shared teams are listed)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from sync_server.schemas.auth import TeamPublic
from sync_server.schemas.misc import AgentPublic
from sync_server.services.accounts import Principal
from sync_server.tables import team_members, teams, users


def agents(engine: Engine, principal: Principal) -> list[AgentPublic]:
    if not principal.team_ids:
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            select(users.c.id, users.c.email, users.c.name, users.c.role,
                   teams.c.id.label("team_id"), teams.c.name.label("team_name"), teams.c.prefix)
            .join(team_members, team_members.c.user_id == users.c.id)
            .join(teams, teams.c.id == team_members.c.team_id)
            .where(team_members.c.team_id.in_(sorted(principal.team_ids)),
                   users.c.disabled.is_(False))
            .order_by(users.c.name, users.c.email, teams.c.name)
        ).all()
    found: dict[str, AgentPublic] = {}
    for r in rows:
        agent = found.setdefault(r.id, AgentPublic(id=r.id, email=r.email, name=r.name,
                                                   role=r.role, teams=[]))
        agent.teams.append(TeamPublic(id=r.team_id, name=r.team_name, prefix=r.prefix))
    return list(found.values())

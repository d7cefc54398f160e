"""Users, teams and memberships: lookups for every request and the admin commands."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select, update

from sync_server.db import write_tx
from sync_server.schemas.auth import Role, TeamPublic, UserPublic
from sync_server.security import hash_password
from sync_server.tables import team_members, teams, users

ROLES: tuple[Role, ...] = ("agent", "lead", "admin")


class AdminError(ValueError):
    """An admin command could not be carried out (unknown user, duplicate team...)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user of a request, as the database says right now."""

    id: str
    email: str
    name: str
    role: Role
    teams: tuple[TeamPublic, ...]
    family_id: str = ""

    @property
    def team_ids(self) -> frozenset[str]:
        return frozenset(team.id for team in self.teams)

    def public(self) -> UserPublic:
        return UserPublic(
            id=self.id, email=self.email, name=self.name, role=self.role, teams=list(self.teams)
        )


def user_teams(conn: Connection, user_id: str) -> tuple[TeamPublic, ...]:
    rows = conn.execute(
        select(teams.c.id, teams.c.name, teams.c.prefix)
        .join(team_members, team_members.c.team_id == teams.c.id)
        .where(team_members.c.user_id == user_id)
        .order_by(teams.c.name)
    ).all()
    return tuple(TeamPublic(id=r.id, name=r.name, prefix=r.prefix) for r in rows)


def load_principal(conn: Connection, user_id: str, family_id: str = "") -> Principal | None:
    """The active user with this id and their teams, or None if unknown or disabled."""
    row = conn.execute(
        select(users.c.id, users.c.email, users.c.name, users.c.role, users.c.disabled)
        .where(users.c.id == user_id)
    ).first()
    if row is None or row.disabled:
        return None
    return Principal(
        id=row.id, email=row.email, name=row.name, role=row.role,
        teams=user_teams(conn, row.id), family_id=family_id,
    )


def normalize_email(email: str) -> str:
    return email.strip().lower()


def default_prefix(name: str) -> str:
    letters = "".join(ch for ch in name if ch.isalnum())
    return (letters[:3] or "CAS").upper()


def add_user(engine: Engine, *, email: str, name: str, role: Role, password: str) -> str:
    if role not in ROLES:
        raise AdminError(f"unknown role {role!r}")
    if len(password) < 8:
        raise AdminError("password must have at least 8 characters")
    email = normalize_email(email)
    if "@" not in email or not name.strip():
        raise AdminError("a user needs an e-mail address and a name")
    password_hash = hash_password(password)
    user_id = str(uuid.uuid4())
    with write_tx(engine) as conn:
        if conn.execute(select(users.c.id).where(users.c.email == email)).first():
            raise AdminError(f"user {email} already exists")
        conn.execute(insert(users).values(
            id=user_id, email=email, name=name.strip(), role=role,
            password_hash=password_hash, disabled=False, created_at=time.time(),
        ))
    return user_id


def _user_id(conn: Connection, email: str) -> str:
    row = conn.execute(select(users.c.id).where(users.c.email == normalize_email(email))).first()
    if row is None:
        raise AdminError(f"no user {email}")
    return str(row.id)


def _team_id(conn: Connection, name: str) -> str:
    row = conn.execute(select(teams.c.id).where(teams.c.name == name)).first()
    if row is None:
        raise AdminError(f"no team {name}")
    return str(row.id)


def disable_user(engine: Engine, email: str) -> None:
    with write_tx(engine) as conn:
        conn.execute(update(users).where(users.c.id == _user_id(conn, email)).values(disabled=True))


def add_team(engine: Engine, *, name: str, prefix: str | None = None) -> str:
    name = name.strip()
    key_prefix = (prefix or default_prefix(name)).strip().upper()
    if not name or not key_prefix.isalnum() or len(key_prefix) > 16:
        raise AdminError("a team needs a name and an alphanumeric prefix of at most 16 characters")
    team_id = str(uuid.uuid4())
    with write_tx(engine) as conn:
        if conn.execute(select(teams.c.id).where(teams.c.name == name)).first():
            raise AdminError(f"team {name} already exists")
        conn.execute(insert(teams).values(
            id=team_id, name=name, prefix=key_prefix, next_case_number=1
        ))
    return team_id


def add_member(engine: Engine, *, team: str, email: str) -> None:
    with write_tx(engine) as conn:
        team_id, user_id = _team_id(conn, team), _user_id(conn, email)
        exists = conn.execute(select(team_members.c.user_id).where(
            team_members.c.team_id == team_id, team_members.c.user_id == user_id
        )).first()
        if exists is None:
            conn.execute(insert(team_members).values(team_id=team_id, user_id=user_id))


def remove_member(engine: Engine, *, team: str, email: str) -> None:
    with write_tx(engine) as conn:
        team_id, user_id = _team_id(conn, team), _user_id(conn, email)
        result = conn.execute(delete(team_members).where(
            team_members.c.team_id == team_id, team_members.c.user_id == user_id
        ))
        if result.rowcount == 0:
            raise AdminError(f"{email} is not a member of {team}")

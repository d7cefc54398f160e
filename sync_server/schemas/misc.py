"""Blobs, the agent directory and presence."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from sync_server.schemas.auth import Role, TeamPublic
from sync_server.schemas.common import Uuid


class BlobPublic(BaseModel):
    sha256: str
    size: int


class AgentPublic(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    teams: list[TeamPublic]


class PresenceCreate(BaseModel):
    case_id: Uuid
    state: Literal["viewing", "left"]


class ViewerPublic(BaseModel):
    user_id: str
    email: str
    name: str
    last_seen: float


class PresencePublic(BaseModel):
    case_id: str
    viewers: list[ViewerPublic]

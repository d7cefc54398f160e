"""Login, token refresh/logout and the signed-in user."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from sync_server.schemas.common import Email

Role = Literal["agent", "lead", "admin"]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
RefreshToken = Annotated[str, StringConstraints(min_length=1, max_length=256)]
DeviceToken = Annotated[str, StringConstraints(min_length=1, max_length=256,
                                               pattern=r"^[A-Za-z0-9_.-]+$")]


class LoginCreate(BaseModel):
    email: Email
    password: Password
    device_token: DeviceToken | None = Field(
        default=None, description="the device_token of this device's last login to this "
        "account: its attempts are then throttled apart from others' (docs/login-throttling.md)")


class RefreshCreate(BaseModel):
    refresh_token: RefreshToken


class TeamPublic(BaseModel):
    id: str
    name: str
    prefix: str


class UserPublic(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    teams: list[TeamPublic] = Field(default_factory=list)


class TokenPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserPublic


class LoginPublic(TokenPublic):
    device_token: str = Field(description="present it on this device's next login")

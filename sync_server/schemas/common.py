"""Shared field types and small response models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, StringConstraints

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@ \t\r\n\f\v]+@[^@ \t\r\n\f\v]+$")
]
TeamId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class StatusPublic(BaseModel):
    status: str


class ErrorPublic(BaseModel):
    detail: str

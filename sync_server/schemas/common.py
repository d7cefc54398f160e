"""Shared field types and small response models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, StringConstraints

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
# ASCII whitespace is refused by the pattern itself rather than stripped: a server that
# strips accepts less than its published pattern says ("a@\u0085" matches the pattern but
# strips to "a@"), which schemathesis caught. The class is spelt out because "\s" differs
# between JSON Schema (ECMA) and the validator (Rust) on characters like U+0085. The app
# strips what the agent types before sending.
Email = Annotated[
    str, StringConstraints(min_length=3, max_length=320,
                           pattern=r"^[^@ \t\r\n\f\v]+@[^@ \t\r\n\f\v]+$")
]
TeamId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class StatusPublic(BaseModel):
    status: str


class ErrorPublic(BaseModel):
    detail: str

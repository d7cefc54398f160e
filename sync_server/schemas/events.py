"""The event wire format and the push/pull envelopes."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from sync_server.ids import HLC_PATTERN
from sync_server.schemas.common import Email, TeamId, Uuid

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_BATCH = 1000

EventType = Annotated[str, StringConstraints(pattern=r"^[a-z_.]{1,64}$")]
DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Hlc = Annotated[str, StringConstraints(pattern=HLC_PATTERN)]


def payload_json(payload: dict[str, Any]) -> str:
    """The canonical stored form of a payload."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class EventCreate(BaseModel):
    """An event as the client sends it."""

    model_config = ConfigDict(extra="forbid")

    id: Uuid
    case_id: Uuid | None = None
    team_id: TeamId
    type: EventType
    payload: dict[str, Any]
    actor: Email
    device_id: DeviceId
    hlc: Hlc
    v: int = Field(1, ge=1, le=1_000_000, description="payload schema version; absent means 1")

    @field_validator("payload")
    @classmethod
    def _bounded_payload(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(payload_json(value).encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
        return value


class EventPublic(BaseModel):
    """An event as the server returns it: verbatim plus its server sequence number."""

    id: str
    case_id: str | None
    team_id: str
    type: str
    payload: dict[str, Any]
    actor: str
    device_id: str
    hlc: str
    server_seq: int
    v: int = 1


# An item that is not a valid EventCreate is still accepted into the batch (as a plain object)
# and refused on its own, in its own result: one bad event never blocks the rest.
PushItem = Annotated[EventCreate | dict[str, Any], Field(union_mode="left_to_right")]


class PushCreate(BaseModel):
    events: list[PushItem] = Field(
        max_length=MAX_BATCH,
        description="events to store; an item that is not a valid event is rejected in its own "
                    "result (status 'rejected' with a reason), the others are stored")


PushStatus = Literal["stored", "duplicate", "rejected"]


class PushResultPublic(BaseModel):
    id: str | None = Field(description="the event's id; null for an item without a string id")
    status: PushStatus
    server_seq: int | None = None
    reason: str | None = None


class PushPublic(BaseModel):
    results: list[PushResultPublic]


class PullPublic(BaseModel):
    events: list[EventPublic]
    next_cursor: int
    has_more: bool

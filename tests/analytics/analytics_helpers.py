"""Hand-made events at chosen times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.core import events as ev
from app.core.hlc import Timestamp

_counter = [0]


def ms(text: str) -> int:
    """'2026-03-02 09:00' (UTC) → epoch ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def event(type_: str, payload: dict[str, Any], at: int, *, case_id: str | None,
          actor: str = "alice@x", team: str | None = "support") -> ev.Event:
    _counter[0] += 1
    return ev.Event(id=f"e{_counter[0]:08d}", type=type_, payload=payload, actor=actor,
                    device_id="dev", hlc=Timestamp(at, _counter[0] % 1000).encode(),
                    case_id=case_id, team_id=team, server_seq=0)


def created(case_id: str, at: int, **fields: Any) -> ev.Event:
    tags = fields.pop("tags", [])
    base = {"key": case_id.upper(), "subject": f"case {case_id}", "status": "new",
            "priority": "normal", "team_id": "support"}
    base.update(fields)
    return event(ev.CASE_CREATED, {"fields": base, "tags": tags, "created_ms": at}, at,
                 case_id=case_id, actor="cust@example.com", team=base["team_id"])


def status(case_id: str, at: int, value: str, actor: str = "alice@x") -> ev.Event:
    return event(ev.CASE_UPDATED, {"field": "status", "value": value, "prev": None}, at,
                 case_id=case_id, actor=actor)


def field(case_id: str, at: int, name: str, value: Any, actor: str = "alice@x") -> ev.Event:
    return event(ev.CASE_UPDATED, {"field": name, "value": value, "prev": None}, at,
                 case_id=case_id, actor=actor)


def reply(case_id: str, at: int, *, kind: str = "agent", internal: bool = False,
          body: str = "hello", actor: str = "alice@x") -> ev.Event:
    return event(ev.COMMENT_ADDED, {"body": body, "internal": internal, "author_kind": kind},
                 at, case_id=case_id, actor=actor)


def tag(case_id: str, at: int, name: str) -> ev.Event:
    return event(ev.TAG_ADDED, {"tag": name}, at, case_id=case_id)


OFFICE = {"timezone": "UTC", "hours": {d: ["09:00-17:00"] for d in
                                       ("mon", "tue", "wed", "thu", "fri")},
          "holidays": ["2026-03-09"]}
ALWAYS = {"timezone": "UTC", "hours": {d: ["00:00-24:00"] for d in
                                       ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}


def config_data(calendar: str = "office") -> dict[str, Any]:
    import copy

    return {
        "calendars": {"office": copy.deepcopy(OFFICE), "always": copy.deepcopy(ALWAYS)},
        "default_calendar": calendar,
        "policies": [
            {"name": "Urgent", "priority": "urgent", "first_response": "1h", "resolution": "4h"},
            {"name": "High", "priority": "high", "first_response": "2h", "resolution": "8h"},
            {"name": "Normal", "priority": "normal", "first_response": "1h",
             "resolution": "24h"},
            {"name": "Low", "priority": "low", "first_response": "1h", "resolution": "48h"},
        ],
    }

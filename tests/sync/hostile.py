"""Hostile and newer clients for the sync simulation: raw events pushed past the app.

A teammate's client may be buggy, hostile or simply newer. Each generator here builds one
wire event as such a client would push it, and says what must become of it:

- ``refuse``: the server must refuse it (bad clock, bad payload, forged key, a team move by a
  non-member, server-only type, oversized);
- ``newer``: an event type or schema version this build does not know. The server may keep
  it for newer clients, but no honest client of this build may apply it: each quarantines it;
- ``extra``: a known event with an extra payload field from a newer client: applied, the
  unknown field ignored.

Every generator is deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.ids import uuid7

Wire = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Context:
    email: str
    team_id: str
    outside_team: str | None  # a team the hostile user is not a member of
    case_ids: list[str]
    hlc: str  # a plausible clock for this device now
    device_id: str


@dataclass(slots=True)
class Hostile:
    kind: str  # refuse | newer | extra
    label: str
    event: Wire

    @property
    def client_detectable(self) -> bool:
        """Whether a client can tell on its own that the event is bad (clock, payload, type,
        version), as opposed to rules only the server can judge (membership, key forms)."""
        return self.kind == "newer" or (self.kind == "refuse"
                                        and self.label not in SERVER_JUDGED)


SERVER_JUDGED = frozenset({"team move by a non-member"})  # membership: only the server knows


def _base(ctx: Context, rng: random.Random, type_: str, payload: dict[str, Any],
          *, case: bool = True) -> Wire:
    case_id = (rng.choice(ctx.case_ids) if ctx.case_ids and rng.random() < 0.7 else uuid7()) \
        if case else None
    return {"id": uuid7(), "case_id": case_id, "team_id": ctx.team_id, "type": type_,
            "payload": payload, "actor": ctx.email, "device_id": ctx.device_id,
            "hlc": ctx.hlc}


def _created(ctx: Context, rng: random.Random, fields: Any, **extra: Any) -> Wire:
    e = _base(ctx, rng, "case.created", {"fields": fields, "tags": [], **extra})
    e["case_id"] = uuid7()
    return e


def _with_clock(hlc: str) -> Callable[[Context, random.Random], Wire]:
    def make(ctx: Context, rng: random.Random) -> Wire:
        e = _base(ctx, rng, "comment.added", {"body": "clock", "internal": True,
                                               "author_kind": "agent"})
        e["hlc"] = hlc
        return e
    return make


def _refused() -> dict[str, Callable[[Context, random.Random], Wire]]:
    big = "x" * (300 * 1024)
    gens: dict[str, Callable[[Context, random.Random], Wire]] = {
        "16-digit clock": _with_clock("9999999999999999.999999"),
        "14-digit clock": _with_clock("10000000000000.000000"),
        "clock in 2286": _with_clock("9999999999999.000000"),
        "clock not a number": _with_clock("abcdefghijklm.000000"),
        "fields as a string": lambda c, r: _created(c, r, "subject"),
        "fields as a list": lambda c, r: _created(c, r, ["subject", "x"]),
        "fields as an int": lambda c, r: _created(c, r, 7),
        "tags as an int": lambda c, r: {**_created(c, r, {"subject": "t"}),
                                        "payload": {"fields": {"subject": "t"}, "tags": 5}},
        "created_ms of 10**30": lambda c, r: _created(c, r, {"subject": "t"},
                                                      created_ms=10**30),
        "size of 10**30": lambda c, r: _base(c, r, "attachment.added", {
            "sha256": "a" * 64, "name": "x.txt", "size": 10**30, "mime": "text/plain"}),
        "customer name a dict": lambda c, r: _base(c, r, "customer.upserted", {
            "id": uuid7(), "name": {"first": "x"}, "email": "x@example.com"}, case=False),
        "agent name a list": lambda c, r: _base(c, r, "agent.upserted", {
            "id": uuid7(), "name": ["x"], "email": c.email, "role": "agent"}, case=False),
        "forged team key": lambda c, r: _created(c, r, {"subject": "mine", "key": "SIM-1"}),
        "server-only type": lambda c, r: _base(c, r, "case.key_assigned", {"key": "SIM-77"}),
        "oversized comment": lambda c, r: _base(c, r, "comment.added", {
            "body": big, "internal": False, "author_kind": "agent"}),
    }
    return gens


def _team_move(ctx: Context, rng: random.Random) -> Wire:
    return _base(ctx, rng, "case.updated", {"field": "team_id", "value": ctx.outside_team,
                                            "prev": ctx.team_id})


def _newer() -> dict[str, Callable[[Context, random.Random], Wire]]:
    def snooze(ctx: Context, rng: random.Random) -> Wire:
        return _base(ctx, rng, "case.snoozed", {"until_ms": 1_900_000_000_000})

    def v2_comment(ctx: Context, rng: random.Random) -> Wire:
        e = _base(ctx, rng, "comment.added", {"body": {"markdown": "**v2**"},
                                               "internal": False, "author_kind": "agent"})
        e["v"] = 2
        return e

    return {"a newer event type": snooze, "a newer schema version": v2_comment}


def _extra(ctx: Context, rng: random.Random) -> Wire:
    return _base(ctx, rng, "comment.added", {
        "body": f"from a newer client {rng.random():.6f}", "internal": True,
        "author_kind": "agent", "reactions": {"+1": 2}})


def make(ctx: Context, rng: random.Random) -> Hostile:
    """One hostile, newer or forward-compatible event."""
    roll = rng.random()
    if roll < 0.15 and ctx.case_ids:
        return Hostile("extra", "an extra payload field", _extra(ctx, rng))
    if roll < 0.35:
        label, gen = rng.choice(sorted(_newer().items()))
        return Hostile("newer", label, gen(ctx, rng))
    if roll < 0.45 and ctx.outside_team and ctx.case_ids:
        e = _team_move(ctx, rng)
        e["case_id"] = rng.choice(ctx.case_ids)
        return Hostile("refuse", "team move by a non-member", e)
    label, gen = rng.choice(sorted(_refused().items()))
    return Hostile("refuse", label, gen(ctx, rng))

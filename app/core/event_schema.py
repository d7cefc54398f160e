"""The versioned schema of every event: one set of rules, enforced by the server on every push
and by each client on every pull (see docs/event-schema.md).

Versioning: ``v`` absent means 1. A payload may hold keys this build does not know (a newer
client added them): they are kept and ignored. An unknown type or a greater ``v`` raises
:class:`UnknownType` / :class:`NewerVersion`, so a client can set the event aside and apply it
after an upgrade. Anything :func:`validate_payload` accepts folds without raising
(app/core/fold.py) and fits the projection tables.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from app.core import events as ev
from app.core import macros as mc
from app.core.model import FIELDS, MAX_TAG, TAG_RE, InvalidValue, LinkKind, Status, parse_field


class InvalidEvent(ValueError):
    """An event that breaks the schema; ``reason`` (also ``str(exc)``) says what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownType(InvalidEvent):
    """A type this build does not know (a newer client or server made it)."""


class NewerVersion(InvalidEvent):
    """A payload version greater than :data:`app.core.events.SCHEMA_VERSION`."""


# --- clocks --------------------------------------------------------------------------------
# A clock's physical time may be at most this far ahead of the receiver's wall clock: one day
# covers any honest skew (time zones are not involved: clocks are UTC milliseconds), while a
# clock dated years ahead would win every conflict. The server reads
# SMART_SUPPORT_MAX_CLOCK_AHEAD_S (sync_server/settings.py) to override it.
MAX_CLOCK_AHEAD_MS = 24 * 3600 * 1000
MIN_CLOCK_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: no event of this app is older
HLC_RE = re.compile(r"[0-9]{13}\.[0-9]{6}")  # the client's format (app/core/hlc.py), fullmatch
_HOUR_MS = 3_600_000

# --- envelope limits -----------------------------------------------------------------------
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TYPE_RE = re.compile(r"[a-z_.]{1,64}")
MAX_ACTOR = 320
MAX_DEVICE_ID = 64
MAX_TEAM_ID = 64

# --- payload limits ------------------------------------------------------------------------
MAX_DEPTH = 32  # nesting of any payload value (json and the projector recurse)
MAX_ID = 320  # record ids: UUIDs, agent ids are email addresses
MAX_KEY = 200  # case keys (the model's identifier limit)
MAX_NAME = 255
MAX_EMAIL = 320
MAX_PHONE = 64
MAX_DOMAIN = 255
MAX_ROLE = 16
MAX_PREFIX = 16
MAX_MEMBERS = 10_000
MAX_TAGS = 1_000
MAX_FIELD_NAME = 64
MAX_EXTRA_FIELDS = 64  # case.created field names this build does not know
MAX_BODY = 256 * 1024  # characters of a comment body, a saved reply, a previous value
MAX_MIME = 127
MAX_ATTACHMENT_NAME = 255
MAX_ATTACHMENT_SIZE = 2**40
MAX_TEMPLATE = 200
MAX_APPLIED = 1_000
MAX_MS = 10**13 - 1  # the largest 13-digit millisecond time (a sane created_ms)
AUTHOR_KINDS = ("agent", "customer", "system")
SHA256_RE = re.compile(r"[0-9a-f]{64}")

# Types a client may never author: the server writes them (the team's sequence key).
SERVER_ONLY_TYPES: frozenset[str] = frozenset({
    ev.CASE_KEY_ASSIGNED, ev.INTEGRATION_DONE, ev.INTEGRATION_FAILED, ev.INTEGRATION_WAITING,
    ev.INTEGRATION_RECORD, ev.MAIL_DELIVERY})


# --- clocks and envelopes ------------------------------------------------------------------
def check_clock(hlc: object, *, now_ms: int, max_ahead_ms: int = MAX_CLOCK_AHEAD_MS,
                receiver: str = "this computer") -> str:
    """``hlc`` if it is a clock in the client's format whose time is sane for a receiver whose
    wall clock reads ``now_ms``; raises :class:`InvalidEvent` otherwise."""
    if not isinstance(hlc, str) or not HLC_RE.fullmatch(hlc):
        raise InvalidEvent("hlc must be 13 digits, a dot and 6 digits (e.g. 1732550000000.000000)")
    ms = int(hlc[:13])
    if ms < MIN_CLOCK_MS:
        raise InvalidEvent("clock is before 2000-01-01")
    ahead = ms - now_ms
    if ahead > max_ahead_ms:
        raise InvalidEvent(f"clock is {math.ceil(ahead / _HOUR_MS):,} h ahead of {receiver} "
                           f"(the limit is {max_ahead_ms / _HOUR_MS:g} h)")
    return hlc


def _envelope_text(data: dict[str, Any], key: str, limit: int, *, nullable: bool = False,
                   pattern: re.Pattern[str] | None = None) -> str | None:
    value = data.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{key} must be a non-empty string" + (" or null" if nullable else ""))
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidEvent(f"{key} is not well formed")
    if len(value) > limit or "\x00" in value or not _encodable(value):
        raise InvalidEvent(f"{key} is longer than {limit} characters or holds invalid characters")
    return value


def validate_wire(data: object, *, now_ms: int,
                  max_ahead_ms: int = MAX_CLOCK_AHEAD_MS) -> ev.Event:
    """A whole wire event (as pulled) as an :class:`Event`, or :class:`InvalidEvent`.
    Unknown envelope keys (a newer server's) are ignored."""
    if not isinstance(data, dict):
        raise InvalidEvent("an event must be a JSON object")
    event_id = _envelope_text(data, "id", 36, pattern=UUID_RE)
    case_id = _envelope_text(data, "case_id", 36, nullable=True, pattern=UUID_RE)
    team_id = _envelope_text(data, "team_id", MAX_TEAM_ID, nullable=True)
    type_ = _envelope_text(data, "type", 64, pattern=TYPE_RE)
    actor = _envelope_text(data, "actor", MAX_ACTOR)
    device_id = _envelope_text(data, "device_id", MAX_DEVICE_ID)
    seq = data.get("server_seq")
    if seq is not None and (not _is_int(seq) or not 1 <= seq < 2**63):
        raise InvalidEvent("server_seq must be a positive integer or null")
    v = data.get("v", 1)
    v = 1 if v is None else v
    if not _is_int(v) or v < 1:
        raise InvalidEvent("v (the schema version) must be an integer >= 1")
    hlc = check_clock(data.get("hlc"), now_ms=now_ms, max_ahead_ms=max_ahead_ms)
    assert event_id is not None and type_ is not None  # not nullable: checked above
    payload = validate_payload(type_, v, data.get("payload"))
    return ev.Event(id=event_id, type=type_, payload=payload, actor=actor or "",
                    device_id=device_id or "", hlc=hlc, case_id=case_id, team_id=team_id,
                    server_seq=seq, v=v)


# --- payload values ------------------------------------------------------------------------
def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _encodable(text: str) -> bool:
    """False for a lone surrogate (JSON allows "\\ud800"; UTF-8 storage does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(p: dict[str, Any], key: str, limit: int, *, required: bool = False,
          empty: bool = True, path: str = "") -> str | None:
    """``p[key]`` as a bounded string; absent or null is allowed unless ``required``."""
    value = p.get(key)
    where = path or key
    if value is None:
        if required:
            raise InvalidEvent(f"{where} is required")
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{where} must be a string")
    if len(value) > limit:
        raise InvalidEvent(f"{where} is {len(value):,} characters long; the limit is {limit:,}")
    if not empty and not value.strip():
        raise InvalidEvent(f"{where} must not be empty")
    return value


def _ident(p: dict[str, Any], key: str, *, required: bool = True, limit: int = MAX_ID) -> None:
    value = _text(p, key, limit, required=required, empty=False)
    if value is not None and "\x00" in value:
        raise InvalidEvent(f"{key} contains a NUL character")


def _choice(p: dict[str, Any], key: str, allowed: tuple[str, ...], *,
            required: bool = False) -> None:
    value = p.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or value not in allowed:
        raise InvalidEvent(f"{key} must be one of: {', '.join(allowed)}")


def _bool(p: dict[str, Any], key: str) -> None:
    if p.get(key) is not None and not isinstance(p[key], bool):
        raise InvalidEvent(f"{key} must be true or false")


def _int(p: dict[str, Any], key: str, low: int, high: int, *, required: bool = False) -> None:
    value = p.get(key)
    if value is None and not required:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidEvent(f"{key} must be an integer from {low:,} to {high:,}")


def _sha256(p: dict[str, Any], key: str) -> None:
    value = p.get(key)
    if not isinstance(value, str) or not SHA256_RE.fullmatch(value):
        raise InvalidEvent(f"{key} must be 64 lowercase hex digits")


def _str_list(p: dict[str, Any], key: str, limit: int, item_limit: int,
              check: Callable[[str], bool] | None = None) -> list[str]:
    value = p.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > limit:
        raise InvalidEvent(f"{key} must be a list of at most {limit:,} strings")
    for item in value:
        if not isinstance(item, str) or not item or len(item) > item_limit:
            raise InvalidEvent(f"{key} must hold non-empty strings of at most "
                               f"{item_limit} characters")
        if check is not None and not check(item):
            raise InvalidEvent(f"{key}: {item[:80]!r} is not valid")
    return value


def _is_tag(tag: str) -> bool:
    return len(tag) <= MAX_TAG and TAG_RE.fullmatch(tag) is not None


def _field_value(name: str, value: object, where: str) -> None:
    """A case field's value: the model's type, and it parses (app/core/model.py)."""
    if name == "deleted":
        if not isinstance(value, bool):
            raise InvalidEvent(f"{where} must be true or false")
        return
    if value is not None and not isinstance(value, str):
        raise InvalidEvent(f"{where} must be a string or null")
    try:
        parse_field(name, value)
    except InvalidValue as exc:
        raise InvalidEvent(f"{where}: {exc}") from None


def _check_tree(payload: dict[str, Any]) -> None:
    """Bounded nesting, string keys, storable strings and finite numbers everywhere, also in
    keys this build does not know (they are stored and re-serialized). No recursion."""
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidEvent(f"payload is nested deeper than {MAX_DEPTH} levels")
        values: list[Any]
        if isinstance(node, dict):
            for key in node:
                if not isinstance(key, str) or not _encodable(key):
                    raise InvalidEvent("payload keys must be valid strings")
            values = list(node.values())
        else:
            values = node
        for value in values:
            if isinstance(value, dict | list):
                stack.append((value, depth + 1))
            elif isinstance(value, str):
                if not _encodable(value):
                    raise InvalidEvent("payload holds a string with a lone surrogate")
            elif isinstance(value, float):
                if not math.isfinite(value):
                    raise InvalidEvent("payload holds a number that is not finite")
            elif value is not None and not isinstance(value, bool | int):
                raise InvalidEvent("payload holds a value that is not JSON")


# --- per-type rules (version 1) ------------------------------------------------------------
def _case_created(p: dict[str, Any]) -> None:
    fields = p.get("fields")
    if not isinstance(fields, dict):
        raise InvalidEvent("fields must be an object of case fields")
    unknown = [name for name in fields if name not in FIELDS]
    if len(unknown) > MAX_EXTRA_FIELDS or any(len(n) > MAX_FIELD_NAME for n in unknown):
        raise InvalidEvent(f"fields holds more than {MAX_EXTRA_FIELDS} unknown names or a name "
                           f"longer than {MAX_FIELD_NAME} characters")
    for name, value in fields.items():
        if name in FIELDS:
            _field_value(name, value, f"fields.{name}")
    _str_list(p, "tags", MAX_TAGS, MAX_TAG, _is_tag)
    _int(p, "created_ms", 0, MAX_MS)
    _text(p, "author", MAX_EMAIL)  # an import: who wrote it (the actor recorded it)
    _mail(p)


MAX_MESSAGE_ID = 998  # RFC 5322's line limit
MAX_RECIPIENTS = 100


def _mail(p: dict[str, Any]) -> None:
    """The optional ``mail`` object of a case or comment made from a received e-mail:
    {message_id, in_reply_to, from, to: [..], cc: [..], raw_sha256}, bounded."""
    mail = p.get("mail")
    if mail is None:
        return
    if not isinstance(mail, dict):
        raise InvalidEvent("mail must be an object")
    for key, limit in (("message_id", MAX_MESSAGE_ID), ("in_reply_to", MAX_MESSAGE_ID),
                       ("from", MAX_EMAIL)):
        _text(mail, key, limit, path=f"mail.{key}")
    _str_list(mail, "to", MAX_RECIPIENTS, MAX_EMAIL)
    _str_list(mail, "cc", MAX_RECIPIENTS, MAX_EMAIL)
    if mail.get("raw_sha256") is not None:
        _sha256(mail, "raw_sha256")


def _case_updated(p: dict[str, Any]) -> None:
    name = p.get("field")
    if not isinstance(name, str) or name not in FIELDS:
        raise InvalidEvent("field must be the name of a case field: " + ", ".join(FIELDS))
    if name == "key":
        raise InvalidEvent("a case's key is assigned by the server, never edited")
    _field_value(name, p.get("value"), "value")
    if not isinstance(p.get("prev"), bool):  # the value it replaced: str, bool or null
        _text(p, "prev", MAX_BODY)


def _case_merged(p: dict[str, Any]) -> None:
    _ident(p, "into", limit=MAX_KEY)
    _text(p, "into_key", MAX_KEY)
    _choice(p, "prev_status", tuple(s.value for s in Status))


def _key_assigned(p: dict[str, Any]) -> None:
    _field_value("key", _text(p, "key", MAX_KEY, required=True, empty=False), "key")


def _tag(p: dict[str, Any]) -> None:
    tag = p.get("tag")
    if not isinstance(tag, str) or not _is_tag(tag):
        raise InvalidEvent(f"tag must be a tag: lowercase letters, digits, - _ : . ; "
                           f"up to {MAX_TAG}")


def _link(p: dict[str, Any]) -> None:
    _ident(p, "other", limit=MAX_KEY)
    _choice(p, "kind", tuple(k.value for k in LinkKind), required=True)
    _text(p, "other_key", MAX_KEY)


def _comment_added(p: dict[str, Any]) -> None:
    _text(p, "body", MAX_BODY, required=True)
    _bool(p, "internal")
    _choice(p, "author_kind", AUTHOR_KINDS)
    _ident(p, "split_from", required=False, limit=MAX_KEY)
    _int(p, "created_ms", 0, MAX_MS)
    _text(p, "author", MAX_EMAIL)  # an import: who wrote the words (fold.comment_author)
    _mail(p)


def _comment_redacted(p: dict[str, Any]) -> None:
    _ident(p, "comment_id", limit=MAX_KEY)


def _attachment_added(p: dict[str, Any]) -> None:
    _sha256(p, "sha256")
    _text(p, "name", MAX_ATTACHMENT_NAME, required=True)
    _int(p, "size", 0, MAX_ATTACHMENT_SIZE, required=True)
    _text(p, "mime", MAX_MIME, required=True)
    _ident(p, "comment_id", required=False, limit=MAX_KEY)


def _attachment_removed(p: dict[str, Any]) -> None:
    _ident(p, "attachment_id", limit=MAX_KEY)


def _prompt_copied(p: dict[str, Any]) -> None:
    _text(p, "template", MAX_TEMPLATE, required=True)
    _sha256(p, "prompt_sha256")


def _answer_accepted(p: dict[str, Any]) -> None:
    _text(p, "template", MAX_TEMPLATE, required=True)
    _sha256(p, "answer_sha256")
    _str_list(p, "applied", MAX_APPLIED, MAX_KEY)


def _customer(p: dict[str, Any]) -> None:
    _ident(p, "id")
    _text(p, "name", MAX_NAME)
    _text(p, "email", MAX_EMAIL)
    _ident(p, "organization_id", required=False)
    _text(p, "phone", MAX_PHONE)


def _organization(p: dict[str, Any]) -> None:
    _ident(p, "id")
    _text(p, "name", MAX_NAME)
    _text(p, "domain", MAX_DOMAIN)


def _agent(p: dict[str, Any]) -> None:
    _ident(p, "id")
    _text(p, "name", MAX_NAME)
    _text(p, "email", MAX_EMAIL)
    _text(p, "role", MAX_ROLE)


def _team(p: dict[str, Any]) -> None:
    _ident(p, "id")
    _text(p, "name", MAX_NAME)
    _text(p, "prefix", MAX_PREFIX)
    _str_list(p, "members", MAX_MEMBERS, MAX_EMAIL)


def _library_record(p: dict[str, Any]) -> None:
    """The common part of macros and saved replies (app/core/macros.py)."""
    _ident(p, "id")
    _text(p, "name", mc.MAX_NAME)
    _choice(p, "scope", mc.SCOPES)


def _macro_upserted(p: dict[str, Any]) -> None:
    _library_record(p)
    actions = p.get("actions")
    if not isinstance(actions, dict):
        raise InvalidEvent("actions must be an object")
    for key in ("status", "priority", "assignee", "reply"):
        _text(actions, key, MAX_BODY, path=f"actions.{key}")
    _str_list(actions, "add_tags", MAX_TAGS, MAX_TAG)
    _str_list(actions, "remove_tags", MAX_TAGS, MAX_TAG)
    _bool(actions, "internal")
    try:
        mc.parse_actions(actions)
    except InvalidValue as exc:
        raise InvalidEvent(f"actions: {exc}") from None


def _reply_upserted(p: dict[str, Any]) -> None:
    _library_record(p)
    _text(p, "text", MAX_BODY)


# --- integrations (issue 11; sync_server/jobs runs the requests) ----------------------------
# The actions each system's handlers know, with the params each takes (required, optional).
INTEGRATION_ACTIONS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "jira": {"create": ((), ("project", "issue_type", "comment_ids")),
             "link": (("issue_key",), ()), "comment": (("issue", "body"), ()),
             "unlink": (("remote_id",), ()), "refresh": ((), ())},
    "salesforce": {"sync": ((), ()), "refresh": ((), ()), "lookup": (("email",), ())},
}
RECORD_KINDS = ("issue", "case", "contact", "account")
STATUS_CATEGORIES = ("todo", "in_progress", "done")
MAX_PARAMS_JSON = 64 * 1024  # characters of a request's params as JSON
MAX_SNAPSHOT_JSON = 64 * 1024  # characters of a record's snapshot as JSON
MAX_REMOTE_BODY = 32_767  # JIRA's own limit for a comment
MAX_REASON = 4_000  # a remote system's message, as the agent reads it
MAX_URL = 2_048
MAX_COMMENT_IDS = 200


def _json_size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False))


def _request_head(p: dict[str, Any]) -> tuple[str, str]:
    request_id = p.get("request_id")
    if not isinstance(request_id, str) or not UUID_RE.fullmatch(request_id):
        raise InvalidEvent("request_id must be a UUID (the request's idempotency key)")
    system = p.get("system")
    if not isinstance(system, str) or system not in INTEGRATION_ACTIONS:
        raise InvalidEvent("system must be one of: " + ", ".join(INTEGRATION_ACTIONS))
    actions = INTEGRATION_ACTIONS[system]
    action = p.get("action")
    if not isinstance(action, str) or action not in actions:
        raise InvalidEvent(f"action of {system} must be one of: " + ", ".join(actions))
    return system, action


def _integration_requested(p: dict[str, Any]) -> None:
    system, action = _request_head(p)
    params = p.get("params")
    if not isinstance(params, dict):
        raise InvalidEvent("params must be an object")
    if _json_size(params) > MAX_PARAMS_JSON:
        raise InvalidEvent(f"params is longer than {MAX_PARAMS_JSON:,} characters as JSON")
    required, optional = INTEGRATION_ACTIONS[system][action]
    for key in required:
        limit = MAX_REMOTE_BODY if key == "body" else MAX_KEY
        _text(params, key, limit, required=True, empty=False, path=f"params.{key}")
    for key in optional:
        if key == "comment_ids":
            _str_list(params, key, MAX_COMMENT_IDS, MAX_KEY)
        else:
            _text(params, key, MAX_KEY, empty=False, path=f"params.{key}")


def _record(value: object, where: str = "record") -> None:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{where} must be an object")
    _text(value, "remote_id", MAX_KEY, required=True, empty=False, path=f"{where}.remote_id")
    _text(value, "remote_key", MAX_KEY, required=True, empty=False, path=f"{where}.remote_key")
    _choice(value, "kind", RECORD_KINDS, required=True)
    _text(value, "url", MAX_URL, path=f"{where}.url")
    if not isinstance(value.get("linked"), bool):
        raise InvalidEvent(f"{where}.linked must be true or false")
    snapshot = value.get("snapshot", {})
    if not isinstance(snapshot, dict):
        raise InvalidEvent(f"{where}.snapshot must be an object")
    if _json_size(snapshot) > MAX_SNAPSHOT_JSON:
        raise InvalidEvent(f"{where}.snapshot is longer than {MAX_SNAPSHOT_JSON:,} characters")
    _choice(snapshot, "status_category", STATUS_CATEGORIES)
    _int(value, "fetched_ms", 0, MAX_MS)


def _integration_done(p: dict[str, Any]) -> None:
    _request_head(p)
    _text(p, "message", MAX_REASON, required=True)
    if p.get("record") is not None:
        _record(p["record"])


def _integration_failed(p: dict[str, Any]) -> None:
    _request_head(p)
    _text(p, "reason", MAX_REASON, required=True, empty=False)
    _int(p, "remote_status", 100, 599)


def _integration_waiting(p: dict[str, Any]) -> None:
    _request_head(p)
    _text(p, "reason", MAX_REASON, required=True)
    _int(p, "next_try_ms", 0, MAX_MS, required=True)


def _integration_record(p: dict[str, Any]) -> None:
    _choice(p, "system", tuple(INTEGRATION_ACTIONS), required=True)
    _record(p.get("record"))


def _mail_delivery(p: dict[str, Any]) -> None:
    """How the e-mail of a public reply went (server-authored, sync_server/mail/send.py)."""
    _ident(p, "comment_id", limit=MAX_KEY)
    _choice(p, "state", ev.MAIL_STATES, required=True)
    _int(p, "at_ms", 0, MAX_MS, required=True)
    _text(p, "message_id", MAX_MESSAGE_ID)
    _text(p, "reason", MAX_REASON)
    _str_list(p, "recipients", MAX_RECIPIENTS, MAX_EMAIL)
    _text(p, "author", MAX_EMAIL)  # who wrote the reply (told when it failed or bounced)


def _mail_withdraw(p: dict[str, Any]) -> None:
    _ident(p, "comment_id", limit=MAX_KEY)


_RULES: dict[str, Callable[[dict[str, Any]], None]] = {
    ev.CASE_CREATED: _case_created,
    ev.CASE_UPDATED: _case_updated,
    ev.CASE_MERGED: _case_merged,
    ev.CASE_KEY_ASSIGNED: _key_assigned,
    ev.TAG_ADDED: _tag,
    ev.TAG_REMOVED: _tag,
    ev.LINK_ADDED: _link,
    ev.LINK_REMOVED: _link,
    ev.COMMENT_ADDED: _comment_added,
    ev.COMMENT_REDACTED: _comment_redacted,
    ev.ATTACHMENT_ADDED: _attachment_added,
    ev.ATTACHMENT_REMOVED: _attachment_removed,
    ev.LLM_PROMPT_COPIED: _prompt_copied,
    ev.LLM_ANSWER_ACCEPTED: _answer_accepted,
    ev.CUSTOMER_UPSERTED: _customer,
    ev.ORGANIZATION_UPSERTED: _organization,
    ev.AGENT_UPSERTED: _agent,
    ev.TEAM_UPSERTED: _team,
    mc.MACRO_UPSERTED: _macro_upserted,
    mc.MACRO_DELETED: _library_record,
    mc.REPLY_UPSERTED: _reply_upserted,
    mc.REPLY_DELETED: _library_record,
    ev.INTEGRATION_REQUESTED: _integration_requested,
    ev.INTEGRATION_DONE: _integration_done,
    ev.INTEGRATION_FAILED: _integration_failed,
    ev.INTEGRATION_WAITING: _integration_waiting,
    ev.INTEGRATION_RECORD: _integration_record,
    ev.MAIL_DELIVERY: _mail_delivery,
    ev.MAIL_WITHDRAW: _mail_withdraw,
}
KNOWN_TYPES: frozenset[str] = frozenset(_RULES)
# What this build understands, in one short string: the server sends its own in every answer
# (X-Event-Schema), so a client can tell when the server has been upgraded and send again
# what an older server refused only for not knowing it.
SCHEMA_FINGERPRINT = f"{ev.SCHEMA_VERSION}:" + hashlib.sha256(
    ",".join(sorted(KNOWN_TYPES)).encode()).hexdigest()[:16]
_NOT_UNDERSTOOD = ("unknown event type", "is newer than this build understands")

# A provisional key as a device hands it out (app/store/repo.py): a 4-character device code
# holding a digit, a dash, a number. Team keys (SUP-1042) come only from the server.
PROVISIONAL_KEY_RE = re.compile(r"(?=[A-Z]{0,3}[0-9])[A-Z0-9]{4}-[0-9]{1,18}")
SERVER_ACTOR, SERVER_DEVICE = "system", "server"  # who authors server-made events


def check_pulled(event: ev.Event) -> None:
    """Rules for an event that came from the server, beyond its schema: what only the
    server may author must be the server's, and a case may not claim a team key itself (an
    older or compromised server could have let either through). Raises InvalidEvent."""
    if event.type in SERVER_ONLY_TYPES and (event.actor, event.device_id) != (
            SERVER_ACTOR, SERVER_DEVICE):
        raise InvalidEvent(f"{event.type} is authored by the server only, not {event.actor[:80]}")
    if event.type == ev.CASE_CREATED:
        key = event.payload["fields"].get("key")
        if key is not None and not PROVISIONAL_KEY_RE.fullmatch(str(key)):
            raise InvalidEvent(f"case.created claims the key {str(key)[:40]!r}: team keys are "
                               "assigned by the server")


def refused_for_not_understanding(reason: str | None) -> bool:
    """Whether a refusal (the server's reason) was only for a type or version the server
    did not know, i.e. an upgraded server may take the event."""
    return bool(reason) and any(part in str(reason) for part in _NOT_UNDERSTOOD)


def validate_payload(type_: str, v: int, payload: object) -> dict[str, Any]:
    """``payload`` if it is a valid version-``v`` payload of ``type_``; raises
    :class:`UnknownType`, :class:`NewerVersion` or :class:`InvalidEvent`. Keys this build does
    not know are allowed and kept."""
    rule = _RULES.get(type_)
    if rule is None:
        raise UnknownType(f"unknown event type {str(type_)[:64]!r}")
    if not _is_int(v) or v < 1:
        raise InvalidEvent("v (the schema version) must be an integer >= 1")
    if v > ev.SCHEMA_VERSION:
        raise NewerVersion(f"{type_} version {v} is newer than this build understands "
                           f"(version {ev.SCHEMA_VERSION})")
    if not isinstance(payload, dict):
        raise InvalidEvent(f"{type_}: the payload must be a JSON object")
    try:
        _check_tree(payload)
        rule(payload)
    except InvalidEvent as exc:
        raise InvalidEvent(f"{type_}: {exc.reason}") from None
    return payload

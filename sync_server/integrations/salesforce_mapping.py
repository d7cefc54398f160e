"""What the Salesforce adapter writes and reads: SOQL literals, the ``Sforce-Limit-Info``
header, error reasons, the case's fields in Salesforce's vocabulary (one owner per field),
conflicts, and Salesforce records as the contract's Records."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_server.integrations.jira_format import clip
from sync_server.jobs.api import CaseView
from sync_server.settings import FieldRule, SalesforceMapping

MAX_REASON = 1_000
MAX_SNAPSHOT_TEXT = 255
MAX_SUBJECT = 255  # Case.Subject
MAX_DESCRIPTION = 32_000  # Case.Description is a long text area of 32,000
MAX_COMMENT = 4_000  # CaseComment.CommentBody
MAX_PUSHED_IDS = 1_000  # comment ids remembered in a snapshot (it must stay under 64 KiB)
MAPPED = {"status": "Status", "priority": "Priority"}  # case field -> Case field
_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r",
                 "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_LIMIT = re.compile(r"(?:^|[,\s])api-usage=(\d+)/(\d+)")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class SoqlValueError(ValueError):
    """A value that has no SOQL string literal (a control character SOQL cannot escape)."""


def soql_quote(value: str, *, like: bool = False) -> str:
    """``value`` as a SOQL string literal, quotes included. Quotes, backslashes and the
    control characters SOQL knows are escaped; in a LIKE pattern ``%`` and ``_`` too, so
    they match themselves. Anything else SOQL cannot write is refused."""
    out: list[str] = []
    for char in value:
        if char in _SOQL_ESCAPES:
            out.append(_SOQL_ESCAPES[char])
        elif like and char in "%_":
            out.append("\\" + char)
        elif ord(char) < 32 or ord(char) == 127:
            raise SoqlValueError(f"a control character (U+{ord(char):04X}) cannot be searched")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"


def clean_email(value: str) -> str | None:
    """The e-mail to look up (trimmed), or None when it is not one."""
    text = value.strip()
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        return None
    return text


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int

    @property
    def ratio(self) -> float:
        return self.used / self.limit if self.limit > 0 else 1.0


def parse_limit_info(value: str | None) -> Usage | None:
    """``Sforce-Limit-Info: api-usage=18/15000`` (per-app-api-usage is not the org's)."""
    found = _LIMIT.search(value or "")
    if found is None:
        return None
    return Usage(int(found.group(1)), int(found.group(2)))


def backoff_s(usage: Usage, limit_pct: float, full_s: float) -> float | None:
    """How long to hold off new calls at this usage (None: not near the end): a share of
    ``full_s`` that grows from the threshold to 100 %, at least a minute."""
    threshold = limit_pct / 100
    if usage.ratio < threshold:
        return None
    share = 1.0 if threshold >= 1 else min(1.0, (usage.ratio - threshold) / (1 - threshold))
    return max(60.0, full_s * share)


def errors_of(body: bytes) -> list[dict[str, Any]]:
    """Salesforce's error list ``[{"message", "errorCode", "fields"}]`` (also the OAuth
    ``{"error", "error_description"}``), as dicts; empty when the body is neither."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return []
    if isinstance(data, dict) and "error" in data:
        return [{"errorCode": str(data.get("error")),
                 "message": str(data.get("error_description") or ""), "fields": []}]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return []
    found: list[dict[str, Any]] = []
    for item in data[:20]:
        if isinstance(item, dict):
            fields = item.get("fields")
            found.append({"errorCode": str(item.get("errorCode") or ""),
                          "message": str(item.get("message") or ""),
                          "fields": [str(f) for f in fields if isinstance(f, str)]
                          if isinstance(fields, list) else []})
    return found


def reason_from(status: int, body: bytes) -> str:
    """Salesforce's own words for a refusal: each error's code, message and fields."""
    parts = []
    for error in errors_of(body):
        fields = f" (fields: {', '.join(error['fields'])})" if error["fields"] else ""
        parts.append(f"{error['errorCode']}: {error['message']}{fields}".strip(": "))
    if not parts and body and not body.lstrip().startswith(b"<"):
        parts.append(" ".join(body.decode("utf-8", "replace").split()))
    return clip(f"Salesforce answered {status}: {'; '.join(parts) or 'no message'}", MAX_REASON)


# --- the case in Salesforce's words -------------------------------------------------------
def to_salesforce(rule: FieldRule, value: str | None) -> str | None:
    return rule.values.get(value) if value else None


def to_case(rule: FieldRule, value: str | None) -> str | None:
    """A Salesforce value in the case's vocabulary (the first case value mapped to it)."""
    if not value:
        return None
    if value in rule.back:
        return rule.back[value]
    return next((k for k, v in rule.values.items() if v == value), None)


@dataclass
class Plan:
    """What one sync writes: the Case fields, and what it says about the others."""

    body: dict[str, str]
    notes: list[str] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    pushed: dict[str, str] = field(default_factory=dict)  # Case field -> value sent


def _text(value: str, limit: int) -> str:
    # Salesforce refuses control characters other than newlines and tabs in text fields.
    kept = "".join(c for c in value if c in "\n\t" or (ord(c) >= 32 and ord(c) != 127))
    return clip(kept, limit)


def conflicts(case: CaseView, current: Mapping[str, Any], previous: Mapping[str, Any],
              mapping: SalesforceMapping) -> list[dict[str, Any]]:
    """Where the side that does not own a field changed it. Case-owned: Salesforce's value
    is neither what was last pushed nor what the case says (the case's value wins at the
    next sync). Salesforce-owned: the case says something else than Salesforce (the case's
    value is not written; the case takes Salesforce's, see :func:`case_updates`, when the
    mapping has a case value for it; it is in the snapshot as ``case_side``)."""
    pushed = previous.get("pushed") if isinstance(previous.get("pushed"), dict) else {}
    found: list[dict[str, Any]] = []
    for name, sf_field in MAPPED.items():
        rule: FieldRule = getattr(mapping, name)
        ours = to_salesforce(rule, getattr(case, name))
        theirs = current.get(sf_field)
        theirs = theirs if isinstance(theirs, str) else None
        if ours is None or theirs is None or ours == theirs:
            continue
        if rule.owner == "case":
            last = pushed.get(sf_field) if isinstance(pushed, dict) else None
            if last is not None and theirs == last:
                continue  # the case changed it: an ordinary update
            found.append({"field": name, "owner": "case", "salesforce": theirs, "case": ours,
                          "said": f"{sf_field} was changed in Salesforce to {theirs!r}; the "
                                  f"case owns {name}, so it is set back to {ours!r}"})
        else:
            taken = to_case(rule, theirs)
            said = (f"the case's {name} {getattr(case, name)!r} is set to {taken!r}: "
                    f"Salesforce owns {name} and says {theirs!r}") if taken is not None else (
                    f"the case's {name} {getattr(case, name)!r} is not written: Salesforce "
                    f"owns {name} and says {theirs!r}, which the mapping has no case value "
                    "for")
            found.append({"field": name, "owner": "salesforce", "salesforce": theirs,
                          "case": ours, "said": said})
    return found


def case_updates(case: CaseView, current: Mapping[str, Any],
                 mapping: SalesforceMapping) -> dict[str, str | None]:
    """What the case takes from Salesforce: each mapped field Salesforce owns whose value
    in Salesforce maps to a case value other than the case's. A case value that already
    maps to Salesforce's (``urgent`` and ``high`` are both ``High``) is left as it is."""
    updates: dict[str, str | None] = {}
    for name, sf_field in MAPPED.items():
        rule: FieldRule = getattr(mapping, name)
        if rule.owner != "salesforce":
            continue
        theirs = current.get(sf_field)
        theirs = theirs if isinstance(theirs, str) else None
        taken = to_case(rule, theirs)
        value = getattr(case, name)
        if taken is None or taken == value or to_salesforce(rule, value) == theirs:
            continue
        updates[name] = taken
    return updates


def plan_sync(case: CaseView, current: Mapping[str, Any] | None,
              previous: Mapping[str, Any], mapping: SalesforceMapping) -> Plan:
    """The upsert body: subject and description, and each mapped field the case owns (a
    field Salesforce owns is written only when the Case is created)."""
    body = {"Subject": _text(" ".join(case.subject.split()) or "(no subject)", MAX_SUBJECT)}
    if case.description.strip():
        body["Description"] = _text(case.description, MAX_DESCRIPTION)
    plan = Plan(body)
    for name, sf_field in MAPPED.items():
        rule: FieldRule = getattr(mapping, name)
        value = getattr(case, name)
        if rule.owner != "case" and current is not None:
            continue
        mapped = to_salesforce(rule, value)
        if value and mapped is None:
            plan.notes.append(f"{name} {value!r} has no Salesforce value in the mapping: "
                              "not sent")
        elif mapped is not None:
            body[sf_field] = mapped
    plan.pushed = {k: v for k, v in body.items() if k in MAPPED.values()}
    if current is not None:
        plan.conflicts = conflicts(case, current, previous, mapping)
    return plan


def comment_text(author: str, body: str) -> str:
    """A public reply as its CaseComment body (who wrote it: the API user posts it)."""
    return _text(f"{author}:\n{body}" if author else body, MAX_COMMENT)


def norm_text(text: str) -> str:
    """A comment's text as compared with what Salesforce stored (line ends, edges)."""
    return text.replace("\r\n", "\n").strip()


# --- records ------------------------------------------------------------------------------
def _short(value: object) -> str | None:
    return clip(str(value), MAX_SNAPSHOT_TEXT) if isinstance(value, str) and value else None


def _name(value: object) -> str | None:
    return _short(value.get("Name")) if isinstance(value, dict) else None


def case_record(case: Mapping[str, Any], instance_url: str, now_ms: int,
                mapping: SalesforceMapping, extra: Mapping[str, Any]) -> dict[str, Any]:
    """A Salesforce Case as a Record; ``extra``: what the sync remembers (pushed values
    and comment ids, conflicts, rejected fields)."""
    status = case.get("Status") if isinstance(case.get("Status"), str) else None
    category = "done" if case.get("IsClosed") is True else (
        "todo" if to_case(mapping.status, status) == "new" else "in_progress")
    case_side = {name: to_case(getattr(mapping, name), case.get(sf))
                 for name, sf in MAPPED.items()}
    snapshot: dict[str, Any] = {
        "summary": _short(case.get("Subject")), "status": _short(status),
        "status_category": category, "priority": _short(case.get("Priority")),
        "case_number": _short(case.get("CaseNumber")), "owner": _short(case.get("OwnerId")),
        "updated": _short(case.get("LastModifiedDate")),
        "case_side": {k: v for k, v in case_side.items() if v},
        **extra,
    }
    remote_id = str(case.get("Id") or "")[:200]
    return {"remote_id": remote_id, "remote_key": str(case.get("CaseNumber") or remote_id)[:200],
            "kind": "case", "url": f"{instance_url.rstrip('/')}/{remote_id}"[:2048],
            "linked": True, "snapshot": snapshot, "fetched_ms": now_ms}


def contact_record(contact: Mapping[str, Any], instance_url: str,
                   now_ms: int) -> dict[str, Any]:
    remote_id = str(contact.get("Id") or "")[:200]
    snapshot = {"name": _short(contact.get("Name")), "email": _short(contact.get("Email")),
                "title": _short(contact.get("Title")), "phone": _short(contact.get("Phone")),
                "account": _name(contact.get("Account")), "owner": _name(contact.get("Owner")),
                "account_id": _short(contact.get("AccountId"))}
    return {"remote_id": remote_id, "remote_key": str(contact.get("Name") or remote_id)[:200],
            "kind": "contact", "url": f"{instance_url.rstrip('/')}/{remote_id}"[:2048],
            "linked": True, "snapshot": {k: v for k, v in snapshot.items() if v},
            "fetched_ms": now_ms}


def account_record(account: Mapping[str, Any], instance_url: str, now_ms: int, *,
                   tier_field: str, opportunities: list[dict[str, Any]] | None
                   ) -> dict[str, Any]:
    remote_id = str(account.get("Id") or "")[:200]
    snapshot: dict[str, Any] = {
        "name": _short(account.get("Name")), "type": _short(account.get("Type")),
        "industry": _short(account.get("Industry")), "owner": _name(account.get("Owner")),
        "tier": _short(account.get(tier_field)) if tier_field else None}
    if opportunities is not None:
        snapshot["open_opportunities"] = len(opportunities)
        snapshot["opportunities"] = [
            {k: v for k, v in {"name": _short(o.get("Name")), "stage": _short(o.get("StageName")),
                               "amount": o.get("Amount") if isinstance(
                                   o.get("Amount"), int | float) else None}.items()
             if v is not None} for o in opportunities[:10]]
    return {"remote_id": remote_id, "remote_key": str(account.get("Name") or remote_id)[:200],
            "kind": "account", "url": f"{instance_url.rstrip('/')}/{remote_id}"[:2048],
            "linked": True, "snapshot": {k: v for k, v in snapshot.items() if v is not None},
            "fetched_ms": now_ms}

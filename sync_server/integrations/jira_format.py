"""What the JIRA adapter writes and reads: issue text from a case (ADF on Cloud v3, wiki
markup on Data Center v2), the create label, error reasons, retry times and the snapshot of
an issue as the contract's Record."""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

MAX_SUMMARY = 255  # JIRA refuses longer summaries
MAX_TEXT = 30_000  # JIRA's text fields hold 32,767 characters: room for the framing
MAX_COMMENT_TEXT = 8_000  # one chosen comment in a description
MAX_REASON = 1_000
MAX_SNAPSHOT_TEXT = 255
MAX_ID = 200  # a Record's remote_id and remote_key (app/core/event_schema.py MAX_KEY)
CATEGORY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}
_WIKI_SPECIAL = re.compile(r"([\\{}\[\]*_+^~?|!#\-])")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Section:
    """A heading (may be empty), its text, and an optional link under it."""

    heading: str
    text: str
    link: tuple[str, str] | None = None  # (label, url)


def label_for(request_id: str) -> str:
    """The label a created issue carries: found again by JQL when the outcome was lost."""
    return "ssa-" + hashlib.sha256(request_id.encode()).hexdigest()[:12]


def summary_for(case_key: str | None, subject: str) -> str:
    """One line (JIRA refuses newlines in a summary), at most 255 characters."""
    line = _SPACE.sub(" ", subject).strip() or "(no subject)"
    text = f"[{case_key}] {line}" if case_key else line
    return text if len(text) <= MAX_SUMMARY else text[:MAX_SUMMARY - 1] + "…"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _clean(text: str) -> str:
    # Control characters (other than newlines and tabs) are refused by ADF and wiki alike.
    return "".join(c for c in text if c in "\n\t" or (ord(c) >= 32 and ord(c) != 127))


def _bounded(sections: Sequence[Section]) -> list[Section]:
    """The sections, each comment clipped, and the whole within MAX_TEXT."""
    kept: list[Section] = []
    budget = MAX_TEXT
    for section in sections:
        text = clip(_clean(section.text), MAX_COMMENT_TEXT)
        heading = clip(_clean(section.heading), 200)
        size = len(text) + len(heading) + 300
        if size > budget:
            kept.append(Section("", "(more of the case was left out: JIRA's size limit)"))
            break
        budget -= size
        kept.append(Section(heading, text, section.link))
    return kept


def _adf_text(text: str, href: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if href:
        node["marks"] = [{"type": "link", "attrs": {"href": href}}]
    return node


def _adf_paragraph(text: str) -> dict[str, Any] | None:
    """A paragraph of ``text`` with its line breaks (ADF text nodes may not be empty)."""
    content: list[dict[str, Any]] = []
    for index, line in enumerate(text.split("\n")):
        if index:
            content.append({"type": "hardBreak"})
        if line:
            content.append(_adf_text(line))
    return {"type": "paragraph", "content": content} if any(
        node["type"] == "text" for node in content) else None


def to_adf(sections: Sequence[Section]) -> dict[str, Any]:
    """An Atlassian Document (Cloud v3) of the sections."""
    blocks: list[dict[str, Any]] = []
    for section in _bounded(sections):
        if section.heading:
            blocks.append({"type": "heading", "attrs": {"level": 3},
                           "content": [_adf_text(section.heading)]})
        if section.link:
            blocks.append({"type": "paragraph",
                           "content": [_adf_text(section.link[0], section.link[1])]})
        for part in section.text.split("\n\n"):
            paragraph = _adf_paragraph(part)
            if paragraph is not None:
                blocks.append(paragraph)
    if not blocks:
        blocks.append({"type": "paragraph", "content": [_adf_text("(empty)")]})
    return {"type": "doc", "version": 1, "content": blocks}


def wiki_escape(text: str) -> str:
    """Text as literal wiki markup: every markup character escaped."""
    return _WIKI_SPECIAL.sub(r"\\\1", text)


def to_wiki(sections: Sequence[Section]) -> str:
    """Wiki markup (Data Center v2) of the sections."""
    parts: list[str] = []
    for section in _bounded(sections):
        if section.heading:
            parts.append("h3. " + wiki_escape(section.heading.replace("\n", " ")))
        if section.link:
            label = wiki_escape(section.link[0]).replace("|", "")
            url = section.link[1].replace("|", "%7C").replace("]", "%5D")
            parts.append(f"[{label}|{url}]")
        if section.text:
            parts.append(wiki_escape(section.text))
    return "\n\n".join(parts) or "(empty)"


def document(sections: Sequence[Section], api: int) -> Any:
    return to_adf(sections) if api >= 3 else to_wiki(sections)


def reason_from(status: int, body: bytes) -> str:
    """JIRA's own words for a refusal: its ``errorMessages`` and ``errors`` (field: message)."""
    parts: list[str] = []
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        messages = data.get("errorMessages")
        if isinstance(messages, list):
            parts.extend(str(m) for m in messages if m)
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts.extend(f"{k}: {v}" for k, v in errors.items())
        if not parts and isinstance(data.get("message"), str):
            parts.append(data["message"])
    elif body:
        text = body.decode("utf-8", "replace").strip()
        if text and not text.lstrip().startswith("<"):  # an HTML error page says nothing useful
            parts.append(_SPACE.sub(" ", text))
    said = "; ".join(parts) or "no message"
    return clip(f"JIRA answered {status}: {said}", MAX_REASON)


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or JIRA's
    ``X-RateLimit-Reset`` (an ISO 8601 time), the later of the two; None if neither."""
    now = time.time() if now is None else now
    found: list[float] = []
    value = headers.get("retry-after")
    if value:
        try:
            found.append(float(value))
        except ValueError:
            try:
                found.append(email.utils.parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            found.append(datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp() - now)
        except ValueError:
            pass
    found = [max(0.0, s) for s in found if s == s]  # drop NaN
    return min(max(found), 24 * 3600.0) if found else None


def _text(value: object) -> str | None:
    return clip(str(value), MAX_SNAPSHOT_TEXT) if isinstance(value, str) and value else None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def snapshot_of(issue: Mapping[str, Any]) -> dict[str, Any]:
    """The bounded summary of an issue the case shows: status mapped by its category, so
    every workflow's statuses map."""
    fields = _object(issue.get("fields"))
    status = _object(fields.get("status"))
    category = _object(status.get("statusCategory"))
    assignee = _object(fields.get("assignee"))
    snapshot: dict[str, Any] = {
        "key": _text(issue.get("key")) or "",
        "summary": _text(fields.get("summary")) or "",
        "status": _text(status.get("name")) or "",
        "status_category": CATEGORY.get(str(category.get("key")), "todo"),
        "assignee": _text(assignee.get("displayName")),
        "updated": _text(fields.get("updated")),
    }
    comments = _object(fields.get("comment")).get("comments")
    if isinstance(comments, list):  # asked for: the newest comment flows back to the case
        last = comment_of(comments[-1]) if comments else None
        snapshot["last_comment"] = last
    return snapshot


def plain_text(body: object) -> str:
    """A comment body as plain text: wiki text as it is, an ADF document's text nodes."""
    if isinstance(body, str):
        return body
    parts: list[str] = []

    def walk(node: object, depth: int) -> None:
        if not isinstance(node, dict) or depth > 40:
            return
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            parts.append(node["text"])
        elif node.get("type") == "hardBreak":
            parts.append("\n")
        children = node.get("content")
        for child in children if isinstance(children, list) else []:
            walk(child, depth + 1)
        if node.get("type") in ("paragraph", "heading"):
            parts.append("\n")

    walk(body, 0)
    return "".join(parts).strip()


def comment_of(comment: object) -> dict[str, Any] | None:
    """The bounded summary of a JIRA comment: who, when, the start of its text."""
    if not isinstance(comment, dict):
        return None
    author = _object(comment.get("author"))
    return {"id": _text(str(comment.get("id") or "")), "author": _text(author.get("displayName")),
            "at": _text(comment.get("created")),
            "text": clip(plain_text(comment.get("body")), 500)}


def record_of(issue: Mapping[str, Any], base_url: str, now_ms: int,
              *, linked: bool = True) -> dict[str, Any]:
    """The contract's Record of an issue (its immutable id, its key as of now)."""
    snapshot = snapshot_of(issue)
    key = snapshot["key"][:MAX_ID]
    remote_id = issue.get("id")
    return {"remote_id": str(remote_id)[:MAX_ID] if isinstance(remote_id, str | int) else "",
            "remote_key": key, "kind": "issue",
            "url": f"{base_url.rstrip('/')}/browse/{quote(key)}" if key else base_url,
            "linked": linked, "snapshot": snapshot, "fetched_ms": now_ms}

"""JIRA through the job queue: the handlers of create, link, comment, unlink and refresh,
and the periodic refresh of linked issues (issue 11).

Create is made idempotent with a label derived from the request's key: before each create is
sent it is noted in ``jira_sends``; any later attempt of the same request first searches for
its label (JQL) and adopts what it finds, and while JIRA's search may still lag behind the
earlier send (``search_settle_s``), it waits rather than create a second issue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import delete, insert, select, update

from app.core.event_schema import InvalidEvent, validate_payload
from sync_server.db import make_engine, write_tx
from sync_server.integrations import links as links_db
from sync_server.integrations.jira_client import JiraClient
from sync_server.integrations.jira_format import (
    Section,
    clip,
    document,
    label_for,
    record_of,
    summary_for,
)
from sync_server.integrations.site import RemoteSite
from sync_server.jobs.api import (
    CaseView,
    Done,
    Failed,
    Job,
    JobContext,
    Permanent,
    Transient,
    register,
    register_site,
)
from sync_server.settings import JiraSettings
from sync_server.tables import breakers, counters, jira_sends

SYSTEM = "jira"
ISSUE_FIELDS = "summary,status,assignee,updated,labels,comment"
COMMENT_PROPERTY = "smart-support"  # a comment's entity property: the request that made it
MAX_REFRESH = 5_000  # linked issues one periodic refresh looks at
REFRESH_ROUND = "jira_refresh_ms"  # counters row: when the last refresh round began
KEEP_SENDS_MS = 7 * 24 * 3600 * 1000  # a job gives up long before (24 h by default)
log = logging.getLogger(__name__)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def issue_sections(case: CaseView, comment_ids: list[str]) -> list[Section]:
    """The description of an issue made from a case: where it came from (a link back),
    what it says, and the comments the agent chose, in the case's order."""
    key = case.key or case.id
    sections = [Section(f"From support case {key}", clip(case.subject, 500),
                        ("Open the case", case.url) if case.url else None)]
    facts = [f"{name}: {value}" for name, value in
             (("Status", case.status), ("Priority", case.priority)) if value]
    if facts:
        sections.append(Section("", "\n".join(facts)))
    if case.description.strip():
        sections.append(Section("Description", case.description))
    chosen = set(comment_ids)
    for comment in case.comments:
        if comment.id in chosen:
            kind = "Internal note" if comment.internal else "Comment"
            sections.append(Section(f"{kind} by {comment.author}, {_when(comment.at_ms)}",
                                    comment.body))
    return sections


class Jira(RemoteSite[JiraSettings]):
    """The JIRA handlers for one configured site."""

    def client(self) -> JiraClient:
        return JiraClient(self.config, self.transport)

    def record(self, issue: dict[str, Any], now_ms: int, *, linked: bool = True) -> dict[str, Any]:
        record = record_of(issue, self.config.url, now_ms, linked=linked)
        if not record["remote_id"] or not record["remote_key"]:
            raise Transient("JIRA answered without the issue's id and key")
        try:  # what every laptop will check: refuse it here rather than have it set aside
            validate_payload("integration.record", 1, {"system": SYSTEM, "record": record})
        except InvalidEvent as exc:
            raise Permanent(f"JIRA's answer cannot be recorded: {exc.reason}") from None
        return record

    async def _issue(self, jira: JiraClient, id_or_key: str) -> dict[str, Any]:
        issue = await jira.call("GET", f"issue/{_path_part(id_or_key)}",
                                params={"fields": ISSUE_FIELDS})
        if not isinstance(issue, dict):
            raise Transient("JIRA answered an issue request with something that is not an issue")
        return issue

    # --- create ----------------------------------------------------------------------------
    def _sent(self, request_id: str) -> int | None:
        """When a create of this request was last sent (None: never)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(jira_sends.c.last_ms)
                                 .where(jira_sends.c.request_id == request_id)).scalar()
        return None if value is None else int(value)

    def _note_send(self, request_id: str, now_ms: int) -> None:
        with write_tx(self.engine) as conn:
            conn.execute(delete(jira_sends).where(jira_sends.c.last_ms < now_ms - KEEP_SENDS_MS))
            if conn.execute(update(jira_sends).where(jira_sends.c.request_id == request_id)
                            .values(last_ms=now_ms)).rowcount == 0:
                conn.execute(insert(jira_sends).values(request_id=request_id, first_ms=now_ms,
                                                       last_ms=now_ms))

    def _unnote_send(self, request_id: str, previous_ms: int | None) -> None:
        with write_tx(self.engine) as conn:
            where = jira_sends.c.request_id == request_id
            if previous_ms is None:
                conn.execute(delete(jira_sends).where(where))
            else:
                conn.execute(update(jira_sends).where(where).values(last_ms=previous_ms))

    async def _adopt(self, jira: JiraClient, label: str, api: int) -> dict[str, Any] | None:
        """The issue an earlier attempt created (the oldest carrying the label), if found."""
        jql = f'labels = "{label}"'
        if api >= 3:
            answer = await jira.call("POST", "search/jql", json_body={
                "jql": jql, "fields": ISSUE_FIELDS.split(","), "maxResults": 10})
        else:
            answer = await jira.call("POST", "search", json_body={
                "jql": jql, "fields": ISSUE_FIELDS.split(","), "maxResults": 10})
        issues = answer.get("issues") if isinstance(answer, dict) else None
        if not isinstance(issues, list):  # not knowing is not "none found": never create twice
            raise Transient("JIRA's search answered something that is not a search result",
                            unknown_outcome=True)
        found = [i for i in issues if isinstance(i, dict) and i.get("id")]
        found.sort(key=lambda i: int(i["id"]) if str(i["id"]).isdigit() else 0)
        return found[0] if found else None

    async def create(self, job: Job, ctx: JobContext) -> Done | Failed:
        params = job.params
        project = str(params.get("project") or self.config.project)
        if not project:
            return Failed("no JIRA project given: name one (jira create KEY --project P) or "
                          "set SMART_SUPPORT_JIRA_PROJECT on the server")
        issue_type = str(params.get("issue_type") or self.config.issue_type)
        comment_ids = [str(c) for c in params.get("comment_ids") or []]
        case = ctx.case()
        missing = sorted(set(comment_ids) - {c.id for c in case.comments})
        if missing:
            return Failed("these comments are not on the case: " + ", ".join(missing[:5]))
        label = label_for(job.request_id)
        sent_ms = await _thread(self._sent, job.request_id)
        async with self.client() as jira:
            api = await jira.api()
            if sent_ms is not None or job.unknown_outcome:
                found = await self._adopt(jira, label, api)
                if found is not None:
                    record = self.record(found, ctx.now_ms)
                    return Done(f"JIRA issue {record['remote_key']} created (found again "
                                "after its answer was lost)", record)
                wait_s = (sent_ms or 0) / 1000 + self.config.search_settle_s - ctx.now_ms / 1000
                if sent_ms is not None and wait_s > 0:
                    raise Transient("an earlier attempt may have created the issue and JIRA's "
                                    "search may not show it yet: looking again shortly",
                                    retry_after_s=wait_s, unknown_outcome=True)
            fields: dict[str, Any] = {
                "project": {"key": project}, "issuetype": {"name": issue_type},
                "summary": summary_for(case.key, case.subject),
                "description": document(issue_sections(case, comment_ids), api),
                "labels": [label, "smart-support"],
            }
            await _thread(self._note_send, job.request_id, ctx.now_ms)
            try:
                made = await jira.call("POST", "issue", json_body={"fields": fields})
            except Transient as exc:
                if not exc.unknown_outcome:  # surely not applied: the next try need not wait
                    await _thread(self._unnote_send, job.request_id, sent_ms)
                raise
            if not isinstance(made, dict) or not made.get("id"):
                raise Transient("JIRA created the issue but did not say which",
                                unknown_outcome=True)
            issue = await self._issue(jira, str(made["id"]))
        record = self.record(issue, ctx.now_ms)
        return Done(f"JIRA issue {record['remote_key']} created", record)

    # --- link, comment, unlink, refresh ---------------------------------------------------
    async def link(self, job: Job, ctx: JobContext) -> Done | Failed:
        key = str(job.params.get("issue_key") or "").strip()
        if not key:
            return Failed("no issue key given")
        async with self.client() as jira:
            issue = await self._issue(jira, key)
        record = self.record(issue, ctx.now_ms)
        return Done(f"JIRA issue {record['remote_key']} linked", record)

    def _linked(self, ctx: JobContext, issue: str) -> dict[str, Any] | None:
        for record in ctx.links(SYSTEM):
            if issue in (record.get("remote_id"), record.get("remote_key")):
                return record
        return None

    async def comment(self, job: Job, ctx: JobContext) -> Done | Failed:
        issue = str(job.params.get("issue") or "").strip()
        body = str(job.params.get("body") or "")
        if not body.strip():
            return Failed("the comment is empty")
        linked = self._linked(ctx, issue)
        if linked is None:
            return Failed(f"{clip(issue, 80)} is not linked to this case: link it first")
        remote_id = str(linked["remote_id"])
        async with self.client() as jira:
            api = await jira.api()
            if job.unknown_outcome and await self._comment_made(jira, remote_id, job.request_id):
                return Done(f"comment added to {linked.get('remote_key', remote_id)}")
            text = document([Section("", body)], api)
            await jira.call("POST", f"issue/{_path_part(remote_id)}/comment", json_body={
                "body": text,
                "properties": [{"key": COMMENT_PROPERTY, "value": {"request_id": job.request_id}}],
            })
            issue_now = await self._issue(jira, remote_id)
        record = self.record(issue_now, ctx.now_ms)
        return Done(f"comment added to {record['remote_key']}", record)

    async def _comment_made(self, jira: JiraClient, remote_id: str, request_id: str) -> bool:
        """Whether an earlier attempt's comment is on the issue (by its entity property)."""
        answer = await jira.call("GET", f"issue/{_path_part(remote_id)}/comment",
                                 params={"expand": "properties", "maxResults": "5000"})
        comments = answer.get("comments") if isinstance(answer, dict) else None
        for comment in comments or []:
            for prop in (comment.get("properties") or []) if isinstance(comment, dict) else []:
                value = prop.get("value") if isinstance(prop, dict) else None
                if (isinstance(prop, dict) and prop.get("key") == COMMENT_PROPERTY
                        and isinstance(value, dict) and value.get("request_id") == request_id):
                    return True
        return False

    async def unlink(self, job: Job, ctx: JobContext) -> Done | Failed:
        remote_id = str(job.params.get("remote_id") or "").strip()
        linked = self._linked(ctx, remote_id)
        if linked is None:
            return Done(f"{clip(remote_id, 80)} was not linked to this case")
        record = {**linked, "linked": False, "fetched_ms": ctx.now_ms}
        return Done(f"JIRA issue {record.get('remote_key', remote_id)} unlinked", record)

    async def refresh(self, job: Job, ctx: JobContext) -> Done | Failed:
        linked = ctx.links(SYSTEM)
        if not linked:
            return Done("no JIRA issue is linked to this case")
        records: list[dict[str, Any]] = []
        async with self.client() as jira:
            for item in linked:
                issue = await self._issue(jira, str(item["remote_id"]))
                records.append(self.record(issue, ctx.now_ms))
        # The outcome event carries the first; the others are recorded beside it.
        if len(records) > 1:
            others = {r["remote_id"]: r for r in records[1:]}
            pairs = [(link, others[link.remote_id]) for link in
                     await _thread(links_db.links_of, self.engine, SYSTEM)
                     if link.case_id == job.case_id and link.remote_id in others]
            await _thread(links_db.record_changes, self.engine, self.clock, SYSTEM, pairs)
        keys = ", ".join(r["remote_key"] for r in records)
        return Done(f"refreshed {keys}", records[0])

    # --- the periodic refresh ----------------------------------------------------------
    def _take_round(self, now_ms: int) -> bool:
        """Whether this process runs this refresh round: not while JIRA's breaker is open,
        and only one process per interval (a compare-and-set on a counters row)."""
        site = self.config.url.rstrip("/")
        due_before = now_ms - int(self.config.refresh_s * 1000 * 0.5)
        with write_tx(self.engine) as conn:
            breaker = conn.execute(select(breakers.c.state, breakers.c.reopen_ms).where(
                breakers.c.system == SYSTEM, breakers.c.site == site)).first()
            if breaker is not None and breaker.state == "open" and (
                    breaker.reopen_ms or 0) > now_ms:
                return False
            taken = conn.execute(update(counters).where(
                counters.c.name == REFRESH_ROUND, counters.c.value < due_before)
                .values(value=now_ms)).rowcount
            if taken:
                return True
            if conn.execute(select(counters.c.value)
                            .where(counters.c.name == REFRESH_ROUND)).first() is None:
                conn.execute(insert(counters).values(name=REFRESH_ROUND, value=now_ms))
                return True
        return False

    async def refresh_linked(self) -> int:
        """GET every linked issue once; record ``integration.record`` events on the cases
        whose snapshot changed. Returns the number of events recorded."""
        now_ms = int(time.time() * 1000)
        if not await _thread(self._take_round, now_ms):
            return 0
        found = await _thread(links_db.links_of, self.engine, SYSTEM)
        by_issue: dict[str, list[links_db.Link]] = {}
        for link in found:
            if link.linked:
                by_issue.setdefault(link.remote_id, []).append(link)
        changed: list[tuple[links_db.Link, dict[str, Any]]] = []
        async with self.client() as jira:
            for remote_id in list(by_issue)[:MAX_REFRESH]:
                try:
                    issue = await self._issue(jira, remote_id)
                except Permanent as exc:  # deleted, or hidden from the integration user
                    log.warning("JIRA refresh of issue %s: %s", remote_id, exc.reason)
                    continue
                except Transient as exc:  # JIRA is struggling: keep what was read, stop
                    log.warning("JIRA refresh stopped: %s", exc.reason)
                    break
                record = self.record(issue, now_ms)
                changed.extend((link, record) for link in by_issue[remote_id])
        stored: links_db.Recorded = await _thread(links_db.record_changes, self.engine,
                                                  self.clock, SYSTEM, changed)
        return stored.count


def _path_part(value: str) -> str:
    """An issue id or key as one URL path segment (nothing of it can leave the segment)."""
    return quote(value, safe="")


async def _thread(function: Callable[..., Any], *args: Any) -> Any:
    # Database work off the event loop: a worker's loop also runs other jobs' HTTP calls.
    return await asyncio.to_thread(function, *args)


def install(config: JiraSettings, db_url: str, *, reuse: Jira | None = None,
            transport: httpx.AsyncBaseTransport | None = None) -> Jira:
    """Register the JIRA handlers and site with the job queue; the Jira they use (``reuse``
    when it has this configuration: its database engine is kept)."""
    jira = reuse if reuse is not None and reuse.config == config else Jira(
        config, lambda: make_engine(db_url, pool_size=2), transport=transport)
    actions: dict[str, Callable[[Job, JobContext], Awaitable[Done | Failed]]] = {
        "create": jira.create, "link": jira.link, "comment": jira.comment,
        "unlink": jira.unlink, "refresh": jira.refresh}
    for action, handler in actions.items():
        register(SYSTEM, action, handler)
    register_site(SYSTEM, lambda: config.url.rstrip("/"))
    return jira

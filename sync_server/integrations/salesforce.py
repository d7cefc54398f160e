"""Salesforce through the job queue: the handlers of sync, refresh and lookup (issue 11).

- sync upserts the Case on the external id field (``PATCH sobjects/Case/<field>/<case id>``:
  a retry updates the Case an earlier attempt made, never a second one) and pushes the public
  replies not yet pushed as CaseComments. Which replies were pushed is remembered in the
  Record's snapshot, and before pushing, the Case's comments are read back and matched by
  text, so a retry after a lost answer does not push one twice.
- A field the org refuses (400 naming it) is left out and the rest is written again; the
  Done message says which, with Salesforce's words.
- Status and priority go through the configured mapping; each has one owner. A change on
  the side that does not own a field is recorded in the snapshot's ``conflicts`` and the
  message (docs/salesforce.md); a field Salesforce owns that Salesforce changed is taken by
  the case (``Done.case_updates``: server-authored case.updated events).
- ``REQUEST_LIMIT_EXCEEDED`` opens the breaker for ``limit_backoff_s``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import insert, update

from app.core.event_schema import InvalidEvent, validate_payload
from sync_server.db import make_engine, write_tx
from sync_server.integrations import links as links_db
from sync_server.integrations.jira_format import clip
from sync_server.integrations.salesforce_client import (
    Answer,
    LimitExceeded,
    Refused,
    SalesforceClient,
    site_of,
)
from sync_server.integrations.salesforce_mapping import (
    MAX_PUSHED_IDS,
    account_record,
    case_record,
    case_updates,
    clean_email,
    comment_text,
    conflicts,
    contact_record,
    norm_text,
    plan_sync,
    soql_quote,
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
from sync_server.settings import SalesforceSettings
from sync_server.tables import breakers

SYSTEM = "salesforce"
CASE_FIELDS = "Id,CaseNumber,Subject,Status,Priority,IsClosed,OwnerId,LastModifiedDate"
CONTACT_FIELDS = "Id, Name, Email, Title, Phone, AccountId, Account.Name, Owner.Name"
KEPT = ("pushed", "pushed_comments", "rejected_fields")  # what a refresh carries over
MAX_MESSAGE = 4_000
HandlerFn = Callable[[Job, JobContext], Awaitable[Done | Failed]]


class Salesforce(RemoteSite[SalesforceSettings]):
    """The Salesforce handlers for one configured org."""

    def client(self, now_ms: int) -> SalesforceClient:
        return SalesforceClient(self.config, now_ms, self.transport)

    def guarded(self, handler: HandlerFn) -> HandlerFn:
        """``handler``, opening the breaker when the org's API allocation is used up: no
        worker calls Salesforce again before the allocation has had time to recover."""
        async def run(job: Job, ctx: JobContext) -> Done | Failed:
            try:
                return await handler(job, ctx)
            except LimitExceeded as exc:
                wait_ms = int((exc.retry_after_s or self.config.limit_backoff_s) * 1000)
                await _thread(self._open_breaker, ctx.now_ms, ctx.now_ms + wait_ms)
                raise
        return run

    def _open_breaker(self, now_ms: int, until_ms: int) -> None:
        # The worker then counts this attempt's failure on a breaker already open, which
        # keeps the later reopen time (sync_server/jobs/breaker.py: failed).
        site = site_of(self.config)
        values = {"state": "open", "opened_ms": now_ms, "reopen_ms": until_ms,
                  "probes_in_flight": 0, "updated_ms": now_ms}
        with write_tx(self.engine) as conn:
            where = (breakers.c.system == SYSTEM, breakers.c.site == site)
            if conn.execute(update(breakers).where(*where).values(**values)).rowcount == 0:
                conn.execute(insert(breakers).values(system=SYSTEM, site=site, failures=1,
                                                     **values))

    @staticmethod
    def _checked(record: dict[str, Any]) -> dict[str, Any]:
        if not record["remote_id"]:
            raise Transient("Salesforce answered without the record's Id")
        try:  # what every laptop will check: refuse it here rather than have it set aside
            validate_payload("integration.record", 1, {"system": SYSTEM, "record": record})
        except InvalidEvent as exc:
            raise Permanent(f"Salesforce's answer cannot be recorded: {exc.reason}") from None
        return record

    def _case_path(self, case_id: str) -> str:
        return f"sobjects/Case/{self.config.external_id_field}/{quote(case_id, safe='')}"

    @staticmethod
    def _several(answer: Answer, case: CaseView) -> Failed:
        count = len(answer.data) if isinstance(answer.data, list) else "several"
        return Failed(f"{count} Salesforce Cases carry this case's id ({case.key or case.id}) "
                      "in their external id field: nothing was changed; merge or delete the "
                      "extra ones in Salesforce and sync again", 300)

    # --- sync ------------------------------------------------------------------------------
    async def sync(self, job: Job, ctx: JobContext) -> Done | Failed:
        case = ctx.case()
        linked = [r for r in ctx.links(SYSTEM) if r.get("kind") == "case"]
        path = self._case_path(case.id)
        async with self.client(ctx.now_ms) as sf:
            found = await sf.call("GET", path, params={"fields": CASE_FIELDS},
                                  accept=(300, 404))
            if found.status == 300:
                return self._several(found, case)
            current = found.data if found.status == 200 and isinstance(found.data, dict) \
                else None
            # What the last sync of this very Case remembered (none when it was deleted in
            # Salesforce and is made again).
            previous = next((r for r in linked if current is not None
                             and r.get("remote_id") == current.get("Id")
                             and isinstance(r.get("snapshot"), dict)), None)
            before: dict[str, Any] = dict(previous["snapshot"]) if previous else {}
            plan = plan_sync(case, current, before, self.config.mapping)
            body = dict(plan.body)
            rejected: list[dict[str, Any]] = []
            while True:
                try:
                    answer = await sf.call("PATCH", path, json_body=body, accept=(300,))
                    break
                except Refused as exc:
                    named = sorted(exc.fields & set(body))
                    if exc.remote_status != 400 or not named:
                        raise
                    rejected.append({"fields": named, "reason": exc.reason})
                    for name in named:
                        body.pop(name)
                    if not body:
                        return Failed("Salesforce refused every field of the case; nothing "
                                      "was changed: " + "; ".join(r["reason"] for r in rejected),
                                      400)
            if answer.status == 300:
                return self._several(answer, case)
            sf_id = answer.data.get("id") if isinstance(answer.data, dict) else None
            sf_id = sf_id or (current or {}).get("Id")
            if not isinstance(sf_id, str) or not sf_id:
                again = await sf.call("GET", path, params={"fields": "Id"})
                sf_id = again.data.get("Id") if isinstance(again.data, dict) else None
                if not isinstance(sf_id, str):
                    raise Transient("Salesforce upserted the Case but did not say which")
            pushed_ids, pushed_count, comment_notes = await self._push_comments(
                sf, sf_id, case, before)
            now = await sf.call("GET", f"sobjects/Case/{quote(sf_id, safe='')}",
                                params={"fields": CASE_FIELDS})
            instance = sf.instance_url
        if not isinstance(now.data, dict):
            raise Transient("Salesforce answered a Case request with something that is not one")
        kept_pushed = dict(before.get("pushed") or {}) if isinstance(before.get("pushed"),
                                                                      dict) else {}
        kept_pushed.update({k: v for k, v in plan.pushed.items() if k in body})
        record = self._checked(case_record(now.data, instance, ctx.now_ms, self.config.mapping, {
            "pushed": kept_pushed, "pushed_comments": pushed_ids,
            "conflicts": plan.conflicts,
            "rejected_fields": [f for r in rejected for f in r["fields"]]}))
        # A Case deleted in Salesforce and made again: the old one is no longer linked.
        await self._beside(job, [{**r, "linked": False, "fetched_ms": ctx.now_ms}
                                 for r in linked if r.get("remote_id") != record["remote_id"]])
        created = answer.status == 201
        parts = [f"Salesforce case {record['remote_key']} {'created' if created else 'updated'}"]
        if pushed_count:
            parts.append(f"{pushed_count} {'reply' if pushed_count == 1 else 'replies'} pushed")
        parts.extend(f"not written: {r['reason']} (the other fields were synced)"
                     for r in rejected)
        parts.extend(c["said"] for c in plan.conflicts)
        parts.extend(plan.notes + comment_notes)
        return Done(clip("; ".join(parts), MAX_MESSAGE), record,
                    case_updates(case, now.data, self.config.mapping))

    async def _push_comments(self, sf: SalesforceClient, sf_id: str, case: CaseView,
                             before: dict[str, Any]) -> tuple[list[str], int, list[str]]:
        """Push the public replies not pushed yet (internal notes never): the ids now in
        Salesforce, how many this call pushed, and what it could not push."""
        public = [c for c in case.comments if not c.internal]
        known = before.get("pushed_comments")
        done = {str(i) for i in known} if isinstance(known, list) else set()
        todo = [c for c in public if c.id not in done]
        pushed = [c.id for c in public if c.id in done]
        notes: list[str] = []
        count = 0
        if todo:
            # What is on the Case already, less what earlier syncs pushed: what an attempt
            # whose answer was lost (or that stopped part-way) pushed.
            rows = await sf.query("SELECT Id, CommentBody FROM CaseComment WHERE ParentId = "
                                  f"{soql_quote(sf_id)}")
            pool: Counter[str] = Counter(norm_text(str(r.get("CommentBody") or "")) for r in rows)
            for c in public:
                if c.id in done:
                    pool[norm_text(comment_text(c.author, c.body))] -= 1
            for c in todo:
                text = comment_text(c.author, c.body)
                if pool[norm_text(text)] > 0:
                    pool[norm_text(text)] -= 1
                    pushed.append(c.id)
                    continue
                try:
                    await sf.call("POST", "sobjects/CaseComment", json_body={
                        "ParentId": sf_id, "CommentBody": text, "IsPublished": True})
                except Refused as exc:  # this reply alone: the next sync tries it again
                    notes.append(f"a reply by {clip(c.author, 80)} was not pushed: {exc.reason}")
                    continue
                pushed.append(c.id)
                count += 1
        return pushed[-MAX_PUSHED_IDS:], count, notes

    # --- refresh ---------------------------------------------------------------------------
    async def refresh(self, job: Job, ctx: JobContext) -> Done | Failed:
        case = ctx.case()
        linked = ctx.links(SYSTEM)
        previous = next((r for r in linked if r.get("kind") == "case"), None)
        records: list[dict[str, Any]] = []
        updates: dict[str, str | None] = {}
        message = ""
        async with self.client(ctx.now_ms) as sf:
            if previous is not None:
                found = await sf.call("GET", f"sobjects/Case/"
                                      f"{quote(str(previous['remote_id']), safe='')}",
                                      params={"fields": CASE_FIELDS}, accept=(404,))
            else:
                found = await sf.call("GET", self._case_path(case.id),
                                      params={"fields": CASE_FIELDS}, accept=(300, 404))
                if found.status == 300:
                    return self._several(found, case)
            before = dict(previous["snapshot"]) if previous else {}
            if found.status == 404 and previous is not None:
                records.append({**previous, "linked": False, "fetched_ms": ctx.now_ms})
                message = (f"Salesforce case {previous.get('remote_key')} no longer exists "
                           "(deleted, or hidden from the integration user): unlinked")
            elif found.status == 200 and isinstance(found.data, dict):
                record = case_record(found.data, sf.instance_url, ctx.now_ms,
                                     self.config.mapping,
                                     {k: before[k] for k in KEPT if k in before})
                record["snapshot"]["conflicts"] = conflicts(case, found.data, before,
                                                            self.config.mapping)
                records.append(self._checked(record))
                updates = case_updates(case, found.data, self.config.mapping)
                said = [c["said"] for c in record["snapshot"]["conflicts"]]
                message = "; ".join([f"refreshed Salesforce case {record['remote_key']}", *said])
            for item in linked:
                if item.get("kind") in ("contact", "account"):
                    fresh = await self._again(sf, item, ctx.now_ms)
                    if fresh is not None:
                        records.append(fresh)
        if not records:
            return Done("this case is not in Salesforce yet: sync it first")
        if not message:
            message = "refreshed " + ", ".join(str(r["remote_key"]) for r in records)
        await self._beside(job, records[1:])
        return Done(clip(message, MAX_MESSAGE), records[0], updates)

    async def _again(self, sf: SalesforceClient, item: dict[str, Any],
                     now_ms: int) -> dict[str, Any] | None:
        remote_id = str(item["remote_id"])
        if item.get("kind") == "contact":
            rows = await sf.query(f"SELECT {CONTACT_FIELDS} FROM Contact WHERE Id = "
                                  f"{soql_quote(remote_id)}")
            if rows:
                return self._checked(contact_record(rows[0], sf.instance_url, now_ms))
        else:
            account = await self._account(sf, remote_id, now_ms)
            if account is not None:
                return account
        return {**item, "linked": False, "fetched_ms": now_ms}  # gone from Salesforce

    async def _beside(self, job: Job, records: list[dict[str, Any]]) -> None:
        """Record ``integration.record`` for the records beyond the outcome's own."""
        if not records:
            return
        known = {link.remote_id: link for link in
                 await _thread(links_db.links_of, self.engine, SYSTEM)
                 if link.case_id == job.case_id}
        pairs = [(known.get(str(r["remote_id"])) or links_db.Link(
            case_id=job.case_id, team_id=job.team_id, remote_id=str(r["remote_id"]),
            remote_key=str(r["remote_key"]), linked=False, snapshot={}), r) for r in records]
        await _thread(links_db.record_changes, self.engine, self.clock, SYSTEM, pairs)

    # --- lookup ----------------------------------------------------------------------------
    async def lookup(self, job: Job, ctx: JobContext) -> Done | Failed:
        email = clean_email(str(job.params.get("email") or ""))
        if email is None:
            return Failed(f"{clip(str(job.params.get('email')), 80)!r} is not an e-mail address")
        async with self.client(ctx.now_ms) as sf:
            contacts = await sf.query(
                f"SELECT {CONTACT_FIELDS} FROM Contact WHERE Email = {soql_quote(email)} "
                "ORDER BY LastModifiedDate DESC LIMIT 10")
            if not contacts:
                return Done(f"no Salesforce contact has the e-mail {email}")
            contact = self._checked(contact_record(contacts[0], sf.instance_url, ctx.now_ms))
            account = None
            account_id = contacts[0].get("AccountId")
            if isinstance(account_id, str) and account_id:
                account = await self._account(sf, account_id, ctx.now_ms)
        await self._beside(job, [account] if account else [])
        parts = [f"Salesforce contact {contact['remote_key']}"]
        if account:
            parts.append(f"account {account['remote_key']}")
        if len(contacts) > 1:
            parts.append(f"{len(contacts)} contacts have this e-mail: the most recently "
                         "changed is shown")
        return Done("; ".join(parts), contact)

    async def _account(self, sf: SalesforceClient, account_id: str,
                       now_ms: int) -> dict[str, Any] | None:
        fields = "Id, Name, Type, Industry, Owner.Name"
        tier = self.config.tier_field
        try:
            rows = await sf.query(f"SELECT {fields}{', ' + tier if tier else ''} FROM Account "
                                  f"WHERE Id = {soql_quote(account_id)}")
        except Refused:
            if not tier:
                raise
            tier = ""  # the org has no such field: the account without its tier
            rows = await sf.query(f"SELECT {fields} FROM Account WHERE Id = "
                                  f"{soql_quote(account_id)}")
        if not rows:
            return None
        try:
            opportunities: list[dict[str, Any]] | None = await sf.query(
                "SELECT Id, Name, StageName, Amount FROM Opportunity WHERE AccountId = "
                f"{soql_quote(account_id)} AND IsClosed = false ORDER BY CloseDate LIMIT 10")
        except Refused:  # no Opportunity access for the integration user
            opportunities = None
        return self._checked(account_record(rows[0], sf.instance_url, now_ms, tier_field=tier,
                                            opportunities=opportunities))


async def _thread(function: Callable[..., Any], *args: Any) -> Any:
    # Database work off the event loop: a worker's loop also runs other jobs' HTTP calls.
    return await asyncio.to_thread(function, *args)


def install(config: SalesforceSettings, db_url: str, *, reuse: Salesforce | None = None,
            transport: httpx.AsyncBaseTransport | None = None) -> Salesforce:
    """Register the Salesforce handlers and site with the job queue; the Salesforce they
    use (``reuse`` when it has this configuration: its database engine is kept)."""
    salesforce = reuse if reuse is not None and reuse.config == config else Salesforce(
        config, lambda: make_engine(db_url, pool_size=2), transport=transport)
    for action, handler in {"sync": salesforce.sync, "refresh": salesforce.refresh,
                            "lookup": salesforce.lookup}.items():
        register(SYSTEM, action, salesforce.guarded(handler))
    register_site(SYSTEM, lambda: site_of(config))
    return salesforce

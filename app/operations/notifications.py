"""Notifications, headless: rules over events, a local store, settings and do-not-disturb.

* :func:`notifications_for` (pure) turns applied events into notifications for ``me``:
  a case assigned to me, an ``@mention`` of me in a comment (``@Full Name``, ``@FirstLast``
  or ``@email``), a customer reply on my case, an integration result (``integration.*``)
  on my case or requested by me, a linked JIRA issue or Salesforce record of such a case
  that became resolved (its status category turned ``done``);
* :meth:`NotificationCenter.follow` runs the rules on the events recorded since its last
  call (it follows ``events.seq`` like a projection; the first call starts at the head, so
  history does not flood the centre);
* :meth:`NotificationCenter.check_sla` (the scheduler calls it every minute) adds "about to
  breach" and "breached" notifications for my open cases (the first check on a device lists
  what is already overdue as read and pops one summary instead of a flood);
* :meth:`NotificationCenter.notify_conflicts` is the hook for sync conflicts on my edits.

Everything is stored in ``<data_dir>/notifications.db`` first, so nothing is lost when the
tray is unavailable; each notification is stored once (a dedupe key). A kind that is turned
off is not stored; do-not-disturb keeps storing but tells the UI not to pop anything.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)

from app.core import events as ev
from app.core.hlc import hlc_ms
from app.core.integrations import RECORD_TYPES, IntegrationFold, LinkState, link_key_of
from app.core.sla import TARGET_LABELS, format_duration
from app.operations.integrations import SYSTEM_NAMES
from app.store import schema as s
from app.store.analytics_tables import open_analytics_engine
from app.store.projector import row_event
from app.store.repo import Store

FILE_NAME = "notifications.db"
KINDS = ("assigned", "mention", "customer_reply", "sla", "integration", "conflict", "mail")
KIND_LABELS = {"assigned": "Assigned to me", "mention": "Mentions",
               "customer_reply": "Customer replies", "sla": "SLA warnings",
               "integration": "Integration results", "conflict": "Sync conflicts",
               "mail": "Reply e-mails not delivered"}

metadata = MetaData()
notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("case_id", String(36)),
    Column("case_key", String(64)),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("created_ms", Integer, nullable=False),
    Column("dedupe", String(200), nullable=False, unique=True),
    Column("read", Boolean, nullable=False, default=False),
)
settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Me:
    id: str  # the actor id (an email address)
    name: str | None = None
    email: str | None = None

    def mention_patterns(self) -> list[re.Pattern[str]]:
        words: set[str] = {self.id}
        if self.email:
            words.add(self.email)
        if self.name:
            words.add(self.name)
            words.add(self.name.replace(" ", ""))
            words.add(self.name.replace(" ", "."))
        return [re.compile(r"(?<![\w@])@" + re.escape(w) + r"(?![\w@.-])", re.IGNORECASE)
                for w in sorted(words, key=len, reverse=True) if w]


@dataclass(slots=True)
class Notification:
    kind: str
    title: str
    body: str
    created_ms: int
    dedupe: str
    case_id: str | None = None
    case_key: str | None = None
    id: int | None = None
    read: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "body": self.body,
                "created_ms": self.created_ms, "case_id": self.case_id,
                "case_key": self.case_key, "read": self.read}


def _first_line(text: str, limit: int = 120) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def notifications_for(events: Iterable[ev.Event], me: Me, *,
                      assignees: Mapping[str, str | None] | None = None,
                      keys: Mapping[str, str | None] | None = None,
                      requests: Mapping[str, tuple[str, str]] | None = None,
                      links: Mapping[tuple[str, str, str], LinkState] | None = None,
                      ) -> list[Notification]:
    """The notifications ``events`` (in apply order) mean for ``me``. ``assignees`` gives
    each case's assignee before these events (the batch's own assignments are followed),
    ``requests`` each integration request's (case id, requester), ``links`` the linked
    records as they were before these events (a resolution is a change of status)."""
    rules = _Rules(
        mine=me.id.lower(), patterns=me.mention_patterns(), owner=dict(assignees or {}),
        names=dict(keys or {}), asked=dict(requests or {}),
        fold=IntegrationFold(links={k: replace(v, snapshot=dict(v.snapshot))
                                    for k, v in (links or {}).items()}))
    for e in events:
        rules.add(e)
    return rules.out


@dataclass(slots=True)
class _Rules:
    """The state :func:`notifications_for` follows through a batch: each case's assignee
    and key, who asked for each integration request, the linked records."""

    mine: str
    patterns: list[re.Pattern[str]]
    owner: dict[str, str | None]
    names: dict[str, str | None]
    asked: dict[str, tuple[str, str]]
    fold: IntegrationFold
    out: list[Notification] = field(default_factory=list)

    def add(self, e: ev.Event) -> None:
        rule = _RULES.get(e.type)
        if rule is not None:
            rule(self, e)
        elif e.type in _INTEGRATION_OUTCOMES:
            self._integration_outcome(e)
        elif e.type.startswith("integration."):  # a type of a newer build: result, generic
            self._integration_other(e)

    def _by_me(self, e: ev.Event) -> bool:
        return e.actor.lower() == self.mine

    def _owned(self, cid: str | None) -> bool:
        return str(self.owner.get(cid or "") or "").lower() == self.mine

    def _key(self, cid: str | None) -> str | None:
        return self.names.get(cid) if cid else None

    def _note(self, e: ev.Event, kind: str, title: str, body: str, dedupe: str) -> None:
        self.out.append(Notification(kind, title, body, hlc_ms(e.hlc), dedupe, e.case_id,
                                     self._key(e.case_id)))

    def _case_created(self, e: ev.Event) -> None:
        fields = dict(e.payload.get("fields") or {})
        cid = e.case_id or ""
        self.owner[cid] = fields.get("assignee_id")
        self.names[cid] = fields.get("key")
        if str(fields.get("assignee_id") or "").lower() == self.mine and not self._by_me(e):
            self.out.append(Notification(
                "assigned", f"New case assigned to you: {fields.get('key') or ''}",
                str(fields.get("subject") or ""), hlc_ms(e.hlc), f"assigned:{e.id}",
                e.case_id, fields.get("key")))

    def _key_assigned(self, e: ev.Event) -> None:
        if e.case_id:
            self.names[e.case_id] = e.payload.get("key")

    def _case_updated(self, e: ev.Event) -> None:
        p = e.payload
        if p.get("field") != "assignee_id":
            return
        self.owner[e.case_id or ""] = p.get("value")
        if str(p.get("value") or "").lower() == self.mine and not self._by_me(e):
            label = self._key(e.case_id) or "a case"
            self._note(e, "assigned", f"{label} was assigned to you", f"by {e.actor}",
                       f"assigned:{e.id}")

    def _comment_added(self, e: ev.Event) -> None:
        p = e.payload
        body = str(p.get("body", ""))
        label = self._key(e.case_id) or "a case"
        if not self._by_me(e) and any(pt.search(body) for pt in self.patterns):
            where = "an internal note" if p.get("internal") else "a reply"
            self._note(e, "mention", f"{e.actor} mentioned you on {label}",
                       f"in {where}: {_first_line(body)}", f"mention:{e.id}")
        elif p.get("author_kind") == "customer" and self._owned(e.case_id):
            self._note(e, "customer_reply", f"Customer replied on {label}", _first_line(body),
                       f"reply:{e.id}")

    def _integration_requested(self, e: ev.Event) -> None:
        rid = str(e.payload.get("request_id") or "")
        if rid and e.case_id and rid not in self.asked:
            self.asked[rid] = (e.case_id, e.actor)

    def _integration_outcome(self, e: ev.Event) -> None:
        key = self._key(e.case_id)
        self.out += _integration_notes(e, self.fold, self.asked, mine=self.mine,
                                       owned=self._owned(e.case_id), label=key or "a case",
                                       key=key)

    def _mail_delivery(self, e: ev.Event) -> None:
        """My reply's e-mail failed or bounced (the server says who wrote it)."""
        p = e.payload
        if p.get("state") not in ("failed", "bounced") or str(
                p.get("author") or "").lower() != self.mine:
            return
        label = self._key(e.case_id) or "a case"
        self._note(e, "mail", f"Your reply on {label} was not delivered ({p.get('state')})",
                   _first_line(str(p.get("reason") or "")), f"mail:{e.id}")

    def _integration_other(self, e: ev.Event) -> None:
        p = e.payload
        cid = e.case_id
        requested_by = str(p.get("requested_by") or "").lower()
        if requested_by != self.mine and not (cid and self._owned(cid)):
            return
        what = e.type.removeprefix("integration.").replace("_", " ")
        system = p.get("system") or p.get("integration") or "integration"
        detail = p.get("message") or p.get("status") or p.get("error") or ""
        label = self._key(cid) or "a case"
        self._note(e, "integration", f"{system}: {what} on {label}" if cid
                   else f"{system}: {what}", str(detail), f"integration:{e.id}")


_RULES: dict[str, Callable[[_Rules, ev.Event], None]] = {
    ev.CASE_CREATED: _Rules._case_created,
    ev.CASE_KEY_ASSIGNED: _Rules._key_assigned,
    ev.CASE_UPDATED: _Rules._case_updated,
    ev.COMMENT_ADDED: _Rules._comment_added,
    ev.INTEGRATION_REQUESTED: _Rules._integration_requested,
    ev.MAIL_DELIVERY: _Rules._mail_delivery,
}


_INTEGRATION_OUTCOMES = frozenset({ev.INTEGRATION_DONE, ev.INTEGRATION_FAILED,
                                   ev.INTEGRATION_WAITING, ev.INTEGRATION_RECORD})


def _integration_notes(e: ev.Event, fold: IntegrationFold, asked: Mapping[str, tuple[str, str]],
                       *, mine: str, owned: bool, label: str,
                       key: str | None) -> list[Notification]:
    """An outcome of a request I made or on my case; a linked record of a case of mine (or
    one I asked about) that became resolved (status category done)."""
    p = e.payload
    cid = e.case_id
    system = SYSTEM_NAMES.get(str(p.get("system")), str(p.get("system") or "integration"))
    rid = str(p.get("request_id") or "")
    asked_by_me = asked.get(rid, ("", ""))[1].lower() == mine
    out: list[Notification] = []
    if e.type != ev.INTEGRATION_RECORD and (owned or asked_by_me):
        out.append(_outcome_note(e, system, label, key))
    mine_too = owned or asked_by_me or any(
        c == cid and who.lower() == mine for c, who in asked.values())
    resolved = _resolved_note(e, fold, system, label, key)
    if resolved is not None and mine_too:
        out.append(resolved)
    return out


_OUTCOME_WORDS = {ev.INTEGRATION_DONE: "done", ev.INTEGRATION_FAILED: "failed",
                  ev.INTEGRATION_WAITING: "waiting"}


def _outcome_note(e: ev.Event, system: str, label: str, key: str | None) -> Notification:
    """Done, failed or waiting (with the next try's time)."""
    p = e.payload
    detail = p.get("message") if e.type == ev.INTEGRATION_DONE else p.get("reason")
    if e.type == ev.INTEGRATION_WAITING and isinstance(p.get("next_try_ms"), int):
        when = time.strftime("%H:%M UTC", time.gmtime(int(p["next_try_ms"]) / 1000))
        detail = f"{detail or 'waiting'}; next try at {when}"
    # One notice per request while it waits (a job may wait several times).
    dedupe = (f"integration-waiting:{p.get('request_id') or ''}"
              if e.type == ev.INTEGRATION_WAITING else f"integration:{e.id}")
    return Notification("integration",
                        f"{system} {p.get('action')} {_OUTCOME_WORDS[e.type]} on {label}",
                        _first_line(str(detail or "")), hlc_ms(e.hlc), dedupe, e.case_id, key)


def _resolved_note(e: ev.Event, fold: IntegrationFold, system: str, label: str,
                   key: str | None) -> Notification | None:
    """Folds ``e`` into ``fold``; a notice when it turned a linked record's status to done."""
    link_key = link_key_of(e)
    if link_key is None:
        return None
    before = fold.links.get(link_key)
    was = before.status_category if before is not None and before.linked else None
    fold.add(e)
    now = fold.links[link_key]
    if not (now.linked and now.status_category == "done" and was is not None
            and was != "done"):
        return None
    summary = str(now.snapshot.get("summary") or "")
    return Notification("integration", f"{now.remote_key} was resolved ({label})",
                        _first_line(f"{system}: {summary}"), hlc_ms(e.hlc),
                        f"resolved:{e.id}", e.case_id, key)


def sla_notifications(rows: Iterable[Mapping[str, Any]], now_ms: int) -> list[Notification]:
    """From ``reports.sla_queue`` rows (at_risk / breached) of my cases."""
    out = []
    for r in rows:
        label = r.get("key") or "a case"
        target = TARGET_LABELS.get(str(r["target"]), str(r["target"]))
        deadline = r.get("deadline_ms")
        if r["state"] == "breached":
            title = f"{target} SLA breached on {label}"
            body = (f"deadline passed {format_duration(now_ms - deadline)} ago"
                    if deadline else "deadline passed")
        else:
            title = f"{target} SLA about to breach on {label}"
            body = (f"{format_duration(deadline - now_ms)} left (wall clock)" if deadline
                    else f"paused with {format_duration(r.get('paused_left_ms') or 0)} left")
        out.append(Notification("sla", title, f"{body} · {r.get('subject') or ''}".strip(" ·"),
                                now_ms, f"sla:{r['case_id']}:{r['target']}:{r['state']}:"
                                f"{deadline}", r["case_id"], r.get("key")))
    return out


_IntegrationsBefore = tuple[dict[str, tuple[str, str]], dict[tuple[str, str, str], LinkState]]


def _integrations_before(conn: Connection, events: list[ev.Event],
                         last_seq: int) -> _IntegrationsBefore:
    """Who asked for each integration request of these cases, and their linked records as
    they were before the batch (folded from the log up to ``last_seq``: the projection
    already holds the batch)."""
    cases = sorted({e.case_id for e in events if e.case_id and e.type in _INTEGRATION_OUTCOMES})
    requests: dict[str, tuple[str, str]] = {}
    fold = IntegrationFold()
    r = s.integration_requests.c
    for i in range(0, len(cases), 500):
        chunk = cases[i:i + 500]
        for rid, case_id, who in conn.execute(select(r.request_id, r.case_id, r.requested_by)
                                              .where(r.case_id.in_(chunk))):
            requests[rid] = (case_id, who)
        for row in conn.execute(select(s.events).where(
                s.events.c.case_id.in_(chunk), s.events.c.type.in_(sorted(RECORD_TYPES)),
                s.events.c.seq <= last_seq)):
            fold.add(row_event(row))
    return requests, fold.links


@dataclass(slots=True)
class Settings:
    enabled: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(KINDS, True))
    dnd_until_ms: int | None = None  # do-not-disturb until (0 < until); None: off

    def dnd(self, now_ms: int) -> bool:
        return self.dnd_until_ms is not None and now_ms < self.dnd_until_ms


class NotificationCenter:
    """The local notification store for one agent (``me``) over one store."""

    def __init__(self, store: Store, path: Path | None = None, me: Me | None = None) -> None:
        self.store = store
        self.engine = open_analytics_engine(path)
        metadata.create_all(self.engine)
        self.me = me or self._me()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, store: Store, data_dir: Path) -> NotificationCenter:
        return cls(store, Path(data_dir) / FILE_NAME)

    def close(self) -> None:
        self.engine.dispose()

    def _me(self) -> Me:
        actor = self.store.actor
        row = self.store.read(lambda c: c.execute(
            select(s.agents.c.name, s.agents.c.email).where(
                func.lower(s.agents.c.id) == actor.lower())).first())
        return Me(actor, row.name if row else None, row.email if row else actor)

    # --- settings ---------------------------------------------------------------------
    def _get(self, conn: Connection, key: str) -> str | None:
        value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
        return None if value is None else str(value)

    def _put(self, key: str, value: str) -> None:
        with self.engine.connect() as conn, conn.begin():
            conn.execute(settings.insert().prefix_with("OR REPLACE"),
                         {"key": key, "value": value})

    def settings(self) -> Settings:
        with self.engine.connect() as conn:
            out = Settings()
            for kind in KINDS:
                out.enabled[kind] = self._get(conn, f"enabled:{kind}") != "0"
            dnd = self._get(conn, "dnd_until_ms")
            out.dnd_until_ms = int(dnd) if dnd and dnd != "none" else None
            return out

    def set_enabled(self, kind: str, enabled: bool) -> None:
        if kind not in KINDS:
            raise ValueError(f"no notification kind '{kind}' (one of: {', '.join(KINDS)})")
        self._put(f"enabled:{kind}", "1" if enabled else "0")

    def set_dnd(self, until_ms: int | None) -> None:
        """Do not disturb until ``until_ms`` (None turns it off)."""
        self._put("dnd_until_ms", "none" if until_ms is None else str(int(until_ms)))

    # --- producing ----------------------------------------------------------------------
    def _store(self, found: list[Notification], *, read: bool = False) -> list[Notification]:
        enabled = self.settings().enabled
        fresh = []
        with self.engine.connect() as conn, conn.begin():
            for n in found:
                if not enabled.get(n.kind, True):
                    continue
                res = conn.execute(insert(notifications).prefix_with("OR IGNORE"), {
                    "kind": n.kind, "case_id": n.case_id, "case_key": n.case_key,
                    "title": n.title, "body": n.body, "created_ms": n.created_ms,
                    "dedupe": n.dedupe, "read": read})
                if res.rowcount:
                    n.id = int(res.inserted_primary_key[0]) if res.inserted_primary_key \
                        else None
                    fresh.append(n)
        return fresh

    def follow(self) -> list[Notification]:
        """Run the rules on the events recorded since the last call; returns the new ones."""
        with self._lock:
            with self.engine.connect() as conn:
                last = self._get(conn, "last_seq")
            head = int(self.store.read(lambda c: c.execute(
                select(func.max(s.events.c.seq))).scalar()) or 0)
            if last is None:
                self._put("last_seq", str(head))
                return []
            last_seq = int(last)
            if head <= last_seq:
                return []

            def fetch(conn: Connection) -> tuple[list[ev.Event], dict[str, Any],
                                                  dict[str, Any], _IntegrationsBefore]:
                rows = conn.execute(select(s.events).where(s.events.c.seq > last_seq,
                                                           s.events.c.seq <= head)
                                    .order_by(s.events.c.seq)).all()
                events = [row_event(r) for r in rows]
                case_ids = sorted({e.case_id for e in events if e.case_id})
                owners: dict[str, Any] = {}
                keys: dict[str, Any] = {}
                for i in range(0, len(case_ids), 500):
                    for r in conn.execute(select(s.cases.c.id, s.cases.c.assignee_id,
                                                 s.cases.c.key)
                                          .where(s.cases.c.id.in_(case_ids[i:i + 500]))):
                        owners[r.id], keys[r.id] = r.assignee_id, r.key
                return events, owners, keys, _integrations_before(conn, events, last_seq)

            events, owners, keys, (requests, links) = self.store.read(fetch)
            # The projection already holds these events: an assignment made in this batch
            # is the current assignee, which is right for a customer reply after it.
            found = notifications_for(events, self.me, assignees=owners, keys=keys,
                                      requests=requests, links=links)
            fresh = self._store(found)
            self._put("last_seq", str(head))
            return fresh

    def check_sla(self, model: Any, now_ms: int | None = None) -> list[Notification]:
        """SLA about to breach / breached on my open cases (the scheduler's minute job)."""
        from app.analytics.reports import sla_queue

        now = now_ms if now_ms is not None else int(time.time() * 1000)
        model.catch_up()
        rows = []
        for view in ("breached", "at_risk"):
            rows += model.read(lambda c, view=view: sla_queue(c, view=view, now_ms=now,
                                                              agent=self.me.id))
        found = sla_notifications(rows, now)
        with self.engine.connect() as conn:
            checked_before = self._get(conn, "sla_checked_ms") is not None
        if checked_before:
            return self._store(found)
        # The first check on this device: every case already past its SLA would pop at
        # once. They are listed (as read) and one summary pops instead.
        self._store(found, read=True)
        self._put("sla_checked_ms", str(now))
        if not self.settings().enabled.get("sla", True) or not rows:
            return []
        cases = len({r["case_id"] for r in rows})
        breached = sum(1 for r in rows if r["state"] == "breached")
        soon = len(rows) - breached
        parts = [f"{breached} SLA target{'s' if breached != 1 else ''} breached" if breached
                 else "", f"{soon} about to breach" if soon else ""]
        return self._store([Notification(
            "sla", f"{cases} of your open case{'s' if cases != 1 else ''} need attention",
            f"{', '.join(p for p in parts if p)} — each one is listed below",
            now, f"sla-first-check:{now}")])

    def notify_conflicts(self, case_ids: Iterable[str] | None = None) -> list[Notification]:
        """Hook for sync: a local edit of mine lost to a teammate's concurrent edit."""
        from app.store.conflicts import open_conflicts

        wanted = set(case_ids) if case_ids is not None else None

        def fetch(conn: Connection) -> list[dict[str, Any]]:
            rows = open_conflicts(conn)
            keys: dict[str, Any] = {}
            ids = sorted({r["case_id"] for r in rows})
            if ids:
                keys = {r.id: r.key for r in conn.execute(
                    select(s.cases.c.id, s.cases.c.key).where(s.cases.c.id.in_(ids)))}
            return [dict(r) | {"key": keys.get(r["case_id"])} for r in rows]

        found = []
        for r in self.store.read(fetch):
            if wanted is not None and r["case_id"] not in wanted:
                continue
            label = r.get("key") or "a case"
            found.append(Notification(
                "conflict", f"Your edit of {r['field']} on {label} was overwritten",
                f"{r['remote_actor']} changed it at the same time; your value is kept in "
                "the history", int(r.get("created_ms") or time.time() * 1000),
                f"conflict:{r['id']}", r["case_id"], r.get("key")))
        return self._store(found)

    # --- reading ------------------------------------------------------------------------
    def list(self, *, unread_only: bool = False, limit: int = 200) -> list[Notification]:
        q = select(notifications).order_by(notifications.c.created_ms.desc(),
                                           notifications.c.id.desc()).limit(limit)
        if unread_only:
            q = q.where(notifications.c.read.is_(False))
        with self.engine.connect() as conn:
            return [Notification(kind=r.kind, title=r.title, body=r.body,
                                 created_ms=r.created_ms, dedupe=r.dedupe, case_id=r.case_id,
                                 case_key=r.case_key, id=r.id, read=bool(r.read))
                    for r in conn.execute(q)]

    def unread_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(notifications)
                                    .where(notifications.c.read.is_(False))).scalar() or 0)

    def mark_read(self, ids: Iterable[int] | None = None) -> int:
        """Mark ``ids`` (or everything, when None) read; returns how many changed."""
        q = update(notifications).where(notifications.c.read.is_(False))
        if ids is not None:
            q = q.where(notifications.c.id.in_(list(ids)))
        with self.engine.connect() as conn, conn.begin():
            return int(conn.execute(q.values(read=True)).rowcount or 0)


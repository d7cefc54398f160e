"""The mail-in worker: every mailbox polled every SMART_SUPPORT_MAIL_POLL_S seconds (and
woken by IMAP IDLE where offered), one process at a time per mailbox (a lease row), behind
the job queue's circuit breaker for system "mail" (site = the IMAP server). One message that
fails never stops the rest; a mailbox that fails says why in its state and last_error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from app.content.mail_limits import MailLimits
from sync_server.db import write_tx
from sync_server.ids import ServerClock, uuid7
from sync_server.jobs import breaker
from sync_server.jobs.breaker import BreakerPolicy
from sync_server.mail import store
from sync_server.mail.fetch import ImapError, ImapSession
from sync_server.mail.intake import Fetched, Outcome, record_failure, take
from sync_server.mail.secrets import SecretError
from sync_server.services.blobs import BlobStore
from sync_server.settings import Settings
from sync_server.tables import mail_messages

log = logging.getLogger(__name__)
SYSTEM = "mail"
Announce = Callable[[int, frozenset[str]], None]


@dataclass
class MailConfig:
    poll_s: float = 60.0
    max_mail_bytes: int = MailLimits().max_bytes
    max_blob_bytes: int = 25 * 1024 * 1024
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    timeout_s: float = 30.0
    lease_s: float = 120.0  # a poll's hold on its mailbox (SMART_SUPPORT_JOB_LEASE_S)
    sole: bool = False  # SQLite: this process holds the file's worker lock, so a lease
    # another owner left behind is a dead process's

    @classmethod
    def from_settings(cls, settings: Settings) -> MailConfig:
        return cls(poll_s=settings.mail_poll_s, max_blob_bytes=settings.blob_max_bytes,
                   lease_s=settings.job_lease_s, sole=not settings.is_postgres,
                   breaker=BreakerPolicy(threshold=settings.breaker_threshold,
                                         open_ms=int(settings.breaker_open_s * 1000),
                                         probes=settings.breaker_half_open_probes))

    @property
    def lease_ms(self) -> int:
        # Past an IDLE round and a slow answer: a live poll never loses it.
        return int(max(self.lease_s, self.poll_s + 2 * self.timeout_s) * 1000)


@dataclass
class PollResult:
    state: str
    error: str | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    waited: bool = False  # it waited in IDLE (for news or the poll interval)


class Poller:
    """Polls one server's mailboxes; blocking methods run on a worker thread."""

    def __init__(self, engine: Engine, secret: str, blobs: BlobStore, config: MailConfig, *,
                 clock: ServerClock | None = None, on_event: Announce | None = None) -> None:
        self.engine, self.secret, self.blobs, self.config = engine, secret, blobs, config
        self.clock = clock or ServerClock()
        self.on_event = on_event
        self.owner = f"mail-{uuid7()}"
        self.stop = threading.Event()

    def _taken(self, box_id: str, uidvalidity: int, uid: int) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(mail_messages.c.uid).where(
                mail_messages.c.mailbox_id == box_id, mail_messages.c.uidvalidity == uidvalidity,
                mail_messages.c.uid == uid)).first() is not None

    def _breaker(self, box: store.Mailbox, now: int) -> breaker.Admission:
        with write_tx(self.engine) as conn:
            return breaker.admit(conn, SYSTEM, box.imap.site, self.config.breaker, now)

    def _verdict(self, box: store.Mailbox, error: ImapError | None, now: int) -> None:
        with write_tx(self.engine) as conn:
            if error is None:
                breaker.succeeded(conn, SYSTEM, box.imap.site, now)
                return
            # A refused login is not retried every poll (servers lock accounts out): it
            # opens the breaker at once; other failures count towards its threshold.
            rounds = self.config.breaker.threshold if error.kind == "auth" else 1
            for _ in range(rounds):
                state, _reopen = breaker.failed(conn, SYSTEM, box.imap.site,
                                                self.config.breaker, now)
                if state == "open":
                    break

    def poll_once(self, box_id: str, *, idle_s: float = 0.0) -> PollResult | None:
        """One poll of one mailbox (then up to ``idle_s`` in IDLE); None when another
        process holds it or it is gone."""
        now = store.now_ms()
        with self.engine.connect() as conn:
            box = store.by_id(conn, box_id)
        if box is None or not store.take_lease(self.engine, box_id, self.owner, now,
                                               self.config.lease_ms, force=self.config.sole):
            return None
        try:
            result = self._poll(box, now, idle_s)
        finally:
            store.release_lease(self.engine, box_id, self.owner)
        store.set_status(self.engine, box_id, state=result.state, error=result.error,
                         at_ms=store.now_ms())
        return result

    def _poll(self, box: store.Mailbox, now: int, idle_s: float) -> PollResult:
        admission = self._breaker(box, now)
        if not admission.call:
            return PollResult("breaker_open", f"the breaker for {box.imap.site} is open "
                              f"after failures; next try after {admission.wait_until_ms}")
        try:
            password = box.login_password(self.secret)
        except SecretError as exc:
            return PollResult("auth_failed", str(exc))
        session = ImapSession(box.imap, password, timeout_s=self.config.timeout_s)
        try:
            folder = session.open()
            result = PollResult("ok")
            self._take_new(session, box, folder.uidvalidity, result)
            # Said before IDLE (which may last the poll interval): the poll is done.
            self._verdict(box, None, store.now_ms())
            store.set_status(self.engine, box.id, state=result.state, error=result.error,
                             at_ms=store.now_ms())
            if idle_s > 0 and session.can_idle:
                result.waited = True
                self._idle(session, idle_s)
        except ImapError as exc:
            self._verdict(box, exc, store.now_ms())
            state = {"auth": "auth_failed", "folder": "gone"}.get(exc.kind, "failing")
            return PollResult(state, str(exc))
        finally:
            session.close()
        return result

    def _idle(self, session: ImapSession, idle_s: float) -> None:
        """IDLE in short rounds, so a stopping server is not kept waiting."""
        deadline = time.monotonic() + idle_s
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or session.idle(min(2.0, left)):
                return

    def _take_new(self, session: ImapSession, box: store.Mailbox, uidvalidity: int,
                  result: PollResult) -> None:
        # A new UIDVALIDITY renumbers the folder: start again from its first UID (rows are
        # keyed by UIDVALIDITY, and a repeated Message-ID is dropped, so nothing doubles).
        last = box.last_uid or 0 if box.uidvalidity == uidvalidity else 0
        uids = session.uids_after(last)
        for start in range(0, len(uids), 200):
            part = uids[start:start + 200]
            if start and not store.take_lease(self.engine, box.id, self.owner,
                                              store.now_ms(), self.config.lease_ms):
                return  # the lease ran out (a very slow poll) and another process has it
            sizes = session.sizes(part)
            for uid in part:
                if self.stop.is_set():
                    return
                outcome = self._take_one(session, box, uidvalidity, uid, sizes.get(uid, 0))
                if outcome is not None:
                    result.outcomes.append(outcome)
                    if outcome.disposition == "failed":  # said in last_error; the rest goes on
                        result.error = f"message UID {uid} was not taken: {outcome.reason}"

    def _take_one(self, session: ImapSession, box: store.Mailbox, uidvalidity: int, uid: int,
                  size: int) -> Outcome | None:
        if self._taken(box.id, uidvalidity, uid):
            session.done(uid, str(box.settings.get("move_to") or ""))  # \Seen was lost
            return None
        truncated = size > self.config.max_mail_bytes
        raw = session.fetch(uid, headers_only=truncated)
        if raw is None:
            return None  # expunged by someone else meanwhile
        fetched = Fetched(uidvalidity, uid, raw, size or len(raw), truncated)
        try:
            outcome = take(self.engine, self.clock, self.blobs, box, fetched,
                           now_ms=store.now_ms(), max_blob_bytes=self.config.max_blob_bytes,
                           max_mail_bytes=self.config.max_mail_bytes, on_event=self.on_event)
        except Exception as exc:  # one bad message never stops the mailbox
            log.exception("mailbox %s: message UID %s could not be taken", box.address, uid)
            reason = f"{exc.__class__.__name__}: {exc}"
            record_failure(self.engine, box, fetched, reason, now_ms=store.now_ms())
            return Outcome("failed", reason=reason)
        session.done(uid, str(box.settings.get("move_to") or ""))
        return outcome

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: each mailbox in its own loop (poll, IDLE or sleep, again)."""
        loops: dict[str, asyncio.Task[None]] = {}

        async def one(box_id: str) -> None:
            while not stop.is_set():
                try:
                    result = await asyncio.to_thread(self.poll_once, box_id,
                                                     idle_s=self.config.poll_s)
                except Exception:
                    log.exception("mailbox poll failed")
                    result = PollResult("failing")
                if result is not None and (result.waited or result.outcomes):
                    continue  # IDLE waited already (or news came): poll again now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.poll_s)

        try:
            while not stop.is_set():
                ids = await asyncio.to_thread(store.mailbox_ids, self.engine)
                for box_id in ids:
                    if box_id not in loops or loops[box_id].done():
                        loops[box_id] = asyncio.create_task(one(box_id))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(self.config.poll_s, 30.0))
        finally:
            self.stop.set()
            await asyncio.gather(*loops.values(), return_exceptions=True)


def server_secret(settings: Settings) -> str:
    """The secret the passwords are sealed with: SMART_SUPPORT_SECRET, else (SQLite default
    setup) the data folder's secret file, as `serve` uses it."""
    if settings.secret:
        return settings.secret
    from sync_server.settings import SECRET_FILE

    path = settings.data_dir / SECRET_FILE
    return path.read_text().strip() if path.exists() else ""


def mail_poller(engine: Engine, settings: Settings, *, secret: str | None = None,
                blobs: BlobStore | None = None, clock: ServerClock | None = None,
                on_event: Announce | None = None) -> Poller | None:
    """The poller `serve` and `worker` run beside the job workers (None: no secret, so no
    password can be opened; the mailboxes say so when polled by a process that has it)."""
    from sync_server.services.blobs import DbBlobStore, FsBlobStore

    secret = secret if secret is not None else server_secret(settings)
    if not secret:
        log.warning("no server secret: the team mailboxes are not polled by this process")
        return None
    if blobs is None:
        blobs = (DbBlobStore(engine) if settings.blob_store == "db"
                 else FsBlobStore(settings.data_dir / "blobs"))
    return Poller(engine, secret, blobs, MailConfig.from_settings(settings), clock=clock,
                  on_event=on_event)

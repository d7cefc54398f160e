"""Mailbox rows: add, list, remove, read one for a poll, and the per-mailbox lease that
keeps two server processes from polling one mailbox at once. The password is sealed here
(secrets.py) and only ``login_password`` opens it; ``public`` rows never carry it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from sync_server.db import write_tx
from sync_server.ids import uuid7
from sync_server.mail import secrets as mail_secrets
from sync_server.mail.config import Endpoint, check_address, parse_url
from sync_server.services.accounts import AdminError
from sync_server.tables import mail_messages, mailboxes, teams

DEFAULT_SETTINGS: dict[str, Any] = {"undo_s": 10, "burst_per_hour": 20, "move_to": ""}
MAX_ERROR = 500  # characters of last_error kept


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: str
    team_id: str
    team_name: str
    address: str
    imap: Endpoint
    smtp: Endpoint
    password_enc: str
    settings: dict[str, Any]
    state: str
    last_poll_ms: int | None
    last_error: str | None
    uidvalidity: int | None
    last_uid: int | None
    counts: dict[str, int] = field(default_factory=dict)

    def login_password(self, server_secret: str) -> str:
        return mail_secrets.decrypt(server_secret, self.team_id, self.address, self.password_enc)

    def public(self) -> dict[str, Any]:
        """What `mailbox list --json` and status show: never the password."""
        return {"id": self.id, "team": self.team_name, "team_id": self.team_id,
                "address": self.address, "imap": self.imap.display(),
                "smtp": self.smtp.display(), "settings": dict(self.settings),
                "state": self.state, "last_poll_ms": self.last_poll_ms,
                "last_error": self.last_error, "uidvalidity": self.uidvalidity,
                "last_uid": self.last_uid, "counts": dict(self.counts)}


def now_ms() -> int:
    return int(time.time() * 1000)


def _settings(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = {}
    return {**DEFAULT_SETTINGS, **(value if isinstance(value, dict) else {})}


def _mailbox(row: Any, team_name: str, counts: dict[str, int] | None = None) -> Mailbox:
    return Mailbox(id=row.id, team_id=row.team_id, team_name=team_name, address=row.address,
                   imap=parse_url(row.imap_url, kind="imap"),
                   smtp=parse_url(row.smtp_url, kind="smtp"), password_enc=row.password_enc,
                   settings=_settings(row.settings), state=row.state,
                   last_poll_ms=row.last_poll_ms, last_error=row.last_error,
                   uidvalidity=row.uidvalidity, last_uid=row.last_uid, counts=counts or {})


def _team(conn: Connection, name: str) -> tuple[str, str]:
    row = conn.execute(select(teams.c.id, teams.c.name).where(
        or_(teams.c.name == name, teams.c.id == name))).first()
    if row is None:
        raise AdminError(f"no team {name[:80]!r}")
    return str(row.id), str(row.name)


def add(engine: Engine, *, team: str, address: str, imap_url: str, smtp_url: str,
        password: str, server_secret: str) -> str:
    """A new mailbox (or new URLs and password for an existing one); its id."""
    try:
        address = check_address(address)
        imap, smtp = parse_url(imap_url, kind="imap"), parse_url(smtp_url, kind="smtp")
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    if not password:
        raise AdminError("no password on standard input")
    with write_tx(engine) as conn:
        team_id, _ = _team(conn, team)
        sealed = mail_secrets.encrypt(server_secret, team_id, address, password)
        existing = conn.execute(select(mailboxes.c.id).where(
            mailboxes.c.team_id == team_id, mailboxes.c.address == address)).scalar()
        values = {"imap_url": imap.display(), "smtp_url": smtp.display(),
                  "password_enc": sealed, "state": "new", "last_error": None}
        if existing is not None:
            conn.execute(update(mailboxes).where(mailboxes.c.id == existing).values(**values))
            return str(existing)
        mailbox_id = uuid7()
        try:
            conn.execute(insert(mailboxes).values(
                id=mailbox_id, team_id=team_id, address=address,
                settings=json.dumps(DEFAULT_SETTINGS), last_poll_ms=None, uidvalidity=None,
                last_uid=None, lease_owner=None, lease_until_ms=None, created_ms=now_ms(),
                **values))
        except IntegrityError:
            raise AdminError(f"{address} is being added to {team} by another process") from None
        return mailbox_id


def remove(engine: Engine, *, team: str, address: str) -> None:
    """Forget the mailbox (its messages' rows stay: a re-added mailbox takes nothing twice)."""
    with write_tx(engine) as conn:
        team_id, _ = _team(conn, team)
        gone = conn.execute(delete(mailboxes).where(
            mailboxes.c.team_id == team_id,
            mailboxes.c.address == address.strip().lower())).rowcount
    if not gone:
        raise AdminError(f"team {team} has no mailbox {address[:80]!r}")


def _counts(conn: Connection, mailbox_id: str | None = None) -> dict[str, dict[str, int]]:
    """Messages taken per mailbox and disposition (case, comment, auto_reply, burst, ...)."""
    query = select(mail_messages.c.mailbox_id, mail_messages.c.disposition, func.count()
                   ).group_by(mail_messages.c.mailbox_id, mail_messages.c.disposition)
    if mailbox_id is not None:
        query = query.where(mail_messages.c.mailbox_id == mailbox_id)
    out: dict[str, dict[str, int]] = {}
    for row in conn.execute(query):
        out.setdefault(row[0], {})[row[1]] = int(row[2])
    return out


def list_all(engine: Engine) -> list[Mailbox]:
    with engine.connect() as conn:
        names = {r.id: r.name for r in conn.execute(select(teams.c.id, teams.c.name))}
        counts = _counts(conn)
        rows = conn.execute(select(mailboxes).order_by(mailboxes.c.team_id,
                                                       mailboxes.c.address)).all()
    return [_mailbox(r, names.get(r.team_id, r.team_id), counts.get(r.id)) for r in rows]


def get(engine: Engine, *, team: str, address: str) -> Mailbox:
    with engine.connect() as conn:
        team_id, team_name = _team(conn, team)
        row = conn.execute(select(mailboxes).where(
            mailboxes.c.team_id == team_id,
            mailboxes.c.address == address.strip().lower())).first()
    if row is None:
        raise AdminError(f"team {team} has no mailbox {address[:80]!r}")
    return _mailbox(row, team_name)


def by_id(conn: Connection, mailbox_id: str) -> Mailbox | None:
    row = conn.execute(select(mailboxes).where(mailboxes.c.id == mailbox_id)).first()
    if row is None:
        return None
    name = conn.execute(select(teams.c.name).where(teams.c.id == row.team_id)).scalar()
    return _mailbox(row, str(name or row.team_id), _counts(conn, mailbox_id).get(mailbox_id))


def take_lease(engine: Engine, mailbox_id: str, owner: str, at_ms: int,
               lease_ms: int, *, force: bool = False) -> bool:
    """Hold the mailbox for one poll; False when another process holds it (one UPDATE
    with its condition: atomic on SQLite and PostgreSQL alike). ``force``: the caller knows
    no other process is alive to hold it (SQLite's single worker process)."""
    free = or_(mailboxes.c.lease_owner.is_(None), mailboxes.c.lease_owner == owner,
               mailboxes.c.lease_until_ms < at_ms)
    with write_tx(engine) as conn:
        taken = conn.execute(update(mailboxes).where(
            mailboxes.c.id == mailbox_id, *([] if force else [free]))
            .values(lease_owner=owner, lease_until_ms=at_ms + lease_ms)).rowcount
    return bool(taken)


def release_lease(engine: Engine, mailbox_id: str, owner: str) -> None:
    with write_tx(engine) as conn:
        conn.execute(update(mailboxes).where(mailboxes.c.id == mailbox_id,
                                             mailboxes.c.lease_owner == owner)
                     .values(lease_owner=None, lease_until_ms=None))


def set_status(engine: Engine, mailbox_id: str, *, state: str, error: str | None,
               at_ms: int) -> None:
    with write_tx(engine) as conn:
        conn.execute(update(mailboxes).where(mailboxes.c.id == mailbox_id).values(
            state=state, last_error=error[:MAX_ERROR] if error else None, last_poll_ms=at_ms))


def mailbox_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(i) for i in conn.execute(select(mailboxes.c.id).order_by(mailboxes.c.id))
                .scalars()]


def own_addresses(conn: Connection) -> set[str]:
    """Every mailbox address this server serves (mail from one of them is ours)."""
    return {str(a).lower() for a in conn.execute(select(mailboxes.c.address)).scalars()}

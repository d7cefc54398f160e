"""Login, refresh-token rotation with reuse detection, logout, and per-request authentication."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sqlalchemy import Connection, Engine, insert, select, text, update

from sync_server.db import write_tx
from sync_server.notify import revoked_payload
from sync_server.schemas.auth import LoginPublic, TokenPublic
from sync_server.security import (
    AccessClaims,
    new_refresh_token,
    sign_access_token,
    token_digest,
    verify_access_token,
    verify_password,
)
from sync_server.services.accounts import Principal, load_principal, normalize_email
from sync_server.services.device_tokens import issue_device_token, verify_device_token
from sync_server.services.events import NOTIFY_CHANNEL
from sync_server.services.throttle import forgive, login_buckets, record_failure, retry_after
from sync_server.settings import Settings
from sync_server.tables import refresh_tokens, token_families, users


class AuthError(Exception):
    """Credentials or tokens are not acceptable (HTTP 401)."""


class Throttled(Exception):
    """Too many failed logins (HTTP 429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins, retry in {retry_after} s")
        self.retry_after = retry_after


def _lock_keys(conn: Connection, keys: tuple[str, ...]) -> None:
    if conn.dialect.name == "postgresql":
        for key in sorted(keys):
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def _issue(
    conn: Connection, settings: Settings, principal: Principal, family_id: str, now: float
) -> TokenPublic:
    refresh = new_refresh_token()
    conn.execute(insert(refresh_tokens).values(
        token_hash=token_digest(refresh), family_id=family_id, used=False,
        expires_at=now + settings.refresh_ttl_seconds,
    ))
    access = sign_access_token(settings.require_secret(), AccessClaims(
        user_id=principal.id, family_id=family_id,
        expires_at=int(now) + settings.access_ttl_seconds,
    ))
    return TokenPublic(
        access_token=access, refresh_token=refresh, expires_in=settings.access_ttl_seconds,
        user=principal.public(),
    )


def login(engine: Engine, settings: Settings, *, email: str, password: str, client: str,
          device_token: str | None = None, now: float | None = None) -> LoginPublic:
    """Sign in, throttled per docs/login-throttling.md; ``now`` is the throttling clock."""
    email = normalize_email(email)
    now = time.time() if now is None else now
    secret = settings.require_secret()
    # Charge the attempt as a failure first (so concurrent guesses cannot exceed a limit),
    # and take it back if the password turns out right.
    with write_tx(engine) as conn:
        row = conn.execute(select(users.c.id, users.c.password_hash, users.c.disabled)
                           .where(users.c.email == email)).first()
        device = (verify_device_token(secret, device_token, row.id, now=now,
                                      ttl=settings.device_token_ttl_seconds)
                  if row is not None and device_token else None)
        buckets = login_buckets(settings, email=email, client=client, device=device)
        _lock_keys(conn, tuple(b.key for b in buckets))
        wait = retry_after(conn, buckets, now=now, window=settings.login_window_seconds,
                           first_delay=settings.login_first_delay_seconds)
        if wait is not None:
            raise Throttled(wait)
        charged = record_failure(conn, buckets, now=now, window=settings.login_window_seconds)
    ok = verify_password(row.password_hash if row else None, password)
    if row is None or not ok or row.disabled:
        raise AuthError("invalid e-mail or password")
    with write_tx(engine) as conn:
        forgive(conn, charged, buckets[0])
        principal = load_principal(conn, row.id)
        if principal is None:
            raise AuthError("invalid e-mail or password")
        family_id = str(uuid.uuid4())
        issued_at = time.time()
        conn.execute(insert(token_families).values(
            id=family_id, user_id=principal.id, revoked=False, created_at=issued_at
        ))
        tokens = _issue(conn, settings, principal, family_id, issued_at)
    return LoginPublic(**tokens.model_dump(), device_token=issue_device_token(
        secret, principal.id, now=now, device=device))


def refresh(engine: Engine, settings: Settings, token: str,
            on_revoke: Callable[[str], None] | None = None) -> TokenPublic:
    """Rotate a refresh token. Presenting an already-used token revokes its whole family
    (``on_revoke(family_id)`` is called after that commits)."""
    now = time.time()
    revoked: str | None = None
    with write_tx(engine) as conn:
        row = conn.execute(
            select(refresh_tokens.c.used, refresh_tokens.c.expires_at, refresh_tokens.c.family_id,
                   token_families.c.revoked, token_families.c.user_id)
            .join(token_families, token_families.c.id == refresh_tokens.c.family_id)
            .where(refresh_tokens.c.token_hash == token_digest(token))
        ).first()
        if row is None or row.revoked or row.expires_at <= now:
            result: TokenPublic | None = None
        else:
            claimed = conn.execute(
                update(refresh_tokens)
                .where(refresh_tokens.c.token_hash == token_digest(token), refresh_tokens.c.used.is_(False))
                .values(used=True)
            ).rowcount
            principal = load_principal(conn, row.user_id)
            if claimed != 1 or principal is None:
                revoke_family(conn, row.family_id)
                revoked = row.family_id
                result = None
            else:
                result = _issue(conn, settings, principal, row.family_id, now)
    if result is None:
        if revoked is not None and on_revoke is not None:
            on_revoke(revoked)
        raise AuthError("refresh token is invalid, expired or was already used")
    return result


def revoke_family(conn: Connection, family_id: str) -> None:
    """Revoke a token family; on PostgreSQL every server process hears of it at commit
    (in-process on SQLite: the caller publishes), so the family's live streams end."""
    conn.execute(update(token_families)
                 .where(token_families.c.id == family_id).values(revoked=True))
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:c, :p)"),
                     {"c": NOTIFY_CHANNEL, "p": revoked_payload(family_id)})


def logout(engine: Engine, token: str) -> str | None:
    """Revoke the refresh token's family; return it (None: no such token)."""
    with write_tx(engine) as conn:
        family = conn.execute(select(refresh_tokens.c.family_id)
                              .where(refresh_tokens.c.token_hash == token_digest(token))).scalar()
        if family is not None:
            revoke_family(conn, family)
    return str(family) if family is not None else None


def authenticate(engine: Engine, secret: str, token: str) -> Principal | None:
    """The principal behind an access token, checked against the database on every call."""
    claims = verify_access_token(secret, token)
    if claims is None:
        return None
    with engine.connect() as conn:
        revoked = conn.execute(select(token_families.c.revoked, token_families.c.user_id)
                               .where(token_families.c.id == claims.family_id)).first()
        if revoked is None or revoked.revoked or revoked.user_id != claims.user_id:
            return None
        return load_principal(conn, claims.user_id, claims.family_id)

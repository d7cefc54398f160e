"""Failed-login throttling in buckets kept in the database (docs/login-throttling.md).

A login without a device token is counted in three buckets: its (account, address) pair with a
low limit, its address with a much higher one (an office NAT signs many people in), and its
account across all addresses (guessing from many addresses). A login with a valid device token
for the account is counted only in that token's own bucket, so other people's failures never
block a device that has signed in before. Past a bucket's limit each further attempt waits a
delay that doubles with every failure (capped at the window), rather than one long lock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select

from sync_server.settings import Settings
from sync_server.tables import login_failures

_MAX_ADDRESS = 64  # keys must fit the column whatever the server is told a client is


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    limit: int


def login_buckets(settings: Settings, *, email: str, client: str,
                  device: str | None) -> tuple[Bucket, ...]:
    """The buckets an attempt is checked and counted in; the first is its own (cleared on
    success)."""
    if device is not None:
        return (Bucket(f"device:{device}", settings.login_device_max_failures),)
    address = client[:_MAX_ADDRESS]
    return (Bucket(f"pair:{email}|{address}", settings.login_max_failures),
            Bucket(f"account:{email}", settings.login_account_max_failures),
            Bucket(f"address:{address}", settings.login_address_max_failures))


def delay_after(excess: int, *, first: int, cap: int) -> int:
    """Seconds to wait after the latest failure when a bucket holds ``limit + excess``."""
    return min(cap, first << min(excess, 32))


def retry_after(conn: Connection, buckets: Sequence[Bucket], *, now: float, window: int,
                first_delay: int) -> int | None:
    """Seconds until another attempt is allowed, or None if no bucket holds it back."""
    rows = conn.execute(
        select(login_failures.c.key, func.count(), func.max(login_failures.c.at))
        .where(login_failures.c.key.in_([b.key for b in buckets]),
               login_failures.c.at > now - window)
        .group_by(login_failures.c.key)
    ).all()
    found = {key: (int(count), float(last)) for key, count, last in rows}
    waits: list[float] = []
    for bucket in buckets:
        count, last = found.get(bucket.key, (0, 0.0))
        if count >= bucket.limit:
            delay = delay_after(count - bucket.limit, first=first_delay, cap=window)
            # Never past the moment the window forgets enough failures to fall under the limit.
            waits.append(min(last + delay, _frees_at(conn, bucket, now, window)) - now)
    wait = max(waits, default=0.0)
    return max(1, math.ceil(wait)) if wait > 0 else None


def _frees_at(conn: Connection, bucket: Bucket, now: float, window: int) -> float:
    nth = conn.execute(
        select(login_failures.c.at)
        .where(login_failures.c.key == bucket.key, login_failures.c.at > now - window)
        .order_by(login_failures.c.at.desc())
        .offset(bucket.limit - 1).limit(1)
    ).scalar_one()
    return float(nth) + window


def record_failure(conn: Connection, buckets: Sequence[Bucket], *, now: float,
                   window: int) -> list[int]:
    """Count a failure in every bucket; the row ids let a right password take it back."""
    ids = [int(conn.execute(insert(login_failures).values(key=b.key, at=now))
               .inserted_primary_key[0]) for b in buckets]  # type: ignore[index]
    conn.execute(delete(login_failures).where(login_failures.c.at < now - 2 * window))
    return ids


def forgive(conn: Connection, ids: Sequence[int], own: Bucket) -> None:
    """A right password: take back this attempt's charge and clear its own bucket."""
    conn.execute(delete(login_failures).where(login_failures.c.id.in_(list(ids))))
    conn.execute(delete(login_failures).where(login_failures.c.key == own.key))

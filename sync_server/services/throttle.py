"""Failed-login throttling per account and per client address, kept in the database."""

from __future__ import annotations

import math

from sqlalchemy import Connection, delete, func, insert, select

from sync_server.tables import login_failures


def throttle_keys(email: str, client: str) -> tuple[str, str]:
    return f"account:{email}", f"address:{client}"


def retry_after(
    conn: Connection, keys: tuple[str, ...], *, now: float, window: int, limit: int
) -> int | None:
    """Seconds until another attempt is allowed, or None if not throttled."""
    waits: list[float] = []
    for key in keys:
        row = conn.execute(
            select(func.count(), func.min(login_failures.c.at))
            .where(login_failures.c.key == key, login_failures.c.at > now - window)
        ).one()
        count, oldest = int(row[0]), row[1]
        if count >= limit and oldest is not None:
            # the window frees a slot when enough old failures have aged out
            nth = conn.execute(
                select(login_failures.c.at)
                .where(login_failures.c.key == key, login_failures.c.at > now - window)
                .order_by(login_failures.c.at.desc())
                .offset(limit - 1).limit(1)
            ).scalar_one()
            waits.append(float(nth) + window - now)
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))


def record_failure(conn: Connection, keys: tuple[str, ...], *, now: float, window: int) -> None:
    conn.execute(insert(login_failures), [{"key": key, "at": now} for key in keys])
    conn.execute(delete(login_failures).where(login_failures.c.at < now - 2 * window))

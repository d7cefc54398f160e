"""Live notifications: an in-process broadcaster, fed across processes by PostgreSQL
LISTEN/NOTIFY (one listener task per process) or directly after commit on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notice:
    """New events up to ``seq`` exist for ``teams`` (None: anyone, e.g. after a reconnect)."""

    seq: int
    teams: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Revoked:
    """A token family was revoked (logout, refresh-token reuse): its open streams end."""

    family_id: str


Message = Notice | Revoked | None  # None: shutdown, every stream ends


@dataclass(eq=False)
class Subscription:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)


class Broadcaster:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> Subscription:
        sub = Subscription(loop=asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, notice: Message) -> None:
        """Thread-safe; ``None`` ends every stream (shutdown)."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            with contextlib.suppress(RuntimeError):  # loop already closed
                sub.loop.call_soon_threadsafe(sub.queue.put_nowait, notice)


def libpq_url(sqlalchemy_url: str) -> str:
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def revoked_payload(family_id: str) -> str:
    """The NOTIFY payload that ends a family's streams in every server process."""
    return json.dumps({"revoked": family_id})


def parse_notice(payload: str) -> Notice | Revoked | None:
    try:
        data = json.loads(payload)
        if isinstance(data.get("revoked"), str):
            return Revoked(family_id=data["revoked"])
        return Notice(seq=int(data["seq"]), teams=frozenset(str(t) for t in data["teams"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def listen(db_url: str, channel: str, broadcaster: Broadcaster,
                 ready: asyncio.Event | None = None) -> None:
    """Forward NOTIFY payloads to local subscribers forever, reconnecting after errors."""
    delay = 0.5
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(libpq_url(db_url), autocommit=True)
            async with conn:
                await conn.execute(f'LISTEN "{channel}"')
                delay = 0.5
                if ready is not None:
                    ready.set()
                broadcaster.publish(Notice(seq=0, teams=None))  # may have missed some
                async for message in conn.notifies():
                    notice = parse_notice(message.payload)
                    if notice is not None:
                        broadcaster.publish(notice)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep listening whatever happened
            log.warning("LISTEN connection lost; reconnecting in %.1f s", delay, exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

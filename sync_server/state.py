"""Everything a request needs from the running server, built once per app."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from sync_server.ids import ServerClock
from sync_server.notify import Broadcaster, Notice
from sync_server.services.blobs import BlobStore, DbBlobStore, FsBlobStore
from sync_server.services.events import PushOutcome
from sync_server.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    secret: str
    blob_store: BlobStore
    broadcaster: Broadcaster = field(default_factory=Broadcaster)
    clock: ServerClock = field(default_factory=ServerClock)

    @classmethod
    def build(cls, settings: Settings, engine: Engine) -> AppState:
        store: BlobStore = (DbBlobStore(engine) if settings.blob_store == "db"
                            else FsBlobStore(settings.data_dir / "blobs"))
        return cls(settings=settings, engine=engine, secret=settings.require_secret(),
                   blob_store=store)

    def announce(self, outcome: PushOutcome) -> None:
        """Tell live streams about stored events (PostgreSQL does it via NOTIFY at commit)."""
        if outcome.last_seq is not None and not self.settings.is_postgres:
            self.broadcaster.publish(Notice(seq=outcome.last_seq, teams=frozenset(outcome.teams)))

"""What every remote system's handler object holds: its settings, the server database
(opened lazily, so a worker process opens it once, on first use), an optional HTTP
transport (tests) and the server clock."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import Engine

from sync_server.ids import ServerClock


class RemoteSite[ConfigT]:
    def __init__(self, config: ConfigT, engine: Engine | Callable[[], Engine],
                 *, transport: httpx.AsyncBaseTransport | None = None,
                 clock: ServerClock | None = None) -> None:
        self.config = config
        self._engine = engine
        self.transport = transport
        self.clock = clock or ServerClock()

    @property
    def engine(self) -> Engine:
        if not isinstance(self._engine, Engine):
            self._engine = self._engine()
        return self._engine

    def dispose(self) -> None:
        if isinstance(self._engine, Engine):
            self._engine.dispose()

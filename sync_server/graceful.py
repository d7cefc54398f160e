"""uvicorn's server, ending the event streams cleanly the moment SIGTERM arrives."""

from __future__ import annotations

from types import FrameType

import uvicorn

from sync_server.notify import Broadcaster


class GracefulServer(uvicorn.Server):
    """On SIGTERM/SIGINT every event stream ends at once with a proper end of body, so
    laptops reconnect (through the proxy, to another process). Without this uvicorn holds
    streams to its grace period and then cuts them mid-body; in-flight requests still get
    that grace period to finish."""

    def __init__(self, config: uvicorn.Config, broadcaster: Broadcaster) -> None:
        super().__init__(config)
        self._broadcaster = broadcaster

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._broadcaster.publish(None)  # thread-safe; None ends every stream
        super().handle_exit(sig, frame)

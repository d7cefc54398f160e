"""Structured logs: one JSON object a line on standard error, for journald or a collector."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

_PLAIN = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "pid", ...extra}``; never raises on odd extras."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                  + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _PLAIN and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure(level: int = logging.INFO) -> dict[str, Any]:
    """Send every log (ours and uvicorn's) through the JSON formatter; returns uvicorn's
    ``log_config`` so it does not install its own plain-text handlers over ours."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("SMART_SUPPORT_SERVER_LOG_LEVEL", "").upper() or level)
    return {
        "version": 1, "disable_existing_loggers": False,
        "loggers": {name: {"handlers": [], "propagate": True}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }

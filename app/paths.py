"""Where the app keeps its data: platformdirs, overridable by --data-dir or the environment."""

from __future__ import annotations

import os
from pathlib import Path

DB_NAME = "smart-support.db"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get("SMART_SUPPORT_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("smart-support", "SmartSupport"))


def db_path(directory: Path) -> Path:
    return directory / DB_NAME

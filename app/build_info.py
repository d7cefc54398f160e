"""What build this is: version, commit, dirty flag and build time (`--version --verbose`).

A frozen bundle carries `build_info.json` beside its executable's resources (written by
packaging/build.py); a source checkout has no such file and asks git instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from app import __version__

FILE_NAME = "build_info.json"


def _bundle_dir() -> Path | None:
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if base else None


def _from_git(root: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                                  text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def read_build_info(bundle: Path | None = None) -> dict[str, Any]:
    """The build info of this running app; never raises (a bad file is reported in it)."""
    where = bundle or _bundle_dir()
    if where is not None:
        path = where / FILE_NAME
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(info, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            return {"version": __version__, "frozen": True,
                    "error": f"cannot read {path}: {exc}"}
        return {**info, "frozen": True}
    root = Path(__file__).resolve().parents[1]
    return {"version": __version__, "frozen": False, "build_time": None, **_from_git(root)}


def describe(info: dict[str, Any]) -> str:
    lines = [f"smart-support {info.get('version', __version__)}"]
    for key in ("commit", "dirty", "build_time", "frozen", "python", "error"):
        if key in info:
            lines.append(f"  {key}: {info[key]}")
    lines.append(f"  running on: Python {sys.version.split()[0]}, {sys.platform}")
    return "\n".join(lines)

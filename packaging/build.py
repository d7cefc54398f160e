"""One build command: `python packaging/build.py` makes the one-folder bundle under
dist/smart-support/, this platform's archive beside it and dist/SHA256SUMS.

Reproducible: set SOURCE_DATE_EPOCH (default: the commit's time) and the archive of one
commit is byte-identical across builds; PYTHONHASHSEED is pinned for PyInstaller.
Options: --skip-pyinstaller (re-archive an existing bundle), --keep-cache, --dist DIR.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from reproducible_archive import deterministic_tar_gz, source_date_epoch  # noqa: E402

NAME = "smart-support"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def version() -> str:
    text = (ROOT / "app" / "__init__.py").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit("build: no __version__ in app/__init__.py")


def build_epoch() -> int:
    """SOURCE_DATE_EPOCH if set, else the commit time: never the wall clock."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return source_date_epoch()
    committed = _git("log", "-1", "--format=%ct")
    return int(committed) if committed and committed.isdigit() else source_date_epoch()


def build_info(epoch: int) -> dict[str, object]:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "version": version(),
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "build_time": datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z"),
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
    }


def archive_name(ver: str) -> str:
    machine = platform.machine().lower() or "unknown"
    osname = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform,
                                                                         sys.platform)
    return f"{NAME}-{ver}-{osname}-{machine}.tar.gz"


def write_sums(files: list[Path], out: Path) -> Path:
    lines = [f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}\n"
             for f in sorted(files, key=lambda p: p.name)]
    out.write_text("".join(lines), encoding="utf-8")
    return out


def run_pyinstaller(info_file: Path, work: Path, dist: Path, *, clean: bool = True) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0", "SMART_SUPPORT_BUILD_INFO": str(info_file)}
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", *(["--clean"] if clean else []),
           "--workpath", str(work), "--distpath", str(dist),
           str(HERE / "smart_support.spec")]
    done = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"build: PyInstaller failed (exit {done.returncode})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n")[0])
    p.add_argument("--dist", type=Path, default=ROOT / "dist")
    p.add_argument("--skip-pyinstaller", action="store_true")
    p.add_argument("--keep-cache", action="store_true",
                   help="reuse PyInstaller's cache (faster; release builds leave it off)")
    args = p.parse_args(argv)
    started = time.monotonic()
    epoch = build_epoch()
    dist: Path = args.dist.resolve()
    work = ROOT / "build" / "pyinstaller"
    work.mkdir(parents=True, exist_ok=True)
    info = build_info(epoch)
    info_file = work / "build_info.json"
    info_file.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    bundle = dist / NAME
    if not args.skip_pyinstaller:
        run_pyinstaller(info_file, work, dist, clean=not args.keep_cache)
    if not bundle.is_dir():
        raise SystemExit(f"build: no bundle at {bundle}")
    archive = deterministic_tar_gz(bundle, dist / archive_name(str(info["version"])),
                                   mtime=epoch)
    write_sums([archive], dist / "SHA256SUMS")
    size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file() and not f.is_symlink())
    print(json.dumps({"bundle": str(bundle), "archive": str(archive),
                      "bundle_mb": round(size / 1e6, 1),
                      "archive_mb": round(archive.stat().st_size / 1e6, 1),
                      "build_s": round(time.monotonic() - started, 1), **info}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

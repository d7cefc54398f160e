"""`smart-support --self-test` and `--version --verbose`, run unfrozen as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__, selftest
from app.build_info import describe, read_build_info

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home),
           "XDG_DATA_HOME": str(home / "data")}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240, check=False)


def test_self_test_exits_0_and_leaves_no_profile(tmp_path: Path) -> None:
    done = _cli("--self-test", home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("ok cases", "ok window", "ok database", "self-test passed"):
        assert step in done.stdout
    assert not (tmp_path / "data").exists()  # the agent's real profile is never touched


def test_a_failing_step_exits_1_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(folder: Path) -> str:
        raise selftest.SelfTestError("search did not find the new case SUP-1")

    monkeypatch.setattr(selftest, "STEPS", (("cases", broken),))
    lines: list[str] = []
    assert selftest.run_self_test(lines.append) == 1
    assert lines == ["self-test FAILED at cases: SelfTestError: search did not find the new "
                     "case SUP-1"]


def test_version_verbose_from_source(tmp_path: Path) -> None:
    done = _cli("--version", "--verbose", home=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith(f"smart-support {__version__}\n")
    assert "commit: " in done.stdout and "dirty: " in done.stdout
    plain = _cli("--version", home=tmp_path)
    assert plain.stdout == f"smart-support {__version__}\n"  # the old contract


def test_build_info_of_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "build_info.json").write_text(json.dumps(
        {"version": "9.9.9", "commit": "abc", "dirty": True,
         "build_time": "2023-11-14T22:13:20Z"}))
    info = read_build_info(tmp_path)
    assert info["dirty"] is True and info["frozen"] is True
    text = describe(info)
    assert text.startswith("smart-support 9.9.9") and "dirty: True" in text
    (tmp_path / "build_info.json").write_text("[1, 2")
    broken = read_build_info(tmp_path)
    assert "cannot read" in broken["error"] and broken["version"] == __version__

"""No test can reach a real user's data folder: the default data folder, with or without
SMART_SUPPORT_DATA_DIR, and a CLI subprocess's, are inside the test's temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from app.paths import DB_NAME, data_dir

TMP_ROOT = Path(tempfile.gettempdir()).resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def test_the_default_data_dir_is_this_tests_temporary_folder(data_home: Path) -> None:
    assert _inside(data_dir(), data_home)
    assert not _inside(data_dir(), Path.home()) or _inside(Path.home(), TMP_ROOT)


def test_without_the_variable_platformdirs_also_answers_a_temporary_folder(
        data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMART_SUPPORT_DATA_DIR")
    assert _inside(data_dir(), data_home)


def test_the_data_home_is_under_pytests_temporary_folders(
        data_home: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    assert _inside(data_home, tmp_path_factory.getbasetemp())
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        assert _inside(Path(os.environ[name]), data_home)


def test_a_cli_subprocess_writes_into_the_temporary_data_home(data_home: Path) -> None:
    # The CLI without --data-dir stores its cases in the test's data home.
    done = subprocess.run([sys.executable, "-m", "app.cli", "demo", "--cases", "2"],
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert done.returncode == 0, done.stderr
    assert (data_home / "smart-support" / DB_NAME).is_file()

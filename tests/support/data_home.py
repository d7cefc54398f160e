"""Every test runs with its own default data folder: ``SMART_SUPPORT_DATA_DIR`` and the
XDG folders platformdirs reads point into a temporary folder, so nothing a test runs
(in process or as a subprocess, which inherits the environment) can reach a real user's
data, configuration or cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The XDG variables platformdirs consults on Linux and the BSDs (runtime dir left alone:
# Qt checks its owner and mode).
XDG_DIRS = {"XDG_DATA_HOME": "share", "XDG_CONFIG_HOME": "config",
            "XDG_CACHE_HOME": "cache", "XDG_STATE_HOME": "state"}


def point_data_home(home: Path, setenv: pytest.MonkeyPatch) -> None:
    setenv.setenv("SMART_SUPPORT_DATA_DIR", str(home / "smart-support"))
    for name, sub in XDG_DIRS.items():
        setenv.setenv(name, str(home / sub))


@pytest.fixture(scope="session", autouse=True)
def session_data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Session fixtures (seeded stores, servers) see a temporary data home too."""
    home = tmp_path_factory.mktemp("session-home")
    with pytest.MonkeyPatch.context() as patch:
        point_data_home(home, patch)
        yield home


@pytest.fixture(autouse=True)
def data_home(session_data_home: Path, tmp_path_factory: pytest.TempPathFactory,
              monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own default data home (a test may still set the variables itself)."""
    home = tmp_path_factory.mktemp("home")
    point_data_home(home, monkeypatch)
    return home

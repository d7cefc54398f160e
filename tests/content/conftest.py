from pathlib import Path
from types import ModuleType

import pytest

from tests.support.seeded import intake_module


@pytest.fixture(scope="session")
def sample_logs() -> ModuleType:
    return intake_module("sample_logs")


@pytest.fixture(scope="session")
def make(sample_logs: ModuleType) -> ModuleType:
    return intake_module("make_fixtures")


@pytest.fixture(scope="session")
def fixture_files(make: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make.write_all(tmp_path_factory.mktemp("intake"))  # type: ignore[no-any-return]

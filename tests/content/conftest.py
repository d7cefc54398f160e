import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"


def load_fixture_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def sample_logs() -> ModuleType:
    return load_fixture_module("sample_logs")


@pytest.fixture(scope="session")
def make(sample_logs: ModuleType) -> ModuleType:
    return load_fixture_module("make_fixtures")


@pytest.fixture(scope="session")
def fixture_files(make: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make.write_all(tmp_path_factory.mktemp("intake"))  # type: ignore[no-any-return]

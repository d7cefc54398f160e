import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _fixture_module(name: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def redaction_set() -> ModuleType:
    return _fixture_module("redaction_set")


@pytest.fixture(scope="session")
def redaction_heldout() -> ModuleType:
    return _fixture_module("redaction_heldout")

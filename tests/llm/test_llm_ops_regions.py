"""A wrong phone-region setting stops the prompt with a clear error (never a weaker redaction)."""

from typing import Any

import pytest

from app.operations import llm
from app.operations.errors import OperationError
from tests.intake_ops.conftest import store_seed  # noqa: F401  (fixture)


def test_unknown_phone_region_is_an_operation_error(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("SMART_SUPPORT_PHONE_REGIONS", "DE,ZZZ")
    with pytest.raises(OperationError, match="unknown region code.*ZZZ"):
        llm.build(store, case="SUP-3", template="summarize")
    monkeypatch.setenv("SMART_SUPPORT_PHONE_REGIONS", "de, at")
    assert llm.build(store, case="SUP-3", template="summarize").text

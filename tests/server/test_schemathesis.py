"""Schemathesis against the server's own OpenAPI schema, with every check: no 5xx, no response
that breaks the schema. Runs in-process on SQLite with a signed-in agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from sync_server.db import make_engine, migrate
from sync_server.main import create_app
from sync_server.services import accounts
from sync_server.settings import Settings

PASSWORD = "schemathesis password"


def _build() -> tuple[Any, str]:
    # Built at import: schemathesis parametrizes from a schema it has at collection time.
    import tempfile

    from fastapi.testclient import TestClient

    tmp = Path(tempfile.mkdtemp(prefix="schemathesis-"))
    cfg = Settings(db_url=f"sqlite:///{tmp / 'srv.sqlite3'}", data_dir=tmp / "srv",
                   secret="z" * 48, blob_max_bytes=64 * 1024, login_max_failures=1_000_000,
                   login_address_max_failures=1_000_000, login_account_max_failures=1_000_000)
    engine = make_engine(cfg.db_url)
    migrate(engine)
    accounts.add_team(engine, name="Support", prefix="SUP")
    accounts.add_user(engine, email="ana@example.com", name="Ana", role="agent",
                      password=PASSWORD)
    accounts.add_member(engine, team="Support", email="ana@example.com")
    app = create_app(cfg, engine=engine, run_migrations=False)
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/login", json={"email": "ana@example.com",
                                                        "password": PASSWORD}).json()
    return app, str(token["access_token"])


APP, TOKEN = _build()


@schemathesis.auth()
class BearerToken:
    """A signed-in agent, declared to schemathesis so its negative cases know about auth."""

    def get(self, case: Any, ctx: Any) -> str:
        return TOKEN

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


# The live stream never ends by design; it has its own tests.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/v1/stream")


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_conforms(case: Any) -> None:
    excluded = []
    if case.method == "PUT" and case.path == "/api/v1/blobs/{sha256}":
        # A blob is named by the hash of its content, which no schema can express: a body
        # that does not hash to the name is rightly refused (400) although "schema-valid".
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)


# The audit's hostile JSON, on every operation the schema gives a JSON body (the full matrix of
# fields is in test_hostile_json.py): each must be refused with a documented 4xx whose body
# conforms, never a 500. Every check runs but positive acceptance: these bodies are not valid.
HOSTILE_BODIES = {
    "nan": b'{"a": NaN}', "infinity": b"[Infinity]", "minus_infinity": b'{"a": -Infinity}',
    "overflow": b"[1e999999]", "minus_overflow": b"[-1e999999]",
    "array_1000_deep": b"[" * 1000 + b"]" * 1000,
    "array_100000_deep": b"[" * 100_000 + b"]" * 100_000,
    "object_1000_deep": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "object_100000_deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "lone_high_surrogate": b'{"email": "\\ud800@example.com", "password": "\\ud800"}',
    "lone_low_surrogate": b'{"refresh_token": "\\udfff", "case_id": "\\udc00"}',
}
JSON_OPERATIONS = [op for op in (result.ok() for result in schema.get_all_operations())
                   if any(body.media_type == "application/json" for body in op.body)]


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
@pytest.mark.parametrize("operation", JSON_OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_hostile_json_is_refused_as_documented(operation: Any, body: bytes) -> None:
    case = operation.Case(body=body, media_type="application/json")
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert 400 <= response.status_code < 500, response.text[:300]
    case.validate_response(response,
                           excluded_checks=[schemathesis.checks.positive_data_acceptance])

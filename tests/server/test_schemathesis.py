"""Schemathesis against the server's own OpenAPI schema, with every check: no 5xx, no response
that breaks the schema. Runs in-process on SQLite with a signed-in agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
                   secret="z" * 48, blob_max_bytes=64 * 1024, login_max_failures=1_000_000)
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

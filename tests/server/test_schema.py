"""The Alembic migrations produce exactly the schema of ``sync_server.tables``; OpenAPI is complete."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sync_server.tables import metadata


def test_migrations_match_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_openapi_documents_every_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    expected = {
        "/api/v1/auth/login": {"post"}, "/api/v1/auth/refresh": {"post"},
        "/api/v1/auth/logout": {"post"}, "/api/v1/me": {"get"},
        "/api/v1/events/push": {"post"}, "/api/v1/events": {"get"}, "/api/v1/stream": {"get"},
        "/api/v1/blobs/{sha256}": {"put", "get", "head"},
        "/api/v1/directory/agents": {"get"}, "/api/v1/presence": {"get", "post"},
        "/api/v1/hooks/jira": {"post"}, "/api/v1/integrations/status": {"get"},
        "/api/v1/mail/status": {"get"},
        "/healthz": {"get"}, "/readyz": {"get"},  # docs/deploy.md
    }
    assert {p: set(v) for p, v in paths.items()} == expected
    for path, methods in paths.items():
        for method, operation in methods.items():
            ok = operation["responses"].get("200")
            assert ok and (ok.get("content") or ok.get("headers")), (path, method)
    pull = paths["/api/v1/events"]["get"]["responses"]["200"]["content"]["application/json"]
    assert pull["schema"]["$ref"].endswith("/PullPublic")
    assert "EventCreate" in schema["components"]["schemas"]

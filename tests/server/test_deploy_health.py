"""/healthz and /readyz: what a load balancer sees, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from sync_server.db import make_engine
from sync_server.main import create_app
from sync_server.settings import Settings


def test_healthz_and_readyz_need_no_login(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_readyz_fails_when_migrations_are_behind(client: TestClient, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["detail"] == "database migrations are not current"
    assert client.get("/healthz").status_code == 200  # the process itself is fine


def test_readyz_fails_when_the_database_is_gone(tmp_path: Path, settings: Settings) -> None:
    if settings.is_postgres:
        broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    else:
        broken = make_engine(f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}")
    app = create_app(settings, engine=broken, run_migrations=False)
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"].startswith("database unreachable")
        assert "nobody" not in ready.text  # no connection details leak
    broken.dispose()

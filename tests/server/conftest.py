"""Server test fixtures: every test runs on SQLite (a temp file) and on a real PostgreSQL 15.

The PostgreSQL cluster is started once per session by ``scripts/pg_test_cluster.sh``
(throwaway data dir, unprivileged OS user when run as root) and each test gets a fresh
database cloned from a migrated template.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from sync_server.db import make_engine, migrate
from sync_server.main import create_app
from sync_server.services import accounts
from sync_server.settings import Settings

from .helpers import PASSWORD, World

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pg_test_cluster.sh"
SECRET = "test-secret-" + "x" * 40
_counter = itertools.count()


@dataclass
class PgCluster:
    admin_url: str  # the "smart_support" maintenance database

    def url_for(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    workdir = tempfile.mkdtemp(prefix="smart-pg-")
    result = subprocess.run([str(SCRIPT), "start", workdir], capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run([str(SCRIPT), "stop", workdir], capture_output=True)
        pytest.fail(
            "could not start the throwaway PostgreSQL 15 cluster for the server tests "
            f"(needs /usr/lib/postgresql/15/bin, e.g. `apt-get install -y postgresql-15`):\n"
            f"{result.stderr}",
            pytrace=False,
        )
    cluster = PgCluster(admin_url=result.stdout.strip().splitlines()[-1])
    admin = create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE template_smart"))
    template = make_engine(cluster.url_for("template_smart"))
    migrate(template)
    template.dispose()
    admin.dispose()
    try:
        yield cluster
    finally:
        subprocess.run([str(SCRIPT), "stop", workdir], capture_output=True)


def new_pg_database(cluster: PgCluster) -> str:
    name = f"t{os.getpid()}_{next(_counter)}"
    admin = create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template_smart'))
    admin.dispose()
    return cluster.url_for(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.sqlite3'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return new_pg_database(cluster)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(db_url=db_url, data_dir=tmp_path / "data", secret=SECRET,
                    keepalive_seconds=0.5, blob_max_bytes=64 * 1024)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def world(engine: Engine) -> World:
    """Teams Alpha (ALP) and Beta (BET); alice+bob in Alpha, carol in Beta, dave in both,
    erin in no team."""
    alpha = accounts.add_team(engine, name="Alpha")
    beta = accounts.add_team(engine, name="Beta", prefix="BET")
    ids = {}
    for email, name, role in [("alice@example.com", "Alice", "agent"),
                              ("bob@example.com", "Bob", "lead"),
                              ("carol@example.com", "Carol", "agent"),
                              ("dave@example.com", "Dave", "admin"),
                              ("erin@example.com", "Erin", "agent")]:
        ids[email] = accounts.add_user(engine, email=email, name=name, role=role,  # type: ignore[arg-type]
                                       password=PASSWORD)
    for team, email in [("Alpha", "alice@example.com"), ("Alpha", "bob@example.com"),
                        ("Beta", "carol@example.com"), ("Alpha", "dave@example.com"),
                        ("Beta", "dave@example.com")]:
        accounts.add_member(engine, team=team, email=email)
    return World(alpha=alpha, beta=beta, user_ids=ids)


@pytest.fixture
def client(settings: Settings, engine: Engine, world: World) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine, run_migrations=False)
    with TestClient(app) as test_client:
        yield test_client

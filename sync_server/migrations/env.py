"""Alembic environment: always run with a connection handed over by ``sync_server.db``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from sync_server.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the server always passes one
    raise RuntimeError("run migrations through sync_server.db.migrate()")
_run(connection)

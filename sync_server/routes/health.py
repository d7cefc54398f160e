"""/healthz (the process answers) and /readyz (database reachable, migrations current).

Both sit outside /api/v1 and need no login: a load balancer calls them every second, so
/readyz costs one indexed read of ``alembic_version`` and nothing else.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from sync_server.db import MIGRATIONS
from sync_server.deps import StateDep

router = APIRouter(tags=["health"])


@cache
def head_revisions() -> frozenset[str]:
    """The newest migration(s) this code expects (read from disk once per process)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def readiness(engine: Engine) -> tuple[bool, str]:
    """(ready, why): the database answers and stands at the code's migration head."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError as exc:
        # The class name only: a driver message may carry the host or user name.
        return False, f"database unreachable ({type(exc).__name__})"
    current = frozenset(str(row[0]) for row in rows)
    if current != head_revisions():
        return False, "database migrations are not current"
    return True, "ok"


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready: database or migrations"}})
async def readyz(state: StateDep) -> JSONResponse:
    ready, why = await run_in_threadpool(readiness, state.engine)
    return JSONResponse({"status": "ok" if ready else "unavailable", "detail": why},
                        status_code=200 if ready else 503)

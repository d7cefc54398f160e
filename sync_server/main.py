"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from sync_server import __version__
from sync_server.db import make_engine, migrate
from sync_server.guards import RequestGuard
from sync_server.jobs.runner import register_handlers, start_workers
from sync_server.notify import listen
from sync_server.routes import auth, blobs, events, health, hooks, integrations, mail, stream, team
from sync_server.schemas.common import ErrorPublic
from sync_server.server_time import ServerTimeMiddleware
from sync_server.services.auth import AuthError, Throttled
from sync_server.services.blobs import HashMismatch
from sync_server.services.events import NOTIFY_CHANNEL
from sync_server.services.presence import UnknownCase
from sync_server.settings import Settings
from sync_server.state import AppState
from sync_server.strict_json import JsonLimits, StrictJsonMiddleware, json_routes, safe_errors

API = "/api/v1"


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Throttled)
    async def _throttled(_: Request, exc: Throttled) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(HashMismatch)
    async def _mismatch(_: Request, exc: HashMismatch) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(UnknownCase)
    async def _unknown(_: Request, exc: UnknownCase) -> JSONResponse:
        return JSONResponse({"detail": "no such case in your teams"}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, which may not be writable as JSON (a 500).
        return JSONResponse({"detail": safe_errors(exc.errors())}, status_code=422)


def _document_bad_bodies(app: FastAPI) -> None:
    """A body that is not JSON at all is answered 400 before validation: say so in the schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    if isinstance(operation, dict) and "requestBody" in operation:
                        operation.setdefault("responses", {}).setdefault("400", {
                            "description": "The body could not be parsed",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/ErrorPublic"}}}})
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.setdefault("ErrorPublic", ErrorPublic.model_json_schema())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _allow_header(app: FastAPI) -> None:
    """405 answers list every method the path supports (Starlette names only one route's)."""
    compiled: list[tuple[Any, set[str]]] = []

    def methods_for(path: str) -> set[str]:
        if not compiled:
            for template, item in app.openapi().get("paths", {}).items():
                regex, _, _ = compile_path(template)
                compiled.append((regex, {m.upper() for m in item}))
        found: set[str] = set()
        for regex, methods in compiled:
            if regex.match(path):
                found |= methods
        return found

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        allowed = methods_for(request.url.path)
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                            headers={"Allow": ", ".join(sorted(allowed))})


def create_app(settings: Settings, *, engine: Engine | None = None,
               run_migrations: bool = True, workers: bool = False) -> FastAPI:
    """The app; ``workers`` also runs the job queue's workers in its lifespan (``serve``)."""
    engine = engine or make_engine(settings.db_url)
    if run_migrations:
        migrate(engine)
    state = AppState.build(settings, engine)
    register_handlers(settings)  # also here: a job's site is chosen when it is enqueued

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        listener: asyncio.Task[None] | None = None
        if settings.is_postgres:
            ready = asyncio.Event()
            listener = asyncio.create_task(
                listen(settings.db_url, NOTIFY_CHANNEL, state.broadcaster, ready))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), 10)
        job_workers = start_workers(state) if workers else None
        try:
            yield
        finally:
            if job_workers is not None:
                await job_workers.stop()
            state.broadcaster.publish(None)
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    app = FastAPI(title="Smart Support sync server", version=__version__, lifespan=lifespan)
    app.state.smart = state
    for module in (auth, events, stream, blobs, team, hooks, integrations, mail):
        app.include_router(module.router, prefix=API)
    app.include_router(health.router)  # unprefixed: where load balancers look
    _document_bad_bodies(app)
    _handlers(app)
    _allow_header(app)
    # Inside the guard (added later = outer): bodies are checked after size limits and auth.
    app.add_middleware(StrictJsonMiddleware, applies=json_routes(app.openapi), limits=JsonLimits(
        max_depth=settings.json_max_depth, max_string_chars=settings.json_max_string_chars))
    app.add_middleware(RequestGuard, state=state)  # sizes, timeouts, auth before body
    app.add_middleware(ServerTimeMiddleware)  # outermost: every answer, refusals too
    return app


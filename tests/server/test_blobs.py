"""Attachments: content-addressed upload/download, hash check, size limit, db store,
uploads spooled to a temporary file that never outlives the request."""

from __future__ import annotations

import hashlib
import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy import event as event_api

from sync_server.main import create_app
from sync_server.services import blobs as blobs_service
from sync_server.settings import Settings

from .helpers import World, bearer, created, event, login, push


def attach(client: TestClient, headers: dict[str, str], actor: str, team: str, sha: str) -> None:
    """Push a case with an attachment.added event naming ``sha`` (this grants the team reads)."""
    case = created(actor, team)
    added = event(actor, team, type_="attachment.added", case_id=case["case_id"],
                  payload={"sha256": sha, "name": "log.txt", "size": 1, "mime": "text/plain"})
    assert [r["status"] for r in push(client, headers, [case, added])] == ["stored", "stored"]


def _roundtrip(client: TestClient, headers: dict[str, str], actor: str, team: str) -> None:
    data = os.urandom(40_000)
    sha = hashlib.sha256(data).hexdigest()
    assert client.head(f"/api/v1/blobs/{sha}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/blobs/{sha}", headers=headers).status_code == 404
    put = client.put(f"/api/v1/blobs/{sha}", content=data, headers=headers)
    assert put.status_code == 200
    assert put.json() == {"sha256": sha, "size": len(data)}
    assert client.put(f"/api/v1/blobs/{sha}", content=data, headers=headers).status_code == 200
    # uploaded but named by no event of the user's team: not readable yet
    assert client.head(f"/api/v1/blobs/{sha}", headers=headers).status_code == 404
    attach(client, headers, actor, team, sha)
    head = client.head(f"/api/v1/blobs/{sha}", headers=headers)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    got = client.get(f"/api/v1/blobs/{sha}", headers=headers)
    assert got.status_code == 200 and got.content == data


def test_blob_roundtrip_on_filesystem(client: TestClient, world: World, settings: Settings) -> None:
    _roundtrip(client, bearer(login(client, "alice@example.com")), "alice@example.com",
               world.alpha)
    assert any((settings.data_dir / "blobs").rglob("*"))
    assert not any((settings.data_dir / "blobs" / ".incoming").iterdir())  # no spool left


def test_blob_roundtrip_in_database(settings: Settings, engine: Engine, world: World) -> None:
    app = create_app(settings.model_copy(update={"blob_store": "db"}), engine=engine,
                     run_migrations=False)
    with TestClient(app) as client:
        headers = bearer(login(client, "carol@example.com"))
        _roundtrip(client, headers, "carol@example.com", world.beta)
    assert not (settings.data_dir / "blobs").exists() or not any((settings.data_dir / "blobs").rglob("?*"))


def test_hash_mismatch_and_size_limit(client: TestClient, world: World) -> None:
    headers = bearer(login(client, "alice@example.com"))
    data = b"hello"
    wrong = hashlib.sha256(b"other").hexdigest()
    response = client.put(f"/api/v1/blobs/{wrong}", content=data, headers=headers)
    assert response.status_code == 400
    assert client.head(f"/api/v1/blobs/{wrong}", headers=headers).status_code == 404
    big = b"x" * (64 * 1024 + 1)
    response = client.put(f"/api/v1/blobs/{hashlib.sha256(big).hexdigest()}", content=big,
                          headers=headers)
    assert response.status_code == 413

    def chunks() -> object:
        for _ in range(5):
            yield b"y" * 20_000

    chunked = client.put(f"/api/v1/blobs/{'a' * 64}", content=chunks(), headers=headers)
    assert chunked.status_code == 413
    assert client.put("/api/v1/blobs/NOTAHASH", content=data, headers=headers).status_code == 422


def test_blobs_need_a_team(client: TestClient, world: World) -> None:
    erin = bearer(login(client, "erin@example.com"))
    data = b"attachment"
    sha = hashlib.sha256(data).hexdigest()
    assert client.put(f"/api/v1/blobs/{sha}", content=data, headers=erin).status_code == 403
    assert client.put(f"/api/v1/blobs/{sha}", content=data).status_code == 401
    alice = bearer(login(client, "alice@example.com"))
    assert client.put(f"/api/v1/blobs/{sha}", content=data, headers=alice).status_code == 200
    assert client.get(f"/api/v1/blobs/{sha}", headers=erin).status_code == 403
    assert client.get(f"/api/v1/blobs/{sha}").status_code == 401


def test_refused_uploads_leave_no_temporary_file(client: TestClient, world: World,
                                                 settings: Settings) -> None:
    """A wrong hash, an over-limit body (declared or streamed) and a good upload all end
    with the spool folder empty; the refused bodies are not stored under any name."""
    headers = bearer(login(client, "alice@example.com"))
    spool = settings.data_dir / "blobs" / ".incoming"

    def chunks(n: int) -> object:
        for _ in range(n):
            yield b"z" * 16_000

    wrong = client.put(f"/api/v1/blobs/{'b' * 64}", content=chunks(3), headers=headers)
    assert wrong.status_code == 400
    over = client.put(f"/api/v1/blobs/{'c' * 64}", content=chunks(5), headers=headers)
    assert over.status_code == 413
    assert not any(spool.iterdir())
    stored = [p for p in (settings.data_dir / "blobs").rglob("*") if p.is_file()]
    assert stored == []


def test_database_blobs_download_in_slices(settings: Settings, engine: Engine, world: World,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The database store answers a download slice by slice (one query per slice), so the
    server never holds a whole blob for it; the bytes arrive whole and in order."""
    monkeypatch.setattr(blobs_service, "CHUNK_BYTES", 7000)
    queries: list[str] = []
    app = create_app(settings.model_copy(update={"blob_store": "db"}), engine=engine,
                     run_migrations=False)
    with TestClient(app) as client:
        headers = bearer(login(client, "carol@example.com"))
        data = os.urandom(50_001)
        sha = hashlib.sha256(data).hexdigest()
        assert client.put(f"/api/v1/blobs/{sha}", content=data, headers=headers).status_code == 200
        attach(client, headers, "carol@example.com", world.beta, sha)

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if "substr" in statement.lower():
                queries.append(statement)

        event_api.listen(engine, "before_cursor_execute", count)
        try:
            got = client.get(f"/api/v1/blobs/{sha}", headers=headers)
        finally:
            event_api.remove(engine, "before_cursor_execute", count)
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-length"] == str(len(data))
        assert len(queries) == 9  # 8 slices of at most 7000 bytes, then the empty one
